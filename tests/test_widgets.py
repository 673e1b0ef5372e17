"""Headless widget tests: no kernel, no browser. Set values the way a front end would (through the
widgets' traits), then check that the image bytes are a valid PNG of exactly what the decoder gives."""

import base64
import io
import os

import numpy as np
import pytest
import torch
from PIL import Image

from vae_helpers import widgets
from vae_helpers.data import Split
from vae_helpers.losses import kl_per_dimension
from vae_helpers.models import MLPVAE, MLPAutoencoder
from vae_helpers.plotting import TEXT_PX, png_bytes, side_by_side, strip_png
from vae_helpers.training import encode_split
from vae_helpers.widgets import (
    Interpolation,
    LatentExplorer,
    LatentSliders,
    ModelSwitcher,
    nice_step,
    pixel_image,
    snap,
    vae_pictures,
)


@pytest.fixture
def vae():
    torch.manual_seed(0)
    return MLPVAE(latent_dim=3, hidden_dims=(32,)).eval()


@pytest.fixture
def split():
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (60, 28, 28), generator=g, dtype=torch.uint8)
    return Split(images, torch.arange(60) % 10)


def model(kind, latent_dim, seed=0):
    torch.manual_seed(seed)
    cls = MLPVAE if kind == "vae" else MLPAutoencoder
    return cls(latent_dim=latent_dim, hidden_dims=(32,)).eval()


def decoded_png(model, z, scale):
    with torch.no_grad():
        return png_bytes(torch.sigmoid(model.decode(torch.as_tensor(z, dtype=torch.float32)[None]))[0], scale=scale)


def on_sliders(panel, z):
    """``z`` as the panel holds it: each dimension with a slider on that slider's grid, the others as given."""
    z = z.clone()
    for d, s in zip(panel.dims, panel.sliders):
        z[d] = snap(z[d], s.min, s.max, s.step)
    return z


def png_size(data: bytes) -> tuple[int, int]:
    img = Image.open(io.BytesIO(data))
    img.verify()  # raises on a damaged PNG
    assert img.format == "PNG"
    return img.size


def grey(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("L"))


def find(picture: bytes, part: bytes) -> tuple[int, int] | None:
    """Where (row, column) the PNG ``part`` appears pixel for pixel inside the PNG ``picture``, or None."""
    big, small = grey(picture), grey(part)
    h, w = small.shape
    if big.shape[0] < h or big.shape[1] < w:
        return None
    rows = np.lib.stride_tricks.sliding_window_view(big, w, axis=1)  # (H, W - w + 1, w): every run of w pixels
    for r, c in zip(*np.nonzero((rows[: big.shape[0] - h + 1] == small[0]).all(-1))):
        if np.array_equal(big[r : r + h, c : c + w], small):
            return int(r), int(c)
    return None


def dark_pixels(data: bytes, rows: slice = slice(None)) -> int:
    """How many pixels are near black (text, say) in ``rows`` of a PNG on white."""
    return int((grey(data)[rows] < 100).sum())


def shown_size(image) -> tuple[str, str]:
    """The width and height an ``ipywidgets.Image``'s layout fixes on screen."""
    return image.layout.width, image.layout.height


def assert_shown_at_its_own_size(image) -> None:
    """The image's box is exactly its PNG's size, and the box can neither grow nor shrink (no stretching)."""
    width, height = png_size(image.value)
    layout = image.layout
    assert (layout.width, layout.min_width, layout.max_width) == (f"{width}px",) * 3
    assert (layout.height, layout.min_height, layout.max_height) == (f"{height}px",) * 3
    assert layout.flex == "0 0 auto" and layout.align_self == "flex-start" and layout.object_fit == "contain"
    assert (image.width, image.height) == (str(width), str(height))
    assert "vae-pixel-image" in image._dom_classes


# --------------------------------------------------------------------------- pixel_image


def test_pixel_image_is_shown_at_its_pngs_own_size():
    png = png_bytes(torch.rand(1, 28, 28), scale=6)
    image = pixel_image(png, css_class="my-digit")
    assert image.value == png and image.format == "png"
    assert shown_size(image) == ("168px", "168px")
    assert_shown_at_its_own_size(image)
    assert "my-digit" in image._dom_classes
    empty = pixel_image(width=56, height=28)  # filled later
    assert empty.value == b"" and shown_size(empty) == ("56px", "28px")
    with pytest.raises(ValueError, match="needs the PNG bytes, or the width and height"):
        pixel_image()
    with pytest.raises(ValueError, match="width must be"):
        pixel_image(width=0, height=28)


# --------------------------------------------------------------------------- LatentSliders


def test_moving_a_slider_decodes_what_the_sliders_say(vae):
    panel = LatentSliders(vae.decode, 3, scale=4)
    first = panel.image.value
    panel.sliders[1].value = 1.5
    panel.sliders[2].value = -0.75
    assert panel.image.value != first
    assert panel.image.value == decoded_png(vae, [0.0, 1.5, -0.75], 4)
    assert png_size(panel.image.value) == (28 * 4, 28 * 4)
    assert panel.status.value == "z[0, 1, 2] = (+0.00, +1.50, -0.75)"  # the kernel's record, read by the browser test
    assert len(panel.update_ms) == 3  # the first render and one per slider move


