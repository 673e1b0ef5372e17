"""Widgets that let a learner move through a latent space and watch the decoded digit change (notebooks 02-07).

Seven panels, each made in one line from a trained model and the test split:

* :class:`LatentSliders` -- one slider per latent dimension (for large codes: the first k, or the k
  with the most KL), buttons to start from a test digit's code, a prior sample or zero.
* :class:`LatentExplorer` -- a 2-D code space: the test codes scattered by digit, a marker that two
  sliders move, and the digit decoded at the marker.
* :class:`Interpolation` -- the straight line between two test digits' codes, walked by a slider,
  for several models side by side (an autoencoder and a VAE, say).
* :class:`ModelSwitcher` -- a slider over trained models (a beta sweep) that swaps their pictures.
* :class:`PosteriorExplorer` -- a test digit's true posterior, computed on a grid, beside the encoder's q.
* :class:`AttributeSlider` -- a test digit's code moved along a direction that changes an attribute
  (ink, thickness, slant, width), with the attribute measured on the decoded image.
* :class:`StyleExplorer` -- a conditional VAE writes a test digit's style as each of the ten digits.

How they are built: explicit ipywidgets (sliders, buttons, persistent ``ipywidgets.Image`` widgets)
wired with ``observe``. A move decodes one code and replaces the image's PNG bytes, a few
milliseconds, instead of clearing and redrawing a matplotlib figure as ``interact`` would. Only
features shared by ipywidgets 7.7 and 8 are used (``FloatSlider``, ``SelectionSlider``,
``BoundedIntText``, ``Dropdown``, ``ToggleButtons``, ``Button``, ``Image``, ``HTML``, ``Label``, ``HBox``/``VBox``, ``Layout``,
``observe``, ``on_click``, ``add_class``), so the course also runs on hosted services that ship 7.7.

Every picture is an ``ipywidgets.Image`` made by :func:`pixel_image`: shown at exactly its PNG's pixel
size, never stretched by its box, so a digit enlarged with nearest neighbour stays square and crisp.

Every panel's display bundle carries the live widget *and* a static PNG of its current state, so
where no widget front end is attached (nbval, GitHub, nbviewer, an HTML export) the cell still shows
a meaningful picture: titled, its settings written out, its text legible at 100 % zoom. Stable CSS
classes (``vae-...``) on the panels, controls and images let a browser test find them. Each panel
records the time of every update in ``update_ms`` (decode plus PNG encoding), which
``benchmarks/bench_widgets.py`` reports.
"""

from __future__ import annotations

import base64
import math
import time
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw
from torch import nn

from . import bounds, checks
from .attributes import ATTRIBUTES, UNITS
from .data import Split
from .judge import recognised
from .losses import kl_per_dimension
from .plotting import (
    TEXT_PX,
    encode_png,
    figure_png,
    new_figure,
    plot_latent_scatter,
    plot_posterior,
    png_bytes,
    png_size,
    side_by_side,
    strip_png,
    text_font,
    text_png,
)
from .training import encode_split

Decode = Callable[[torch.Tensor], torch.Tensor]  # z (B, D) -> logits (B, 1, H, W)
# ends the text of a panel's output, which also carries its picture; tools.timing counts panels by it
STATIC_PICTURE_NOTE = "(a static picture of its current state)"


# --------------------------------------------------------------------------- shared pieces


def pixel_image(png: bytes = b"", width: int | None = None, height: int | None = None, css_class: str = ""):
    """An ``ipywidgets.Image`` of ``png`` shown at exactly its pixel size: square digits stay square and,
    enlarged with nearest neighbour (``png_bytes(x, scale=6)``), crisp at 100 % zoom.

    A plain ``widgets.Image`` is stretched by its box (ipywidgets 8 widens it to a ``VBox``'s width and
    heightens it to an ``HBox``'s height) and scaled smoothly, so a digit comes out distorted and blurred.
    Here the layout fixes the width and height (in CSS pixels) and keeps the box from growing or shrinking
    it. ``width`` and ``height`` default to the PNG's; give them when the image starts empty (``b""``).

        picture = pixel_image(png_bytes(mnist.test[0].x()[0], scale=6))
        picture.value = png_bytes(mnist.test[i].x()[0], scale=6)   # a new picture of the same size

    Introduced in notebook 00.
    """
    import ipywidgets as w

    if width is None or height is None:
        if not png:
            raise ValueError("pixel_image needs the PNG bytes, or the width and height it will have in pixels.")
        width, height = png_size(png)
    checks.count("width", width)
    checks.count("height", height)
    layout = w.Layout(flex="0 0 auto", align_self="flex-start", object_fit="contain")  # no growing, no stretching
    image = w.Image(value=png, format="png", layout=layout)
    _set_size(image, width, height)
    image.add_class("vae-pixel-image")
    if css_class:
        image.add_class(css_class)
    return image


def _set_size(image, width: int, height: int) -> None:
    """Fix a ``pixel_image``'s size on screen: the ``<img>``'s attributes and its CSS box, neither stretched
    nor shrunk (min = max = size, against ipywidgets' ``max-width: 100%``)."""
    image.width, image.height = str(width), str(height)
    layout = image.layout
    layout.width = layout.min_width = layout.max_width = f"{width}px"
    layout.height = layout.min_height = layout.max_height = f"{height}px"


def _show_png(image, png: bytes) -> None:
    """Show ``png`` in a ``pixel_image``, resizing it if the new picture has another size."""
    width, height = png_size(png)
    if image.layout.width != f"{width}px" or image.layout.height != f"{height}px":
        _set_size(image, width, height)
    image.value = png


def _test_image(index: int, labels: torch.Tensor | None) -> str:
    """How the panels name a test image: by its index, with its label (an index is not a digit)."""
    return f"test image #{index}" + (f" (a {int(labels[index])})" if labels is not None else "")


def _minus(value: float, fmt: str = "+.2f") -> str:
    return format(value, fmt).replace("-", "\u2212")


def _mean_code(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """A VAE's mean code or an autoencoder's code for images ``x``."""
    out = model.encode(x)
    return out[0] if isinstance(out, tuple) else out


def _device_of(decode: Decode) -> torch.device:
    owner = getattr(decode, "__self__", None)
    if isinstance(owner, nn.Module):
        p = next(owner.parameters(), None)
        if p is not None:
            return p.device
    return torch.device("cpu")


def _check_decoder(decode: Decode, latent_dim: int, device: torch.device) -> tuple[int, int]:
    """Run the decoder once on a zero code, with a clear message if it does not fit; returns ``(H, W)``."""
    checks.count("latent_dim", latent_dim)
    with torch.no_grad():
        try:
            out = decode(torch.zeros(1, latent_dim, device=device))
        except Exception as err:
            raise ValueError(
                f"latent_dim={latent_dim} does not fit the decoder ({err}). "
                "Pass the latent size the model was built with."
            ) from None
    if out.ndim != 4 or out.shape[:2] != (1, 1):
        raise ValueError(f"The decoder must return logits shaped (B, 1, H, W), got {tuple(out.shape)}.")
    return int(out.shape[2]), int(out.shape[3])


def _check_labels(labels: torch.Tensor | None, n: int) -> torch.Tensor | None:
    if labels is None:
        return None
    labels = torch.as_tensor(labels).detach().cpu()
    if labels.ndim != 1 or len(labels) != n:
        raise ValueError(f"labels must be one label per code ({n}), got shape {tuple(labels.shape)}.")
    return labels


def first_of_class(labels: torch.Tensor, digit: int) -> int:
    """The index of the first example labelled ``digit``, or a clear error naming the classes there are."""
    hits = (labels == int(digit)).nonzero()
    if len(hits) == 0:
        known = ", ".join(str(v) for v in sorted(set(labels.tolist())))
        raise ValueError(f"There is no test digit of class {digit!r}: the classes are {known}.")
    return int(hits[0])


def _check_index(index: int, n: int) -> int:
    checks.count("index", index, minimum=0)
    if index >= n:
        raise ValueError(f"index {index} is not a test digit: pick an index from 0 to {n - 1}.")
    return index


def digit_number_box(index: int, n: int, css_class: str, description: str = "test digit #"):
    """A box that picks one of ``n`` test digits by its number, starting at ``index`` (checked), with
    ``css_class`` for the browser test: the digit picker of notebooks 06 and 07's panels."""
    import ipywidgets as w

    box = w.BoundedIntText(
        value=_check_index(index, n),
        min=0,
        max=n - 1,
        description=description,
        style={"description_width": "initial"},
        layout=w.Layout(width="200px"),
    )
    box.add_class(css_class)
    return box


def nice_step(span: float, steps: int = 120) -> float:
    """A round slider step (1, 2 or 5 times a power of ten) giving about ``steps`` steps over ``span``."""
    raw = span / steps
    power = 10.0 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= raw * 0.999)


