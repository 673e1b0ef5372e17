"""Run settings shared by every notebook: fast mode, seeding, threads, device, parameter counts.

Environment variables read here (all optional):

- ``VAE_FAST``        ``1`` for a quick run with small subsets and few epochs (tests use it).
- ``VAE_NUM_THREADS`` number of CPU threads torch may use (default: the CPUs this process may run on).
- ``VAE_DEVICE``      force a device, e.g. ``cpu`` (default: CUDA, then Apple MPS, then CPU).
- ``VAE_SEED``        the seed of every notebook's run instead of the one in its setup cell (to measure
  how much a figure depends on it: ``benchmarks/notebook_spread.py``).
"""

from __future__ import annotations

import os
import random
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from . import checks

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}


def _env_flag(name: str) -> bool:
    value = os.environ.get(name, "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"{name}={value!r} is not understood: use {name}=1 (on) or {name}=0 (off).")


def fast_mode() -> bool:
    """True when ``VAE_FAST=1``: notebooks use small subsets and few epochs."""
    return _env_flag("VAE_FAST")


def repo_root() -> Path | None:
    """The course's checkout (the folder holding ``pyproject.toml``), or None for a non-editable install."""
    root = Path(__file__).resolve().parent.parent
    return root if (root / "pyproject.toml").is_file() and (root / "notebooks").is_dir() else None


def course_path(env_var: str, folder: str) -> Path:
    """``$env_var`` if set (a relative path resolves against the current folder), else ``<course>/<folder>``,
    else (for a non-editable install) ``~/.cache/vae_helpers/<folder>``. Nothing is created."""
    env = os.environ.get(env_var, "").strip()
    if env:
        return Path(env).expanduser().resolve()
    root = repo_root()
    return (root / folder) if root else Path.home() / ".cache" / "vae_helpers" / folder


def display_path(path: str | os.PathLike) -> str:
    """``path`` as a message should show it: relative to the course folder when it is inside or beside it
    (``checkpoints/vae_main.pt``, ``../shared/data``), under ``~`` when it is in the home folder, else whole."""
    path = Path(path).expanduser().resolve()
    root = repo_root()
    if root is not None:
        try:
            relative = Path(os.path.relpath(path, root))
        except ValueError:  # another drive (Windows)
            relative = None
        if relative is not None and relative.parts.count("..") <= 1:
            return relative.as_posix()
    home = Path.home()
    if home in path.parents:
        return "~/" + path.relative_to(home).as_posix()
    return str(path)


def python_command() -> str:
    """How to call this environment's Python from the course folder: ``.venv/bin/python`` for the course's
    own virtual environment, ``python`` when that is this interpreter, else its full path."""
    exe = Path(sys.executable)
    root = repo_root()
    if root is not None:
        try:
            return exe.relative_to(root).as_posix() if sys.platform != "win32" else str(exe.relative_to(root))
        except ValueError:
            pass
    for name in ("python", "python3"):
        found = shutil.which(name)
        if found and os.path.realpath(found) == os.path.realpath(exe):
            return name
    return f'"{exe}"' if " " in str(exe) else str(exe)


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python's ``random``, NumPy and torch (CPU and CUDA) in one call.

    Returns a fresh ``torch.Generator`` seeded with ``seed`` for code that takes one explicitly.
    """
    checks.count("seed", seed, minimum=0)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # also seeds every CUDA device
    return torch.Generator().manual_seed(seed)


@contextmanager
def preserved_random_state() -> Iterator[None]:
    """Run a block with its own random numbers: Python's ``random``, NumPy's and torch's (CPU and every
    CUDA device) are put back as they were when it ends, whatever the block drew or seeded."""
    py_state, np_state = random.getstate(), np.random.get_state()
    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
    try:
        with torch.random.fork_rng(devices=devices):
            yield
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)


def available_cpus() -> int:
    """CPUs this process may run on (respects taskset / container limits where the OS reports them)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def configure_threads(num_threads: int | None = None) -> int:
    """Set how many CPU threads torch uses and return that number.

    Order of precedence: the argument, ``VAE_NUM_THREADS``, then the CPUs available to this process.
    Two processes sharing two cores (say a notebook and a test run) each using every core slow each
    other down, so a teacher running several kernels on one machine can set ``VAE_NUM_THREADS=1``.
    """
    if num_threads is None:
        env = os.environ.get("VAE_NUM_THREADS", "").strip()
        if env:
            if not env.isdigit() or int(env) < 1:
                raise ValueError(f"VAE_NUM_THREADS={env!r} must be a whole number >= 1, e.g. VAE_NUM_THREADS=2.")
            num_threads = int(env)
        else:
            num_threads = min(torch.get_num_threads(), available_cpus())
    checks.count("num_threads", num_threads)
    torch.set_num_threads(num_threads)
    return num_threads


