"""Figures and pictures for the notebooks (00 on): image grids, curves, latent scatters, PNG composition.

Every function takes data (and optionally an ``ax``), returns the figure (or PNG bytes), and leaves
matplotlib's global state alone: a new figure is closed in pyplot before it is returned, so Jupyter
shows it once, as the cell's last value (or through ``display(fig)``), and no rcParams change.
"""

from __future__ import annotations

import functools
import io
import math
from collections.abc import Sequence
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from PIL import Image, ImageDraw, ImageFont
from torchvision.utils import make_grid

from . import checks
from .bounds import MASSES
from .training import History

# The ten digits' colours: Petroff's ten-colour sequence (M. A. Petroff, "Accessible color sequences for
# data visualization", 2021, arXiv:2107.02270; matplotlib's "petroff10" style from 3.10), chosen so that
# the colours stay apart for viewers with protanopia, deuteranopia or tritanopia (tests/test_plotting.py
# checks every pair under simulations of all three). matplotlib's default tab10 does not: its orange and
# green look alike with protanopia, its orange and olive with deuteranopia.
DIGIT_COLOURS = (
    "#3f90da",
    "#ffa90e",
    "#bd1f01",
    "#94a4a2",
    "#832db6",
    "#a96b59",
    "#e76300",
    "#b9ac70",
    "#717581",
    "#92dadd",
)

TEXT_PX = 14  # caption text in the PNG pictures, in pixels: JupyterLab's own text is 13-14 px at 100 % zoom
# The widest figure, in inches: at Jupyter's 100 dpi, 930 pixels, the width of JupyterLab's output area on a
# 1366 x 768 laptop screen at 100 % zoom. A wider picture is shrunk to fit, and its text with it.
MAX_FIGURE_WIDTH = 9.3


def digit_colour(digit: int) -> str:
    """The colour of ``digit`` in every scatter of the course (colour-blind safe, see ``DIGIT_COLOURS``)."""
    return DIGIT_COLOURS[int(digit) % len(DIGIT_COLOURS)]


def new_figure(nrows: int = 1, ncols: int = 1, **kwargs) -> tuple[Figure, np.ndarray]:
    """``plt.subplots`` without pyplot keeping the figure: returns ``(fig, axes)`` with ``axes`` 2-D."""
    fig, axes = plt.subplots(nrows, ncols, squeeze=False, **kwargs)
    plt.close(fig)
    return fig, axes


def _fit_width(fig: Figure) -> Figure:
    """Shrink ``fig`` so that everything it draws, labels overhanging its edges included, is at most
    ``MAX_FIGURE_WIDTH`` wide as Jupyter saves it (the tight bounding box, padded)."""
    pad = 2 * matplotlib.rcParams["savefig.pad_inches"]
    for _ in range(4):  # the layout moves a little with the size, so measure again
        width, height = fig.get_size_inches()
        drawn = fig.get_tightbbox().width + pad  # inches, as saved
        if drawn <= MAX_FIGURE_WIDTH:
            break
        shrink = (MAX_FIGURE_WIDTH - 0.02 - (drawn - width)) / width
        fig.set_size_inches(width * shrink, height * shrink)
        fig.tight_layout()
    return fig


def _as_numpy_images(images: torch.Tensor | np.ndarray) -> np.ndarray:
    """``(B, 1, H, W)``, ``(B, H, W)`` or ``(H, W)`` in [0, 1] (or uint8) -> float array ``(B, H, W)``."""
    if not isinstance(images, (torch.Tensor, np.ndarray)):
        raise TypeError(f"images must be a tensor or an array of grey images, got {type(images).__name__}.")
    arr = images.detach().cpu().numpy() if isinstance(images, torch.Tensor) else np.asarray(images)
    if arr.dtype == np.uint8:
        arr = arr.astype(np.float32) / 255.0
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim == 4:
        if arr.shape[1] != 1:
            raise ValueError(f"images must have one channel, (B, 1, H, W); got shape {arr.shape}.")
        arr = arr[:, 0]
    if arr.ndim != 3:
        raise ValueError(f"images must be shaped (B, 1, H, W), (B, H, W) or (H, W), got {arr.shape}.")
    return arr


