"""Models shared by the notebooks. Each notebook first builds its model in the open; the versions
here are the same code, promoted so later notebooks can reuse it (tests check that both agree).

Decoders return logits: the loss applies the sigmoid inside a numerically stable formula.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn


def mlp(dims: Sequence[int]) -> nn.Sequential:
    """Linear layers ``dims[0] -> dims[1] -> ...``, each followed by ReLU."""
    layers: list[nn.Module] = []
    for d_in, d_out in zip(dims[:-1], dims[1:]):
        layers += [nn.Linear(d_in, d_out), nn.ReLU()]
    return nn.Sequential(*layers)


class MLPVAE(nn.Module):
    """A fully connected variational autoencoder (Kingma & Welling 2014, arXiv:1312.6114).

    With the defaults it is the classic PyTorch example, 784-400-20: the encoder maps an image to the
    mean ``mu`` and log-variance ``logvar`` of a Gaussian over the latent code ``z``; the decoder maps
    ``z`` back to pixel logits.
    """

    def __init__(self, latent_dim: int = 20, hidden_dims: Sequence[int] = (400,), input_shape: Sequence[int] = (1, 28, 28)):
        super().__init__()
        if latent_dim < 1 or not hidden_dims or min(hidden_dims) < 1:
            raise ValueError(f"latent_dim and every hidden_dims entry must be >= 1, got {latent_dim} and {list(hidden_dims)}.")
        self.config = {"latent_dim": latent_dim, "hidden_dims": list(hidden_dims), "input_shape": list(input_shape)}
        self.input_shape = tuple(input_shape)
        input_dim = math.prod(input_shape)
        self.encoder = mlp([input_dim, *hidden_dims])
        self.to_mu = nn.Linear(hidden_dims[-1], latent_dim)
        self.to_logvar = nn.Linear(hidden_dims[-1], latent_dim)
        self.decoder = nn.Sequential(mlp([latent_dim, *reversed(hidden_dims)]), nn.Linear(hidden_dims[0], input_dim))

    @property
    def latent_dim(self) -> int:
        return self.config["latent_dim"]

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``x`` ``(B, C, H, W)`` -> ``mu``, ``logvar`` each ``(B, latent_dim)``."""
        h = self.encoder(x.flatten(start_dim=1))  # (B, C*H*W) -> (B, hidden)
        return self.to_mu(h), self.to_logvar(h)

    @staticmethod
    def reparameterize(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        """``z = mu + sigma * eps`` with ``eps ~ N(0, I)``: random, yet differentiable in ``mu`` and ``logvar``."""
        return mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """``z`` ``(B, latent_dim)`` -> pixel logits ``(B, C, H, W)``."""
        return self.decoder(z).view(-1, *self.input_shape)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``x`` ``(B, C, H, W)`` -> ``(logits, mu, logvar)``; the loss is computed outside."""
        mu, logvar = self.encode(x)
        return self.decode(self.reparameterize(mu, logvar)), mu, logvar
