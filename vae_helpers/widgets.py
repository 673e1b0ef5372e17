"""Widgets that let a learner move through a latent space and watch the decoded digit change.

Built from explicit ipywidgets (sliders, buttons, one persistent ``ipywidgets.Image``) wired with
``observe``: a slider move decodes one code and swaps the image's PNG bytes, which takes a few
milliseconds, instead of redrawing a matplotlib figure. Only features shared by ipywidgets 7.7 and 8
are used. When no widget front end is attached (nbval, GitHub, nbviewer), the cell still shows a
static PNG of the current image: the display bundle carries both.
"""

from __future__ import annotations

import base64
import time
from typing import Callable, Sequence

import torch

from .plotting import png_bytes

Decode = Callable[[torch.Tensor], torch.Tensor]  # z (B, D) -> logits (B, 1, H, W)


class LatentSliders:
    """One slider per latent dimension and the decoded image, updated as a slider moves.

    Args:
        decode: maps codes ``(B, latent_dim)`` to logits ``(B, 1, H, W)``, e.g. ``model.decode``.
        latent_dim: size of the code.
        dims: which dimensions get a slider (default: all, up to 8); the others stay at the start code.
        codes, labels: codes of real images ``(N, latent_dim)`` (e.g. the test set's ``mu``) and their
            labels, for the "from test digit" button.
        scale: how many screen pixels per image pixel (nearest-neighbour, so pixels stay crisp).
        slider_range: sliders run from ``-slider_range`` to ``+slider_range`` (prior standard deviations).
        seed: seeds the "random" button's generator, so a notebook run repeats.
    """

    def __init__(self, decode: Decode, latent_dim: int, dims: Sequence[int] | None = None,
                 codes: torch.Tensor | None = None, labels: torch.Tensor | None = None,
                 scale: int = 8, slider_range: float = 3.0, seed: int = 0, title: str = ""):
        import ipywidgets as w

        if latent_dim < 1:
            raise ValueError(f"latent_dim must be >= 1, got {latent_dim}.")
        dims = list(range(min(latent_dim, 8))) if dims is None else list(dims)
        bad = [d for d in dims if not 0 <= d < latent_dim]
        if bad or not dims:
            raise ValueError(f"dims must be indices between 0 and {latent_dim - 1}, got {dims}.")
        if codes is not None and (codes.ndim != 2 or codes.shape[1] != latent_dim):
            raise ValueError(f"codes must be (N, {latent_dim}) to match latent_dim, got {tuple(codes.shape)}.")
        self.decode, self.latent_dim, self.dims, self.scale = decode, latent_dim, dims, scale
        self.codes = codes.detach().cpu() if codes is not None else None
        self.labels = labels.detach().cpu() if labels is not None else None
        self.generator = torch.Generator().manual_seed(seed)
        self.device = _device_of(decode)
        self._code = torch.zeros(latent_dim)
        self._hold = False
        self.update_ms: list[float] = []  # time of every image update: decode + PNG encoding

        with torch.no_grad():  # check the decoder once, with a clear message if it does not fit
            try:
                out = decode(torch.zeros(1, latent_dim, device=self.device))
            except Exception as err:
                raise ValueError(f"The decoder does not accept codes of size {latent_dim}: {err}") from err
        if out.ndim != 4 or out.shape[:2] != (1, 1):
            raise ValueError(f"The decoder must return logits shaped (B, 1, H, W), got {tuple(out.shape)}.")

        layout = w.Layout(width="320px")
        self.sliders = [w.FloatSlider(value=0.0, min=-slider_range, max=slider_range, step=0.05,
                                      description=f"z[{d}]", continuous_update=True, readout_format=".2f", layout=layout)
                        for d in dims]
        for s in self.sliders:
            s.add_class("vae-latent-slider")
            s.observe(self._on_slider, names="value")
        self.image = w.Image(format="png", value=b"")
        self.image.add_class("vae-decoded-image")
        self.zero_button = w.Button(description="zero", tooltip="set every dimension to 0, the centre of the prior")
        self.random_button = w.Button(description="random", tooltip="draw a code from the prior N(0, I)")
        self.zero_button.on_click(lambda _: self.set_code(torch.zeros(latent_dim)))
        self.random_button.on_click(lambda _: self.set_code(torch.randn(latent_dim, generator=self.generator)))
        buttons = [self.zero_button, self.random_button]
        if self.codes is not None:
            self.index = w.BoundedIntText(value=0, min=0, max=len(self.codes) - 1, description="test digit",
                                          layout=w.Layout(width="180px"))
            self.digit_button = w.Button(description="use its code", tooltip="start from that test digit's code")
            self.digit_button.on_click(lambda _: self.set_code_from_index(self.index.value))
            buttons += [self.index, self.digit_button]
        for b in buttons:
            b.add_class("vae-latent-button")
        self.status = w.Label()
        self.status.add_class("vae-status")
        note = w.HTML(f"<b>{title}</b>") if title else w.HTML("")
        controls = w.VBox([note, *self.sliders, w.HBox(buttons), self.status])
        self.widget = w.HBox([controls, self.image])
        self.widget.add_class("vae-latent-sliders")
        self._render()

    # ---------------------------------------------------------------- state

    def code(self) -> torch.Tensor:
        """The current code ``(latent_dim,)``: slider values, and the start code elsewhere."""
        return self._code.clone()

    def set_code(self, z: torch.Tensor) -> None:
        """Move every slider to ``z`` ``(latent_dim,)`` and update the image once."""
        z = torch.as_tensor(z, dtype=torch.float32).flatten().cpu()
        if z.numel() != self.latent_dim:
            raise ValueError(f"A code for this decoder has {self.latent_dim} numbers, got {z.numel()}.")
        self._hold = True
        try:
            self._code = z.clone()
            for d, s in zip(self.dims, self.sliders):
                s.value = float(z[d].clamp(s.min, s.max))
        finally:
            self._hold = False
        self._render()

    def set_code_from_index(self, index: int) -> None:
        """Start from the code of real image ``index`` (needs ``codes``)."""
        if self.codes is None:
            raise ValueError("No codes were given, so there is no test digit to start from.")
        if not 0 <= index < len(self.codes):
            raise IndexError(f"Test digit {index} does not exist: pick an index from 0 to {len(self.codes) - 1}.")
        self.set_code(self.codes[index])
        if self.labels is not None:
            self.status.value += f"  (started from test digit {index}, a {int(self.labels[index])})"

    def decoded(self) -> torch.Tensor:
        """The image ``(1, H, W)`` in [0, 1] that the current code decodes to."""
        with torch.no_grad():
            return torch.sigmoid(self.decode(self._code[None].to(self.device)))[0].cpu()

    def png(self) -> bytes:
        return png_bytes(self.decoded(), scale=self.scale)

    # ---------------------------------------------------------------- events

    def _on_slider(self, change) -> None:
        if self._hold:
            return
        for d, s in zip(self.dims, self.sliders):
            self._code[d] = s.value
        self._render()

    def _render(self) -> None:
        start = time.perf_counter()
        self.image.value = self.png()
        self.update_ms.append(1000 * (time.perf_counter() - start))
        shown = ", ".join(f"{v:+.2f}" for v in self._code[: min(self.latent_dim, 4)].tolist())
        more = ", ..." if self.latent_dim > 4 else ""
        self.status.value = f"z = ({shown}{more})   update {self.update_ms[-1]:.1f} ms"

    # ---------------------------------------------------------------- display

    def _repr_mimebundle_(self, include=None, exclude=None):
        """The live widget where a front end can show it, else a static PNG of the current image."""
        return {
            "application/vnd.jupyter.widget-view+json": {"version_major": 2, "version_minor": 0, "model_id": self.widget.model_id},
            "image/png": base64.b64encode(self.png()).decode("ascii"),
            "text/plain": f"LatentSliders({self.latent_dim}-D code; static image of the current code)",
        }