def get_device(verbose: bool = True) -> torch.device:
    """Pick the best device: ``VAE_DEVICE`` if set, else CUDA, then Apple MPS, then CPU.

    With ``verbose`` it prints one line saying what was chosen and why.
    """
    forced = os.environ.get("VAE_DEVICE", "").strip()
    if forced:
        try:
            device = torch.device(forced)
        except RuntimeError as err:
            raise ValueError(f"VAE_DEVICE={forced!r} is not a device name; use cpu, cuda or mps.") from err
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError("VAE_DEVICE asks for cuda but torch sees no CUDA GPU; unset it to use the CPU.")
        if device.type == "mps" and not torch.backends.mps.is_available():
            raise ValueError("VAE_DEVICE asks for mps but this machine has no Apple GPU; unset it to use the CPU.")
        reason = "set by VAE_DEVICE"
    elif torch.cuda.is_available():
        device, reason = torch.device("cuda"), f"CUDA GPU: {torch.cuda.get_device_name(0)}"
    elif torch.backends.mps.is_available():
        device, reason = torch.device("mps"), "Apple GPU (MPS)"
    else:
        device, reason = torch.device("cpu"), "no GPU found; everything in this course runs fine on a CPU"
    if verbose:
        print(f"Device: {device} ({reason})")
    return device


def count_parameters(model: torch.nn.Module, trainable_only: bool = True) -> int:
    """Number of (trainable) scalar parameters in ``model`` (notebook 01 on)."""
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}.")
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


@dataclass(frozen=True)
class RunConfig:
    """What :func:`setup` decided for this notebook run."""

    fast: bool  # VAE_FAST=1: small subsets, few epochs
    device: torch.device  # where models and batches live
    num_threads: int  # torch CPU threads
    seed: int  # global seed used for this run
    retrain: bool = False  # train every model here even when a checkpoint with the same settings exists
    retrain_reason: str = ""  # what turned retraining on: "RETRAIN = True" or "VAE_RETRAIN=1"

    def __fingerprint__(self) -> dict:
        """What of these settings a trained model depends on (``fingerprint``): the mode, not the
        device or the number of threads, so a model trained on one machine is reused on another."""
        return {"fast": self.fast}


def setup(seed: int = 0, verbose: bool = True, retrain: bool | None = None) -> RunConfig:
    """The setup cell at the top of every notebook (after the Colab install cell): read fast mode, set
    threads, seed everything, choose a device.

    ``retrain`` (or ``VAE_RETRAIN=1``): train every model in the notebook even when a saved one with the
    same settings exists (see ``zoo.trained``). Notebooks that save models pass their ``RETRAIN`` flag,
    and the setup cell then says what happens to saved models; the others leave it out.
    Introduced in notebook 00."""
    checks.count("seed", seed, minimum=0)
    env_seed = os.environ.get("VAE_SEED", "").strip()
    if env_seed:
        if not env_seed.isdigit():
            raise ValueError(f"VAE_SEED={env_seed!r} must be a whole number >= 0, e.g. VAE_SEED=1.")
        seed = int(env_seed)
    fast = fast_mode()
    reason = "RETRAIN = True" if retrain else ("VAE_RETRAIN=1" if _env_flag("VAE_RETRAIN") else "")
    threads = configure_threads()
    seed_everything(seed)
    device = get_device(verbose=verbose)
    if verbose:
        mode = "ON (VAE_FAST=1: small subsets, few epochs)" if fast else "off (full course settings)"
        print(f"Fast mode: {mode}; CPU threads: {threads}; seed: {seed}" + (" (VAE_SEED)" if env_seed else ""))
        if retrain is not None:
            print(
                "Saved models: "
                + (
                    f"ignored ({reason}): every model is trained here"
                    if reason
                    else "loaded when their settings match (set RETRAIN = True to train them here)"
                )
            )
    return RunConfig(
        fast=fast, device=device, num_threads=threads, seed=seed, retrain=bool(reason), retrain_reason=reason
    )


def layer_table(
    model: torch.nn.Module, example: torch.Tensor, verbose: bool = True
) -> list[tuple[str, str, tuple, int]]:
    """Run ``example`` through ``model`` and list every leaf layer: (name, layer, output shape, parameters).

    With ``verbose`` it prints the list as a table: a text diagram of how the sizes change.
    Introduced in notebook 03.
    """
    rows: list[tuple[str, str, tuple, int]] = []
    hooks = []
    for name, module in model.named_modules():
        if len(list(module.children())) == 0:

            def hook(mod, inputs, output, name=name):
                rows.append(
                    (name, mod.__class__.__name__, tuple(output.shape), sum(p.numel() for p in mod.parameters()))
                )

            hooks.append(module.register_forward_hook(hook))
    try:
        with torch.no_grad():
            model(example)
    except (TypeError, ValueError) as err:
        raise ValueError(f"example does not fit the model: {err}") from None
    finally:
        for h in hooks:
            h.remove()
    if verbose:
        print(f"{'layer':<22} {'type':<16} {'output shape':<20} {'parameters':>10}")
        print(f"{'(input)':<22} {'':<16} {tuple(example.shape)!s:<20} {'':>10}")
        for name, kind, shape, n in rows:
            print(f"{name:<22} {kind:<16} {shape!s:<20} {n:>10,d}")
        print(f"{'total':<60} {sum(r[3] for r in rows):>10,d}")
    return rows
