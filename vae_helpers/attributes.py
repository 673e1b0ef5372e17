"""Measurable attributes of a digit image, and directions in a latent space that change them (notebook 07).

Each attribute is computed from the pixels alone, so it can measure a test digit and a decoded code alike:

- :func:`ink`: how much ink, the sum of the pixels (a black-and-white image's count of white pixels);
- :func:`slant`: the shear of the ink from its second moments, ``-mu11 / mu02``: how many pixels the
  strokes move right per pixel up (0 upright, positive leaning right, as in italics);
- :func:`width`: the horizontal spread of the ink once the slant is taken out, in pixels: the width of
  a solid bar with the same spread;
- :func:`thickness`: the stroke width in pixels, the shorter side of the rectangle with the same area
  and perimeter as the ink (exact for a rectangle at any angle; a long stroke bent into a digit is a
  rectangle to good approximation).

Moments: with pixel weights ``p``, column ``x`` (to the right) and row ``y`` (downwards), centred on the
ink's centre of mass, ``mu20 = sum p x^2``, ``mu02 = sum p y^2``, ``mu11 = sum p x y``. This is the
moment-based deskewing of the MNIST literature (e.g. LeCun et al.'s "deslanted" variants), and the
attributes follow Morpho-MNIST (Castro et al. 2019) in spirit with simpler formulas.

:func:`draw_polygon` and :func:`draw_strokes` make images of known geometry (the tests check the
attributes on them; notebook 07 draws letter-like strokes with them). :func:`direction` finds a
latent direction for an attribute from codes, by a linear regression or a difference of means.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch

from . import checks

IMAGE = (1, 28, 28)
SUPERSAMPLE = 8  # sub-pixels per side when drawing: edges get grey levels like MNIST's anti-aliasing


def _pixels(x: torch.Tensor) -> torch.Tensor:
    """Images ``(B, 1, 28, 28)`` or ``(B, 784)`` -> ``(B, 28, 28)`` float64 (moments of many pixels need the precision)."""
    checks.images("images", x, IMAGE)
    return x.reshape(len(x), IMAGE[1], IMAGE[2]).double()


def ink(images: torch.Tensor) -> torch.Tensor:
    """The sum of each image's pixels, ``(B, ...) -> (B,)``: a count of white pixels, grey ones in part."""
    return _pixels(images).sum(dim=(1, 2)).float()


def moments(images: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """``(mass, cx, cy, mu20, mu02, mu11)``, each ``(B,)`` float64: the ink, its centre (column, row), and its
    central second moments per unit of ink (variance across, variance down, covariance). An empty image
    has mass 0 and NaN for the rest."""
    p = _pixels(images)  # (B, 28, 28)
    rows = torch.arange(p.shape[1], dtype=p.dtype, device=p.device)
    cols = torch.arange(p.shape[2], dtype=p.dtype, device=p.device)
    mass = p.sum(dim=(1, 2))  # (B,)
    px, py = p.sum(dim=1), p.sum(dim=2)  # (B, 28): ink per column, ink per row
    cx, cy = (px @ cols) / mass, (py @ rows) / mass
    dx = cols[None, :] - cx[:, None]  # (B, 28): each column's distance from the centre
    dy = rows[None, :] - cy[:, None]
    mu20 = (px * dx.pow(2)).sum(1) / mass
    mu02 = (py * dy.pow(2)).sum(1) / mass
    mu11 = torch.einsum("bij,bi,bj->b", p, dy, dx) / mass
    return mass, cx, cy, mu20, mu02, mu11


def slant(images: torch.Tensor) -> torch.Tensor:
    """The shear of each image's ink, ``(B, ...) -> (B,)``: pixels to the right per pixel up, ``-mu11 / mu02``.

    0 is upright, 0.3 leans right (the top 3 pixels right of the bottom over 10 rows), negative leans
    left; ``atan`` of it is the angle from the vertical. The minus sign: rows count downwards.
    """
    _, _, _, _, mu02, mu11 = moments(images)
    return (-mu11 / mu02).float()


def width(images: torch.Tensor) -> torch.Tensor:
    """The horizontal spread of each image's ink with its slant taken out, in pixels, ``(B, ...) -> (B,)``.

    ``sqrt(12 (mu20 - mu11^2 / mu02))``: the spread of the columns left over once each row's shift by
    the slant is removed, scaled so that a solid bar (upright or slanted) ``w`` pixels wide measures ``w``
    (drawn on pixels, to within about 0.3 pixels: where its edges fall inside a pixel matters).
    """
    _, _, _, mu20, mu02, mu11 = moments(images)
    return (12 * (mu20 - mu11.pow(2) / mu02)).clamp(min=0).sqrt().float()


def perimeter(images: torch.Tensor) -> torch.Tensor:
    """The length of the ink's outline in pixels, ``(B, ...) -> (B,)``: the sum of the gradient's length.

    For a black-and-white shape with anti-aliased edges this is its perimeter (the coarea formula: the
    gradient adds up each grey level's outline), measured at pixel corners from the 2x2 pixels around
    each, so an edge at any angle counts alike. The 2x2 differences smooth each corner a little, so the
    outline comes out a pixel or two short, and :func:`thickness` reads a straight stroke 2-4 pixels wide
    and 12-20 long up to 0.45 pixels thick (0.06-0.31 for a length of 20; tests/test_attributes.py).
    """
    p = torch.nn.functional.pad(_pixels(images).float(), (1, 1, 1, 1))  # a black border closes the outline
    # the gradient at every pixel corner, from the 2x2 pixels around it
    a, b, c, d = p[:, :-1, :-1], p[:, :-1, 1:], p[:, 1:, :-1], p[:, 1:, 1:]
    gx, gy = (b + d - a - c) / 2, (c + d - a - b) / 2
    return gx.hypot(gy).sum(dim=(1, 2)).float()


def thickness(images: torch.Tensor) -> torch.Tensor:
    """The stroke width of each image's ink in pixels, ``(B, ...) -> (B,)``.

    The ink's area ``A`` (:func:`ink`) and perimeter ``P`` (:func:`perimeter`) are those of one rectangle,
    whose shorter side is ``P/4 - sqrt(P^2/16 - A)``: exactly the width of a rectangular stroke at any
    angle, and close to the stroke width of a digit, which is a stroke of roughly constant width bent
    into a shape. (A blob with no long side has ``P^2/16 < A``; then ``P/4``.)
    """
    area, length = ink(images).double(), perimeter(images).double()
    quarter = length / 4
    return (quarter - (quarter.pow(2) - area).clamp(min=0).sqrt()).float()


ATTRIBUTES: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "ink": ink,
    "thickness": thickness,
    "slant": slant,
    "width": width,
}
UNITS = {"ink": "pixels", "thickness": "pixels", "slant": "pixels right per pixel up", "width": "pixels"}


