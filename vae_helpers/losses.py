"""Loss terms, each summed over its dimensions for one example; callers average over the batch.

Summing over pixels and latent dimensions keeps the two terms of the VAE loss on the scale of the
evidence lower bound (nats per image); averaging over pixels instead would shrink the reconstruction
term 784 times and let the KL term dominate.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn


def bce_loss(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy of targets ``x`` in [0, 1] under pixel ``logits``, summed per example.

    ``-sum(x log sigmoid(l) + (1 - x) log(1 - sigmoid(l)))``, computed from logits for stability.
    Shapes: ``(B, ...)`` -> ``(B,)``.
    """
    return F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(start_dim=1).sum(dim=1)


def kl_divergence(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL( N(mu, exp(logvar)) || N(0, I) ) per example, closed form (Kingma & Welling 2014, appendix B).

    ``0.5 * sum(mu^2 + exp(logvar) - logvar - 1)`` over latent dimensions. Shapes: ``(B, D)`` -> ``(B,)``.
    """
    return 0.5 * (mu.pow(2) + logvar.exp() - logvar - 1.0).sum(dim=1)


def vae_loss(model: nn.Module, batch: Any, beta: float = 1.0) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Negative ELBO (``beta = 1``) for a batch ``(x, y)``: mean over the batch of BCE + beta * KL.

    Returns ``(loss, {"recon": ..., "kl": ...})``, all per-example means in nats; plugs into ``training.fit``.
    """
    x = batch[0]
    logits, mu, logvar = model(x)
    recon, kl = bce_loss(logits, x).mean(), kl_divergence(mu, logvar).mean()
    return recon + beta * kl, {"recon": recon.detach(), "kl": kl.detach()}


def ae_loss(model: nn.Module, batch: Any) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Autoencoder loss for a batch ``(x, y)``: BCE summed over pixels, averaged over the batch (nats per image)."""
    x = batch[0]
    return bce_loss(model(x), x).mean(), {}


def add_noise(x: torch.Tensor, noise_std: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """``x`` plus Gaussian noise of standard deviation ``noise_std``, clipped back into [0, 1]."""
    noise = torch.randn(x.shape, generator=generator, device="cpu" if generator is not None else x.device)
    return (x + noise_std * noise.to(x.device)).clamp_(0.0, 1.0)


def denoising_loss(noise_std: float):
    """A loss function for ``training.fit``: reconstruct the clean ``x`` from a noisy copy of it."""

    def loss_fn(model: nn.Module, batch: Any) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        x = batch[0]
        return bce_loss(model(add_noise(x, noise_std)), x).mean(), {}

    return loss_fn


def kl_per_dimension(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """Average KL of each latent dimension over the batch, ``(B, D) -> (D,)``; sums to ``kl_divergence(...).mean()``.

    A dimension whose KL is near zero carries no information: its code is the prior whatever the image.
    """
    return 0.5 * (mu.pow(2) + logvar.exp() - logvar - 1.0).mean(dim=0)


def mse_loss(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Squared error between ``sigmoid(logits)`` and ``x``, summed per example: ``(B, ...) -> (B,)``."""
    return (torch.sigmoid(logits) - x).pow(2).flatten(start_dim=1).sum(dim=1)


def beta_vae_loss(beta: float, recon: str = "bce"):
    """A loss function for ``training.fit``: reconstruction + ``beta`` x KL (``beta = 1``: the negative ELBO).

    ``recon`` is ``"bce"`` (binary cross-entropy) or ``"mse"`` (squared error), summed over pixels.
    ``beta = 0`` trains on reconstruction alone; the returned metrics are the unweighted terms.
    """
    if beta < 0:
        raise ValueError(f"beta must be >= 0, got {beta}.")
    recon_fn = {"bce": bce_loss, "mse": mse_loss}.get(recon)
    if recon_fn is None:
        raise ValueError(f"recon must be 'bce' or 'mse', got {recon!r}.")

    def loss_fn(model: nn.Module, batch: Any) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        x = batch[0]
        logits, mu, logvar = model(x)
        recon_loss, kl = recon_fn(logits, x).mean(), kl_divergence(mu, logvar).mean()
        return recon_loss + beta * kl, {"recon": recon_loss.detach(), "kl": kl.detach()}

    return loss_fn


def kl_only_loss(model: nn.Module, batch: Any) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Only the KL term (no reconstruction): what the codes look like when nothing asks them to carry information."""
    x = batch[0]
    logits, mu, logvar = model(x)
    kl = kl_divergence(mu, logvar).mean()
    return kl, {"recon": bce_loss(logits, x).mean().detach(), "kl": kl.detach()}
