"""Trained models: saved once, loaded by every later run and every later notebook.

Every training cell of the notebooks goes through :func:`trained`: it loads the model (and its
training history) from its checkpoint when one was saved with the same settings, and otherwise (none
yet, damaged, other settings, the other mode, or ``RETRAIN`` on) says why and trains it, then saves
it. So a second run of a notebook, or a class whose teacher ran ``make models`` beforehand, walks
through in seconds. Notebooks 04 and 05 get notebook 03's and 04's models by name with
:func:`load_or_train`, which retrains from the named :data:`RECIPES` when a checkpoint is missing.
Checkpoints live in ``utils.course_path("VAE_CHECKPOINT_DIR", "checkpoints")``, with a
``manifest.json`` of each one's settings and measured figures.

    python -m vae_helpers.zoo train-all   # (make models) run every notebook headless: trains and saves all
    python -m vae_helpers.zoo list        # what is saved, with its settings and test figures
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn

from . import losses
from .checkpoints import CheckpointError, checkpoint_dir, load_checkpoint, read_manifest, save_checkpoint
from .data import MNIST
from .models import MLPVAE, ConvAutoencoder, MLPAutoencoder
from .training import History, adam, fit
from .utils import RunConfig, seed_everything

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


# --------------------------------------------------------------------------- any model, by name and settings


def _plain(value: Any) -> Any:
    """Settings as plain values (what a checkpoint stores and compares): tuples become lists."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"Settings must be plain values (numbers, strings, lists, dicts), got {type(value).__name__}: {value!r}.")


def _rng_devices() -> list[int]:
    return list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []


def trained(name: str, build: Callable[[], nn.Module], train: Callable[[nn.Module], History], cfg: RunConfig,
            settings: dict[str, Any], keep: dict | None = None, verbose: bool = True) -> tuple[nn.Module, History]:
    """Model ``name``, trained by ``train(model)``, or loaded when a checkpoint with the same settings exists.

    Args:
        build: makes the untrained model (called after seeding with ``settings["seed"]``, default 0).
        train: trains it in place and returns the :class:`History` (usually one call to ``fit``).
        cfg: the notebook's ``setup()`` result: fast mode, device, and ``retrain`` (train even when a
            matching checkpoint exists).
        settings: everything that decides the result (model sizes, epochs, learning rate, loss, seed...);
            a checkpoint saved with other settings, or in the other mode, is reported and retrained.
        keep: a dict that ``train`` fills with tensors to keep (e.g. snapshots during training); saved
            with the model and filled back in when it is loaded.
        verbose: print one line saying whether it was loaded or why it is trained.

    Training runs with its own random stream (forked from and then restored to the notebook's), so the
    cells after it see the same random numbers whether the model was trained or loaded. An interrupted
    training returns the model as it is, unsaved; a diverged one raises and saves nothing.
    """
    config = {**_plain(settings), "fast": cfg.fast}
    path = checkpoint_path(name, cfg.fast)
    say = print if verbose else (lambda *args: None)
    if cfg.retrain:
        say(f"Training '{name}' ({cfg.retrain_reason or 'retrain'}: saved models are not used).")
    else:
        model = build()
        try:
            payload = load_checkpoint(path, model, config=config)
            saved = payload.get("extra", {})
            if "history" not in saved:
                raise CheckpointError(f"Checkpoint {path} holds no training history.")
            history = History(epochs=[dict(e) for e in saved["history"]["epochs"]], steps=saved["history"]["steps"].tolist())
            if keep is not None:
                keep.update({k: v.to(cfg.device) if isinstance(v, torch.Tensor) else v for k, v in saved.get("keep", {}).items()})
            figures = ", ".join(f"{k} {v:.2f}" for k, v in payload.get("metrics", {}).items() if k.startswith("test_"))
            say(f"Loaded '{name}' from {path}: trained earlier with these settings, {len(history)} epochs"
                  + (f", {figures}" if figures else "") + ". (RETRAIN = True in the setup cell at the top trains it here.)")
            return model.to(cfg.device), history
        except CheckpointError as err:
            say(f"Training '{name}': {err}")
    with torch.random.fork_rng(devices=_rng_devices()):
        seed_everything(int(settings.get("seed", 0)))
        model = build().to(cfg.device)
        history = train(model)
    if not isinstance(history, History):
        raise TypeError(f"train must return the History of fit(), got {type(history).__name__}.")
    if history.interrupted:
        print(f"Training of '{name}' was interrupted: the model is kept as it is, but not saved. "
              "Run the cell again to train it fully.")
        return model, history
    metrics = {k: v for k, v in history.epochs[-1].items() if k.startswith("test_") or k == "train_loss"}
    metrics.update(train_seconds=sum(history["train_seconds"]), epochs=len(history))
    extra = {"history": {"epochs": history.epochs, "steps": torch.tensor(history.steps)}}
    if keep:
        extra["keep"] = {k: v.detach().cpu() if isinstance(v, torch.Tensor) else v for k, v in keep.items()}
    save_checkpoint(path, model, config=config, metrics=metrics, extra=extra)
    return model, history


