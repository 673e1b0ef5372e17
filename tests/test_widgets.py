"""Headless widget tests: no kernel, no browser; set values programmatically and check the image."""

import base64
import io

import numpy as np
import pytest
import torch
from PIL import Image

from vae_helpers.models import MLPVAE
from vae_helpers.plotting import png_bytes
from vae_helpers.widgets import LatentSliders


@pytest.fixture
def vae():
    torch.manual_seed(0)
    return MLPVAE(latent_dim=3, hidden_dims=(32,)).eval()


def expected_png(model, z, scale):
    with torch.no_grad():
        return png_bytes(torch.sigmoid(model.decode(z[None]))[0], scale=scale)


def test_moving_a_slider_decodes_what_the_sliders_say(vae):
    panel = LatentSliders(vae.decode, 3, scale=4)
    first = panel.image.value
    panel.sliders[1].value = 1.5
    panel.sliders[2].value = -0.75
    assert panel.image.value != first
    assert panel.image.value == expected_png(vae, torch.tensor([0.0, 1.5, -0.75]), 4)
    assert Image.open(io.BytesIO(panel.image.value)).size == (28 * 4, 28 * 4)
    assert len(panel.update_ms) == 3  # the first render and one per slider move


def test_buttons_set_the_expected_codes(vae):
    codes = torch.randn(10, 3)
    panel = LatentSliders(vae.decode, 3, codes=codes, labels=torch.arange(10), seed=5)
    panel.index.value = 7
    panel.digit_button.click()
    assert torch.allclose(panel.code(), codes[7])
    assert [s.value for s in panel.sliders] == pytest.approx(codes[7].clamp(-3, 3).tolist())
    assert "a 7" in panel.status.value
    panel.zero_button.click()
    assert torch.equal(panel.code(), torch.zeros(3))
    panel.random_button.click()
    assert torch.allclose(panel.code(), torch.randn(3, generator=torch.Generator().manual_seed(5)))
    assert panel.image.value == expected_png(vae, panel.code(), panel.scale)


def test_setting_a_code_renders_once(vae):
    panel = LatentSliders(vae.decode, 3)
    before = len(panel.update_ms)
    panel.set_code(torch.tensor([0.1, 0.2, 0.3]))
    assert len(panel.update_ms) == before + 1


def test_sliders_for_some_dimensions_keep_the_others(vae):
    panel = LatentSliders(vae.decode, 3, dims=[2])
    panel.set_code(torch.tensor([1.0, -1.0, 0.5]))
    panel.sliders[0].value = 2.0
    assert torch.allclose(panel.code(), torch.tensor([1.0, -1.0, 2.0]))


def test_static_fallback_is_the_current_image(vae):
    panel = LatentSliders(vae.decode, 3)
    panel.sliders[0].value = 1.0
    bundle = panel._repr_mimebundle_()
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == panel.widget.model_id
    assert base64.b64decode(bundle["image/png"]) == panel.image.value


def test_css_classes_for_browser_tests(vae):
    panel = LatentSliders(vae.decode, 3)
    assert "vae-latent-sliders" in panel.widget._dom_classes
    assert all("vae-latent-slider" in s._dom_classes for s in panel.sliders)
    assert "vae-decoded-image" in panel.image._dom_classes


def test_bad_arguments_are_explained(vae):
    with pytest.raises(ValueError, match="does not accept codes of size 5"):
        LatentSliders(vae.decode, 5)
    with pytest.raises(ValueError, match=r"codes must be \(N, 3\)"):
        LatentSliders(vae.decode, 3, codes=torch.zeros(4, 2))
    with pytest.raises(ValueError, match="dims must be indices"):
        LatentSliders(vae.decode, 3, dims=[3])
    panel = LatentSliders(vae.decode, 3, codes=torch.zeros(4, 3))
    with pytest.raises(IndexError, match="from 0 to 3"):
        panel.set_code_from_index(4)
    with pytest.raises(ValueError, match="has 3 numbers"):
        panel.set_code(torch.zeros(2))


def test_model_switcher_swaps_the_pictures():
    from vae_helpers.widgets import ModelSwitcher

    panels = {0.5: [b"a0", b"a1"], 1.0: [b"b0", b"b1"], 4.0: [b"c0", b"c1"]}
    switcher = ModelSwitcher(panels, captions=["samples", "scatter"])
    assert [i.value for i in switcher.images] == [b"a0", b"a1"]
    switcher.slider.value = 4.0
    assert [i.value for i in switcher.images] == [b"c0", b"c1"]
    assert base64.b64decode(switcher._repr_mimebundle_()["image/png"]) == b"c0"
    with pytest.raises(ValueError, match="same number of pictures"):
        ModelSwitcher({1: [b"x"], 2: [b"x", b"y"]})
