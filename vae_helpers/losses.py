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
