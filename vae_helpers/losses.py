"""Loss functions of notebooks 03-05: reconstruction terms, the KL term, and the (beta-)VAE loss built from them.

Each term is summed over its dimensions for one example; the losses average over the batch.

Summing over pixels and latent dimensions keeps the two terms of the VAE loss on the scale of the
evidence lower bound (nats per image); averaging over pixels instead would shrink the reconstruction
term 784 times and let the KL term dominate.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from . import checks


def _pair(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``x`` shaped like ``logits`` (flat images ``(B, 784)`` against logits ``(B, 1, 28, 28)`` are fine)."""
    checks.tensor("logits", logits, floating=True)
    checks.tensor("x", x, floating=True)
    if x.shape != logits.shape:
        if x.numel() != logits.numel() or len(x) != len(logits):
            raise ValueError(
                f"x {tuple(x.shape)} and logits {tuple(logits.shape)} must hold the same images: "
                "one logit per pixel of each image."
            )
        x = x.reshape(logits.shape)
    return x


def _batch_x(batch: Any) -> torch.Tensor:
    x = batch[0] if isinstance(batch, (tuple, list)) else batch
    return checks.tensor("the batch's images", x, floating=True)


def bce_recon(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy of targets ``x`` in [0, 1] under pixel ``logits``, summed per example (notebook 03).

    ``-sum(x log sigmoid(l) + (1 - x) log(1 - sigmoid(l)))``, computed from logits for stability.
    Shapes: ``(B, ...)`` -> ``(B,)``.
    """
    x = _pair(logits, x)
    return F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(start_dim=1).sum(dim=1)


def bce_floor(x: torch.Tensor) -> torch.Tensor:
    """The smallest binary cross-entropy any decoder can reach on images ``x``, summed per example (notebook 03).

    Cross-entropy is smallest where each pixel's probability equals the pixel, and there it equals the
    pixel's own binary entropy ``-x log x - (1 - x) log(1 - x)``: zero for a black or white pixel,
    ``log 2`` for a mid-grey one. On grey-level images the reconstruction term therefore never gets to
    zero, which is one reason it is not a log-likelihood. Shapes: ``(B, ...)`` -> ``(B,)``.
    """
    checks.tensor("x", x, floating=True)
    if x.numel() and not (x.min() >= 0 and x.max() <= 1):
        raise ValueError(f"x must hold pixels in [0, 1], got values from {x.min():.3g} to {x.max():.3g}.")
    entropy = -(torch.special.xlogy(x, x) + torch.special.xlogy(1 - x, 1 - x))  # 0 log 0 counts as 0
    return entropy.flatten(start_dim=1).sum(dim=1)


def kl_divergence(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL( N(mu, exp(logvar)) || N(0, I) ) per example, closed form (Kingma & Welling 2014, appendix B; notebook 04).

    ``0.5 * sum(mu^2 + exp(logvar) - logvar - 1)`` over latent dimensions. Shapes: ``(B, D)`` -> ``(B,)``.
    """
    _check_gaussian(mu, logvar)
    return 0.5 * (mu.pow(2) + logvar.exp() - logvar - 1.0).sum(dim=1)


def _check_gaussian(mu: torch.Tensor, logvar: torch.Tensor) -> None:
    checks.tensor("mu", mu, ndim=2, floating=True)
    checks.tensor("logvar", logvar, ndim=2, floating=True)
    if mu.shape != logvar.shape:
        raise ValueError(
            f"mu {tuple(mu.shape)} and logvar {tuple(logvar.shape)} must have the same shape (B, latent_dim)."
        )


RECON_TERMS = ("bce", "mse")


def vae_loss(
    model: nn.Module, batch: Any, beta: float = 1.0, recon: str = "bce"
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The VAE loss for a batch ``(x, y)``: mean over the batch of reconstruction + ``beta`` * KL (notebook 04 on).

    ``beta = 1`` with ``recon="bce"`` is the negative ELBO in nats per image; ``beta = 0`` trains on
    reconstruction alone. ``recon`` is ``"bce"`` (:func:`bce_recon`) or ``"mse"`` (:func:`mse_recon`).
    Returns ``(loss, {"recon": ..., "kl": ...})``, the unweighted terms as per-example means; plugs into
    ``training.fit`` as is, or with other settings through ``functools.partial(vae_loss, beta=4.0)``.
    """
    checks.number("beta", beta, minimum=0)
    recon_term = {"bce": bce_recon, "mse": mse_recon}[checks.choice("recon", recon, RECON_TERMS)]
    x = _batch_x(batch)
    logits, mu, logvar = model(x)
    recon_loss, kl = recon_term(logits, x).mean(), kl_divergence(mu, logvar).mean()
    return recon_loss + beta * kl, {"recon": recon_loss.detach(), "kl": kl.detach()}


def cvae_loss(model: nn.Module, batch: Any) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The VAE loss of a conditional VAE (notebook 07) for a batch ``(x, y)``: the model is given the labels
    ``y`` too, ``model(x, y)``; the terms are :func:`vae_loss`'s (the negative ELBO of ``x`` given ``y``)."""
    if not (isinstance(batch, (tuple, list)) and len(batch) == 2):
        raise TypeError("A conditional VAE's batch must be a pair (images, labels), as Split.batches() gives.")
    x, y = _batch_x(batch), batch[1]
    logits, mu, logvar = model(x, y)
    recon_loss, kl = bce_recon(logits, x).mean(), kl_divergence(mu, logvar).mean()
    return recon_loss + kl, {"recon": recon_loss.detach(), "kl": kl.detach()}


def vae_loss_with_warmup(warmup_steps: int, beta: float = 1.0, recon: str = "bce"):
    """A loss function for ``training.fit``: the VAE loss whose KL weight rises linearly from 0 to ``beta``
    over the first ``warmup_steps`` training steps, then stays at ``beta`` (*KL warm-up*: Bowman et al.
    2016, arXiv:1511.06349; Sønderby et al. 2016, arXiv:1602.02282). Early on the codes learn to carry
    information before the KL term pulls them towards the prior, so fewer latent dimensions switch off.
    Evaluation (the model in eval mode) always uses weight 1: the test figures are reconstruction plus
    KL, the plain negative ELBO for ``recon="bce"``, comparable whatever ``beta`` trained the model.
    Make a new one for each training run: it counts its steps."""
    checks.count("warmup_steps", warmup_steps, minimum=0)
    checks.number("beta", beta, minimum=0)
    checks.choice("recon", recon, RECON_TERMS)
    state = {"step": 0}

    def loss_fn(model: nn.Module, batch: Any) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        weight = 1.0
        if model.training:
            weight = beta * (min(1.0, state["step"] / warmup_steps) if warmup_steps else 1.0)
            state["step"] += 1
        return vae_loss(model, batch, beta=weight, recon=recon)

    return loss_fn


def ae_loss(model: nn.Module, batch: Any) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Autoencoder loss for a batch ``(x, y)``: BCE summed over pixels, averaged over the batch (nats per image; notebook 03)."""
    x = _batch_x(batch)
    return bce_recon(model(x), x).mean(), {}


def add_noise(x: torch.Tensor, noise_std: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """``x`` plus Gaussian noise of standard deviation ``noise_std``, clipped back into [0, 1] (notebook 03's denoiser)."""
    checks.tensor("x", x, floating=True)
    checks.number("noise_std", noise_std, minimum=0)
    noise = torch.randn(x.shape, generator=generator, device="cpu" if generator is not None else x.device)
    return (x + noise_std * noise.to(x.device)).clamp_(0.0, 1.0)


def kl_per_dimension(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """Average KL of each latent dimension over the batch, ``(B, D) -> (D,)``; sums to ``kl_divergence(...).mean()``.

    A dimension whose KL is near zero carries no information: its code is the prior whatever the image
    (notebook 04 on).
    """
    _check_gaussian(mu, logvar)
    return 0.5 * (mu.pow(2) + logvar.exp() - logvar - 1.0).mean(dim=0)


def mse_recon(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Squared error between the pixels ``sigmoid(logits)`` and ``x``, summed per example (notebook 05): ``(B, ...) -> (B,)``."""
    x = _pair(logits, x)
    return (torch.sigmoid(logits) - x).pow(2).flatten(start_dim=1).sum(dim=1)


def kl_only_loss(model: nn.Module, batch: Any) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Only the KL term, the reconstruction reported but not trained (notebook 05): what the codes look like
    when nothing asks them to carry information."""
    x = _batch_x(batch)
    logits, mu, logvar = model(x)
    kl = kl_divergence(mu, logvar).mean()
    return kl, {"recon": bce_recon(logits, x).mean().detach(), "kl": kl.detach()}
