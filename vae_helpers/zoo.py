"""Trained models: saved once, reused by every later run and every later notebook.

Every training cell goes through :func:`trained`, which loads the model and its training history
when one was saved with the same *key*, and otherwise trains and saves it. The key is the run's mode
and seed plus a fingerprint (``vae_helpers.fingerprint``) of everything the model depends on: the code
of the functions that build and train it, the notebook's and this package's, and the values they
read (settings, data). So any edit retrains, and the message says what changed (``lr 0.001 → 0.003``,
``the code of `train_vae` changed``); nothing cached hides an edit.

Models that several notebooks use are :class:`Recipe` s, trained by :func:`train_recipe` through
:func:`from_recipe`: the same code whichever notebook runs first, so none is ever trained twice.

Checkpoints live in ``VAE_CHECKPOINT_DIR`` (default ``checkpoints/`` in the course folder), with a
``manifest.json`` of each one's key and measured figures (``python -m tools.zoo list`` shows them).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from . import checks, losses
from .checkpoints import (
    FORMAT_VERSION,
    CheckpointError,
    checkpoint_dir,
    describe_mismatch,
    read_checkpoint,
    save_checkpoint,
)
from .data import Splits, fixed_test_batch
from .fingerprint import describe_changes, fingerprint
from .models import ACTIVATIONS, MLPVAE, MLPAutoencoder
from .training import History, fit
from .utils import RunConfig, display_path, preserved_random_state, seed_everything

MODEL_CLASSES = {"MLPAutoencoder": MLPAutoencoder, "MLPVAE": MLPVAE}
LOSSES = {"ae": losses.ae_loss, "vae": losses.vae_loss, "kl_only": losses.kl_only_loss}
Bounds = dict[str, tuple[float | None, float | None]]  # metric -> (lowest, highest) allowed value


class TrainingCheckFailed(RuntimeError):
    """A model trained to the end, but its figures are far outside what its recipe reaches: nothing is saved."""


# --------------------------------------------------------------------------- any model: trained or loaded


def checkpoint_path(name: str, fast: bool) -> Path:
    """One file per model and mode, so a fast-mode test run never replaces a learner's full-mode model."""
    return checkpoint_dir() / (f"{name}.fast.pt" if fast else f"{name}.pt")


VOLATILE = "_changed_by_training"  # the key's entry listing what training itself changed (not part of the key)


def model_key(
    build: Callable[[], nn.Module], train: Callable[[nn.Module], History], cfg: RunConfig, seed: int = 0
) -> dict[str, Any]:
    """What decides the trained model: mode, seed, and the fingerprint of ``build`` and ``train``."""
    return {"fast": cfg.fast, "seed": seed, **fingerprint(build=build, train=train)}


