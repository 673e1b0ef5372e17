"""Trained models that later notebooks reuse, and the recipes that train them.

Notebook 03 trains its autoencoders in the open with ``training.fit`` and saves them here; notebooks
04 and 05 call :func:`load_or_train`, which loads the checkpoint when it matches the recipe and
otherwise (missing, damaged, trained with other settings or in the other mode) says why and retrains
with the same recipe. Checkpoints live in ``utils.course_path("VAE_CHECKPOINT_DIR", "checkpoints")``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from . import losses
from .checkpoints import CheckpointError, checkpoint_dir, load_checkpoint, save_checkpoint
from .data import MNIST
from .models import MLPVAE, ConvAutoencoder, MLPAutoencoder
from .training import History, adam, fit
from .utils import seed_everything

MODEL_CLASSES = {"MLPAutoencoder": MLPAutoencoder, "ConvAutoencoder": ConvAutoencoder, "MLPVAE": MLPVAE}


@dataclass(frozen=True)
class Recipe:
    """Everything that decides what a trained model is: architecture, loss and training settings."""

    model: str  # a key of MODEL_CLASSES
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    num_epochs: int = 4  # full mode
    fast_epochs: int = 8  # VAE_FAST=1, on the 5,000 images of fast mode (320 steps)
    lr: float = 1e-3
    batch_size: int = 128
    seed: int = 0
    noise_std: float = 0.0  # > 0: a denoising autoencoder
    loss: str = "ae"  # "ae": BCE reconstruction; "vae": negative ELBO (BCE + KL)

    def epochs(self, fast: bool) -> int:
        return self.fast_epochs if fast else self.num_epochs

    def config(self, fast: bool) -> dict[str, Any]:
        """What a checkpoint must have been trained with to be reused (plain values only)."""
        cfg = asdict(self)
        cfg["model_kwargs"] = {k: list(v) if isinstance(v, tuple) else v for k, v in self.model_kwargs.items()}
        cfg["fast"] = fast
        return cfg


RECIPES: dict[str, Recipe] = {
    "ae_2d": Recipe("MLPAutoencoder", {"latent_dim": 2, "hidden_dims": (512, 256)}),
    "ae_main": Recipe("MLPAutoencoder", {"latent_dim": 20, "hidden_dims": (512, 256)}),
    # 9 epochs: 40-55 s of training on 2 CPU cores, test negative ELBO ~103.6 nats (notebook 04's bar: 104 in 60 s)
    "vae_main": Recipe("MLPVAE", {"latent_dim": 20, "hidden_dims": (512, 256)}, num_epochs=9, fast_epochs=20, loss="vae"),
    "vae_2d": Recipe("MLPVAE", {"latent_dim": 2, "hidden_dims": (512, 256)}, num_epochs=5, fast_epochs=15, loss="vae"),
}


def recipe(name: str) -> Recipe:
    if name not in RECIPES:
        raise KeyError(f"No recipe named {name!r}; known: {', '.join(RECIPES)}.")
    return RECIPES[name]


def build(name: str) -> nn.Module:
    """A fresh, untrained model for recipe ``name``."""
    r = recipe(name)
    return MODEL_CLASSES[r.model](**r.model_kwargs)


def loss_fn(name: str):
    r = recipe(name)
    if r.loss == "vae":
        return losses.vae_loss
    return losses.denoising_loss(r.noise_std) if r.noise_std > 0 else losses.ae_loss


def train(name: str, mnist: MNIST, fast: bool, device: torch.device | str = "cpu", progress: bool = True) -> tuple[nn.Module, History]:
    """Train recipe ``name`` from scratch: seed, build, ``fit`` (the steps notebook 03 shows)."""
    r = recipe(name)
    seed_everything(r.seed)
    model = build(name).to(device)
    history = fit(model, mnist.train.batches(r.batch_size, seed=r.seed), adam(model.parameters(), lr=r.lr),
                  loss_fn(name), r.epochs(fast), test_data=mnist.test.batches(1000, shuffle=False),
                  progress=progress, verbose=False)
    return model, history


def checkpoint_path(name: str, fast: bool) -> Path:
    """One file per recipe and mode, so a fast-mode test run never replaces a learner's full-mode model."""
    return checkpoint_dir() / (f"{name}.fast.pt" if fast else f"{name}.pt")


def save(name: str, model: nn.Module, fast: bool, metrics: dict[str, float] | None = None) -> Path:
    """Save a model trained with recipe ``name`` so later notebooks can load it."""
    return save_checkpoint(checkpoint_path(name, fast), model, config=recipe(name).config(fast), metrics=metrics)


def load_or_train(name: str, mnist: MNIST, fast: bool, device: torch.device | str = "cpu", retrain: bool = False,
                  needs: tuple[str, ...] = ()) -> nn.Module:
    """The trained model of recipe ``name``: from its checkpoint if that matches, else retrained and saved.

    ``needs`` names metrics the checkpoint must carry (e.g. ``"train_seconds"``); an older file without
    them is retrained. Prints one line saying which happened and why.
    """
    path = checkpoint_path(name, fast)
    model = build(name)
    if not retrain:
        try:
            payload = load_checkpoint(path, model, config=recipe(name).config(fast))
            missing = [k for k in needs if k not in payload.get("metrics", {})]
            if missing:
                raise CheckpointError(f"Checkpoint {path} does not record {', '.join(missing)}.")
            shown = ", ".join(f"{k} {v:.2f}" for k, v in payload.get("metrics", {}).items())
            print(f"Loaded '{name}' from {path}" + (f" ({shown})" if shown else ""))
            return model.to(device).eval()
        except CheckpointError as err:
            print(f"Training '{name}' ({recipe(name).epochs(fast)} epochs): {err}")
    else:
        print(f"Training '{name}' ({recipe(name).epochs(fast)} epochs), as asked (retrain=True).")
    model, history = train(name, mnist, fast, device)
    save(name, model, fast, metrics={"test_loss": history.last("test_loss"), "train_seconds": sum(history["train_seconds"])})
    return model.eval()


def saved_metrics(name: str, fast: bool) -> dict[str, float]:
    """The metrics stored with recipe ``name``'s checkpoint (e.g. ``test_loss``, ``train_seconds``)."""
    return load_checkpoint(checkpoint_path(name, fast), build(name), config=recipe(name).config(fast)).get("metrics", {})