def show_images(
    images: torch.Tensor | np.ndarray,
    labels: Sequence | None = None,
    ncols: int = 10,
    title: str | None = None,
    scale: float = 1.0,
) -> Figure:
    """A grid of grey-scale images, each with its label (if given) above it (notebook 00 on). ``scale`` is
    inches per image; a grid that would be wider than ``MAX_FIGURE_WIDTH`` (labels included) is drawn
    smaller to fit."""
    arr = _as_numpy_images(images)
    n = len(arr)
    if labels is not None and len(labels) != n:
        raise ValueError(f"labels must give one label per image: got {n} images but {len(labels)} labels.")
    checks.count("ncols", ncols)
    checks.number("scale", scale, above=0)
    ncols = min(ncols, n)
    nrows = math.ceil(n / ncols)
    scale = min(scale, MAX_FIGURE_WIDTH / (1.1 * ncols))
    height = scale * (1.25 if labels is not None else 1.1) * nrows + (0.4 if title else 0)
    fig, axes = new_figure(nrows, ncols, figsize=(scale * 1.1 * ncols, height))
    for i, ax in enumerate(axes.flat):
        ax.set_axis_off()
        if i < n:
            ax.imshow(arr[i], cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
            if labels is not None:
                lab = labels[i]
                ax.set_title(str(lab.item() if isinstance(lab, torch.Tensor) else lab), fontsize=10)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return _fit_width(fig)


def plot_history(
    history,
    keys: Sequence[str] = ("train_loss", "test_loss"),
    ax: Axes | None = None,
    logy: bool = False,
    ylabel: str = "loss",
) -> Figure:
    """Per-epoch curves of ``keys`` from a ``training.History`` (notebook 03)."""
    if not isinstance(history, History):
        raise TypeError(f"history must be the History that fit() returns, got {type(history).__name__}.")
    if ax is None:
        _fig, axes = new_figure(figsize=(5, 3.2))
        ax = axes[0, 0]
    for key in keys:
        values = history[key]
        ax.plot(range(1, len(values) + 1), values, marker="o", label=key.replace("_", " "))
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    if logy:
        ax.set_yscale("log")
    ax.legend()
    ax.grid(alpha=0.3)
    ax.figure.tight_layout()
    return ax.figure


def png_bytes(image: torch.Tensor | np.ndarray, scale: int = 8) -> bytes:
    """One grey image ``(H, W)`` or ``(1, H, W)`` in [0, 1] as PNG bytes, enlarged ``scale`` times with
    nearest-neighbour so pixels stay crisp (for ``ipywidgets.Image``).
    Introduced in notebook 00."""
    arr = _as_numpy_images(image)
    if len(arr) != 1:
        raise ValueError(f"image must be one image, got {len(arr)}.")
    checks.count("scale", scale)
    pixels = (np.clip(arr[0], 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    img = Image.fromarray(pixels)  # 2-D uint8 -> mode "L"
    if scale != 1:
        img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def encode_png(img: Image.Image) -> bytes:
    """A PIL image as PNG bytes, compressed lightly: a widget's picture lives for one slider move."""
    buf = io.BytesIO()
    img.save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def png_size(png: bytes) -> tuple[int, int]:
    """``(width, height)`` in pixels of a PNG image given as bytes."""
    with Image.open(io.BytesIO(png)) as img:
        return img.size


@functools.cache
def text_font(size: int = TEXT_PX, bold: bool = False) -> ImageFont.ImageFont:
    """DejaVu Sans (the font matplotlib ships and draws with) at ``size`` pixels, for text in PNG pictures."""
    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    try:
        return ImageFont.truetype(str(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / name), size)
    except OSError:  # a Pillow without FreeType: its built-in font
        return ImageFont.load_default()


def _wrap(line: str, font, measure: ImageDraw.ImageDraw, width: int) -> list[str]:
    """``line`` broken at spaces into lines at most ``width`` pixels wide (a longer word keeps a line of its own)."""
    out: list[str] = []
    for word in line.split(" "):
        if out and measure.textlength(f"{out[-1]} {word}", font=font) <= width:
            out[-1] = f"{out[-1]} {word}"
        else:
            out.append(word)
    return out or [""]


def text_png(
    lines: Sequence[str], size: int = TEXT_PX, bold: bool = False, width: int | None = None, colour: str = "black"
) -> bytes:
    """Lines of text on white as a PNG (wrapped to ``width`` pixels if given): a caption block."""
    font = text_font(size, bold)
    measure = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    if width is not None:
        lines = [part for line in lines for part in _wrap(line, font, measure, width)]
    step = round(size * 1.35)
    text_width = max([math.ceil(measure.textlength(line, font=font)) for line in lines] + [1])
    img = Image.new("RGB", (max(width or 0, text_width + 2), step * len(lines) + 4), "white")
    draw = ImageDraw.Draw(img)
    for i, line in enumerate(lines):
        draw.text((1, 2 + i * step), line, fill=colour, font=font)
    return encode_png(img)


def side_by_side(
    pngs: Sequence[bytes], captions: Sequence[str] = (), gap: int = 12, vertical: bool = False, title: str = ""
) -> bytes:
    """Several PNG images on white, left to right (or top to bottom), each under its caption if given,
    under a bold ``title`` if given, as one PNG: the static picture of a widget panel with several images.
    Text is DejaVu Sans at ``TEXT_PX`` pixels, legible at 100 % zoom."""
    images = [Image.open(io.BytesIO(p)).convert("RGB") for p in pngs]
    if captions:
        if len(captions) != len(images):
            raise ValueError(f"Got {len(images)} images but {len(captions)} captions.")
        boxed = []
        for img, caption in zip(images, captions):
            label = Image.open(io.BytesIO(text_png([caption], width=None if vertical else max(img.width, 200))))
            box = Image.new("RGB", (max(img.width, label.width), img.height + label.height), "white")
            box.paste(label, (0, 0))
            box.paste(img, (0, label.height))
            boxed.append(box)
        images = boxed
    along = [i.height if vertical else i.width for i in images]
    across = max(i.width if vertical else i.height for i in images)
    length = sum(along) + gap * (len(images) - 1)
    canvas = Image.new("RGB", (across, length) if vertical else (length, across), "white")
    offset = 0
    for img, size in zip(images, along):
        canvas.paste(img, (0, offset) if vertical else (offset, 0))
        offset += size + gap
    if title:
        heading = Image.open(io.BytesIO(text_png([title], size=TEXT_PX + 2, bold=True, width=max(canvas.width, 300))))
        framed = Image.new("RGB", (max(canvas.width, heading.width), heading.height + 6 + canvas.height), "white")
        framed.paste(heading, (0, 0))
        framed.paste(canvas, (0, heading.height + 6))
        canvas = framed
    return encode_png(canvas)


def strip_png(images: torch.Tensor, scale: int = 2, pad: int = 2) -> bytes:
    """Images ``(B, 1, H, W)`` in [0, 1] in one row, grey gaps between them, as PNG bytes."""
    grid = make_grid(images.detach().cpu().clamp(0, 1), nrow=len(images), padding=pad, pad_value=0.5)[:1]
    return png_bytes(grid, scale=scale)


def plot_codes_with_images(
    codes: torch.Tensor,
    images: torch.Tensor,
    labels: Sequence | None = None,
    ax: Axes | None = None,
    zoom: float = 0.9,
    title: str | None = None,
) -> Figure:
    """Draw each image at its 2-D code ``(N, 2)``, framed in its label's colour (a legend names the digits).
    Introduced in notebook 02."""
    from matplotlib.offsetbox import AnnotationBbox, OffsetImage

    codes = codes.detach().cpu()
    if codes.ndim != 2 or codes.shape[1] != 2:
        raise ValueError(f"codes must be (N, 2) to be drawn on a plane, got {tuple(codes.shape)}.")
    arr = _as_numpy_images(images)
    if len(arr) != len(codes):
        raise ValueError(f"Got {len(codes)} codes but {len(arr)} images.")
    if ax is None:
        _fig, axes = new_figure(figsize=(7, 6))
        ax = axes[0, 0]
    for i, (x, y) in enumerate(codes.tolist()):
        frame = digit_colour(labels[i]) if labels is not None else "grey"
        box = AnnotationBbox(
            OffsetImage(arr[i], cmap="gray", zoom=zoom),
            (x, y),
            frameon=True,
            bboxprops={"edgecolor": frame, "linewidth": 2},
            pad=0.1,
        )
        ax.add_artist(box)
    if labels is not None:
        for digit in sorted({int(v) for v in labels}):
            ax.scatter([], [], color=digit_colour(digit), marker="s", label=str(digit))
        ax.legend(title="digit", loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
    low, high = codes.min(0).values.tolist(), codes.max(0).values.tolist()
    for d, set_lim in enumerate((ax.set_xlim, ax.set_ylim)):
        pad = 0.12 * max(high[d] - low[d], 1e-3)
        set_lim(low[d] - pad, high[d] + pad)
    ax.set_xlabel("code dimension 1")
    ax.set_ylabel("code dimension 2")
    if title:
        ax.set_title(title)
    ax.figure.tight_layout()
    return ax.figure


def project_2d(codes: torch.Tensor) -> tuple[torch.Tensor, str]:
    """Codes ``(N, D)`` as ``(N, 2)``: themselves when ``D == 2``, else their first two principal components."""
    codes = codes.detach().float().cpu()
    if codes.ndim != 2 or codes.shape[1] < 2:
        raise ValueError(f"Need codes shaped (N, D) with D >= 2 to draw on a plane, got {tuple(codes.shape)}.")
    if codes.shape[1] == 2:
        return codes, ""
    centred = codes - codes.mean(0)
    _, _, v = torch.linalg.svd(centred, full_matrices=False)
    return centred @ v[:2].T, f"first 2 principal components of {codes.shape[1]}-D codes"


def _spread(points: torch.Tensor, within: torch.Tensor, gap: float = 0.08, rounds: int = 60) -> torch.Tensor:
    """``points`` ``(K, 2)`` pushed apart, pair by pair, until no two are closer than ``gap`` (a fraction of
    the extent of ``within`` ``(N, 2)``): labels at class centres that do not hide each other."""
    low, span = within.min(0).values, (within.max(0).values - within.min(0).values).clamp_min(1e-9)
    p = ((points - low) / span).double()
    for _ in range(rounds):
        moved = False
        for i in range(len(p)):
            for j in range(i + 1, len(p)):
                d = p[j] - p[i]
                dist = float(d.norm())
                if dist < gap:
                    if dist > 1e-9:
                        direction = d / dist
                    else:  # the same place: any fixed direction will do
                        direction = torch.tensor([math.cos(i + j), math.sin(i + j)], dtype=p.dtype)
                    p[i] -= direction * (gap - dist) / 2
                    p[j] += direction * (gap - dist) / 2
                    moved = True
        if not moved:
            break
    return p.float() * span + low


def plot_latent_scatter(
    codes: torch.Tensor,
    labels: Sequence | torch.Tensor,
    ax: Axes | None = None,
    title: str | None = None,
    point_size: float = 3.0,
    label_centres: bool = True,
) -> Figure:
    """Scatter of latent codes ``(N, D)`` coloured by digit, with a legend.

    Codes with more than two dimensions are projected onto their first two principal components (the
    axis labels say so). The colours (``DIGIT_COLOURS``) stay apart for colour-blind viewers, and with
    ``label_centres`` each digit is also written at the median of its codes, so no one needs the colours.
    Introduced in notebook 03.
    """
    xy, note = project_2d(codes)
    labels = torch.as_tensor(labels).cpu()
    if len(labels) != len(xy):
        raise ValueError(f"labels must give one label per code: got {len(xy)} codes but {len(labels)} labels.")
    if ax is None:
        _fig, axes = new_figure(figsize=(6.2, 5.2))
        ax = axes[0, 0]
    digits = sorted(set(labels.tolist()))
    for digit in digits:
        sel = labels == digit
        ax.scatter(xy[sel, 0], xy[sel, 1], s=point_size, color=digit_colour(digit), label=str(int(digit)), alpha=0.7)
    legend = ax.legend(
        title="digit",
        markerscale=max(2.0, 6 / max(point_size, 0.1) ** 0.5),
        loc="center left",
        bbox_to_anchor=(1.0, 0.5),
        frameon=False,
        handletextpad=0.2,
        labelspacing=0.35,
    )
    for handle in legend.legend_handles:
        handle.set_alpha(1.0)
    if label_centres:
        centres = torch.stack([xy[labels == digit].median(0).values for digit in digits])
        for digit, (x, y) in zip(digits, _spread(centres, xy).tolist()):
            ax.text(
                x,
                y,
                str(int(digit)),
                ha="center",
                va="center",
                fontsize=10,
                fontweight="bold",
                bbox={
                    "boxstyle": "round,pad=0.2",
                    "facecolor": "white",
                    "edgecolor": digit_colour(digit),
                    "linewidth": 2,
                    "alpha": 0.9,
                },
            )
    ax.set_xlabel("principal component 1" if note else "z[0]")
    ax.set_ylabel("principal component 2" if note else "z[1]")
    ax.set_title(title or note or "latent codes")
    if note and title:
        ax.set_title(f"{title}\n({note})", fontsize=10)
    ax.figure.tight_layout()
    return ax.figure


def show_grids(grids: dict[str, torch.Tensor], nrow: int = 8, scale: float = 1.0) -> Figure:
    """Several image grids side by side, one titled panel per entry: ``{"title": images (B, 1, H, W)}``;
    never wider than ``MAX_FIGURE_WIDTH``. Introduced in notebook 04."""
    from torchvision.utils import make_grid

    if not isinstance(grids, dict) or not grids:
        raise ValueError("grids must be a non-empty dict {title: images (B, 1, H, W)}.")
    checks.count("nrow", nrow)
    checks.number("scale", scale, above=0)
    scale = min(scale, MAX_FIGURE_WIDTH / (4.2 * len(grids)))
    fig, axes = new_figure(1, len(grids), figsize=(scale * 4.2 * len(grids), scale * 4.4))
    for ax, (title, images) in zip(axes[0], grids.items()):
        if not isinstance(images, torch.Tensor) or images.ndim != 4 or images.shape[1] != 1:
            raise ValueError(
                f"grids[{title!r}] must be images shaped (B, 1, H, W), got "
                f"{tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__}."
            )
        grid = make_grid(images.detach().cpu().clamp(0, 1), nrow=nrow, padding=2, pad_value=0.5)[0]
        ax.imshow(grid.numpy(), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        ax.set_title(title)
        ax.set_axis_off()
    fig.tight_layout()
    return _fit_width(fig)


def figure_png(fig: Figure, dpi: int = 100) -> bytes:
    """A figure rendered as PNG bytes (for widgets that swap pictures); at 100 dpi, as Jupyter shows
    figures, its 10-point text is 14 pixels high."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    return buf.getvalue()


POSTERIOR_BLUES = ("#c6dbef", "#6baed6", "#2171b5")  # p(z|x)'s 99, 90 and 50 % regions
Q_RED = "#bd1f01"  # q(z|x)'s ellipses


def posterior_legend_entries() -> tuple[list, list[str]]:
    """The handles and names of :func:`plot_posterior`'s legend, for one legend under several panels."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    handles = [Patch(color=c) for c in reversed(POSTERIOR_BLUES)] + [Line2D([], [], color=Q_RED, ls="--")]
    return handles, ["p(z|x): 50 %", "90 %", "99 % of it", "q(z|x): the same shares"]


def plot_posterior(
    post, ax: Axes | None = None, image: torch.Tensor | None = None, title: str | None = None, legend: bool = True
) -> Figure:
    """One image's true posterior p(z | x) (filled: the smallest regions holding 50, 90 and 99 % of it) and the
    encoder's Gaussian q(z | x) (dashed ellipses holding the same shares), from ``bounds.posterior``
    (notebook 06). ``image``, if given, is drawn small beside the plot's top-right corner; ``legend``: a
    legend under the plot (for several panels, :func:`posterior_legend_entries` makes one for all)."""
    from matplotlib.patches import Ellipse

    if ax is None:
        fig, axes = new_figure(figsize=(3.4, 3.4))
        ax = axes[0, 0]
    fig = ax.figure
    levels = post.levels()
    top = post.density.max().item()
    x, y, density = post.x_ticks.numpy(), post.y_ticks.numpy(), post.density.numpy()
    ax.contourf(x, y, density, levels=[*levels, top * 1.01], colors=POSTERIOR_BLUES)
    sd = post.logvar.mul(0.5).exp()
    for mass in MASSES:
        r = math.sqrt(-2 * math.log(1 - mass))  # a 2-D Gaussian holds this share within r standard deviations
        width, height = 2 * r * sd[0].item(), 2 * r * sd[1].item()
        ax.add_patch(Ellipse(post.mu.tolist(), width, height, fill=False, ls="--", lw=1.4, edgecolor=Q_RED))
    ax.set_xlim(x[0], x[-1])
    ax.set_ylim(y[0], y[-1])
    ax.xaxis.set_major_locator(MaxNLocator(3))  # a narrow panel's tick labels stay apart
    ax.tick_params(labelsize=8)
    ax.set_xlabel("$z_1$")
    ax.set_ylabel("$z_2$")
    if image is not None:
        inset = ax.inset_axes([1.03, 0.7, 0.3, 0.3])
        inset.imshow(image.reshape(28, 28).cpu().numpy(), cmap="gray_r", vmin=0, vmax=1)
        inset.set_xticks([])
        inset.set_yticks([])
    ax.set_title(title or f"log p(x) {post.log_px:.1f}, ELBO {post.elbo:.1f}", fontsize=10)
    if legend:
        ax.legend(*posterior_legend_entries(), fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2)
    return fig