def test_buttons_set_the_expected_codes(vae):
    codes = torch.randn(10, 3)
    panel = LatentSliders(vae.decode, 3, codes=codes, labels=torch.arange(10), seed=5)
    panel.index.value = 7
    panel.digit_button.click()
    assert torch.allclose(panel.code(), on_sliders(panel, codes[7]))
    assert torch.allclose(panel.code(), codes[7].clamp(-3, 3), atol=0.025)  # within half a step of 0.05
    assert [s.value for s in panel.sliders] == pytest.approx(panel.code().tolist(), abs=1e-6)
    assert "a 7" in panel.status.value
    panel.zero_button.click()
    assert torch.equal(panel.code(), torch.zeros(3))
    assert [s.value for s in panel.sliders] == [0.0, 0.0, 0.0]
    panel.random_button.click()
    assert torch.allclose(panel.code(), on_sliders(panel, torch.randn(3, generator=torch.Generator().manual_seed(5))))
    assert panel.image.value == decoded_png(vae, panel.code(), panel.scale)


def test_setting_a_code_renders_once(vae):
    panel = LatentSliders(vae.decode, 3)
    before = len(panel.update_ms)
    panel.set_code(torch.tensor([0.1, 0.2, 0.3]))
    assert len(panel.update_ms) == before + 1


def test_sliders_for_some_dimensions_keep_the_others(vae):
    panel = LatentSliders(vae.decode, 3, dims=[2])
    panel.set_code(torch.tensor([1.013, -1.0, 0.5]))
    panel.sliders[0].value = 2.0
    assert torch.allclose(panel.code(), torch.tensor([1.013, -1.0, 2.0]))  # no slider: z[0] stays exact
    assert panel.image.value == decoded_png(vae, [1.013, -1.0, 2.0], panel.scale)


def test_for_model_gives_sliders_to_the_dimensions_with_the_most_kl(split):
    vae = model("vae", 8)
    panel = LatentSliders.for_model(vae, split, k=3, start=4)
    mu, logvar = encode_split(vae, split)
    assert panel.dims == kl_per_dimension(mu, logvar).argsort(descending=True)[:3].tolist()
    assert "3 of 8 dimensions with the most KL" in panel.widget.children[0].children[0].value
    assert torch.allclose(panel.code(), on_sliders(panel, mu[4]))  # started from test digit 4's code
    assert all((s.min, s.max) == (-3.0, 3.0) for s in panel.sliders)
    first = LatentSliders.for_model(vae, split, k=3, order="first")
    assert first.dims == [0, 1, 2]


def test_for_model_on_an_autoencoder_spans_its_codes(split):
    ae = model("ae", 4)
    panel = LatentSliders.for_model(ae, split, k=2, order="first", start=None)
    codes, _ = encode_split(ae, split)
    for d, s in enumerate(panel.sliders):  # the test codes' range, widened to the slider's round step
        low, high = codes[:, d].min().item(), codes[:, d].max().item()
        assert s.min <= low < s.min + s.step and s.max - s.step < high <= s.max
        assert (high - low) / 121 <= s.step <= (high - low) / 40
    panel.sliders[0].value = panel.sliders[0].max
    assert panel.image.value == decoded_png(ae, panel.code(), panel.scale)
    with pytest.raises(ValueError, match="no KL"):
        LatentSliders.for_model(ae, split, k=2, order="kl")


def test_a_test_digit_can_be_picked_by_class(split):
    vae = model("vae", 3)
    panel = LatentSliders.for_model(vae, split, k=3)
    panel.set_code_from_class(7)
    assert torch.allclose(panel.code(), on_sliders(panel, encode_split(vae, split)[0][7]))
    with pytest.raises(ValueError, match="no test digit of class 12"):
        panel.set_code_from_class(12)


def test_static_picture_shows_the_image_with_its_title_and_settings(vae):
    codes = torch.randn(10, 3)
    panel = LatentSliders(
        vae.decode, 3, dims=[2, 0], codes=codes, labels=torch.arange(10) % 10, scale=2, title="3-D VAE"
    )
    panel.set_code_from_index(4)
    panel.sliders[0].value = 1.0
    bundle = panel._repr_mimebundle_()
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == panel.widget.model_id
    static = base64.b64decode(bundle["image/png"])
    assert base64.b64decode(bundle["image/png"]) == panel.static_png()
    width, height = png_size(static)
    assert width >= 56 + 300 and height >= 56 + 60  # not a lone digit: sliders and text beside and around it
    where = find(static, panel.image.value)  # the image the widget shows, pixel for pixel
    assert where is not None
    assert dark_pixels(static, slice(0, where[0])) > 100  # a title above it
    assert panel.describe()[0] == "The other 1 of the 3 dimensions: from the code of test image #4 (a 4)."
    panel.zero_button.click()
    assert panel.describe()[0] == "The other 1 of the 3 dimensions: from zero."
    retitled = LatentSliders(vae.decode, 3, dims=[2, 0], scale=2, title="another title")
    retitled.set_code(panel.code())
    assert find(retitled.static_png(), panel.image.value) is not None and retitled.static_png() != panel.static_png()