def float_slider(low: float, high: float, description: str, steps: int = 120, width: str = "340px"):
    """A ``FloatSlider`` whose ends are multiples of a round step (the range widened to the next one)."""
    import ipywidgets as w

    step = nice_step(high - low, steps)
    low, high = math.floor(low / step) * step, math.ceil(high / step) * step
    return w.FloatSlider(
        value=snap(0.0, low, high, step),
        min=low,
        max=high,
        step=step,
        description=description,
        continuous_update=True,
        readout_format=".2f",
        layout=w.Layout(width=width),
    )


def snap(value: float, low: float, high: float, step: float) -> float:
    """``value`` clipped to ``[low, high]`` and rounded to the slider's grid ``low + k * step``.

    The browser's slider snaps every value it receives to this grid and sends the result back; values
    already on the grid come back unchanged, so a code set from Python is what the slider shows."""
    value = min(max(float(value), low), high)
    return round(low + round((value - low) / step) * step, 10)


class _Panel:
    """What every panel shares: ``widget`` (the root box), ``update_ms`` and a display bundle with both
    the live widget and a static PNG (``static_png``) for viewers without a widget front end."""

    widget = None
    name = "panel"

    def __init__(self) -> None:
        self.update_ms: list[float] = []

    def _timed(self, render: Callable[[], None]) -> None:
        start = time.perf_counter()
        render()
        self.update_ms.append(1000 * (time.perf_counter() - start))

    def static_png(self) -> bytes:  # pragma: no cover - every panel overrides it
        raise NotImplementedError

    def _repr_mimebundle_(self, include=None, exclude=None):
        """The live widget where a front end can show it, else a static PNG of the current state."""
        return {
            "application/vnd.jupyter.widget-view+json": {
                "version_major": 2,
                "version_minor": 0,
                "model_id": self.widget.model_id,
            },
            "image/png": base64.b64encode(self.static_png()).decode("ascii"),
            "text/plain": f"{type(self).__name__}: {self.name} {STATIC_PICTURE_NOTE}",
        }


# --------------------------------------------------------------------------- latent sliders


