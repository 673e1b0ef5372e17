"""Save and load trained models safely.

A checkpoint is a plain dict (tensors, numbers, strings) written with ``torch.save`` and read back
with ``torch.load(..., weights_only=True)``, which refuses to run arbitrary pickled code.
Files are written to a temporary name and renamed into place, so an interrupted save never leaves
a half-written checkpoint behind.

``VAE_CHECKPOINT_DIR`` sets where notebooks keep their trained models (default: ``checkpoints/`` in
the course folder).
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, Iterator

import torch

from .utils import course_path

FORMAT_VERSION = 1


class CheckpointError(RuntimeError):
    """A checkpoint file is missing, unreadable or not one of ours."""


class CheckpointMismatchError(CheckpointError):
    """A checkpoint was saved from a model with a different architecture or settings."""


def checkpoint_dir() -> Path:
    """Folder for trained models: ``VAE_CHECKPOINT_DIR`` or ``<course>/checkpoints`` (not created here)."""
    return course_path("VAE_CHECKPOINT_DIR", "checkpoints")


@contextmanager
def _replaced_atomically(path: Path, mode: str) -> Iterator[IO]:
    """A temporary file beside ``path`` to write; renamed into place when the block ends, deleted when
    anything goes wrong (Ctrl-C included), so ``path`` is the old file or the whole new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode) as f:
            yield f
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_torch_save(obj: Any, path: str | os.PathLike) -> Path:
    """``torch.save`` to a temporary file beside ``path``, then rename it into place."""
    path = Path(path)
    with _replaced_atomically(path, "wb") as f:
        torch.save(obj, f)
    return path


MANIFEST = "manifest.json"


def save_checkpoint(
    path: str | os.PathLike,
    model: torch.nn.Module,
    config: dict[str, Any] | None = None,
    metrics: dict[str, float] | None = None,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Save ``model``'s weights with the ``config`` that built it and optional ``metrics``, and record it
    in the folder's ``manifest.json``.

    ``config`` should hold plain values (numbers, strings, lists) such as ``latent_dim``; ``extra`` holds
    anything else to keep with the model (tensors, lists, dicts of them), e.g. its training history.
    """
    payload = {
        "format_version": FORMAT_VERSION,
        "model_class": type(model).__name__,
        "config": dict(config or {}),
        "metrics": {k: float(v) for k, v in (metrics or {}).items()},
        "torch_version": str(torch.__version__),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        **({"extra": extra} if extra else {}),
    }
    path = atomic_torch_save(payload, path)
    update_manifest(path, payload, parameters=sum(p.numel() for p in model.parameters()))
    return path


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file renamed into place."""
    with _replaced_atomically(path, "w") as f:
        f.write(text)


def read_manifest(folder: str | os.PathLike | None = None) -> dict[str, dict[str, Any]]:
    """``{file name: entry}`` from ``manifest.json`` in ``folder`` (default: the checkpoint folder); each
    entry holds the model's class, size, settings (``config``), measured figures (``metrics``), torch
    version and save time. Empty when there is no manifest yet; a damaged one is reported."""
    path = Path(folder or checkpoint_dir()) / MANIFEST
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text())["models"]
    except (ValueError, KeyError, TypeError) as err:
        raise CheckpointError(f"{path} is damaged ({err}); delete it: it is rebuilt as models are saved.") from err


def update_manifest(path: Path, payload: dict[str, Any], parameters: int) -> None:
    """Record checkpoint ``path`` in its folder's manifest (read, change one entry, write atomically)."""
    try:
        models = read_manifest(path.parent)
    except CheckpointError:
        models = {}  # a damaged manifest is rebuilt from here on
    models[path.name] = {
        "model_class": payload["model_class"],
        "parameters": parameters,
        "config": payload["config"],
        "metrics": payload["metrics"],
        "torch_version": payload["torch_version"],
        "saved": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    text = json.dumps({"format_version": FORMAT_VERSION, "models": dict(sorted(models.items()))}, indent=1, default=str)
    atomic_write_text(path.parent / MANIFEST, text + "\n")


def _shape(t: torch.Size) -> str:
    return "(" + ", ".join(str(d) for d in t) + ")"


def describe_mismatch(model_state: dict[str, torch.Tensor], file_state: dict[str, torch.Tensor]) -> list[str]:
    """Plain-words differences between two state dicts (empty when they fit)."""
    problems = []
    missing = [k for k in model_state if k not in file_state]
    unexpected = [k for k in file_state if k not in model_state]
    if missing:
        problems.append(f"the model has layers the file lacks: {', '.join(missing)}")
    if unexpected:
        problems.append(f"the file has layers the model lacks: {', '.join(unexpected)}")
    for key, tensor in model_state.items():
        if key in file_state and tuple(file_state[key].shape) != tuple(tensor.shape):
            problems.append(
                f"'{key}' is {_shape(file_state[key].shape)} in the file but {_shape(tensor.shape)} in the model"
            )
    return problems


def load_checkpoint(
    path: str | os.PathLike,
    model: torch.nn.Module,
    config: dict[str, Any] | None = None,
    map_location: str | torch.device = "cpu",
) -> dict[str, Any]:
    """Load weights from ``path`` into ``model`` and return the checkpoint's dict (config, metrics, ...).

    Raises :class:`CheckpointMismatchError` (in plain words) when the file was saved from a model of
    another shape or, if ``config`` is given, with other settings; :class:`CheckpointError` when the
    file is missing or unreadable. The model is left untouched when loading fails.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"No checkpoint at {path}. Train the model first (the notebook does this when the file is missing).")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # truncated file, wrong format, pickled code...
        raise CheckpointError(
            f"Could not read checkpoint {path}: {type(err).__name__}: {err}. "
            "The file is damaged or not a checkpoint of this course; delete it and retrain."
        ) from err
    if not isinstance(payload, dict) or "state_dict" not in payload:
        raise CheckpointError(f"{path} is not a checkpoint of this course (no 'state_dict' inside); delete it and retrain.")

    if config is not None:
        saved = payload.get("config", {})
        diffs = [
            f"{key}={saved.get(key, '<missing>')!r} in the file but {value!r} now"
            for key, value in config.items()
            if saved.get(key, "<missing>") != value
        ]
        if diffs:
            raise CheckpointMismatchError(
                f"Checkpoint {path} was trained with other settings: " + "; ".join(diffs) + ". "
                "Retrain, or delete the file so it is retrained."
            )

    problems = describe_mismatch(model.state_dict(), payload["state_dict"])
    if problems:
        saved_class = payload.get("model_class", "?")
        raise CheckpointMismatchError(
            f"Checkpoint {path} does not fit this {type(model).__name__} (it was saved from a {saved_class}): "
            + "; ".join(problems)
            + ". It was probably trained with other sizes (latent_dim, hidden_dims...). "
            "Build the model with the sizes it was saved with, or delete the file and retrain."
        )
    model.load_state_dict(payload["state_dict"])
    return payload