def test_every_picture_of_every_panel_is_shown_at_its_own_size(split):
    vae2, vae3 = model("vae", 2), model("vae", 3)
    panels = [
        LatentSliders.for_model(vae3, split, k=2),
        LatentExplorer.for_model(vae2, split, scale=3),
        Interpolation.for_models({"a": vae2, "b": vae3}, split, scale=4),
        ModelSwitcher.for_vaes({1: vae2, 2: vae3}, split, split.x()[:4], n_samples=4),
    ]
    images = [
        panels[0].image,
        panels[1].image,
        panels[1].scatter_image,
        panels[2].ends_image,
        *panels[2].strips.values(),
        *panels[2].current.values(),
        *panels[3].images,
    ]
    for image in images:
        assert_shown_at_its_own_size(image)
    assert [shown_size(i) for i in (panels[0].image, panels[1].image, panels[2].current["a"])] == [
        ("224px", "224px"),
        ("84px", "84px"),
        ("112px", "112px"),
    ]  # digits: square, 28 times the scale
    panels[2].set_endpoints(5, 7)
    panels[3].slider.value = 2
    for image in images:
        assert_shown_at_its_own_size(image)  # still, after moves that swap the pictures


def test_css_classes_for_browser_tests(vae):
    panel = LatentSliders(vae.decode, 3)
    assert "vae-latent-sliders" in panel.widget._dom_classes
    assert all("vae-latent-slider" in s._dom_classes for s in panel.sliders)
    assert "vae-decoded-image" in panel.image._dom_classes


def test_bad_arguments_are_explained(vae):
    with pytest.raises(ValueError, match="latent_dim=5 does not fit the decoder"):
        LatentSliders(vae.decode, 5)
    with pytest.raises(ValueError, match=r"codes must be \(N, 3\)"):
        LatentSliders(vae.decode, 3, codes=torch.zeros(4, 2))
    with pytest.raises(ValueError, match="dims must be distinct indices"):
        LatentSliders(vae.decode, 3, dims=[3])
    with pytest.raises(ValueError, match="limits must be one"):
        LatentSliders(vae.decode, 3, dims=[0], limits=[(1.0, -1.0)])
    panel = LatentSliders(vae.decode, 3, codes=torch.zeros(4, 3))
    with pytest.raises(ValueError, match="from 0 to 3"):
        panel.set_code_from_index(4)
    with pytest.raises(ValueError, match="has 3 numbers"):
        panel.set_code(torch.zeros(2))


# --------------------------------------------------------------------------- LatentExplorer


@pytest.mark.parametrize("kind", ["ae", "vae"])
def test_explorer_moves_the_marker_and_decodes_there(split, kind):
    m = model(kind, 2)
    panel = LatentExplorer.for_model(m, split, scale=3)
    codes, _ = encode_split(m, split)
    scatter, digit = panel.scatter_image.value, panel.image.value
    x = float(codes[5, 0])
    y = float(codes[5, 1])
    panel.x_slider.value = x
    panel.y_slider.value = y
    assert panel.scatter_image.value != scatter and panel.image.value != digit
    assert png_size(panel.scatter_image.value) == panel.background.size
    point = torch.tensor([panel.x_slider.value, panel.y_slider.value])
    assert torch.equal(panel.point(), point)
    assert panel.image.value == decoded_png(m, point, 3)
    assert (point - codes[5]).abs().max() <= panel.x_slider.step / 2 + 1e-6  # the grid point nearest test code 5
    nearest = (codes - point).norm(dim=1).argmin()
    assert (
        f"nearest test code: a {int(split.labels[nearest])}, {(codes[nearest] - point).norm():.2f} away"
        in panel.status.value
    )
    # the marker is painted where matplotlib put that point: a black ring 9 pixels around it
    px, py = panel.pixel()
    pixels = np.asarray(Image.open(io.BytesIO(panel.scatter_image.value)).convert("L"))
    assert pixels[round(py), round(px) + 9] < 60
    assert len(panel.update_ms) == 3


def test_explorer_clips_the_point_to_the_plot(split):
    panel = LatentExplorer.for_model(model("vae", 2), split)
    panel.set_point(1e6, -1e6)
    assert panel.point().tolist() == pytest.approx([panel.high[0], panel.low[1]])
    static = base64.b64decode(panel._repr_mimebundle_()["image/png"])
    w, h = png_size(static)
    # scatter and digit side by side, captioned
    assert w > panel.background.width + 8 * 28 and h > panel.background.height
    assert find(static, panel.scatter_png()) is not None and find(static, panel.image.value) is not None
    assert dark_pixels(static, slice(0, find(static, panel.image.value)[0])) > 100  # the captions above