# --------------------------------------------------------------------------- command line


def train_all(retrain: bool = True, notebooks: list[Path] | None = None, timeout: int = 3600) -> dict[str, dict]:
    """Run every course notebook headless, top to bottom, so every model it trains is trained and saved
    (outputs are thrown away; the committed notebooks are not touched). Returns the manifest."""
    import os
    import time

    import nbformat
    from nbclient import NotebookClient

    from .classroom import course_notebooks

    notebooks = notebooks or course_notebooks()
    previous = os.environ.get("VAE_RETRAIN")
    os.environ["VAE_RETRAIN"] = "1" if retrain else "0"  # the kernels inherit it
    try:
        for path in notebooks:
            start = time.perf_counter()
            print(f"{path.name}: running ...", flush=True)
            nb = nbformat.read(path, as_version=4)
            NotebookClient(nb, timeout=timeout, kernel_name="python3",
                           resources={"metadata": {"path": str(path.parent)}}).execute()
            print(f"{path.name}: done in {time.perf_counter() - start:.0f} s", flush=True)
    finally:
        if previous is None:
            os.environ.pop("VAE_RETRAIN", None)
        else:
            os.environ["VAE_RETRAIN"] = previous
    return read_manifest()


def describe_manifest(models: dict[str, dict]) -> str:
    lines = [f"{'checkpoint':<28} {'model':<16} {'parameters':>10} {'epochs':>6} {'test loss':>10}  saved"]
    for file, entry in models.items():
        metrics = entry.get("metrics", {})
        test = metrics.get("test_loss")
        lines.append(f"{file:<28} {entry.get('model_class', '?'):<16} {entry.get('parameters', 0):>10,d} "
                     f"{int(metrics.get('epochs', 0)) or '':>6} {'' if test is None else f'{test:.2f}':>10}  {entry.get('saved', '')}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    import argparse
    import sys


    parser = argparse.ArgumentParser(prog="python -m vae_helpers.zoo", description="The course's trained models.")
    sub = parser.add_subparsers(dest="command", required=True)
    p_all = sub.add_parser("train-all", help="run every notebook headless so that all its models are trained and saved")
    p_all.add_argument("--keep", action="store_true", help="keep checkpoints whose settings match (train only the others)")
    sub.add_parser("list", help="list the saved models, their settings and test figures (manifest.json)")
    args = parser.parse_args(argv)
    try:
        if args.command == "train-all":
            models = train_all(retrain=not args.keep)
            print(f"\n{len(models)} checkpoints in {checkpoint_dir()} (manifest.json lists their settings):")
        else:
            models = read_manifest()
            print(f"{len(models)} checkpoints in {checkpoint_dir()}:")
    except CheckpointError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(describe_manifest(models))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