def measure(images: torch.Tensor, names: Sequence[str] = tuple(ATTRIBUTES)) -> dict[str, torch.Tensor]:
    """``{name: (B,) values}`` for each attribute in ``names`` (default: all four), on the CPU."""
    for name in names:
        checks.choice("attribute", name, ATTRIBUTES)
    images = images.detach().cpu()
    return {name: ATTRIBUTES[name](images) for name in names}


# --------------------------------------------------------------------------- images of known geometry


def _subpixel_centres(size: int, supersample: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Column and row of every sub-pixel centre, ``(size * s, size * s)`` each, in pixel units (pixel ``i``
    covers ``[i - 0.5, i + 0.5]``, so its centre is ``i``, as in :func:`moments`)."""
    step = 1.0 / supersample
    t = torch.arange(size * supersample, dtype=torch.float64) * step - 0.5 + step / 2
    return t[None, :].expand(len(t), -1), t[:, None].expand(-1, len(t))  # x (columns), y (rows)


def _to_pixels(inside: torch.Tensor, size: int, supersample: int) -> torch.Tensor:
    """Sub-pixel coverage ``(size * s, size * s)`` -> grey levels ``(1, size, size)``: each pixel's covered share."""
    covered = inside.double().reshape(size, supersample, size, supersample).mean(dim=(1, 3))
    return covered.float().unsqueeze(0)


def draw_polygon(
    vertices: Sequence[tuple[float, float]], size: int = 28, supersample: int = SUPERSAMPLE
) -> torch.Tensor:
    """A filled convex polygon as a grey image ``(1, size, size)``; ``vertices`` are ``(x, y)`` = (column,
    row) in pixel units, in order around the polygon. Edge pixels get the share of them it covers."""
    if len(vertices) < 3:
        raise ValueError(f"vertices must hold at least 3 corners of a convex polygon, got {len(vertices)}.")
    x, y = _subpixel_centres(size, supersample)
    v = torch.tensor(vertices, dtype=torch.float64)  # (n, 2)
    edges = v.roll(-1, dims=0) - v  # (n, 2)
    # the side of each edge every point is on: all the same sign inside a convex polygon
    cross = edges[:, 0, None, None] * (y - v[:, 1, None, None]) - edges[:, 1, None, None] * (x - v[:, 0, None, None])
    inside = (cross >= 0).all(dim=0) | (cross <= 0).all(dim=0)
    return _to_pixels(inside, size, supersample)


def bar(
    width: float,
    length: float,
    angle: float = 0.0,
    shear: float = 0.0,
    centre: tuple[float, float] = (13.5, 13.5),
) -> torch.Tensor:
    """A straight stroke ``(1, 28, 28)`` of known geometry, upright before it is changed:

    - ``shear``: rows moved right by ``shear`` pixels per pixel up (a parallelogram ``width`` wide across
      and ``length`` tall, whose :func:`slant` is ``shear`` and :func:`width` is ``width``);
    - ``angle``: then turned by ``angle`` degrees (counter-clockwise), a rectangle ``width`` by ``length``
      whose :func:`thickness` is ``width``.
    """
    cx, cy = centre
    corners = [(-width / 2, -length / 2), (width / 2, -length / 2), (width / 2, length / 2), (-width / 2, length / 2)]
    turn = math.radians(angle)
    c, s = math.cos(turn), math.sin(turn)
    points = []
    for u, v in corners:  # u across, v down
        u = u - shear * v  # up (negative v) moves right
        points.append((cx + c * u + s * v, cy - s * u + c * v))
    return draw_polygon(points)


def draw_strokes(
    points: torch.Tensor, width: float = 2.5, size: int = 28, supersample: int = SUPERSAMPLE
) -> torch.Tensor:
    """A pen line of constant ``width`` through ``points`` ``(n, 2)`` (columns, rows), with round ends and
    joints, as a grey image ``(1, size, size)``: each sub-pixel within ``width / 2`` of the line is ink."""
    checks.number("width", width, above=0)
    points = torch.as_tensor(points, dtype=torch.float64)
    if points.ndim != 2 or points.shape[1] != 2 or len(points) < 2:
        raise ValueError(f"points must be shaped (n, 2) with n >= 2 (a line through them), got {tuple(points.shape)}.")
    x, y = _subpixel_centres(size, supersample)
    p = torch.stack([x, y], dim=-1)  # (S, S, 2)
    a, b = points[:-1], points[1:]  # (n-1, 2): each segment's ends
    ab = b - a
    t = ((p[None] - a[:, None, None]) * ab[:, None, None]).sum(-1) / ab.pow(2).sum(-1).clamp(min=1e-12)[:, None, None]
    nearest = a[:, None, None] + t.clamp(0, 1)[..., None] * ab[:, None, None]  # (n-1, S, S, 2)
    distance = (p[None] - nearest).norm(dim=-1).min(dim=0).values  # (S, S): to the nearest segment
    return _to_pixels(distance <= width / 2, size, supersample)


# --------------------------------------------------------------------------- directions in a latent space


DIRECTION_METHODS = ("regression", "means")


def direction(
    codes: torch.Tensor,
    values: torch.Tensor,
    labels: torch.Tensor | None = None,
    method: str = "regression",
    share: float = 0.25,
) -> torch.Tensor:
    """A unit vector ``(D,)`` in the latent space along which ``values`` (an attribute of the images whose
    mean codes are ``codes`` ``(N, D)``) grows.

    Args:
        method: ``"regression"``: the least-squares fit ``values ~ codes @ w + b``, normalized;
            ``"means"``: the mean code of the images with the largest ``share`` of values minus that of the
            smallest ``share`` (the "attribute vector" of White 2016 and Larsen et al. 2016), normalized.
        labels: ``(N,)`` digit labels, or None. Given, both methods work *within* each digit: codes and
            values are compared with their own digit's (regression: centred on each digit's means;
            means: the top and bottom ``share`` of each digit, the ten differences averaged), so the
            direction does not simply turn narrow 1s into wide 0s.
    """
    checks.tensor("codes", codes, ndim=2, floating=True)
    checks.choice("method", method, DIRECTION_METHODS)
    checks.number("share", share, above=0, maximum=0.5)
    codes = codes.detach().double().cpu()
    values = torch.as_tensor(values).detach().double().cpu()
    if values.shape != (len(codes),):
        raise ValueError(f"values must hold one number per code, shape ({len(codes)},); got {tuple(values.shape)}.")
    if not (torch.isfinite(values).all() and torch.isfinite(codes).all()):
        raise ValueError("codes and values must be finite: drop the images an attribute could not measure (no ink).")
    groups = [torch.arange(len(codes))]
    if labels is not None:
        labels = torch.as_tensor(labels).cpu()
        if labels.shape != values.shape:
            raise ValueError(f"labels must hold one label per code, shape ({len(codes)},); got {tuple(labels.shape)}.")
        groups = [torch.nonzero(labels == c).flatten() for c in labels.unique()]
    if method == "regression":
        centred = [(codes[g] - codes[g].mean(0), values[g] - values[g].mean()) for g in groups]
        a, b = torch.cat([c for c, _ in centred]), torch.cat([v for _, v in centred])
        w = torch.linalg.lstsq(a, b[:, None]).solution[:, 0]
    else:
        diffs = []
        for g in groups:
            k = max(1, int(len(g) * share))
            order = values[g].argsort()
            diffs.append(codes[g[order[-k:]]].mean(0) - codes[g[order[:k]]].mean(0))
        w = torch.stack(diffs).mean(0)
    norm = w.norm()
    if not norm > 0:
        raise ValueError("values do not change with the codes at all: no direction to find.")
    return (w / norm).float()