def test_explorer_bad_arguments(split, vae):
    with pytest.raises(ValueError, match="needs a 2-D latent code; this model's latent_dim is 3"):
        LatentExplorer.for_model(vae, split)
    with pytest.raises(ValueError, match=r"needs 2-D codes shaped \(N, 2\)"):
        LatentExplorer(vae.decode, torch.zeros(5, 3), torch.zeros(5))
    with pytest.raises(ValueError, match="latent_dim=2 does not fit the decoder"):
        LatentExplorer(vae.decode, torch.zeros(5, 2), torch.zeros(5))
    with pytest.raises(ValueError, match="one label per code"):
        LatentExplorer(model("vae", 2).decode, torch.zeros(5, 2), torch.zeros(4))


# --------------------------------------------------------------------------- Interpolation


def mean_code(m, x):
    with torch.no_grad():
        out = m.encode(x)
    return out[0] if isinstance(out, tuple) else out


def test_interpolation_walks_the_straight_line_for_each_model(split):
    ae, vae = model("ae", 2, seed=1), model("vae", 5, seed=2)
    panel = Interpolation.for_models({"autoencoder": ae, "VAE": vae}, split, start_digit=3, end_digit=8, steps=5)
    x = split.x()
    assert (panel.start_index.value, panel.end_index.value) == (3, 8)  # labels are i % 10
    panel.t_slider.value = 0.3
    for name, m in (("autoencoder", ae), ("VAE", vae)):
        z0, z1 = mean_code(m, x[[3]])[0], mean_code(m, x[[8]])[0]
        assert torch.allclose(panel.code(name), 0.7 * z0 + 0.3 * z1, atol=1e-6)
        assert panel.current[name].value == decoded_png(m, 0.7 * z0 + 0.3 * z1, panel.scale)
        path = torch.stack([(1 - t) * z0 + t * z1 for t in torch.linspace(0, 1, 5).tolist()])
        with torch.no_grad():
            assert panel.strips[name].value == strip_png(torch.sigmoid(m.decode(path)), scale=panel.strip_scale)
    w, h = png_size(panel.strips["VAE"].value)
    assert w == 2 * (5 * 30 + 2) and h == 2 * 32  # five 28-pixel frames with 2-pixel gaps, scale 2


def test_interpolation_endpoints_by_index_and_by_class(split):
    panel = Interpolation.for_models({"VAE": model("vae", 2)}, split)
    before = panel.strips["VAE"].value
    panel.end_class.value = 9  # the dropdown picks the first test digit of that class
    assert panel.end_index.value == 9
    assert panel.strips["VAE"].value != before
    panel.start_index.value = 21
    assert "test image #21 (a 1)" in panel.status.value
    panel.set_classes(4, 6)
    assert (panel.start_index.value, panel.end_index.value) == (4, 6)
    stacked = base64.b64decode(panel._repr_mimebundle_()["image/png"])
    assert png_size(stacked)[1] > 2 * png_size(panel.strips["VAE"].value)[1]  # ends and strip stacked
    for part in (panel.ends_image.value, panel.strips["VAE"].value):
        assert find(stacked, part) is not None
    assert dark_pixels(stacked, slice(0, find(stacked, panel.ends_image.value)[0])) > 100  # title and caption
    assert panel.describe() == "from test image #4 (a 4) to test image #6 (a 6)"


def test_interpolation_names_test_images_by_index_and_digit(split):
    labels = split.labels.clone()
    labels[2], labels[1] = 1, 2  # test image #2 is a 1, the first 1 in the test set
    panel = Interpolation({"VAE": model("vae", 2)}, split.x(), labels, start=2, end=3)
    assert panel.status.value.startswith("from test image #2 (a 1) to test image #3 (a 3)")
    assert "digit" not in panel.status.value
    assert panel.start_index.description == "from test image #" and panel.end_index.description == "to test image #"


def test_interpolation_dropdowns_always_show_a_label(split):
    panel = Interpolation.for_models({"VAE": model("vae", 2)}, split, start_digit=1, end_digit=0)
    for dropdown in (panel.start_class, panel.end_class):
        labels = [label for label, _ in dropdown.options]
        assert labels == ["by index"] + [f"first {d}" for d in range(10)]
        assert None not in [value for _, value in dropdown.options]  # ipywidgets 8 shows a blank box for None
    assert (panel.start_class.label, panel.end_class.label) == ("first 1", "first 0")
    panel.start_index.value = 21  # a 1, but not the first one: picked by its index
    assert (panel.start_class.label, panel.end_class.label) == ("by index", "first 0")
    panel.end_class.value = 9
    assert panel.end_index.value == 9 and panel.end_class.label == "first 9"
    plain = Interpolation({"VAE": model("vae", 2)}, split.x(), split.labels, start=12, end=13)
    assert (plain.start_class.label, plain.end_class.label) == ("by index", "by index")
    plain.start_class.value = plain.BY_INDEX  # choosing "by index" keeps the image
    assert plain.start_index.value == 12