def _device_of(decode: Decode) -> torch.device:
    owner = getattr(decode, "__self__", None)
    if isinstance(owner, torch.nn.Module):
        p = next(owner.parameters(), None)
        if p is not None:
            return p.device
    return torch.device("cpu")


class ModelSwitcher:
    """A slider over trained models (e.g. a beta sweep) that swaps pre-rendered pictures of each one.

    ``panels`` maps each slider value (e.g. ``0.5``) to a list of PNG images (bytes), e.g. that model's
    samples, reconstructions and latent scatter; moving the slider swaps them, with no recomputation.
    """

    def __init__(self, panels: dict, description: str = "beta", captions: Sequence[str] = ()):
        import ipywidgets as w

        if not panels:
            raise ValueError("ModelSwitcher needs at least one model's pictures.")
        sizes = {len(v) for v in panels.values()}
        if len(sizes) != 1:
            raise ValueError(f"Every model needs the same number of pictures, got {sorted(sizes)}.")
        self.panels = {k: list(v) for k, v in panels.items()}
        keys = list(self.panels)
        self.slider = w.SelectionSlider(options=keys, value=keys[0], description=description, continuous_update=True)
        self.slider.add_class("vae-model-switcher")
        self.images = [w.Image(format="png", value=b"") for _ in range(sizes.pop())]
        for img in self.images:
            img.add_class("vae-switcher-image")
        labels = [w.Label(c) for c in captions] if captions else []
        columns = [w.VBox([labels[i], img]) if i < len(labels) else img for i, img in enumerate(self.images)]
        self.widget = w.VBox([self.slider, w.HBox(columns)])
        self.slider.observe(lambda change: self._show(change["new"]), names="value")
        self._show(keys[0])

    def _show(self, key) -> None:
        for img, png in zip(self.images, self.panels[key]):
            img.value = png

    def _repr_mimebundle_(self, include=None, exclude=None):
        return {
            "application/vnd.jupyter.widget-view+json": {"version_major": 2, "version_minor": 0, "model_id": self.widget.model_id},
            "image/png": base64.b64encode(self.panels[self.slider.value][0]).decode("ascii"),
            "text/plain": f"ModelSwitcher({len(self.panels)} models; static image of the first picture)",
        }