class LatentSliders(_Panel):
    """One slider per chosen latent dimension and the decoded image, updated as a slider moves.

    The buttons start from a test image's code (picked by its index in the test set), a random code or zero.

    Args:
        decode: maps codes ``(B, latent_dim)`` to logits ``(B, 1, H, W)``, e.g. ``model.decode``.
        latent_dim: size of the code.
        dims: which dimensions get a slider (default: all, up to 8); the others stay at the start code.
        codes, labels: codes of real images ``(N, latent_dim)`` (e.g. the test set's ``mu``) and their
            labels, for the "use its code" button.
        scale: screen pixels per image pixel (nearest-neighbour, so pixels stay crisp).
        slider_range: sliders run from ``-slider_range`` to ``+slider_range`` (prior standard deviations).
        limits: per slider ``(low, high)`` instead, e.g. an autoencoder's code range (it has no prior).
        random_code: draws the "random" button's code from a ``torch.Generator``; default ``N(0, I)``.
        seed: seeds the "random" button's generator, so a notebook run repeats.
        title, note: a bold heading and a line of explanation above the sliders.

    :meth:`for_model` builds one from a model and the test split, choosing the dimensions for you.
    Introduced in notebook 04.
    """

    def __init__(
        self,
        decode: Decode,
        latent_dim: int,
        dims: Sequence[int] | None = None,
        codes: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        scale: int = 8,
        slider_range: float = 3.0,
        limits: Sequence[tuple[float, float]] | None = None,
        random_code: Callable[[torch.Generator], torch.Tensor] | None = None,
        seed: int = 0,
        title: str = "",
        note: str = "",
    ):
        import ipywidgets as w

        super().__init__()
        self.device = _device_of(decode)
        self.image_size = _check_decoder(decode, latent_dim, self.device)
        dims = list(range(min(latent_dim, 8))) if dims is None else [int(d) for d in dims]
        bad = [d for d in dims if not 0 <= d < latent_dim]
        if bad or not dims or len(set(dims)) != len(dims):
            raise ValueError(f"dims must be distinct indices between 0 and {latent_dim - 1}, got {dims}.")
        if codes is not None and (codes.ndim != 2 or codes.shape[1] != latent_dim):
            raise ValueError(f"codes must be (N, {latent_dim}) to match latent_dim, got {tuple(codes.shape)}.")
        if limits is None:
            limits = [(-slider_range, slider_range)] * len(dims)
        if len(limits) != len(dims) or any(not lo < hi for lo, hi in limits):
            raise ValueError(
                f"limits must be one (low, high) pair with low < high per slider ({len(dims)}), got {limits}."
            )
        self.decode, self.latent_dim, self.dims, self.scale = decode, latent_dim, dims, scale
        self.name, self.note = title or f"{latent_dim}-D code", note
        self.codes = codes.detach().cpu().float() if codes is not None else None
        self.labels = (
            _check_labels(labels, len(self.codes)) if (labels is not None and self.codes is not None) else None
        )
        self.random_code = random_code or (lambda g: torch.randn(latent_dim, generator=g))
        self.generator = torch.Generator().manual_seed(seed)
        self._code = torch.zeros(latent_dim)
        self._hold = False
        self.origin = "zero"  # where the code came from (the dimensions without a slider keep it), for static_png

        self.sliders = []
        for d, (lo, hi) in zip(dims, limits):
            slider = float_slider(lo, hi, f"z[{d}]")
            slider.add_class("vae-latent-slider")
            slider.observe(self._on_slider, names="value")
            self.sliders.append(slider)
        self._code[dims] = torch.tensor([s.value for s in self.sliders])
        height, width = self.image_size
        self.image = pixel_image(width=width * scale, height=height * scale, css_class="vae-decoded-image")
        self.zero_button = w.Button(description="zero", tooltip="set every dimension to 0, the centre of the prior")
        self.random_button = w.Button(description="random", tooltip="draw a code at random (from the prior for a VAE)")
        self.zero_button.on_click(lambda _: self._start_from(torch.zeros(latent_dim), "zero"))
        self.random_button.on_click(lambda _: self._start_from(self.random_code(self.generator), "a random code"))
        buttons = [self.zero_button, self.random_button]
        if self.codes is not None:
            self.index = w.BoundedIntText(
                value=0,
                min=0,
                max=len(self.codes) - 1,
                description="test image #",
                style={"description_width": "initial"},
                layout=w.Layout(width="190px"),
            )
            self.digit_button = w.Button(description="use its code", tooltip="start from the code of that test image")
            self.digit_button.on_click(lambda _: self.set_code_from_index(self.index.value))
            buttons += [self.index, self.digit_button]
        for b in buttons:
            b.add_class("vae-latent-button")
        self.status = w.Label()
        self.status.add_class("vae-status")
        heading = w.HTML((f"<b>{title}</b>" if title else "") + (f"<br>{note}" if note else ""))  # full size: legible
        controls = w.VBox([heading, *self.sliders, w.HBox(buttons), self.status])
        self.widget = w.HBox([controls, self.image])
        self.widget.add_class("vae-latent-sliders")
        self._timed(self._render)

    @classmethod
    def for_model(
        cls,
        model: nn.Module,
        split: Split,
        k: int = 6,
        order: str = "kl",
        start: int | None = 0,
        scale: int = 8,
        title: str = "",
        seed: int = 0,
    ) -> LatentSliders:
        """Sliders for ``model`` (a VAE or an autoencoder), with the codes of ``split`` for the buttons.

        For codes larger than ``k``: ``order="kl"`` gives sliders to the ``k`` dimensions with the most
        KL on ``split`` (those that carry the most information; a VAE only), ``order="first"`` to the
        first ``k``. A VAE's sliders span +-3 prior standard deviations and "random" samples the prior;
        an autoencoder has no prior, so its sliders span its test codes' range and "random" draws from a
        Gaussian fitted to those codes. ``start`` is the index of the test image whose code the panel
        starts from (None: zero).
        """
        checks.choice("order", order, ("kl", "first"))
        checks.count("k", k)
        mu, logvar = encode_split(model, split)
        mu, logvar = mu.cpu(), (None if logvar is None else logvar.cpu())
        latent_dim = mu.shape[1]
        k = min(k, latent_dim)
        notes = []
        if logvar is not None:
            kl = kl_per_dimension(mu, logvar)
            dims = kl.argsort(descending=True)[:k].tolist() if order == "kl" else list(range(k))
            limits, random_code = None, None
            if k < latent_dim:
                which = (
                    f"the {k} of {latent_dim} dimensions with the most KL"
                    if order == "kl"
                    else f"the first {k} of {latent_dim} dimensions"
                )
                notes.append(f"Sliders for {which}; the other {latent_dim - k} keep the start code.")
            notes.append(
                "KL per slider (nats): "
                + ", ".join(f"z[{d}] {kl[d]:.2f}" for d in dims)
                + ". Range: +-3 prior standard deviations."
            )
        else:
            if order == "kl" and k < latent_dim:
                raise ValueError("An autoencoder has no KL to rank its dimensions by: use order='first'.")
            dims = list(range(k))
            low, high = mu.min(0).values, mu.max(0).values
            limits = [(float(low[d]), float(high[d])) for d in dims]
            mean, std = mu.mean(0), mu.std(0)
            random_code = lambda g: mean + std * torch.randn(latent_dim, generator=g)  # noqa: E731
            if k < latent_dim:
                notes.append(f"Sliders for the first {k} of {latent_dim} dimensions; the others keep the start code.")
            notes.append(
                "An autoencoder has no prior: each slider spans its test codes' range, and 'random' "
                "draws from a Gaussian fitted to the test codes."
            )
        panel = cls(
            model.decode,
            latent_dim,
            dims=dims,
            codes=mu,
            labels=split.labels,
            scale=scale,
            limits=limits,
            random_code=random_code,
            seed=seed,
            title=title,
            note=" ".join(notes),
        )
        if start is not None:
            panel.set_code_from_index(start)
        return panel

    # ---------------------------------------------------------------- state

    def code(self) -> torch.Tensor:
        """The current code ``(latent_dim,)``: slider values, and the start code elsewhere."""
        return self._code.clone()

    def set_code(self, z: torch.Tensor) -> None:
        """Move every slider to ``z`` ``(latent_dim,)`` and update the image once. The dimensions with a
        slider take the nearest value on the slider's grid (clipped to its range), the others ``z``'s."""
        self._start_from(z, "a code set with set_code")

    def _start_from(self, z: torch.Tensor, origin: str) -> None:
        z = torch.as_tensor(z, dtype=torch.float32).flatten().cpu()
        if z.numel() != self.latent_dim:
            raise ValueError(f"A code for this decoder has {self.latent_dim} numbers, got {z.numel()}.")
        self.origin = origin
        self._hold = True
        try:
            self._code = z.clone()
            for d, s in zip(self.dims, self.sliders):
                s.value = snap(z[d], s.min, s.max, s.step)
                self._code[d] = s.value
        finally:
            self._hold = False
        self._timed(self._render)

    def set_code_from_index(self, index: int) -> None:
        """Start from the code of real image ``index`` (needs ``codes``)."""
        if self.codes is None:
            raise ValueError("No codes were given, so there is no test digit to start from.")
        index = _check_index(index, len(self.codes))
        if hasattr(self, "index"):
            self.index.value = index
        self._start_from(self.codes[index], f"the code of {_test_image(index, self.labels)}")
        self.status.value += f"   from {_test_image(index, self.labels)}"

    def set_code_from_class(self, digit: int) -> None:
        """Start from the code of the first test image of class ``digit`` (needs ``codes`` and ``labels``)."""
        if self.labels is None:
            raise ValueError("No labels were given, so test digits cannot be picked by class.")
        self.set_code_from_index(first_of_class(self.labels, digit))

    def decoded(self) -> torch.Tensor:
        """The image ``(1, H, W)`` in [0, 1] that the current code decodes to."""
        with torch.no_grad():
            return torch.sigmoid(self.decode(self._code[None].to(self.device)))[0].cpu()

    def png(self) -> bytes:
        """The decoded image as the panel shows it: ``scale`` times enlarged, nearest neighbour."""
        return png_bytes(self.decoded(), scale=self.scale)

    def describe(self) -> list[str]:
        """What the static picture says besides the title and the sliders: where the code came from."""
        other = self.latent_dim - len(self.dims)
        if other:
            lines = [f"The other {other} of the {self.latent_dim} dimensions: from {self.origin}."]
        else:
            lines = [f"All {self.latent_dim} dimensions have a slider; they started from {self.origin}."]
        return lines + ([self.note] if self.note else [])

    def static_png(self) -> bytes:
        """The title, each slider drawn at its value, the decoded image and where the code came from."""
        digit = self.png()
        rows = _sliders_png([(s.description, s.value, s.min, s.max) for s in self.sliders])
        body = side_by_side([rows, digit], ["sliders (z)", "decoded image"], gap=24)
        width = png_size(body)[0]
        return side_by_side([body, text_png(self.describe(), width=width)], gap=4, vertical=True, title=self.name)

    # ---------------------------------------------------------------- events

    def _on_slider(self, change) -> None:
        if self._hold:
            return
        for d, s in zip(self.dims, self.sliders):
            self._code[d] = s.value
        self._timed(self._render)

    def _render(self) -> None:
        self.image.value = self.png()
        # the kernel's own record of the slider dimensions (a browser test compares it with the readouts)
        dims = ", ".join(str(d) for d in self.dims)
        values = ", ".join(f"{self._code[d]:+.2f}" for d in self.dims)
        self.status.value = f"z[{dims}] = ({values})"


def _sliders_png(sliders: Sequence[tuple[str, float, float, float]], track: int = 200) -> bytes:
    """Sliders ``(name, value, low, high)`` drawn as the widget shows them: name, track with a knob, value."""
    font = text_font(TEXT_PX)
    step = 32
    img = Image.new("RGB", (70 + track + 80, step * len(sliders) + 4), "white")
    draw = ImageDraw.Draw(img)
    for i, (name, value, low, high) in enumerate(sliders):
        y = i * step + step // 2
        draw.text((62, y), name, fill="black", font=font, anchor="rm")
        x0, x1 = 70, 70 + track
        draw.line((x0, y, x1, y), fill=(190, 190, 190), width=4)
        if low < 0 < high:  # a tick at zero, the prior's centre
            x = x0 + (x1 - x0) * (0 - low) / (high - low)
            draw.line((x, y - 6, x, y + 6), fill=(120, 120, 120), width=1)
        x = x0 + (x1 - x0) * (value - low) / (high - low)
        draw.ellipse((x - 7, y - 7, x + 7, y + 7), fill=(25, 118, 210), outline="white", width=2)
        draw.text((x1 + 12, y), _minus(value), fill="black", font=font, anchor="lm")
    return encode_png(img)


# --------------------------------------------------------------------------- 2-D explorer


