"""Save and load trained models safely, also in a checkpoint folder that a whole class shares.

A checkpoint is a plain dict (tensors, numbers, strings) written with ``torch.save`` and read back
with ``torch.load(..., weights_only=True)``, which refuses to run arbitrary pickled code. Files are
written to a temporary name and renamed into place, so an interrupted save never leaves a
half-written checkpoint behind, and they get the user's usual permissions, so classmates can read them.

Each folder has a ``manifest.json``: for every checkpoint, its model class, size, settings and
measured figures. Saves from several processes at once take turns through a lock file, so no entry
is lost; a manifest that is damaged or of the wrong shape is reported in one line and rebuilt from
the checkpoint files themselves.

``VAE_CHECKPOINT_DIR`` sets where notebooks keep their trained models (default: ``checkpoints/`` in
the course folder).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

import torch
from filelock import FileLock, Timeout

from .files import atomic_write_text, replaced_atomically, usual_mode
from .utils import course_path

FORMAT_VERSION = 2
MANIFEST = "manifest.json"
LOCK_SECONDS = 60  # how long a save waits for another process's save to finish with the manifest


class CheckpointError(RuntimeError):
    """A checkpoint file is missing, unreadable or not one of ours."""


class CheckpointMismatchError(CheckpointError):
    """A checkpoint was saved from a model with a different architecture or settings."""


def checkpoint_dir() -> Path:
    """Folder for trained models: ``VAE_CHECKPOINT_DIR`` or ``<course>/checkpoints`` (not created here)."""
    return course_path("VAE_CHECKPOINT_DIR", "checkpoints")


def atomic_torch_save(obj: Any, path: str | os.PathLike) -> Path:
    """``torch.save`` to a temporary file beside ``path``, then rename it into place."""
    path = Path(path)
    with replaced_atomically(path, "wb") as f:
        torch.save(obj, f)
    return path


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
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}.")
    for name, value in (("config", config), ("metrics", metrics), ("extra", extra)):
        if value is not None and not isinstance(value, dict):
            raise TypeError(f"{name} must be a dict or None, got {type(value).__name__}: {value!r}.")
    payload = {
        "format_version": FORMAT_VERSION,
        "model_class": type(model).__name__,
        "config": dict(config or {}),
        "metrics": {k: float(v) for k, v in (metrics or {}).items()},
        "torch_version": str(torch.__version__),
        "saved": time.strftime("%Y-%m-%d %H:%M:%S"),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        **({"extra": extra} if extra else {}),
    }
    path = atomic_torch_save(payload, path)
    update_manifest(path, manifest_entry(payload))
    return path


def manifest_entry(payload: dict[str, Any]) -> dict[str, Any]:
    """What the manifest records of one checkpoint (everything but the tensors)."""
    return {
        "model_class": payload.get("model_class", "?"),
        "parameters": int(sum(t.numel() for t in payload["state_dict"].values())),
        "config": payload.get("config", {}),
        "metrics": payload.get("metrics", {}),
        "torch_version": payload.get("torch_version", "?"),
        "saved": payload.get("saved", "?"),
    }


# --------------------------------------------------------------------------- the manifest


def _manifest_problem(data: Any) -> str | None:
    """Why ``data`` (parsed JSON) is not a manifest, or None when it is one."""
    if not isinstance(data, dict) or not isinstance(data.get("models"), dict):
        return "it holds no 'models' table"
    for name, entry in data["models"].items():
        if (
            not isinstance(entry, dict)
            or not isinstance(entry.get("config"), dict)
            or not isinstance(entry.get("metrics"), dict)
        ):
            return f"its entry for {name!r} is not a checkpoint's description"
        if not all(isinstance(v, (int, float)) for v in entry["metrics"].values()):
            return f"its entry for {name!r} has metrics that are not numbers"
    return None


def rebuild_manifest(folder: str | os.PathLike) -> dict[str, dict[str, Any]]:
    """The manifest's entries, read again from the ``.pt`` files in ``folder`` (unreadable ones are left out)."""
    models = {}
    for path in sorted(Path(folder).glob("*.pt")):
        try:
            models[path.name] = manifest_entry(read_checkpoint(path))
        except CheckpointError:
            continue
    return models


