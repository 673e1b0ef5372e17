"""Argument checks shared by the package: each names the argument, the value it got and what it expects.

A learner's mistake (a float where a count is needed, uint8 images, a missing channel dimension)
then stops at the call that made it, in words, instead of deep inside torch.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import torch


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def count(name: str, value: Any, minimum: int = 1) -> int:
    """``value`` as a whole number >= ``minimum`` (a bool or float is refused, even 2.0)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be a whole number >= {minimum}, got {type(value).__name__} {_shown(value)}.")
    if value < minimum:
        raise ValueError(f"{name} must be a whole number >= {minimum}, got {value}.")
    return value


def number(
    name: str, value: Any, minimum: float | None = None, maximum: float | None = None, above: float | None = None
) -> float:
    """``value`` as a finite real number within the given bounds (``above``: strictly greater)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        if isinstance(value, torch.Tensor) and value.numel() == 1:
            value = value.item()
        else:
            raise TypeError(f"{name} must be a number, got {type(value).__name__} {_shown(value)}.")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value}.")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}.")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {value}.")
    if above is not None and value <= above:
        raise ValueError(f"{name} must be > {above}, got {value}.")
    return float(value)


def sizes(name: str, value: Any, minimum: int = 1) -> tuple[int, ...]:
    """A non-empty list or tuple of whole numbers >= ``minimum``, e.g. ``hidden_dims``."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or len(value) == 0:
        raise TypeError(f"{name} must be a non-empty list or tuple of whole numbers, got {_shown(value)}.")
    for v in value:
        if isinstance(v, bool) or not isinstance(v, int) or v < minimum:
            raise ValueError(f"every entry of {name} must be a whole number >= {minimum}, got {_shown(list(value))}.")
    return tuple(value)


def choice(name: str, value: Any, options: Iterable[Any]) -> Any:
    options = tuple(options)
    if value not in options:
        raise ValueError(f"{name} must be one of {', '.join(repr(o) for o in options)}; got {_shown(value)}.")
    return value


def function(name: str, value: Any, optional: bool = False) -> Any:
    if value is None and optional:
        return value
    if not callable(value):
        raise TypeError(f"{name} must be a function, got {type(value).__name__} {_shown(value)}.")
    return value


def tensor(name: str, value: Any, ndim: int | None = None, floating: bool = False) -> torch.Tensor:
    if not isinstance(value, torch.Tensor):
        raise TypeError(
            f"{name} must be a torch.Tensor, got {type(value).__name__}. Convert it with torch.as_tensor(...)."
        )
    if ndim is not None and value.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimensions, got shape {tuple(value.shape)}.")
    if floating and not value.is_floating_point():
        raise TypeError(f"{name} must hold floats, got {value.dtype}.")
    return value


def images(name: str, x: Any, shape: Sequence[int]) -> torch.Tensor:
    """Float images shaped ``(B, *shape)`` (e.g. ``(B, 1, 28, 28)``) or flat ``(B, C*H*W)``."""
    shape = tuple(shape)
    flat = math.prod(shape)
    if not isinstance(x, torch.Tensor):
        raise TypeError(
            f"{name} must be a torch.Tensor of images shaped (B, {', '.join(map(str, shape))}), "
            f"got {type(x).__name__}. Convert it with torch.as_tensor(...)."
        )
    if not x.is_floating_point():
        fix = " (pixels 0-255): use x.float() / 255" if x.dtype == torch.uint8 else ": use x.float()"
        raise TypeError(f"{name} must hold floats in [0, 1], got {x.dtype}{fix}.")
    if tuple(x.shape[1:]) == shape or (x.ndim == 2 and x.shape[1] == flat):
        return x
    hint = ""
    if x.ndim == len(shape) and tuple(x.shape[1:]) == shape[1:] and shape[0] == 1:
        hint = " It lacks the channel dimension: use x.unsqueeze(1)."
    elif tuple(x.shape) == shape:
        hint = " It is a single image: use x.unsqueeze(0) for a batch of one."
    raise ValueError(
        f"{name} must be shaped (B, {', '.join(map(str, shape))}) or (B, {flat}), got {tuple(x.shape)}.{hint}"
    )


def codes(name: str, z: Any, latent_dim: int) -> torch.Tensor:
    """Float latent codes shaped ``(B, latent_dim)``."""
    if not isinstance(z, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of codes shaped (B, {latent_dim}), got {type(z).__name__}.")
    if not z.is_floating_point():
        raise TypeError(f"{name} must hold floats, got {z.dtype}: use z.float().")
    if z.ndim != 2 or z.shape[1] != latent_dim:
        hint = " For one code use z.unsqueeze(0)." if z.ndim == 1 and z.shape[0] == latent_dim else ""
        raise ValueError(
            f"{name} must be shaped (B, {latent_dim}) for this model's latent_dim={latent_dim}, "
            f"got {tuple(z.shape)}.{hint}"
        )
    return z