class LatentExplorer(_Panel):
    """A 2-D code space to walk through: the test codes scattered by digit, a marker at the current point,
    two sliders that move it, and the digit decoded there, beside the scatter.

    The scatter is drawn by matplotlib once; a move only paints the marker onto a copy of that picture
    and decodes one code, so it stays fast. (``ipywidgets.Image`` reports no clicks, so the point moves
    with the sliders or :meth:`set_point`.)

    Args:
        decode: maps codes ``(B, 2)`` to logits ``(B, 1, H, W)``.
        codes, labels: the test set's 2-D codes ``(N, 2)`` and digits ``(N,)``.
        scale: screen pixels per pixel of the decoded digit.
        title: the scatter's title; size: the scatter's height in inches (its width is 1.25 times that, for
            the legend), drawn at ``dpi`` dots per inch (100: its text is 14 pixels high, as in Jupyter).
    Introduced in notebook 03.
    """

    def __init__(
        self,
        decode: Decode,
        codes: torch.Tensor,
        labels: torch.Tensor,
        scale: int = 8,
        title: str = "",
        size: float = 4.4,
        dpi: int = 100,
    ):
        import ipywidgets as w
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        super().__init__()
        codes = torch.as_tensor(codes).detach().cpu().float()
        if codes.ndim != 2 or codes.shape[1] != 2 or len(codes) == 0:
            raise ValueError(
                f"LatentExplorer needs 2-D codes shaped (N, 2), got {tuple(codes.shape)}; "
                "for larger codes use LatentSliders."
            )
        self.device = _device_of(decode)
        self.image_size = _check_decoder(decode, 2, self.device)
        self.decode, self.codes, self.scale = decode, codes, scale
        self.labels = _check_labels(labels, len(codes))
        self.name = title or "2-D code space"

        # the scatter, drawn once; keep the data -> pixel mapping to place the marker later
        fig = Figure(figsize=(1.25 * size, size), dpi=dpi)
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        plot_latent_scatter(codes, self.labels, ax=ax, title=title or "test codes", point_size=1.5)
        low, high = codes.min(0).values, codes.max(0).values
        pad = 0.06 * (high - low).clamp_min(1e-3)
        self.x_slider, self.y_slider = (
            float_slider(float(low[i] - pad[i]), float(high[i] + pad[i]), f"z[{i}]", steps=200) for i in (0, 1)
        )
        self.low = [self.x_slider.min, self.y_slider.min]  # the plot spans exactly the sliders' ranges
        self.high = [self.x_slider.max, self.y_slider.max]
        ax.set_xlim(self.low[0], self.high[0])
        ax.set_ylim(self.low[1], self.high[1])
        fig.tight_layout()
        fig.canvas.draw()
        self.background = Image.fromarray(np.asarray(fig.canvas.buffer_rgba())[..., :3].copy())
        self._to_pixels = ax.transData.transform  # data -> display (origin bottom left)
        self._height = self.background.height

        for s in (self.x_slider, self.y_slider):
            s.add_class("vae-explorer-slider")
            s.observe(self._on_slider, names="value")
        self.scatter_image = pixel_image(
            width=self.background.width, height=self.background.height, css_class="vae-explorer-scatter"
        )
        height, width = self.image_size
        self.image = pixel_image(width=width * scale, height=height * scale, css_class="vae-decoded-image")
        self.status = w.Label()
        self.status.add_class("vae-status")
        self._point = torch.zeros(2)
        self._hold = False
        self.widget = w.VBox(
            [w.HBox([self.x_slider, self.y_slider]), w.HBox([self.scatter_image, w.VBox([self.image, self.status])])]
        )
        self.widget.add_class("vae-latent-explorer")
        start = codes.mean(0)
        self.set_point(float(start[0]), float(start[1]))

    @classmethod
    def for_model(cls, model: nn.Module, split: Split, scale: int = 8, title: str = "") -> LatentExplorer:
        """The explorer for a model with a 2-D code (a VAE's means, or an autoencoder's codes) on ``split``."""
        codes = encode_split(model, split)[0].cpu()
        if codes.shape[1] != 2:
            raise ValueError(
                f"LatentExplorer needs a 2-D latent code; this model's latent_dim is {codes.shape[1]}. "
                "Use LatentSliders.for_model for larger codes."
            )
        return cls(model.decode, codes, split.labels, scale=scale, title=title)

    # ---------------------------------------------------------------- state

    def point(self) -> torch.Tensor:
        return self._point.clone()

    def set_point(self, x: float, y: float) -> None:
        """Move the marker to ``(x, y)`` (the nearest point on the sliders' grid, inside the plot) and
        update both pictures once."""
        self._hold = True
        try:
            for slider, v in ((self.x_slider, x), (self.y_slider, y)):
                slider.value = snap(v, slider.min, slider.max, slider.step)
        finally:
            self._hold = False
        self._point = torch.tensor([self.x_slider.value, self.y_slider.value])
        self._timed(self._render)

    def decoded(self) -> torch.Tensor:
        """The image ``(1, H, W)`` in [0, 1] decoded at the current point."""
        with torch.no_grad():
            return torch.sigmoid(self.decode(self._point[None].to(self.device)))[0].cpu()

    def pixel(self) -> tuple[float, float]:
        """Where the current point is on the scatter picture, in pixels from its top-left corner."""
        px, py = self._to_pixels(self._point.numpy()[None])[0]
        return float(px), float(self._height - py)

    def scatter_png(self) -> bytes:
        """The scatter with a marker at the current point."""
        img = self.background.copy()
        draw = ImageDraw.Draw(img)
        x, y = self.pixel()
        for r, colour, width in ((9, "white", 5), (9, "black", 2)):
            draw.ellipse((x - r, y - r, x + r, y + r), outline=colour, width=width)
        draw.line((x - 14, y, x - 9, y), fill="black", width=2)
        draw.line((x + 9, y, x + 14, y), fill="black", width=2)
        draw.line((x, y - 14, x, y - 9), fill="black", width=2)
        draw.line((x, y + 9, x, y + 14), fill="black", width=2)
        return encode_png(img)

    def static_png(self) -> bytes:
        """The scatter with its marker and the digit decoded there, each captioned, under the title."""
        x, y = self._point.tolist()
        return side_by_side(
            [self.scatter_png(), png_bytes(self.decoded(), scale=self.scale)],
            [
                "the test codes, coloured by digit; the ring marks the point z",
                f"decoded at z = ({_minus(x)}, {_minus(y)})",
            ],
            gap=16,
        )

    # ---------------------------------------------------------------- events

    def _on_slider(self, change) -> None:
        if self._hold:
            return
        self._point = torch.tensor([self.x_slider.value, self.y_slider.value])
        self._timed(self._render)

    def _render(self) -> None:
        self.image.value = png_bytes(self.decoded(), scale=self.scale)
        self.scatter_image.value = self.scatter_png()
        nearest = int((self.codes - self._point).pow(2).sum(1).argmin())
        distance = float((self.codes[nearest] - self._point).norm())
        self.status.value = (
            f"z = ({self._point[0]:+.2f}, {self._point[1]:+.2f});  nearest test code: "
            f"a {int(self.labels[nearest])}, {distance:.2f} away"
        )


# --------------------------------------------------------------------------- interpolation


