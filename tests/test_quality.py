import pytest
import torch
import torch.nn.functional as F

from vae_helpers.quality import sharpness


def test_sharpness_of_a_step_edge():
    img = torch.zeros(1, 1, 4, 4)
    img[..., 2:] = 1.0  # one vertical edge: a jump of 1 between columns 1 and 2
    # on the 3x3 grid of gradients, the jump is seen in one column of three
    assert sharpness(img).item() == pytest.approx(1 / 3)
    assert sharpness(torch.full((2, 1, 5, 5), 0.7)).tolist() == [0.0, 0.0]


def test_blurring_lowers_sharpness():
    g = torch.Generator().manual_seed(0)
    img = (torch.rand(3, 1, 28, 28, generator=g) > 0.7).float()
    blurred = F.avg_pool2d(img, 3, stride=1, padding=1)
    assert (sharpness(blurred) < sharpness(img)).all()


def test_sharpness_rejects_flat_inputs():
    with pytest.raises(ValueError, match=r"\(B, C, H, W\)"):
        sharpness(torch.zeros(28, 28))
