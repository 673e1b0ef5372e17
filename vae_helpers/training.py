"""One training loop for every model of the course (notebook 03 on), and the test-set pass that goes with it.

The notebooks write their first loops by hand; once the learner has seen forward, loss, backward and
step, they call :func:`fit`, which adds what a hand loop lacks: a progress bar, per-epoch train and
test metrics, a clean stop on Ctrl-C (or Jupyter's interrupt button) and on a NaN loss.

A *loss function* takes ``(model, batch)`` and returns ``(loss, metrics)``: ``loss`` a scalar tensor
(the mean over the batch), ``metrics`` a dict of per-example means to log, e.g. ``losses.vae_loss``.
"""

from __future__ import annotations

import contextlib
import math
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from . import checks

LossFn = Callable[[nn.Module, Any], "tuple[torch.Tensor, dict[str, Any]]"]


@dataclass
class History:
    """What :func:`fit` measured: one dict per epoch, plus the training loss of every step.

    Every epoch has the same metrics, so ``history["test_loss"]`` is as long as ``history["train_loss"]``;
    a figure that could not be measured (an epoch stopped before its first batch, a test pass
    interrupted) is NaN.
    """

    # one dict per epoch: {"epoch", "train_loss", "test_loss", ..., "train_seconds", "seconds" (with evaluation)}
    epochs: list[dict[str, float]] = field(default_factory=list)
    steps: list[float] = field(default_factory=list)  # training loss of each optimizer step
    interrupted: bool = False  # True when Ctrl-C (or Jupyter's stop button) stopped training early
    stopped: str = ""  # where it stopped, in words, when interrupted
    loaded: bool = False  # True when it came with a saved model (zoo.trained) instead of from training here

    def __getitem__(self, key: str) -> list[float]:
        """``history["test_loss"]``: that metric's value for each epoch."""
        if not isinstance(key, str):
            raise TypeError(f"Index a History by a metric name such as 'test_loss', got {key!r}.")
        if self.epochs and key not in self.epochs[-1]:
            raise KeyError(f"No metric {key!r}; this history has {sorted(self.epochs[-1])}.")
        return [e.get(key, math.nan) for e in self.epochs]

    def __len__(self) -> int:
        return len(self.epochs)

    def last(self, key: str) -> float:
        """The metric's value after the last epoch."""
        values = self[key]
        if not values:
            raise KeyError(f"No metric {key!r} yet: training stopped before its first epoch was recorded.")
        return values[-1]

    def fill_missing(self) -> None:
        """Give every epoch every metric any epoch has (NaN where it was not measured)."""
        keys = [k for e in self.epochs for k in e]
        keys = list(dict.fromkeys(keys))
        for e in self.epochs:
            for k in keys:
                e.setdefault(k, math.nan)


class TrainingDiverged(FloatingPointError):
    """The loss became NaN or infinite. ``.history`` holds what was measured before that."""

    def __init__(self, message: str, history: History):
        super().__init__(message)
        self.history = history


def _batch_size(batch: Any) -> int:
    first = batch[0] if isinstance(batch, (tuple, list)) else batch
    if not isinstance(first, torch.Tensor) or first.ndim == 0:
        raise TypeError(
            f"A batch must be a tensor, or a tuple whose first item is a tensor with one row per example "
            f"(e.g. (x, y)); got {type(batch).__name__}."
        )
    return int(first.shape[0])


def _check_loss(out: Any) -> tuple[torch.Tensor, dict[str, Any]]:
    if not (isinstance(out, tuple) and len(out) == 2 and isinstance(out[0], torch.Tensor) and isinstance(out[1], dict)):
        raise TypeError(
            "loss_fn(model, batch) must return (loss, metrics): a scalar tensor and a dict, e.g. (loss, {'kl': kl})."
        )
    if out[0].dim() != 0:
        raise ValueError(
            f"loss_fn must return a scalar loss (the mean over the batch), got shape {tuple(out[0].shape)}."
        )
    return out