class Interpolation(_Panel):
    """Walk the straight line between two test images' codes, for several models side by side.

    For each model: the path decoded at ``steps`` evenly spaced points (a strip), and the image at the
    slider's position ``t`` in [0, 1] (``t = 0`` is the first image's code, ``t = 1`` the second's).
    Endpoints are picked by their index in the test set, or by digit (the first test image of that
    digit); each dropdown says which: "first 7", or "by index" when the index box picked the image.

    Args:
        models: ``{"name": model}``, each with ``encode`` (a VAE's mean is used) and ``decode``.
        images, labels: the test images ``(N, 1, H, W)`` in [0, 1] and their digits.
        start, end: the indices of the two test images to start with.
    Introduced in notebook 04.
    """

    BY_INDEX = -1  # the dropdowns' value when the index box, not a digit, picked the image

    def __init__(
        self,
        models: Mapping[str, nn.Module],
        images: torch.Tensor,
        labels: torch.Tensor,
        start: int = 0,
        end: int = 1,
        steps: int = 9,
        scale: int = 5,
        strip_scale: int = 2,
    ):
        import ipywidgets as w

        super().__init__()
        if not isinstance(models, Mapping) or not models:
            raise ValueError("models must be a dict of at least one named model, e.g. {'autoencoder': ae, 'VAE': vae}.")
        for name, model in models.items():
            if not (hasattr(model, "encode") and hasattr(model, "decode")):
                raise TypeError(f"Model {name!r} needs encode() and decode() methods.")
        if images.ndim != 4 or images.shape[1] != 1:
            raise ValueError(f"images must be (N, 1, H, W), got {tuple(images.shape)}.")
        checks.count("steps", steps, minimum=2)
        self.models, self.images, self.steps = dict(models), images, steps
        self.labels = _check_labels(labels, len(images))
        self.scale, self.strip_scale = scale, strip_scale
        self.name = " vs ".join(self.models)
        self._ends: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        self._hold = False

        n = len(images)
        # ipywidgets 8 shows an empty box for an option whose value is None, so "by index" has a value of its own
        digits = sorted(set(self.labels.tolist()))
        options = [("by index", self.BY_INDEX)] + [(f"first {int(d)}", int(d)) for d in digits]
        self.start_index, self.end_index = (
            w.BoundedIntText(
                value=0,
                min=0,
                max=n - 1,
                description=f"{word} test image #",
                style={"description_width": "initial"},
                layout=w.Layout(width="200px"),
            )
            for word in ("from", "to")
        )
        self.start_class, self.end_class = (
            w.Dropdown(
                options=options,
                value=self.BY_INDEX,
                description="or",
                style={"description_width": "initial"},
                layout=w.Layout(width="130px"),
            )
            for _ in range(2)
        )
        self.t_slider = w.FloatSlider(
            value=0.5,
            min=0.0,
            max=1.0,
            step=0.02,
            description="t",
            continuous_update=True,
            readout_format=".2f",
            layout=w.Layout(width="420px"),
        )
        self.t_slider.add_class("vae-interpolation-slider")
        for c in (self.start_index, self.end_index, self.start_class, self.end_class):
            c.add_class("vae-interpolation-endpoint")
        height, width = images.shape[2:]
        ends_size, strip_size = (
            png_size(strip_png(torch.zeros(k, 1, height, width), scale=strip_scale)) for k in (2, steps)
        )
        self.ends_image = pixel_image(width=ends_size[0], height=ends_size[1], css_class="vae-interpolation-ends")
        self.strips = {
            name: pixel_image(width=strip_size[0], height=strip_size[1], css_class="vae-interpolation-strip")
            for name in self.models
        }
        self.current = {
            name: pixel_image(width=width * scale, height=height * scale, css_class="vae-decoded-image")
            for name in self.models
        }
        rows = []
        for name in self.models:
            caption = w.HTML(f"<b>{name}</b>: at t (left), and along the line from t = 0 to t = 1 in {steps} steps")
            rows.append(
                w.VBox(
                    [
                        caption,
                        w.HBox(
                            [self.current[name], self.strips[name]],
                            layout=w.Layout(align_items="center", grid_gap="12px"),
                        ),
                    ]
                )
            )
        self.status = w.Label()
        self.status.add_class("vae-status")
        controls = w.HBox(
            [self.start_index, self.start_class, self.end_index, self.end_class], layout=w.Layout(grid_gap="16px")
        )
        ends = w.HBox([self.ends_image, self.status], layout=w.Layout(align_items="center", grid_gap="12px"))
        self.widget = w.VBox([controls, ends, self.t_slider, *rows])
        self.widget.add_class("vae-interpolation")

        self.start_index.observe(lambda c: self._on_endpoints(), names="value")
        self.end_index.observe(lambda c: self._on_endpoints(), names="value")
        self.start_class.observe(lambda c: self._on_class(self.start_index, c["new"]), names="value")
        self.end_class.observe(lambda c: self._on_class(self.end_index, c["new"]), names="value")
        self.t_slider.observe(lambda c: None if self._hold else self._timed(self._render_current), names="value")
        self.set_endpoints(start, end)

    @classmethod
    def for_models(
        cls,
        models: Mapping[str, nn.Module],
        split: Split,
        start_digit: int | None = None,
        end_digit: int | None = None,
        **kwargs,
    ) -> Interpolation:
        """The widget on ``split`` (e.g. ``mnist.test``); optionally start from the first test images of two classes."""
        panel = cls(models, split.x(), split.labels, **kwargs)
        if start_digit is not None or end_digit is not None:
            panel.set_classes(
                start_digit if start_digit is not None else int(panel.labels[panel.start_index.value]),
                end_digit if end_digit is not None else int(panel.labels[panel.end_index.value]),
            )
        return panel

    # ---------------------------------------------------------------- state

    def set_endpoints(self, start: int, end: int) -> None:
        """Interpolate from test image ``start`` to test image ``end`` (indices); one update."""
        start, end = _check_index(start, len(self.images)), _check_index(end, len(self.images))
        self._hold = True
        try:
            self.start_index.value, self.end_index.value = start, end
        finally:
            self._hold = False
        self._timed(self._render_all)

    def _sync_dropdowns(self) -> None:
        """Each dropdown names the digit whose first test image its index box holds, else "by index"."""
        for box, dropdown in ((self.start_index, self.start_class), (self.end_index, self.end_class)):
            digit = int(self.labels[box.value])
            shown = digit if first_of_class(self.labels, digit) == box.value else self.BY_INDEX
            if dropdown.value != shown:
                hold, self._hold = self._hold, True
                try:
                    dropdown.value = shown
                finally:
                    self._hold = hold

    def set_classes(self, start_digit: int, end_digit: int) -> None:
        """Interpolate from the first test image of class ``start_digit`` to the first of ``end_digit``."""
        self.set_endpoints(first_of_class(self.labels, start_digit), first_of_class(self.labels, end_digit))

    def path(self, name: str, steps: int | None = None) -> torch.Tensor:
        """The codes ``(steps, D)`` on the straight line from the start code to the end code of model ``name``."""
        z0, z1 = self._ends[name]
        t = torch.linspace(0, 1, steps or self.steps)[:, None]
        return (1 - t) * z0 + t * z1

    def code(self, name: str) -> torch.Tensor:
        """Model ``name``'s code at the slider's ``t``."""
        z0, z1 = self._ends[name]
        t = self.t_slider.value
        return (1 - t) * z0 + t * z1

    def decode(self, name: str, z: torch.Tensor) -> torch.Tensor:
        """Images ``(B, 1, H, W)`` in [0, 1] that model ``name`` decodes codes ``z`` ``(B, D)`` to."""
        model = self.models[name]
        with torch.no_grad():
            return torch.sigmoid(model.decode(z.to(_device_of(model.decode)))).cpu()

    def describe(self) -> str:
        """The two endpoints, by index and digit: "from test image #2 (a 1) to test image #3 (a 0)"."""
        a, b = self.start_index.value, self.end_index.value
        return f"from {_test_image(a, self.labels)} to {_test_image(b, self.labels)}"

    def static_png(self) -> bytes:
        """The two test images and each model's decoded path between their codes, captioned, under a title."""
        captions = ["the two test images"] + [
            f"{n}: decoded along the straight line between their codes, t = 0 to 1 in {self.steps} steps"
            for n in self.models
        ]
        return side_by_side(
            [self.ends_image.value] + [self.strips[n].value for n in self.models],
            captions,
            vertical=True,
            title=f"Interpolation {self.describe()}",
        )

    # ---------------------------------------------------------------- events

    def _on_class(self, box, digit) -> None:
        if self._hold or digit == self.BY_INDEX:
            return
        box.value = first_of_class(self.labels, digit)  # fires _on_endpoints

    def _on_endpoints(self) -> None:
        if not self._hold:
            self._timed(self._render_all)

    def _render_all(self) -> None:
        a, b = self.start_index.value, self.end_index.value
        pair = self.images[[a, b]]
        for name, model in self.models.items():
            with torch.no_grad():
                z = _mean_code(model, pair.to(_device_of(model.decode))).cpu()
            self._ends[name] = (z[0], z[1])
            self.strips[name].value = strip_png(self.decode(name, self.path(name)), scale=self.strip_scale)
        self.ends_image.value = strip_png(pair.cpu(), scale=self.strip_scale)
        self.status.value = f"{self.describe()}, {self.steps} steps"
        self._sync_dropdowns()
        self._render_current()

    def _render_current(self) -> None:
        for name in self.models:
            self.current[name].value = png_bytes(self.decode(name, self.code(name)[None])[0], scale=self.scale)


