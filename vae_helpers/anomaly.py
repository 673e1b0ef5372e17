"""Surprise: scores that say how unlike the training data an image is, and how well they separate (notebook 07).

A model of digits should find a non-digit surprising. The scores here are per image, larger meaning
more surprising: a VAE's negative ELBO or its importance-weighted bound (:func:`vae_scores`, notebook 06's
``bounds.log_weights``), and a plain autoencoder's reconstruction error (:func:`reconstruction_error`).
:func:`auroc` measures how well a score separates two sets of images; :func:`outliers` makes the sets
that are not digits, from MNIST's test images and from random numbers, with no download.
"""

from __future__ import annotations

import torch
from torch import nn

from . import attributes, bounds, checks, losses

IMAGE = (1, 28, 28)


def auroc(inside: torch.Tensor, outside: torch.Tensor) -> float:
    """The area under the ROC curve of a score that should be larger ``outside`` than ``inside``.

    It is the probability that an image drawn from ``outside`` scores higher than one from ``inside``,
    ties counted half (the Mann-Whitney U statistic divided by the number of pairs): 1 separates the sets
    perfectly, 0.5 is a coin toss, below 0.5 the score has it backwards. Computed from ranks, in
    ``O(n log n)``, not by comparing every pair.
    """
    inside = _scores("inside", inside)
    outside = _scores("outside", outside)
    both = torch.cat([inside, outside])
    _, where, counts = torch.unique(both, return_inverse=True, return_counts=True)  # sorted distinct values
    last = counts.cumsum(0).double()  # the rank (from 1) of the last copy of each distinct value
    rank = (last - (counts - 1) / 2)[where]  # ties share the average of their ranks
    n_in, n_out = len(inside), len(outside)
    u = rank[n_in:].sum() - n_out * (n_out + 1) / 2  # pairs (inside, outside) that outside wins, ties half
    return (u / (n_in * n_out)).item()


def _scores(name: str, value: torch.Tensor) -> torch.Tensor:
    checks.tensor(name, value, ndim=1)
    if len(value) == 0:
        raise ValueError(f"{name} holds no scores: pass at least one.")
    if not torch.isfinite(value.double()).all():
        raise ValueError(f"{name} holds NaN or infinite scores: check the model that made them.")
    return value.detach().double().cpu()


# --------------------------------------------------------------------------- sets that are not digits


def rotated(images: torch.Tensor) -> torch.Tensor:
    """``images`` ``(B, 1, 28, 28)`` turned a quarter turn counter-clockwise: digits on their side."""
    checks.images("images", images, IMAGE)
    return images.reshape(len(images), *IMAGE).rot90(1, dims=(2, 3))


def inverted(images: torch.Tensor) -> torch.Tensor:
    """``1 - images``: dark digits on a white page."""
    checks.images("images", images, IMAGE)
    return 1 - images.reshape(len(images), *IMAGE)


def noise(n: int, ink_share: float, generator: torch.Generator) -> torch.Tensor:
    """``n`` images ``(n, 1, 28, 28)`` of scattered pixels, each white with probability ``ink_share`` (give
    MNIST's mean pixel, about 0.13, and they hold as much ink as a digit, spread at random)."""
    checks.count("n", n)
    checks.number("ink_share", ink_share, minimum=0, maximum=1)
    return torch.bernoulli(torch.full((n, *IMAGE), float(ink_share)), generator=generator)


def strokes(n: int, generator: torch.Generator, width: float = 2.5) -> torch.Tensor:
    """``n`` letter-like images ``(n, 1, 28, 28)``: a pen line ``width`` pixels wide through 3 to 6 random
    points inside the digits' 20 x 20 box, with one pen lift in half of them. Like a digit in size, ink and
    stroke, unlike one in shape."""
    checks.count("n", n)
    images = []
    for _ in range(n):
        count = int(torch.randint(3, 7, (1,), generator=generator))
        points = 4 + 20 * torch.rand(count, 2, generator=generator, dtype=torch.float64)
        lift = bool(torch.rand(1, generator=generator) < 0.5) and count >= 4
        if lift:  # two separate lines, as in a letter drawn in two strokes
            cut = count // 2
            image = torch.maximum(
                attributes.draw_strokes(points[:cut], width, supersample=4),
                attributes.draw_strokes(points[cut:], width, supersample=4),
            )
        else:
            image = attributes.draw_strokes(points, width, supersample=4)
        images.append(image)
    return torch.stack(images)


def outliers(test_images: torch.Tensor, seed: int = 0) -> dict[str, torch.Tensor]:
    """The four sets of notebook 07, each as many images as ``test_images`` (MNIST test digits, ``(B, 1, 28,
    28)``) and on their device: the same digits rotated and inverted, and ``B`` noise images and ``B``
    letter-like strokes drawn with ``seed``."""
    checks.images("test_images", test_images, IMAGE)
    x = test_images.reshape(len(test_images), *IMAGE)
    g = torch.Generator().manual_seed(checks.count("seed", seed, minimum=0))
    return {
        "rotated digits": rotated(x),
        "inverted digits": inverted(x),
        "noise": noise(len(x), x.mean().item(), g).to(x.device),
        "strokes": strokes(len(x), g).to(x.device),
    }


# --------------------------------------------------------------------------- scores


def vae_scores(
    model: nn.Module, images: torch.Tensor, samples: int = 50, seed: int = 0, batch_size: int = 500
) -> dict[str, torch.Tensor]:
    """Two surprise scores of ``images`` under a VAE, from the same ``samples`` draws of q per image
    (``bounds.log_weights``): ``"negative ELBO"`` (minus the mean log weight) and ``"importance-weighted"``
    (minus their log-mean-exp, the bound of notebook 06, tighter). Each ``(B,)`` in nats, on the CPU."""
    checks.count("samples", samples)
    checks.count("batch_size", batch_size)
    checks.images("images", images, IMAGE)
    g = torch.Generator().manual_seed(checks.count("seed", seed, minimum=0))
    elbo, iwae = [], []
    with torch.no_grad():
        for start in range(0, len(images), batch_size):
            lw = bounds.log_weights(model, images[start : start + batch_size], samples, generator=g)  # (K, b)
            elbo.append(-lw.mean(0).cpu())
            iwae.append(-bounds.log_mean_exp(lw, dim=0).cpu())
    return {"negative ELBO": torch.cat(elbo), "importance-weighted": torch.cat(iwae)}


def reconstruction_error(model: nn.Module, images: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
    """A plain autoencoder's surprise at ``images``: the binary cross-entropy of its reconstruction, ``(B,)``."""
    checks.images("images", images, IMAGE)
    out = []
    with torch.no_grad():
        for start in range(0, len(images), batch_size):
            x = images[start : start + batch_size]
            out.append(losses.bce_recon(model(x), x).cpu())
    return torch.cat(out)