def _check_data(name: str, data: Any, passes: int) -> None:
    """``data`` must be iterable, non-empty, and re-iterable when it is needed more than once."""
    if data is None or isinstance(data, (torch.Tensor, str, bytes)) or not hasattr(data, "__iter__"):
        raise TypeError(
            f"{name} must be re-iterable batches, e.g. split.batches(128) or a list of (x, y) tuples; "
            f"got {type(data).__name__}."
        )
    if passes > 1 and iter(data) is data:
        raise TypeError(
            f"{name} is a one-pass iterator ({type(data).__name__}, e.g. a generator), but training needs "
            f"it {passes} times. Pass something that can be iterated again: split.batches(...), a list, "
            "or a DataLoader."
        )
    if hasattr(data, "__len__") and len(data) == 0:
        raise ValueError(f"{name} is empty: it holds no batches.")


def evaluate(model: nn.Module, data: Iterable, loss_fn: LossFn, max_batches: int | None = None) -> dict[str, float]:
    """Per-example mean of the loss and metrics over ``data``, without gradients.

    The model is put in eval mode and then back in whatever mode it was in before.
    Introduced in notebook 05.
    """
    checks.function("loss_fn", loss_fn)
    _check_data("data", data, passes=1)
    if max_batches is not None:
        checks.count("max_batches", max_batches)
    was_training = model.training
    model.eval()
    totals: dict[str, float] = {}
    count = 0
    try:
        with torch.no_grad():
            for b, batch in enumerate(data):
                if max_batches is not None and b >= max_batches:
                    break
                loss, metrics = _check_loss(loss_fn(model, batch))
                n = _batch_size(batch)
                for key, value in (("loss", loss), *metrics.items()):
                    totals[key] = totals.get(key, 0.0) + float(value) * n
                count += n
    finally:
        model.train(was_training)
    if count == 0:
        raise ValueError("evaluate() got no batches.")
    return {key: total / count for key, total in totals.items()}