# --------------------------------------------------------------------------- model switcher


class ModelSwitcher(_Panel):
    """A slider over trained models (e.g. a beta sweep) that swaps pre-rendered pictures of each one.

    ``panels`` maps each slider value (e.g. ``0.5``) to a list of PNG images (bytes), e.g. that model's
    samples, reconstructions and latent scatter; moving the slider swaps them, with no recomputation.
    :meth:`for_vaes` renders those three pictures for a dict of trained VAEs.
    Introduced in notebook 05.
    """

    def __init__(self, panels: dict, description: str = "beta", captions: Sequence[str] = ()):
        import ipywidgets as w

        super().__init__()
        if not panels:
            raise ValueError("ModelSwitcher needs at least one model's pictures.")
        sizes = {len(v) for v in panels.values()}
        if len(sizes) != 1:
            raise ValueError(f"Every model needs the same number of pictures, got {sorted(sizes)}.")
        for key, pngs in panels.items():
            if not all(isinstance(p, bytes) and p.startswith(b"\x89PNG") for p in pngs):
                raise ValueError(
                    f"The pictures must be PNG images as bytes (e.g. from png_bytes or figure_png); "
                    f"those of {key!r} are not."
                )
        self.panels = {k: list(v) for k, v in panels.items()}
        self.captions, self.description = list(captions), description
        self.name = f"{len(self.panels)} models"
        keys = list(self.panels)
        self.slider = w.SelectionSlider(
            options=keys, value=keys[0], description=description, continuous_update=True, layout=w.Layout(width="420px")
        )
        self.slider.add_class("vae-model-switcher")
        self.images = [pixel_image(png, css_class="vae-switcher-image") for png in self.panels[keys[0]]]
        labels = [w.HTML(f"<b>{c}</b>") for c in captions] if captions else []
        columns = [w.VBox([labels[i], img]) if i < len(labels) else img for i, img in enumerate(self.images)]
        # the pictures wrap onto a second row where the notebook is narrower than all of them
        self.widget = w.VBox([self.slider, w.HBox(columns, layout=w.Layout(flex_flow="row wrap", grid_gap="12px"))])
        self.widget.add_class("vae-model-switcher-panel")
        self.slider.observe(lambda change: self._timed(lambda: self._show(change["new"])), names="value")
        self._timed(lambda: self._show(keys[0]))

    @classmethod
    def for_vaes(
        cls,
        models: Mapping,
        split: Split,
        images: torch.Tensor,
        n_samples: int = 25,
        seed: int = 1,
        description: str = "beta",
    ) -> ModelSwitcher:
        """For each VAE in ``models`` (``{slider value: model}``): prior samples (the same ``z`` for every
        model), reconstructions of ``images`` (decoded means) and the scatter of ``split``'s mean codes
        (their first two principal components when the code is larger than 2-D)."""
        return cls(
            {
                key: vae_pictures(model, split, images, n_samples, seed, title=f"{description} = {key}")
                for key, model in models.items()
            },
            description=description,
            captions=["samples from the prior", "reconstructions of test images", "the test images' mean codes"],
        )

    def _show(self, key) -> None:
        for img, png in zip(self.images, self.panels[key]):
            _show_png(img, png)

    def static_png(self) -> bytes:
        """The current model's pictures, captioned, under a title naming the slider's value."""
        key = self.slider.value
        captions = self.captions if len(self.captions) == len(self.panels[key]) else ()
        others = ", ".join(map(str, self.panels))
        title = (
            f"{self.description} = {key} (a slider picks one of {len(self.panels)} models: "
            f"{self.description} = {others})"
        )
        return side_by_side(self.panels[key], captions, title=title)


def vae_pictures(
    model: nn.Module, split: Split, images: torch.Tensor, n_samples: int = 25, seed: int = 1, title: str = ""
) -> list[bytes]:
    """Three PNGs of a trained VAE: a grid of prior samples, a grid of reconstructions of ``images``, and
    the scatter of ``split``'s mean codes coloured by digit (with its legend and axis labels)."""
    from torchvision.utils import make_grid

    mu = encode_split(model, split)[0].cpu()
    device = _device_of(model.decode)
    z = torch.randn(n_samples, mu.shape[1], generator=torch.Generator().manual_seed(seed))
    nrow = max(1, round(n_samples**0.5))
    with torch.no_grad():
        samples = torch.sigmoid(model.decode(z.to(device))).cpu()
        recons = torch.sigmoid(model.decode(_mean_code(model, images.to(device)))).cpu()
    grids = [
        make_grid(t, nrow=n, padding=2, pad_value=0.5)[:1]
        for t, n in ((samples, nrow), (recons, max(1, round(len(images) ** 0.5))))
    ]
    fig, axes = new_figure(figsize=(3.6, 4.1))
    ax = axes[0, 0]
    plot_latent_scatter(mu, split.labels, ax=ax, title=title or "test codes", point_size=1)
    # the digit legend in two rows under the plot (0-4, 5-9), so that the three pictures fit side by side on a laptop
    handles, names = ax.get_legend_handles_labels()
    cols = math.ceil(len(handles) / 2)
    order = [r * cols + c for c in range(cols) for r in range(2) if r * cols + c < len(handles)]  # fills columns first
    legend = ax.legend(
        [handles[i] for i in order],
        [names[i] for i in order],
        ncol=cols,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.2),
        frameon=False,
        markerscale=6,
        handletextpad=0.1,
        columnspacing=1.0,
    )
    for handle in legend.legend_handles:
        handle.set_alpha(1.0)
    ax.text(0.0, -0.2, "digit:", transform=ax.transAxes, ha="right", va="top", fontsize=10)
    fig.tight_layout()
    return [png_bytes(grids[0], scale=2), png_bytes(grids[1], scale=2), figure_png(fig)]


# --------------------------------------------------------------------------- the true posterior (notebook 06)


class PosteriorExplorer(_Panel):
    """Pick a test digit by its number and see its true posterior p(z | x) (computed on a grid, see
    ``bounds.posterior``) beside the encoder's Gaussian q(z | x), for a VAE with a 2-D latent space.

    The decoder runs once over a coarse grid of the whole space when the panel is made (its outputs are
    kept, about 30 MB); each pick then decodes only the fine grid around that digit's posterior, a
    fraction of a second. ``gaps`` (optional, ``{index: text}``) adds a line under the picture.
    Introduced in notebook 06.
    """

    def __init__(self, model: nn.Module, split: Split, index: int = 0, coarse=None, n: int = 90):
        import ipywidgets as w

        super().__init__()
        if getattr(model, "latent_dim", None) != 2:
            raise ValueError(
                f"PosteriorExplorer needs a VAE with a 2-D latent space (notebook 04's vae_2d); this one has "
                f"{getattr(model, 'latent_dim', '?')} dimensions: its posterior cannot be drawn on a grid."
            )
        if not isinstance(split, Split):
            raise TypeError(f"split must be a data.Split (e.g. mnist.test), got {type(split).__name__}.")
        self.model, self.split, self.n = model, split, n
        self.coarse = coarse or bounds.Grid(4.0, 100)
        self.name = f"{len(split)} test digits"
        like = next(model.parameters())
        with torch.no_grad():
            z = self.coarse.z.to(like)
            self._logits = torch.cat([bounds._decode_flat(model, c) for c in z.split(16384)])  # (G, P)
            self._prior_and_norm = bounds.log_standard_normal(z) - F.softplus(self._logits).sum(-1)
        self.index = digit_number_box(index, len(split), "vae-posterior-index")
        self.status = w.HTML()
        self.image = pixel_image(b"", width=340, height=340, css_class="vae-posterior-image")
        self.widget = w.VBox([self.index, self.image, self.status])
        self.widget.add_class("vae-posterior-panel")
        self.index.observe(lambda change: self._timed(self._render), names="value")
        self._timed(self._render)

    def posterior(self, index: int | None = None):
        i = self.index.value if index is None else _check_index(index, len(self.split))
        x = self.split[i].x().reshape(1, -1).to(self._logits)
        log_joint = x @ self._logits.T + self._prior_and_norm
        return bounds.posterior(self.model, x, self.coarse, self.n, log_joint=log_joint), x

    def picture(self) -> bytes:
        post, x = self.posterior()
        label = int(self.split.labels[self.index.value])
        fig, axes = new_figure(figsize=(3.6, 3.4))
        plot_posterior(post, axes[0, 0], image=x, title=f"test digit #{self.index.value}, a {label}")
        self._last = post
        return figure_png(fig)

    def _render(self) -> None:
        _show_png(self.image, self.picture())
        post = self._last
        self.status.value = (
            f"log p(x) = {post.log_px:.2f} (exact, by quadrature); ELBO = {post.elbo:.2f}; "
            f"the gap, KL(q || posterior) = {post.log_px - post.elbo:.2f} nats"
        )

    def static_png(self) -> bytes:
        post = self._last
        return side_by_side(
            [self.picture()],
            [f"log p(x) {post.log_px:.2f}, ELBO {post.elbo:.2f}, gap {post.log_px - post.elbo:.2f} nats"],
            title=f"test digit #{self.index.value} (pick another by its number)",
        )


