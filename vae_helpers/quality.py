"""Image measures used to compare models (notebook 05)."""

from __future__ import annotations

import torch

from . import checks


def sharpness(images: torch.Tensor) -> torch.Tensor:
    """Mean gradient magnitude of each image ``(B, 1, H, W) -> (B,)``: large where edges are crisp.

    The gradient is taken with forward differences between neighbouring pixels, horizontally and
    vertically; blurring an image spreads its edges over more pixels and lowers this number.
    Introduced in notebook 05.
    """
    checks.tensor("images", images, floating=True)
    if images.ndim != 4 or images.shape[-1] < 2 or images.shape[-2] < 2:
        raise ValueError(f"images must be shaped (B, C, H, W) with H, W >= 2, got {tuple(images.shape)}.")
    dx = images[..., :, 1:] - images[..., :, :-1]  # (B, C, H, W-1)
    dy = images[..., 1:, :] - images[..., :-1, :]  # (B, C, H-1, W)
    magnitude = torch.sqrt(dx[..., :-1, :] ** 2 + dy[..., :, :-1] ** 2)  # (B, C, H-1, W-1)
    return magnitude.flatten(start_dim=1).mean(dim=1)