def encode_split(model: nn.Module, split: Any, batch_size: int = 1000) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The codes of every image of a ``data.Split``, in order, on the model's device (notebooks 03-05):
    ``(mu, logvar)`` each ``(N, latent_dim)`` for a VAE, ``(codes, None)`` for an autoencoder (whose
    ``encode`` returns one tensor). No gradients; the model's mode is restored afterwards."""
    checks.count("batch_size", batch_size)
    if not callable(getattr(model, "encode", None)):
        raise TypeError(f"model must have an encode method (an autoencoder or a VAE), got {type(model).__name__}.")
    if not callable(getattr(split, "batches", None)):
        raise TypeError(f"split must be a data.Split such as mnist.test, got {type(split).__name__}.")
    param = next(model.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    was_training = model.training
    model.eval()
    codes, logvars = [], []
    try:
        with torch.no_grad():
            for x, _ in split.batches(batch_size, shuffle=False):
                out = model.encode(x.to(device))
                if isinstance(out, tuple):  # a VAE: (mu, logvar)
                    codes.append(out[0])
                    logvars.append(out[1])
                else:
                    codes.append(out)
    finally:
        model.train(was_training)
    return torch.cat(codes), (torch.cat(logvars) if logvars else None)


@contextlib.contextmanager
def _stop_on_interrupt() -> Iterator[dict[str, bool]]:
    """While active, the first Ctrl-C only raises a flag (checked after each batch); a second one stops at once."""
    state = {"stop": False}
    if threading.current_thread() is not threading.main_thread():  # signals can only be handled there
        yield state
        return
    previous = signal.getsignal(signal.SIGINT)

    def handler(signum, frame):
        if state["stop"]:
            raise KeyboardInterrupt
        state["stop"] = True

    signal.signal(signal.SIGINT, handler)
    try:
        yield state
    finally:
        signal.signal(signal.SIGINT, previous)


def _weights_finite(model: nn.Module) -> bool:
    return all(bool(torch.isfinite(p).all()) for p in model.parameters())


_CAUSES = (
    "Usual causes: a learning rate that is too high (try 10x lower), inputs outside [0, 1] for a "
    "cross-entropy loss, or log/exp of an unbounded value."
)


class _Epoch:
    """The running sums of one epoch, so that an interrupt at any moment still gives a full record."""

    def __init__(self, epoch: int) -> None:
        self.epoch, self.start = epoch, time.perf_counter()
        self.totals: dict[str, float] = {}
        self.count = self.batches = 0
        self.train_seconds: float | None = None
        self.phase = "train"  # then "test", then "callback"
        self.recorded = False

    def add(self, loss_value: float, metrics: dict[str, Any], n: int) -> None:
        for key, value in (("loss", loss_value), *metrics.items()):
            self.totals[key] = self.totals.get(key, 0.0) + float(value) * n
        self.count += n
        self.batches += 1

    def record(self) -> dict[str, float]:
        if self.train_seconds is None:
            self.train_seconds = time.perf_counter() - self.start
        record: dict[str, float] = {"epoch": self.epoch}
        if self.count:
            record.update({f"train_{k}": v / self.count for k, v in self.totals.items()})
        else:
            record["train_loss"] = math.nan
        record["train_seconds"] = self.train_seconds
        return record


def fit(
    model: nn.Module,
    train_data: Iterable,
    optimizer: torch.optim.Optimizer,
    loss_fn: LossFn,
    num_epochs: int,
    test_data: Iterable | None = None,
    progress: bool = True,
    verbose: bool = True,
    on_epoch_end: Callable[[int, History], None] | None = None,
) -> History:
    """Train ``model`` for ``num_epochs`` passes over ``train_data`` and return the :class:`History`.

    Args:
        train_data: re-iterable batches, e.g. ``split.batches(128, seed=0)``; model and batches share a device.
        loss_fn: ``(model, batch) -> (loss, metrics)``, see the module docstring.
        test_data: evaluated after every epoch with :func:`evaluate` (metrics named ``test_*``).
        progress: show a tqdm bar (a widget in Jupyter, text elsewhere).
        verbose: print one summary line per epoch.
        on_epoch_end: called as ``on_epoch_end(epoch, history)`` after each epoch, e.g. to keep snapshots.

    Ctrl-C (or Jupyter's stop button), wherever it comes, ends training after the current batch and
    returns the model with its weights as they are and the history so far, marked ``interrupted``: the
    stopped epoch has its training figures over the batches done and test figures for the model as it
    stands (pressing stop again skips that test pass). A NaN or infinite loss stops before the bad step
    is applied, and NaN or infinite weights or test figures after an epoch stop training too; both raise
    :class:`TrainingDiverged`, which carries the history.
    Introduced in notebook 03.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}.")
    checks.count("num_epochs", num_epochs)
    _check_data("train_data", train_data, passes=num_epochs)
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(
            f"optimizer must be a torch.optim.Optimizer, e.g. torch.optim.Adam(model.parameters(), lr=1e-3); "
            f"got {type(optimizer).__name__}."
        )
    checks.function("loss_fn", loss_fn)
    if test_data is not None:
        _check_data("test_data", test_data, passes=num_epochs)
    checks.function("on_epoch_end", on_epoch_end, optional=True)

    history = History()
    try:
        total_steps = num_epochs * len(train_data)  # type: ignore[arg-type]
    except TypeError:
        total_steps = None
    bar = tqdm(total=total_steps, desc="training", unit="batch", disable=not progress, leave=True, dynamic_ncols=True)
    model.train()
    current: _Epoch | None = None
    try:
        with _stop_on_interrupt() as interrupt, bar:
            for epoch in range(1, num_epochs + 1):
                if interrupt["stop"]:
                    break
                current = _Epoch(epoch)
                for b, batch in enumerate(train_data):
                    loss, metrics = _check_loss(loss_fn(model, batch))
                    loss_value = loss.item()
                    if not math.isfinite(loss_value):
                        done = ", ".join(f"{k} {v / max(current.count, 1):.4g}" for k, v in current.totals.items())
                        state = (
                            "still finite, from the last good step"
                            if _weights_finite(model)
                            else "already NaN/inf: rebuild the model before training again"
                        )
                        raise TrainingDiverged(
                            f"The loss became {loss_value} at epoch {epoch}, batch {b + 1}; training stopped before "
                            f"applying that step (the weights are {state}). "
                            f"Running averages this epoch: {done or 'none yet'}. " + _CAUSES,
                            history,
                        )
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    optimizer.step()
                    current.add(loss_value, metrics, _batch_size(batch))
                    history.steps.append(loss_value)
                    bar.update(1)
                    if b % 20 == 0:
                        bar.set_postfix(epoch=epoch, loss=f"{loss_value:.4g}", refresh=False)
                    if interrupt["stop"]:
                        break
                if interrupt["stop"]:
                    break
                if current.batches == 0:
                    raise ValueError(
                        f"train_data gave no batches in epoch {epoch}"
                        + (" (a one-pass iterator, already used up?)." if epoch > 1 else ".")
                    )
                record = current.record()
                current.phase = "test"
                if test_data is not None:
                    record.update({f"test_{k}": v for k, v in evaluate(model, test_data, loss_fn).items()})
                record["seconds"] = time.perf_counter() - current.start
                history.epochs.append(record)
                current.recorded = True
                _check_finite(model, record, epoch, history)
                if verbose:
                    shown = "  ".join(
                        f"{k} {v:.4g}" for k, v in record.items() if not k.endswith("seconds") and k != "epoch"
                    )
                    tqdm.write(f"epoch {epoch}/{num_epochs}  {shown}  ({record['seconds']:.1f} s)")
                current.phase = "callback"
                if on_epoch_end is not None:
                    on_epoch_end(epoch, history)
            stopped = interrupt["stop"]
    except KeyboardInterrupt:  # a second Ctrl-C, or one outside the main thread
        stopped = True
    if stopped:
        _close_interrupted(model, history, current, test_data, loss_fn, num_epochs, total_steps)
    history.fill_missing()
    return history


def _check_finite(model: nn.Module, record: dict[str, float], epoch: int, history: History) -> None:
    bad = [k for k, v in record.items() if isinstance(v, float) and not math.isfinite(v)]
    if bad or not _weights_finite(model):
        what = f"the test figures {', '.join(bad)} are" if bad else "some weights are"
        raise TrainingDiverged(
            f"Training diverged in epoch {epoch}: {what} NaN or infinite after its last step, so the "
            f"model is broken and nothing further is done with it. {_CAUSES} Rebuild the model and "
            "train again.",
            history,
        )


def _close_interrupted(
    model, history: History, current: _Epoch | None, test_data, loss_fn, num_epochs: int, total_steps: int | None
) -> None:
    """Record the epoch that an interrupt cut short, and say where training stopped."""
    history.interrupted = True
    if current is None:
        history.stopped = "before the first batch"
    elif current.recorded:
        history.stopped = f"after epoch {current.epoch} of {num_epochs}"
    else:
        record = current.record()
        per_epoch = f" of {total_steps // num_epochs}" if total_steps else ""
        history.stopped = (
            f"during epoch {current.epoch} of {num_epochs}, after {current.batches}{per_epoch} batches"
            if current.phase == "train"
            else f"during the test pass of epoch {current.epoch}"
        )
        if test_data is not None:
            try:
                if current.phase == "train":
                    record.update({f"test_{k}": v for k, v in evaluate(model, test_data, loss_fn).items()})
            except KeyboardInterrupt:
                pass  # stop pressed again
            for key in [k for k in record if k.startswith("train_") and k != "train_seconds"]:
                record.setdefault("test_" + key[len("train_") :], math.nan)  # not measured: NaN
        record["seconds"] = time.perf_counter() - current.start
        history.epochs.append(record)
    model.train()
    tqdm.write(
        f"Training stopped {history.stopped}. The model keeps the weights it has now and can be used or "
        "trained further; the history has every epoch up to here (a stopped epoch: training figures over the "
        "batches done, test figures for the model as it stands)."
    )