# --------------------------------------------------------------------------- attributes and style (notebook 07)


def _judge_line(classifier: nn.Module | None, image: torch.Tensor) -> str:
    """What the judge calls one image ``(1, H, W)`` in [0, 1]: " · the judge reads a 7 (98 %)", or "" without one."""
    if classifier is None:
        return ""

    found = recognised(classifier, image[None])
    return f" \u00b7 the judge reads a {int(found.labels[0])} ({100 * float(found.confidence[0]):.0f} %)"


def _check_classifier(classifier) -> nn.Module | None:
    if classifier is not None and not isinstance(classifier, nn.Module):
        raise TypeError(
            f"classifier must be the course's digit judge (a torch.nn.Module giving logits, e.g. "
            f"judge.digit_classifier(cfg)) or None; got {type(classifier).__name__}."
        )
    return classifier


def _attribute_text(name: str, value: float) -> str:
    """An attribute's value as the panels write it: "slant 0.31 pixels right per pixel up"."""

    if not math.isfinite(value):
        return f"{name} not measurable (no ink)"
    return f"{name} {_attribute_number(name, value)} {UNITS[name]}"


def _attribute_number(name: str, value: float) -> str:
    """An attribute's value alone: ink to 0.1 pixel, the others to 0.01; "?" where there is no ink to measure."""
    return _minus(value, ".1f" if name == "ink" else ".2f") if math.isfinite(value) else "?"