def read_manifest(folder: str | os.PathLike | None = None) -> dict[str, dict[str, Any]]:
    """``{file name: entry}`` from ``manifest.json`` in ``folder`` (default: the checkpoint folder); each
    entry holds the model's class, size, settings (``config``), measured figures (``metrics``), torch
    version and save time. Empty when there is no manifest. One that is damaged or of the wrong shape
    is reported in one line and rebuilt from the checkpoint files (and written back where possible)."""
    folder = Path(folder or checkpoint_dir())
    path = folder / MANIFEST
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text())
        problem = _manifest_problem(data)
    except (ValueError, OSError, UnicodeDecodeError) as err:
        problem = f"it cannot be read ({type(err).__name__})"
    if problem is None:
        return data["models"]
    models = rebuild_manifest(folder)
    print(
        f"{path} was not a manifest of this course ({problem}); rebuilt it from the {len(models)} "
        "checkpoint files there.",
        file=sys.stderr,
    )
    with contextlib.suppress(OSError):  # a read-only folder: the rebuilt table is still returned
        _write_manifest(folder, models)
    return models


def _write_manifest(folder: Path, models: dict[str, dict[str, Any]]) -> None:
    text = json.dumps({"format_version": FORMAT_VERSION, "models": dict(sorted(models.items()))}, indent=1, default=str)
    atomic_write_text(folder / MANIFEST, text + "\n")


def update_manifest(path: Path, entry: dict[str, Any]) -> None:
    """Record checkpoint ``path`` in its folder's manifest. Other processes saving into the same folder
    wait for the lock, so each one reads the table the last one wrote and no entry is lost."""
    folder = path.parent
    lock = FileLock(str(folder / ".manifest-lock"), timeout=LOCK_SECONDS, mode=usual_mode())
    try:
        with lock:
            models = read_manifest(folder)
            models[path.name] = entry
            _write_manifest(folder, models)
    except Timeout:
        print(
            f"The manifest in {folder} stayed locked for {LOCK_SECONDS} s (another save?), so {path.name} is not "
            "listed there yet; the checkpoint itself is saved. `python -m vae_helpers.zoo list` lists it again.",
            file=sys.stderr,
        )


# --------------------------------------------------------------------------- loading


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


def read_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """The checkpoint's dict, checked to be one of ours with finite weights and metrics; a missing,
    unreadable, foreign or damaged file raises :class:`CheckpointError` saying so."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(
            f"No checkpoint at {path}. Train the model first (the notebook does this when the file is missing)."
        )
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # truncated file, wrong format, pickled code, no permission...
        raise CheckpointError(
            f"Could not read checkpoint {path}: {type(err).__name__}: {err}. "
            "The file is damaged or not a checkpoint of this course; delete it and retrain."
        ) from err
    if not isinstance(payload, dict) or not isinstance(payload.get("state_dict"), dict):
        raise CheckpointError(
            f"{path} is not a checkpoint of this course (no 'state_dict' inside); delete it and retrain."
        )
    bad = [
        k
        for k, v in payload["state_dict"].items()
        if not isinstance(v, torch.Tensor) or (v.is_floating_point() and not bool(torch.isfinite(v).all()))
    ]
    metrics = payload.get("metrics", {})
    bad += [
        k
        for k, v in (metrics.items() if isinstance(metrics, dict) else [])
        if not isinstance(v, (int, float)) or not math.isfinite(v)
    ]
    if bad:
        raise CheckpointError(
            f"{path} is damaged: {', '.join(bad[:4])} {'is' if len(bad) == 1 else 'are'} not finite "
            "(NaN or infinite); delete it and retrain."
        )
    return payload


def load_checkpoint(
    path: str | os.PathLike,
    model: torch.nn.Module,
    config: dict[str, Any] | None = None,
    map_location: str | torch.device = "cpu",
) -> dict[str, Any]:
    """Load weights from ``path`` into ``model`` and return the checkpoint's dict (config, metrics, ...).

    Raises :class:`CheckpointMismatchError` (in plain words) when the file was saved from a model of
    another shape or, if ``config`` is given, with other settings; :class:`CheckpointError` when the
    file is missing, unreadable or damaged. The model is left untouched when loading fails.
    """
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module to load the weights into, got {type(model).__name__}.")
    payload = read_checkpoint(path, map_location)
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