def _stable_key(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """The key to save: what the model was trained from. Values that training itself changed (a list the
    training function appends to, a dict it fills with snapshots) are its output, not its input, so
    they are listed apart and ignored when a later run compares keys."""
    changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    return {**{k: v for k, v in before.items() if k not in changed}, VOLATILE: changed}


def _failures(metrics: dict[str, float], expect: Bounds | None) -> list[str]:
    problems = []
    for key, (low, high) in (expect or {}).items():
        value = metrics.get(key, math.nan)
        if not math.isfinite(value):
            problems.append(f"{key} is {value}")
        elif low is not None and value < low:
            problems.append(f"{key} {value:.4g} is below {low:g}")
        elif high is not None and value > high:
            problems.append(f"{key} {value:.4g} is above {high:g}")
    return problems


def _figures(metrics: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.2f}" for k, v in metrics.items() if k.startswith("test_"))


def _load(
    path: Path,
    build: Callable[[], nn.Module],
    key: dict[str, Any],
    keep: dict | None,
    expect: Bounds | None,
    device: torch.device,
) -> tuple[tuple[nn.Module, History, dict] | None, str]:
    """``((model, history, payload), "")`` when ``path`` holds a sound model with this key, else ``(None, why not)``."""
    if not path.is_file():
        return None, "no saved model yet"
    try:
        payload = read_checkpoint(path)
    except CheckpointError as err:
        return None, f"the saved file cannot be used ({err}); it is replaced"
    if payload.get("format_version") != FORMAT_VERSION:
        return None, "the saved one comes from an older version of the course"
    saved_key = dict(payload.get("config", {}))
    if saved_key.get("fast") != key["fast"]:
        return None, "the saved one was trained in the other mode"
    volatile = set(saved_key.pop(VOLATILE, []))
    current = {k: v for k, v in key.items() if k not in volatile}
    if saved_key != current:
        return None, "since it was saved, " + "; ".join(describe_changes(saved_key, current))
    saved = payload.get("extra", {})
    if "history" not in saved:
        return None, "the saved file holds no training history"
    failures = _failures(payload.get("metrics", {}), expect)
    if failures:
        return None, f"the saved one fails its checks ({'; '.join(failures)})"
    model = build()
    problems = describe_mismatch(model.state_dict(), payload["state_dict"])
    if problems:
        return None, f"the saved weights do not fit the model ({'; '.join(problems)})"
    model.load_state_dict(payload["state_dict"])
    history = History(
        epochs=[dict(e) for e in saved["history"]["epochs"]], steps=saved["history"]["steps"].tolist(), loaded=True
    )
    if keep is not None:
        keep.update({k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in saved.get("keep", {}).items()})
    return (model.to(device), history, payload), ""


def trained(
    name: str,
    build: Callable[[], nn.Module],
    train: Callable[[nn.Module], History],
    cfg: RunConfig,
    seed: int = 0,
    keep: dict | None = None,
    expect: Bounds | None = None,
    verbose: bool = True,
) -> tuple[nn.Module, History]:
    """Model ``name``: loaded with its history when one was saved with the same key, else trained and saved.

    Args:
        build: makes the untrained model (called after seeding with ``seed``).
        train: trains it in place and returns the :class:`History` (usually one call to ``fit``).
        cfg: the notebook's ``setup()`` result: the mode, the device, and ``retrain`` (train even when a
            matching model was saved).
        seed: seeds Python, NumPy and torch before ``build``, so training repeats exactly.
        keep: a dict that ``train`` fills with tensors to keep (e.g. snapshots during training); saved
            with the model and filled back in when it is loaded.
        expect: ``{metric: (lowest, highest)}`` for the last epoch, e.g. ``{"test_loss": (None, 110)}``;
            wide bounds that only a broken loss or a diverged run misses. A model outside them raises
            :class:`TrainingCheckFailed` and is not saved.
        verbose: print one line saying whether it was loaded or why it is trained.

    The key (see :func:`model_key`) covers the code of ``build`` and ``train`` and of everything they
    use, and the values they read, so an edit anywhere retrains. Training and loading run with their
    own random numbers (see ``utils.preserved_random_state``), so the cells after this one see the same
    random numbers either way. An interrupted training returns the model as it is, unsaved.
    """
    checks.function("build", build)
    checks.function("train", train)
    if not isinstance(cfg, RunConfig):
        raise TypeError(f"cfg must be the RunConfig that setup() returns, got {type(cfg).__name__}.")
    checks.count("seed", seed, minimum=0)
    if keep is not None and not isinstance(keep, dict):
        raise TypeError(f"keep must be a dict or None, got {type(keep).__name__}.")
    for metric, bounds in (expect or {}).items():
        if not (isinstance(bounds, tuple) and len(bounds) == 2):
            raise TypeError(f"expect[{metric!r}] must be a (lowest, highest) pair, None for no bound; got {bounds!r}.")
    say = print if verbose else (lambda *args, **kwargs: None)
    path = checkpoint_path(name, cfg.fast)
    key = model_key(build, train, cfg, seed)
    with preserved_random_state():  # the cells after this one get the same random numbers, trained or loaded
        if cfg.retrain:
            reason = f"{cfg.retrain_reason or 'retrain'}: saved models are not used"
        else:
            loaded, reason = _load(path, build, key, keep, expect, cfg.device)
            if loaded is not None:
                model, history, payload = loaded
                figures = _figures(payload.get("metrics", {}))
                say(
                    f"Loaded '{name}', trained earlier with this code and these settings: "
                    f"{len(history)} epochs"
                    + (f", {figures}" if figures else "")
                    + ". (RETRAIN = True in the setup cell at the top trains it here.)"
                )
                return model.eval(), history
        say(f"Training '{name}' ({reason}).")
        seed_everything(seed)
        model = build().to(cfg.device)
        history = train(model)
    if not isinstance(history, History):
        raise TypeError(f"train must return the History of fit(), got {type(history).__name__}.")
    if history.interrupted or not history.epochs:
        print(
            f"Training of '{name}' stopped {history.stopped or 'early'}: the model is kept as it is, but not saved. "
            "Run the cell again to train it fully."
        )
        return model.eval(), history
    metrics = {k: v for k, v in history.epochs[-1].items() if k.startswith("test_") or k == "train_loss"}
    failures = _failures(metrics, expect)
    if failures:
        raise TrainingCheckFailed(
            f"'{name}' trained to the end, but {'; '.join(failures)}: far outside what its recipe reaches on any "
            "machine, so it was not saved. This usually means a changed loss (the course's sums over pixels and "
            "latent dimensions, then averages over the batch), a learning rate far from the recipe's, or a broken "
            "model. If you changed nothing, please report it with this message."
        )
    if expect and verbose:
        shown = ", ".join(
            f"{k} {metrics[k]:.2f}"
            + (f" >= {lo:g}" if lo is not None else "")
            + (f" <= {hi:g}" if hi is not None else "")
            for k, (lo, hi) in expect.items()
        )
        print(f"Checks passed: {shown} (wide bounds: they catch a broken loss, not an unlucky machine).")
    metrics.update(train_seconds=sum(history["train_seconds"]), epochs=len(history))
    extra = {"history": {"epochs": history.epochs, "steps": torch.tensor(history.steps)}}
    if keep:
        extra["keep"] = {k: v.detach().cpu() if isinstance(v, torch.Tensor) else v for k, v in keep.items()}
    try:
        save_checkpoint(
            path, model, config=_stable_key(key, model_key(build, train, cfg, seed)), metrics=metrics, extra=extra
        )
    except OSError as err:
        print(
            f"Could not save '{name}' to {display_path(path)} ({type(err).__name__}: {err}). The model is kept for "
            "this session; set VAE_CHECKPOINT_DIR to a folder you can write to, to keep it for the next.",
            file=sys.stderr,
        )
    return model.eval(), history


# --------------------------------------------------------------------------- models shared by notebooks


@dataclass(frozen=True)
class Recipe:
    """A model that several notebooks use, and how it is trained: everything that decides its weights.
    Introduced in notebook 03."""

    model: str  # the class in vae_helpers.models: "MLPAutoencoder" or "MLPVAE"
    latent_dim: int = 20  # numbers in the code z
    hidden_dims: tuple[int, ...] = (512, 256)  # widths of the hidden layers, encoder side; the decoder mirrors them
    activation: str = "silu"  # between the layers: "silu" (x * sigmoid(x), a smooth ReLU) or "relu"
    loss: str = "ae"  # "ae": reconstruction (BCE) only; "vae": the negative ELBO (BCE + KL); "kl_only": the KL alone
    num_epochs: int = 4  # passes over the 60,000 training images (full mode)
    fast_epochs: int = 8  # passes over fast mode's 5,000 training images (VAE_FAST=1)
    lr: float = 1e-3  # Adam's learning rate
    betas: tuple[float, float] = (0.9, 0.99)  # Adam's averaging rates of the gradient and its square; 0.99 (not
    #   the default 0.999) forgets old gradient sizes faster, which helps a run of a few epochs
    kl_warmup_epochs: int = 0  # VAE only: the KL term's weight rises from 0 to beta over these first epochs
    beta: float = 1.0  # VAE only: the weight of the KL term (notebook 05); 0 trains on the reconstruction alone
    recon: str = "bce"  # VAE only: the reconstruction term, "bce" (cross-entropy) or "mse" (squared error; notebook 05)
    batch_size: int = 128  # images per optimizer step
    # (the seed of the initial weights and the batch order is the notebook's: setup(seed=...), cfg.seed)

    def __post_init__(self) -> None:
        checks.choice("model", self.model, MODEL_CLASSES)
        checks.choice("loss", self.loss, LOSSES)
        checks.count("latent_dim", self.latent_dim)
        object.__setattr__(self, "hidden_dims", checks.sizes("hidden_dims", self.hidden_dims))
        checks.choice("activation", self.activation, ACTIVATIONS)
        for name in ("num_epochs", "fast_epochs", "batch_size"):
            checks.count(name, getattr(self, name))
        if not (isinstance(self.betas, (tuple, list)) and len(self.betas) == 2):
            raise TypeError(f"betas must be a pair of numbers in [0, 1), e.g. (0.9, 0.99); got {self.betas!r}.")
        object.__setattr__(
            self, "betas", tuple(checks.number("betas", b, minimum=0, maximum=0.9999) for b in self.betas)
        )
        checks.count("kl_warmup_epochs", self.kl_warmup_epochs, minimum=0)
        if self.kl_warmup_epochs and self.loss != "vae":
            raise ValueError(
                f"kl_warmup_epochs={self.kl_warmup_epochs} needs loss='vae': only the VAE loss weighs a KL term."
            )
        checks.number("beta", self.beta, minimum=0)
        checks.choice("recon", self.recon, losses.RECON_TERMS)
        if self.loss != "vae" and (self.beta != 1.0 or self.recon != "bce"):
            raise ValueError(
                f"beta={self.beta} and recon={self.recon!r} need loss='vae': the {self.loss!r} loss has "
                "no KL weight and always uses cross-entropy."
            )
        checks.number("lr", self.lr, above=0)
        if (self.loss == "ae") != (self.model == "MLPAutoencoder"):
            raise ValueError(
                f"loss={self.loss!r} does not suit model={self.model!r}: an MLPAutoencoder trains with "
                "loss='ae', an MLPVAE with loss='vae' or 'kl_only'."
            )

    def epochs(self, fast: bool) -> int:
        return self.fast_epochs if fast else self.num_epochs

    def build(self) -> nn.Module:
        """A fresh, untrained model of this recipe."""
        return MODEL_CLASSES[self.model](
            latent_dim=self.latent_dim, hidden_dims=self.hidden_dims, activation=self.activation
        )


RECIPES: dict[str, Recipe] = {
    "ae_main": Recipe("MLPAutoencoder"),
    "ae_2d": Recipe("MLPAutoencoder", latent_dim=2),
    "vae_main": Recipe("MLPVAE", loss="vae", num_epochs=9, fast_epochs=20, kl_warmup_epochs=2),
    "vae_2d": Recipe("MLPVAE", latent_dim=2, loss="vae", num_epochs=5, fast_epochs=15, kl_warmup_epochs=2),
}

# Sanity bounds on the test loss of each recipe's model, checked before it is saved (trained()'s expect),
# as (full mode, fast mode). Each is far above what the recipe reaches on any machine we measured
# (benchmarks/recipe_spread.py: 3 seeds x 1 and 2 threads), so only a broken loss or a diverged run
# fails it; a VAE trained with beta <= 1 must also keep its test KL above 1 nat (near 0 is a collapsed model).
MAX_TEST_LOSS: dict[str, tuple[float, float]] = {
    "ae_main": (85.0, 150.0),
    "ae_2d": (175.0, 220.0),
    "vae_main": (110.0, 150.0),
    "vae_2d": (175.0, 210.0),
}


def expectations(name: str, recipe: Recipe, fast: bool) -> Bounds:
    """The sanity bounds :func:`from_recipe` gives :func:`trained` for model ``name``."""
    bounds: Bounds = {}
    if name in MAX_TEST_LOSS:
        bounds["test_loss"] = (None, MAX_TEST_LOSS[name][1 if fast else 0])
    if recipe.loss == "vae" and recipe.beta <= 1.0:  # a larger KL weight may switch every dimension off (notebook 06)
        bounds["test_kl"] = (1.0, None)
    return bounds


def recipe(name: str) -> Recipe:
    if name not in RECIPES:
        raise KeyError(f"No recipe named {name!r}; known: {', '.join(RECIPES)}.")
    return RECIPES[name]


def train_recipe(
    model: nn.Module, recipe: Recipe, mnist: Splits, fast: bool, seed: int = 0, keep: dict | None = None
) -> History:
    """``fit`` with the recipe's settings (the steps notebook 03 shows), the batches in the order of
    ``seed``; fills ``keep`` with the reconstructions of the 16 test digits of ``data.fixed_test_batch``
    after every epoch."""
    x_fixed = fixed_test_batch(mnist.test, 16)[0].to(next(model.parameters()).device)

    def snapshot(epoch: int, history: History) -> None:
        if keep is not None:
            with torch.no_grad():
                code = model.encode(x_fixed)
                code = code[0] if isinstance(code, tuple) else code  # a VAE's mean code
                keep[epoch] = torch.sigmoid(model.decode(code))

    batches = mnist.train.batches(recipe.batch_size, seed=seed)
    loss_fn = LOSSES[recipe.loss]
    if recipe.loss == "vae":  # the weight of the KL term rises from 0 to beta over the warm-up, if any
        loss_fn = losses.vae_loss_with_warmup(
            recipe.kl_warmup_epochs * len(batches), beta=recipe.beta, recon=recipe.recon
        )
    return fit(
        model,
        batches,
        torch.optim.Adam(model.parameters(), lr=recipe.lr, betas=recipe.betas, fused=True),
        loss_fn,
        recipe.epochs(fast),
        test_data=mnist.test.batches(1000, shuffle=False),
        on_epoch_end=snapshot,
    )


def from_recipe(
    name: str, cfg: RunConfig, mnist: Splits, recipe: Recipe | None = None, verbose: bool = True
) -> tuple[nn.Module, History, dict[int, torch.Tensor]]:
    """Model ``name`` of :data:`RECIPES` (or trained with ``recipe``), loaded or trained through :func:`trained`,
    seeded with the notebook's ``cfg.seed``.

    Returns ``(model, history, reconstructions)``: the last maps each epoch to the reconstructions of
    the 16 test digits of ``data.fixed_test_batch``, as they were after that epoch.
    """
    chosen = recipe if recipe is not None else RECIPES.get(name)
    if chosen is None:
        raise KeyError(f"No recipe named {name!r}; known: {', '.join(RECIPES)}. Pass recipe=Recipe(...) for another.")
    if not isinstance(chosen, Recipe):
        raise TypeError(f"recipe must be a Recipe, got {type(chosen).__name__}.")
    reconstructions: dict[int, torch.Tensor] = {}

    def train(model: nn.Module) -> History:
        return train_recipe(model, chosen, mnist, cfg.fast, seed=cfg.seed, keep=reconstructions)

    model, history = trained(
        name,
        chosen.build,
        train,
        cfg,
        seed=cfg.seed,
        keep=reconstructions,
        expect=expectations(name, chosen, cfg.fast),
        verbose=verbose,
    )
    return model, history, reconstructions