class AttributeSlider(_Panel):
    """Move a test digit's mean code along a direction that changes one attribute (ink, thickness, slant,
    width; see ``attributes``) and watch the decoded digit change, the attribute measured on it.

    The panel shows the test digit and the image decoded at ``mu(x) + strength * direction``, side by side,
    and a line: the chosen attribute measured on that image (``attributes.ATTRIBUTES[name]``) beside its
    value at strength 0 and, given a ``classifier`` (the course's digit judge), what the judge reads.

    Args:
        model: a VAE with ``encode(x) -> (mu, logvar)`` and ``decode(z) -> logits``, e.g. ``models.MLPVAE``.
        split: the test split (a ``data.Split``, e.g. ``mnist.test``); a box picks a digit by its number.
        directions: ``{attribute name: direction (latent_dim,)}``, names from ``attributes.ATTRIBUTES``,
            e.g. from ``attributes.direction``; each is scaled to length 1.
        classifier: optional, the digit judge (``judge.digit_classifier``), to say what the image reads as.
        index: the test digit to start with; limit: the slider runs from ``-limit`` to ``+limit`` prior
            standard deviations; scale: screen pixels per image pixel.

    A slider move decodes one code; a new digit is encoded once. Introduced in notebook 07.
    """

    STRENGTHS = 7  # images in the static picture's strip, from -limit to +limit

    def __init__(
        self,
        model: nn.Module,
        split: Split,
        directions: Mapping[str, torch.Tensor],
        classifier: nn.Module | None = None,
        index: int = 0,
        limit: float = 3.0,
        scale: int = 6,
    ):
        import ipywidgets as w

        super().__init__()
        if not (hasattr(model, "encode") and hasattr(model, "decode")):
            raise TypeError(f"model must be a VAE with encode() and decode() methods, got {type(model).__name__}.")
        if getattr(model, "num_classes", None) is not None:
            raise TypeError(
                "AttributeSlider needs a VAE whose encode takes images only; this one is conditional "
                "(it is told the digit): use StyleExplorer for a models.ConditionalVAE."
            )
        if not isinstance(split, Split):
            raise TypeError(f"split must be a data.Split (e.g. mnist.test), got {type(split).__name__}.")
        if not isinstance(directions, Mapping) or not directions:
            raise ValueError(
                "directions must be a dict of at least one {attribute name: direction}, "
                "e.g. {'slant': attributes.direction(mu, slants)}."
            )
        checks.number("limit", limit, above=0)
        checks.count("scale", scale)
        self.model, self.split, self.scale, self.limit = model, split, scale, float(limit)
        self.classifier = _check_classifier(classifier)
        self.device = _device_of(model.decode)
        with torch.no_grad():
            latent_dim = _mean_code(model, split[:1].x().to(self.device)).shape[1]
        self.latent_dim = latent_dim
        self.directions: dict[str, torch.Tensor] = {}
        for name, d in directions.items():
            checks.choice("attribute", name, ATTRIBUTES)
            d = torch.as_tensor(d).detach().float().cpu()
            if d.shape != (latent_dim,):
                raise ValueError(
                    f"The direction for {name!r} must be a vector of {latent_dim} numbers (the model's "
                    f"latent_dim), shaped ({latent_dim},); got {tuple(d.shape)}."
                )
            if not (torch.isfinite(d).all() and d.norm() > 0):
                raise ValueError(f"The direction for {name!r} must be finite and not zero.")
            self.directions[name] = d / d.norm()
        names = list(self.directions)
        self.name = f"attribute directions: {', '.join(names)}"
        self._hold = False

        self.index = digit_number_box(index, len(split), "vae-attribute-index")
        self.attribute = w.ToggleButtons(options=names, value=names[0], description="attribute")
        self.attribute.add_class("vae-attribute-choice")
        self.slider = float_slider(-self.limit, self.limit, "strength")
        self.slider.add_class("vae-attribute-slider")
        side = 28 * scale
        self.digit_image = pixel_image(width=side, height=side, css_class="vae-attribute-image")
        self.digit_image.add_class("vae-attribute-digit")
        self.image = pixel_image(width=side, height=side, css_class="vae-attribute-image")
        self.image.add_class("vae-attribute-decoded")
        self.digit_caption, self.caption = w.HTML(), w.HTML()
        self.status = w.HTML()
        self.status.add_class("vae-status")
        pictures = w.HBox(
            [w.VBox([self.digit_caption, self.digit_image]), w.VBox([self.caption, self.image])],
            layout=w.Layout(grid_gap="24px"),
        )
        self.widget = w.VBox([w.HBox([self.index, self.attribute]), self.slider, pictures, self.status])
        self.widget.add_class("vae-attribute-panel")
        self.index.observe(lambda change: self._timed(self._new_digit), names="value")
        self.attribute.observe(lambda change: None if self._hold else self._timed(self._render), names="value")
        self.slider.observe(lambda change: None if self._hold else self._timed(self._render), names="value")
        self._timed(self._new_digit)

    # ---------------------------------------------------------------- state

    def set(self, index: int | None = None, attribute: str | None = None, strength: float | None = None) -> None:
        """Pick a test digit, an attribute and a strength (each optional) and update the panel once."""
        if index is not None:
            index = _check_index(index, len(self.split))
        if attribute is not None:
            checks.choice("attribute", attribute, self.directions)
        self._hold = True
        try:
            if attribute is not None:
                self.attribute.value = attribute
            if strength is not None:
                s = self.slider
                s.value = snap(strength, s.min, s.max, s.step)
            if index is not None and index != self.index.value:
                self.index.value = index  # re-encodes (and renders) once
                return
        finally:
            self._hold = False
        self._timed(self._render)

    def code(self, strength: float | None = None) -> torch.Tensor:
        """The code ``(latent_dim,)``: the digit's mean code plus ``strength`` (default: the slider's) times
        the chosen attribute's direction."""
        s = self.slider.value if strength is None else float(strength)
        return self._mu + s * self.directions[self.attribute.value]

    def decoded(self, strength: float | None = None) -> torch.Tensor:
        """The image ``(1, H, W)`` in [0, 1] decoded at :meth:`code`."""
        return self._decode(self.code(strength)[None])[0]

    def _decode(self, z: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return torch.sigmoid(self.model.decode(z.to(self.device))).cpu()

    def measure(self, image: torch.Tensor) -> float:
        """The chosen attribute of one image ``(1, H, W)``, as ``attributes.ATTRIBUTES`` measures it."""

        return float(ATTRIBUTES[self.attribute.value](image[None]))

    def describe(self) -> str:
        """The text line under the pictures: the attribute now and at strength 0, and what the judge reads."""
        name = self.attribute.value
        now, base = self.measure(self._shown), self.measure(self._base)
        return f"{_attribute_text(name, now)} ({_attribute_number(name, base)} at strength 0)" + _judge_line(
            self.classifier, self._shown
        )

    def static_png(self) -> bytes:
        """The test digit and its decoded images at 7 strengths from -limit to +limit, captioned, titled."""
        name = self.attribute.value
        strengths = torch.linspace(-self.limit, self.limit, self.STRENGTHS)
        images = self._decode(self._mu + strengths[:, None] * self.directions[name])
        strip = strip_png(images, scale=3)
        values = ", ".join(_attribute_number(name, self.measure(im)) for im in images)
        label = _test_image(self.index.value, self.split.labels)
        return side_by_side(
            [png_bytes(self._digit, scale=3), strip],
            [
                label,
                f"decoded at mu + s \u00d7 the {name} direction, s = {_minus(-self.limit, '.1f')} to "
                f"{_minus(self.limit, '+.1f')}; {name}: {values}",
            ],
            vertical=True,
            title=f"{name} of {label}: the slider is at strength {_minus(self.slider.value)} ({self.describe()})",
        )

    # ---------------------------------------------------------------- events

    def _new_digit(self) -> None:
        i = self.index.value
        self._digit = self.split[i].x()[0].cpu()  # (1, H, W)
        with torch.no_grad():
            self._mu = _mean_code(self.model, self._digit[None].to(self.device))[0].cpu()
        self._base = self._decode(self._mu[None])[0]  # strength 0: what the attribute is compared with
        _show_png(self.digit_image, png_bytes(self._digit, scale=self.scale))
        self.digit_caption.value = f"<b>{_test_image(i, self.split.labels)}</b>"
        self._render()

    def _render(self) -> None:
        self._shown = self.decoded()
        _show_png(self.image, png_bytes(self._shown, scale=self.scale))
        self.caption.value = (
            f"<b>decoded at mu + {_minus(self.slider.value, '.2f')} \u00d7 the {self.attribute.value} direction</b>"
        )
        self.status.value = self.describe()


class StyleExplorer(_Panel):
    """A conditional VAE writes a test digit's style as every digit: the digit is encoded with its own
    label, and its mean code decoded with each label 0-9 (``models.ConditionalVAE``).

    The code carries what the label does not say (slant, width, thickness), so the ten images should share
    the test digit's style. Given a ``classifier`` (the course's digit judge), a line says how many of the
    ten it reads as the digit asked for. A box picks the test digit by its number: one encode and one
    decode of ten codes, a few milliseconds. Introduced in notebook 07.
    """

    def __init__(
        self, cvae: nn.Module, split: Split, index: int = 0, classifier: nn.Module | None = None, scale: int = 3
    ):
        import ipywidgets as w

        super().__init__()
        num_classes = getattr(cvae, "num_classes", None)
        if not (isinstance(num_classes, int) and hasattr(cvae, "encode") and hasattr(cvae, "decode")):
            raise TypeError(
                f"StyleExplorer needs a conditional VAE, told the digit (a models.ConditionalVAE, with "
                f"num_classes and encode(x, y), decode(z, y)); got {type(cvae).__name__}, which is not "
                "conditional. For an ordinary VAE use AttributeSlider."
            )
        if not isinstance(split, Split):
            raise TypeError(f"split must be a data.Split (e.g. mnist.test), got {type(split).__name__}.")
        if len(split) and int(split.labels.max()) >= num_classes:
            raise ValueError(
                f"The split has labels up to {int(split.labels.max())}, but the model knows {num_classes}."
            )
        checks.count("scale", scale)
        self.model, self.split, self.scale, self.num_classes = cvae, split, scale, num_classes
        self.classifier = _check_classifier(classifier)
        self.device = _device_of(cvae.decode)
        self.name = f"{len(split)} test digits written as 0-{num_classes - 1}"
        self.index = digit_number_box(index, len(split), "vae-style-index")
        side = 28 * scale
        strip_size = png_size(strip_png(torch.zeros(num_classes, 1, 28, 28), scale=scale))
        self.digit_image = pixel_image(width=side, height=side, css_class="vae-style-digit")
        self.image = pixel_image(width=strip_size[0], height=strip_size[1], css_class="vae-style-image")
        self.digit_caption = w.HTML()
        self.caption = w.HTML(f"<b>its style, written as each digit 0-{num_classes - 1}</b>")
        self.status = w.HTML()
        self.status.add_class("vae-status")
        pictures = w.HBox(
            [w.VBox([self.digit_caption, self.digit_image]), w.VBox([self.caption, self.image])],
            layout=w.Layout(flex_flow="row wrap", grid_gap="24px"),
        )
        self.widget = w.VBox([self.index, pictures, self.status])
        self.widget.add_class("vae-style-panel")
        self.index.observe(lambda change: self._timed(self._render), names="value")
        self._timed(self._render)

    def code(self, index: int | None = None) -> torch.Tensor:
        """Test digit ``index``'s mean code ``(latent_dim,)`` (default: the box's), encoded with its own label."""
        i = self.index.value if index is None else _check_index(index, len(self.split))
        x, y = self.split[i].x().to(self.device), self.split.labels[i : i + 1].long().to(self.device)
        with torch.no_grad():
            return self.model.encode(x, y)[0][0].cpu()

    def styles(self, index: int | None = None) -> torch.Tensor:
        """The images ``(num_classes, 1, H, W)`` in [0, 1]: the mean code decoded with each label."""
        z = self.code(index)[None].expand(self.num_classes, -1)
        with torch.no_grad():
            logits = self.model.decode(z.to(self.device), torch.arange(self.num_classes, device=self.device))
        return torch.sigmoid(logits).cpu()

    def describe(self) -> str:
        """The line under the pictures: which digit, and what the judge reads (given a classifier)."""
        text = f"{_test_image(self.index.value, self.split.labels)}: its mean code, decoded with each label"
        if self.classifier is not None:
            found = recognised(self.classifier, self._styles)
            hits = int((found.labels == torch.arange(self.num_classes)).sum())
            text += f" \u00b7 the judge reads {hits} of {self.num_classes} as the digit asked for"
        return text

    def static_png(self) -> bytes:
        """The test digit and its style written as each digit, captioned, under a title."""
        return side_by_side(
            # the strip at two thirds of the panel's scale: with the digit beside it, it fits a laptop's output area
            [png_bytes(self._digit, scale=self.scale), strip_png(self._styles, scale=max(1, 2 * self.scale // 3))],
            [_test_image(self.index.value, self.split.labels), f"written as 0-{self.num_classes - 1}"],
            gap=24,
            title=f"{self.describe()} (pick another test digit by its number)",
        )

    def _render(self) -> None:
        i = self.index.value
        self._digit = self.split[i].x()[0].cpu()
        self._styles = self.styles()
        _show_png(self.digit_image, png_bytes(self._digit, scale=self.scale))
        _show_png(self.image, strip_png(self._styles, scale=self.scale))
        self.digit_caption.value = f"<b>{_test_image(i, self.split.labels)}</b>"
        self.status.value = self.describe()