def test_interpolation_bad_arguments(split):
    vae = model("vae", 2)
    panel = Interpolation.for_models({"VAE": vae}, split)
    with pytest.raises(ValueError, match="no test digit of class 11: the classes are 0, 1, 2"):
        panel.set_classes(11, 0)
    with pytest.raises(ValueError, match="from 0 to 59"):
        panel.set_endpoints(0, 60)
    with pytest.raises(ValueError, match="at least one named model"):
        Interpolation({}, split.x(), split.labels)
    with pytest.raises(TypeError, match="needs encode"):
        Interpolation({"decoder only": vae.decoder}, split.x(), split.labels)
    with pytest.raises(ValueError, match="steps must be a whole number >= 2"):
        Interpolation({"VAE": vae}, split.x(), split.labels, steps=1)


# --------------------------------------------------------------------------- ModelSwitcher


def test_model_switcher_swaps_the_pictures():
    def picture(value, size):
        return png_bytes(torch.full((1, size, size), value), scale=1)

    panels = {
        0.5: [picture(0.1, 8), picture(0.2, 9)],
        1.0: [picture(0.3, 8), picture(0.4, 9)],
        4.0: [picture(0.5, 8), picture(0.6, 12)],
    }
    switcher = ModelSwitcher(panels, captions=["samples", "scatter"])
    assert [i.value for i in switcher.images] == panels[0.5]
    switcher.slider.value = 4.0
    assert [i.value for i in switcher.images] == panels[4.0]
    assert shown_size(switcher.images[1]) == ("12px", "12px")  # resized to the new picture, not stretched
    static = switcher.static_png()
    assert all(find(static, p) is not None for p in panels[4.0])
    # two lines of text above: the title (which beta) and a caption
    assert find(static, panels[4.0][0])[0] > 2 * TEXT_PX
    assert dark_pixels(static, slice(0, TEXT_PX)) > 50
    with pytest.raises(ValueError, match="same number of pictures"):
        ModelSwitcher({1: [b"x"], 2: [b"x", b"y"]})
    with pytest.raises(ValueError, match="at least one"):
        ModelSwitcher({})
    with pytest.raises(ValueError, match="must be PNG images"):
        ModelSwitcher({1: [b"not a picture"]})


def test_model_switcher_for_vaes_shows_each_models_pictures(split):
    vaes = {0.5: model("vae", 2, seed=1), 4.0: model("vae", 6, seed=2)}
    images = split.x()[:9]
    switcher = ModelSwitcher.for_vaes(vaes, split, images, n_samples=16)
    for beta in (4.0, 0.5):
        switcher.slider.value = beta
        expected = vae_pictures(vaes[beta], split, images, n_samples=16, title=f"beta = {beta}")
        assert [i.value for i in switcher.images[:2]] == expected[:2]  # samples and reconstructions
        assert all(png_size(i.value) for i in switcher.images)
    torch.manual_seed(0)
    z = torch.randn(16, 6, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        samples = torch.sigmoid(vaes[4.0].decode(z))
    from torchvision.utils import make_grid

    assert switcher.panels[4.0][0] == png_bytes(make_grid(samples, nrow=4, padding=2, pad_value=0.5)[:1], scale=2)
    static = base64.b64decode(switcher._repr_mimebundle_()["image/png"])
    assert png_size(static)[0] > sum(png_size(p)[0] for p in switcher.panels[0.5])  # all three, with gaps
    assert all(find(static, p) is not None for p in switcher.panels[0.5])


def test_model_switcher_scatter_explains_its_axes_and_colours(split, monkeypatch):
    from matplotlib.colors import to_rgb

    from vae_helpers.plotting import digit_colour

    drawn = []
    real = widgets.figure_png
    monkeypatch.setattr(widgets, "figure_png", lambda fig: drawn.append(fig) or real(fig))
    vae_pictures(model("vae", 3), split, split.x()[:4], n_samples=4, title="beta = 2")
    (fig,) = drawn
    ax = fig.axes[0]
    legend = ax.get_legend()
    names = [t.get_text() for t in legend.get_texts()]
    assert sorted(names) == [str(d) for d in range(10)]  # in two rows, 0-4 over 5-9
    assert [to_rgb(h.get_facecolor()[0]) for h in legend.legend_handles] == [to_rgb(digit_colour(n)) for n in names]
    assert any(t.get_text() == "digit:" for t in ax.texts)  # what the colours are
    assert ax.get_xlabel() == "principal component 1" and ax.get_ylabel() == "principal component 2"
    assert ax.get_title().startswith("beta = 2")


def test_slider_values_sit_on_a_round_grid():
    assert nice_step(6.0) == 0.05 and nice_step(13.0) == 0.2 and nice_step(0.3, steps=200) == 0.002
    for low, high, step in ((-3.0, 3.0, 0.05), (-12.4, 31.6, 0.2), (0.0, 1.0, 0.02)):
        for value in torch.linspace(low - 1, high + 1, 97).tolist():
            v = snap(value, low, high, step)
            assert low <= v <= high and abs(v - min(max(value, low), high)) <= step / 2 + 1e-9
            assert snap(v, low, high, step) == v  # a browser slider sends a value on its grid back unchanged


def test_side_by_side_checks_captions():
    png = png_bytes(torch.zeros(1, 4, 4), scale=1)
    assert png_size(side_by_side([png, png], gap=3)) == (11, 4)
    assert png_size(side_by_side([png, png], gap=3, vertical=True)) == (4, 11)
    with pytest.raises(ValueError, match="2 images but 1 captions"):
        side_by_side([png, png], ["one"])


# --------------------------------------------------------------------------- ipywidgets versions


@pytest.mark.skipif(
    not os.environ.get("VAE_EXPECT_IPYWIDGETS"),
    reason="set VAE_EXPECT_IPYWIDGETS=7.7 to check which ipywidgets these tests ran on "
    "(.ci/run runs this file again on ipywidgets 7.7)",
)
def test_running_on_the_expected_ipywidgets():
    import ipywidgets

    assert ipywidgets.__version__.startswith(os.environ["VAE_EXPECT_IPYWIDGETS"])


def test_posterior_explorer_shows_the_picked_digits_posterior(split):
    from vae_helpers import bounds
    from vae_helpers.widgets import PosteriorExplorer

    vae2 = model("vae", 2, seed=3)
    panel = PosteriorExplorer(vae2, split, index=5, n=40)
    first = panel.image.value
    assert png_size(first) and "vae-posterior-panel" in panel.widget._dom_classes
    panel.index.value = 17
    assert panel.image.value != first  # another digit, another picture
    post, _ = panel.posterior()
    direct = bounds.posterior(vae2, split[17].x(), bounds.Grid(4.0, 100), n=40)  # without the panel's stored grid
    torch.testing.assert_close(post.density, direct.density, rtol=1e-4, atol=1e-6)
    assert abs(post.log_px - direct.log_px) < 1e-3 and abs(post.elbo - direct.elbo) < 1e-3
    assert "gap" in panel.status.value and f"{post.log_px - post.elbo:.2f}" in panel.status.value
    static = base64.b64decode(panel._repr_mimebundle_()["image/png"])
    assert find(static, panel.image.value) is not None  # the picture the widget shows, under a title
    assert dark_pixels(static, slice(0, TEXT_PX)) > 50
    assert panel.update_ms and len(panel.update_ms) == 2


def test_posterior_explorer_needs_a_2d_vae(split, vae):
    from vae_helpers.widgets import PosteriorExplorer

    with pytest.raises(ValueError, match="2-D latent space"):
        PosteriorExplorer(vae, split)
    with pytest.raises(TypeError, match=r"data\.Split"):
        PosteriorExplorer(model("vae", 2), split.x())


# --------------------------------------------------------------------------- notebook 07: attributes and style


@pytest.fixture(scope="module")
def bars():
    """A small test split of strokes with known geometry (widths 1.5-4 pixels, slants -0.3 to +0.3), labelled 0-9."""
    from vae_helpers.attributes import bar

    strokes = [bar(1.5 + (k % 6) * 0.5, 16 + k % 5, shear=-0.3 + 0.06 * (k % 11)) for k in range(20)]
    images = (torch.cat(strokes) * 255).round().to(torch.uint8)  # (20, 28, 28)
    return Split(images, torch.arange(20) % 10)


def attribute_vae(latent_dim=4, seed=0):
    torch.manual_seed(seed)
    return MLPVAE(latent_dim=latent_dim, hidden_dims=(16,)).eval()


def unit_directions(latent_dim=4, seed=1):
    g = torch.Generator().manual_seed(seed)
    return {name: (lambda d: d / d.norm())(torch.randn(latent_dim, generator=g)) for name in ("ink", "slant", "width")}


def judge(seed=0):
    from vae_helpers.judge import DigitClassifier

    torch.manual_seed(seed)
    return DigitClassifier().eval()


class Counting:
    """Counts a model's encode and decode calls (to check that a slider move decodes one code only)."""

    def __init__(self, model):
        self.encodes = self.decodes = self.decoded_codes = 0
        encode, decode = model.encode, model.decode

        def counted_encode(*args):
            self.encodes += 1
            return encode(*args)

        def counted_decode(z, *args):
            self.decodes += 1
            self.decoded_codes += len(z)
            return decode(z, *args)

        model.encode, model.decode = counted_encode, counted_decode


def test_attribute_slider_decodes_the_mean_code_plus_strength_times_the_direction(bars):
    from vae_helpers.widgets import AttributeSlider

    vae, directions = attribute_vae(), unit_directions()
    panel = AttributeSlider(vae, bars, directions, index=3, limit=3.0)
    with torch.no_grad():
        mu = vae.encode(bars[3].x())[0][0]
        at_zero = torch.sigmoid(vae.decode(mu[None]))[0]
    assert panel.slider.value == 0.0 and (panel.slider.min, panel.slider.max, panel.slider.step) == (-3.0, 3.0, 0.05)
    torch.testing.assert_close(panel.decoded(), at_zero)  # strength 0: the digit's own mean code
    assert panel.image.value == png_bytes(at_zero, scale=6)
    assert panel.digit_image.value == png_bytes(bars[3].x()[0], scale=6)  # the test digit itself, beside it
    counts = Counting(vae)
    before = panel.image.value
    panel.slider.value = 1.5
    assert (counts.encodes, counts.decoded_codes) == (0, 1)  # a move decodes one code, encodes nothing
    assert panel.image.value != before
    with torch.no_grad():
        expected = torch.sigmoid(vae.decode((mu + 1.5 * directions["ink"])[None]))[0]
    torch.testing.assert_close(panel.decoded(), expected)
    assert panel.image.value == png_bytes(expected, scale=6)
    panel.attribute.value = "slant"  # another direction, the same strength
    with torch.no_grad():
        expected = torch.sigmoid(vae.decode((mu + 1.5 * directions["slant"])[None]))[0]
    assert panel.image.value == png_bytes(expected, scale=6)
    before, counts.decodes, counts.decoded_codes = panel.image.value, 0, 0
    panel.index.value = 8  # another digit: its mean code is computed once
    assert counts.encodes == 1 and panel.image.value != before
    with torch.no_grad():
        mu8 = vae.encode(bars[8].x())[0][0]
        expected = torch.sigmoid(vae.decode((mu8 + 1.5 * directions["slant"])[None]))[0]
    torch.testing.assert_close(panel.decoded(), expected)
    assert panel.image.value == png_bytes(expected, scale=6)
    assert len(panel.update_ms) == 4  # one render per change
    # a direction that is not of length 1 is scaled to it: strength counts prior standard deviations
    doubled = AttributeSlider(vae, bars, {"ink": 2 * directions["ink"]}, index=3)
    doubled.slider.value = 1.5
    torch.testing.assert_close(doubled.decoded(), AttributeSlider(vae, bars, directions, index=3).decoded(1.5))


def test_attribute_slider_reports_the_attribute_measured_on_the_shown_image(bars):
    from vae_helpers.attributes import ATTRIBUTES, UNITS
    from vae_helpers.judge import recognised
    from vae_helpers.widgets import AttributeSlider

    vae, directions, classifier = attribute_vae(), unit_directions(), judge()
    panel = AttributeSlider(vae, bars, directions, classifier=classifier, index=5)
    for name, strength in (("slant", 2.0), ("width", -2.5), ("ink", 3.0)):
        panel.set(attribute=name, strength=strength)
        with torch.no_grad():
            mu = vae.encode(bars[5].x())[0]
            shown = torch.sigmoid(vae.decode(mu + strength * directions[name]))  # (1, 1, 28, 28)
            base = torch.sigmoid(vae.decode(mu))
        assert panel.image.value == png_bytes(shown[0], scale=6)
        fmt = ".1f" if name == "ink" else ".2f"
        value = format(float(ATTRIBUTES[name](shown)), fmt).replace("-", "\u2212")
        at_zero = format(float(ATTRIBUTES[name](base)), fmt).replace("-", "\u2212")
        original = format(float(ATTRIBUTES[name](bars[5].x())), fmt).replace("-", "\u2212")
        assert value != original  # so the text tells the decoded image from the test digit
        found = recognised(classifier, shown)
        judged = f"the judge reads a {int(found.labels[0])} ({100 * float(found.confidence[0]):.0f} %)"
        assert panel.status.value == f"{name} {value} {UNITS[name]} ({at_zero} at strength 0) \u00b7 {judged}"
    assert "judge" not in AttributeSlider(vae, bars, directions).status.value  # no classifier, no verdict


def test_attribute_slider_static_picture_is_a_strip_of_seven_strengths(bars):
    from vae_helpers.widgets import AttributeSlider

    vae, directions = attribute_vae(), unit_directions()
    panel = AttributeSlider(vae, bars, directions, index=2, limit=2.0)
    panel.set(attribute="width", strength=1.0)
    bundle = panel._repr_mimebundle_()
    static = base64.b64decode(bundle["image/png"])
    assert static == panel.static_png() and "AttributeSlider" in bundle["text/plain"]
    with torch.no_grad():
        mu = vae.encode(bars[2].x())[0]
        strip = torch.sigmoid(vae.decode(mu + torch.linspace(-2, 2, 7)[:, None] * directions["width"]))
    where = find(static, strip_png(strip, scale=3))
    assert where is not None  # the decoded images at -2, ..., +2
    assert find(static, png_bytes(bars[2].x()[0], scale=3)) is not None  # and the test digit
    assert dark_pixels(static, slice(0, TEXT_PX)) > 50  # under a title


def test_attribute_slider_css_classes_and_sizes(bars):
    from vae_helpers.widgets import AttributeSlider

    panel = AttributeSlider(attribute_vae(), bars, unit_directions(), scale=5)
    assert "vae-attribute-panel" in panel.widget._dom_classes
    assert "vae-attribute-index" in panel.index._dom_classes
    assert "vae-attribute-slider" in panel.slider._dom_classes
    for image in (panel.image, panel.digit_image):
        assert "vae-attribute-image" in image._dom_classes
        assert_shown_at_its_own_size(image)
        assert shown_size(image) == ("140px", "140px")
    assert list(panel.attribute.options) == ["ink", "slant", "width"]


def test_attribute_slider_bad_arguments(bars, split):
    from vae_helpers.models import ConditionalVAE
    from vae_helpers.widgets import AttributeSlider

    vae, directions = attribute_vae(), unit_directions()
    with pytest.raises(ValueError, match=r"'slant' must be a vector of 4 numbers .* got \(3,\)"):
        AttributeSlider(vae, bars, {**directions, "slant": torch.ones(3)})
    with pytest.raises(
        ValueError, match="attribute must be one of 'ink', 'thickness', 'slant', 'width'; got 'boldness'"
    ):
        AttributeSlider(vae, bars, {"boldness": torch.ones(4)})
    with pytest.raises(ValueError, match="at least one"):
        AttributeSlider(vae, bars, {})
    with pytest.raises(ValueError, match="finite and not zero"):
        AttributeSlider(vae, bars, {"ink": torch.zeros(4)})
    with pytest.raises(TypeError, match="StyleExplorer"):
        AttributeSlider(ConditionalVAE(latent_dim=4, hidden_dims=(16,)), bars, directions)
    with pytest.raises(TypeError, match=r"data\.Split"):
        AttributeSlider(vae, bars.x(), directions)
    with pytest.raises(ValueError, match="from 0 to 19"):
        AttributeSlider(vae, bars, directions, index=20)
    with pytest.raises(ValueError, match="limit"):
        AttributeSlider(vae, bars, directions, limit=0)
    with pytest.raises(TypeError, match="digit judge"):
        AttributeSlider(vae, bars, directions, classifier="judge")
    panel = AttributeSlider(vae, bars, directions)
    with pytest.raises(ValueError, match="attribute must be one of 'ink', 'slant', 'width'; got 'thickness'"):
        panel.set(attribute="thickness")


def cvae_model(seed=0):
    from vae_helpers.models import ConditionalVAE

    torch.manual_seed(seed)
    return ConditionalVAE(latent_dim=2, hidden_dims=(16,)).eval()


def styles_of(cvae, split, index):
    """The test digit's mean code, encoded with its own label, decoded with each label 0-9."""
    with torch.no_grad():
        mu, _ = cvae.encode(split[index].x(), split.labels[index : index + 1])
        return torch.sigmoid(cvae.decode(mu.expand(10, -1), torch.arange(10)))


def test_style_explorer_writes_the_digits_style_as_every_digit(bars):
    from vae_helpers.widgets import StyleExplorer

    cvae = cvae_model()
    panel = StyleExplorer(cvae, bars, index=3)  # a 3: encoded with label 3
    expected = styles_of(cvae, bars, 3)
    torch.testing.assert_close(panel.styles(), expected)
    assert panel.image.value == strip_png(expected, scale=3)
    assert panel.digit_image.value == png_bytes(bars[3].x()[0], scale=3)
    counts = Counting(cvae)
    before = panel.image.value
    panel.index.value = 14  # a 4
    assert (counts.encodes, counts.decodes, counts.decoded_codes) == (1, 1, 10)
    assert panel.image.value != before
    assert panel.image.value == strip_png(styles_of(cvae, bars, 14), scale=3)
    assert panel.status.value.startswith("test image #14 (a 4)") and "judge" not in panel.status.value
    static = base64.b64decode(panel._repr_mimebundle_()["image/png"])
    # the static picture holds the same strip, drawn smaller (2 px per pixel) so that it fits beside the digit
    assert static == panel.static_png() and find(static, strip_png(panel._styles, scale=2)) is not None
    assert dark_pixels(static, slice(0, TEXT_PX)) > 50  # a title
    assert "vae-style-panel" in panel.widget._dom_classes and "vae-style-index" in panel.index._dom_classes
    assert "vae-style-image" in panel.image._dom_classes
    for image in (panel.image, panel.digit_image):
        assert_shown_at_its_own_size(image)
    assert len(panel.update_ms) == 2


def test_style_explorer_says_how_many_the_judge_reads_as_asked(bars):
    from vae_helpers.judge import recognised
    from vae_helpers.widgets import StyleExplorer

    cvae, classifier = cvae_model(), judge()
    panel = StyleExplorer(cvae, bars, index=7, classifier=classifier)
    hits = int((recognised(classifier, styles_of(cvae, bars, 7)).labels == torch.arange(10)).sum())
    assert panel.status.value.endswith(f" \u00b7 the judge reads {hits} of 10 as the digit asked for")


def test_style_explorer_needs_a_conditional_vae(bars, vae):
    from vae_helpers.widgets import StyleExplorer

    with pytest.raises(TypeError, match=r"models\.ConditionalVAE"):
        StyleExplorer(vae, bars)
    with pytest.raises(TypeError, match=r"data\.Split"):
        StyleExplorer(cvae_model(), bars.x())
    with pytest.raises(ValueError, match="from 0 to 19"):
        StyleExplorer(cvae_model(), bars, index=20)
    with pytest.raises(TypeError, match="digit judge"):
        StyleExplorer(cvae_model(), bars, classifier=object())
