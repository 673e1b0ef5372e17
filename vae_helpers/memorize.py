"""Training decoders to memorize images (notebooks 01 and 02).

:func:`train_codebook` is the hand-written loop of notebook 01 (forward, MSE, backward, Adam step),
promoted here so notebook 02 can run it for many models; notebook 02 checks that both agree.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from . import checks
from .models import CodebookDecoder
from .training import History, TrainingDiverged
from .utils import RunConfig
from .zoo import trained


def pixel_mse(model: CodebookDecoder, images: torch.Tensor) -> float:
    """Mean squared error per pixel (``F.mse_loss``) between every stored image ``(N, 1, H, W)`` and its decoding (notebook 01 on)."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            index = torch.arange(len(images), device=images.device)
            return F.mse_loss(torch.sigmoid(model(index)), images).item()
    finally:
        model.train(was_training)


def train_codebook(
    model: CodebookDecoder,
    images: torch.Tensor,
    num_steps: int,
    lr: float = 3e-3,
    batch_size: int = 64,
    seed: int = 0,
) -> list[float]:
    """Train ``model`` so that ``sigmoid(model(i))`` reproduces ``images[i]``; returns the loss of every step.

    Each step uses all images when there are at most ``batch_size``, else a random batch of indices
    drawn from a generator seeded with ``seed`` (so a run repeats exactly).
    Introduced in notebook 02.
    """
    if not isinstance(model, CodebookDecoder):
        raise TypeError(f"model must be a CodebookDecoder, got {type(model).__name__}.")
    checks.tensor("images", images, ndim=4, floating=True)
    if len(images) != model.config["num_images"]:
        raise ValueError(
            f"images holds {len(images)} images but the model stores {model.config['num_images']}: "
            "give it exactly the images it memorizes."
        )
    checks.count("num_steps", num_steps)
    checks.number("lr", lr, above=0)
    checks.count("batch_size", batch_size)
    checks.count("seed", seed, minimum=0)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(seed)
    n = len(images)
    model.train()
    losses = []
    for _ in range(num_steps):
        index = torch.arange(n) if n <= batch_size else torch.randint(n, (batch_size,), generator=generator)
        index = index.to(images.device)
        x_hat = torch.sigmoid(model(index))  # (B, 1, H, W) in [0, 1]
        loss = F.mse_loss(x_hat, images[index])
        if not torch.isfinite(loss):
            raise TrainingDiverged(
                f"The loss became {loss.item()} at step {len(losses) + 1}; training stopped before "
                "that step. Usual causes: a learning rate that is too high (try 10x lower), or "
                "images outside [0, 1].",
                History(steps=list(losses)),
            )
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def capacity_sweep(
    images: torch.Tensor,
    sizes: Sequence[int],
    codes: Sequence[str] = ("onehot", "learned", "random"),
    code_dim: int = 8,
    channels: Sequence[int] = (32, 16),
    num_steps: int = 600,
    lr: float = 3e-3,
    batch_size: int = 64,
    seed: int = 0,
    progress: bool = True,
    cfg: RunConfig | None = None,
) -> list[dict]:
    """Memorize the first ``N`` of ``images`` for each ``N`` in ``sizes`` and each kind of code.

    Returns one row per model: ``{"N", "code", "params", "input_params", "mse", "model", "loaded"}`` where
    ``mse`` is :func:`pixel_mse` and ``input_params`` counts the code table (if trained) plus the decoder's first layer. Ctrl-C (or the
    stop button) ends the sweep after the current model and returns the rows done so far.

    With the notebook's ``cfg`` (from ``setup()``), each model goes through ``zoo.trained``: saved after
    training and loaded on the next run when nothing it depends on changed (these settings, the images,
    the code). Without it every model is trained here, nothing is saved.
    Introduced in notebook 02.
    """
    checks.tensor("images", images, ndim=4, floating=True)
    if isinstance(sizes, (str, bytes)) or not sizes:
        raise ValueError(f"sizes must be a non-empty list of how many images to store, e.g. [1, 4, 16]; got {sizes!r}.")
    for n in sizes:
        checks.count("every entry of sizes", n)
    for code in codes:
        checks.choice("every entry of codes", code, ("onehot", "learned", "random"))
    if max(sizes) > len(images):
        raise ValueError(f"sizes go up to {max(sizes)} but only {len(images)} images were given.")
    rows: list[dict] = []
    jobs = [(n, code) for n in sizes for code in codes]
    try:
        _sweep(rows, jobs, images, code_dim, channels, num_steps, lr, batch_size, seed, progress, cfg)
    except KeyboardInterrupt:
        print(
            f"Stopped after {len(rows)} of {len(jobs)} models; the models done so far are returned (and saved). "
            "Run the cell again to finish: it loads those and trains the rest."
        )
    if cfg is not None:
        trained_here = sum(not r["loaded"] for r in rows)
        loaded = len(rows) - trained_here
        print(
            f"capacity sweep: {trained_here} models trained here and saved, {loaded} loaded from earlier runs"
            + (" (RETRAIN = True trains them all here)" if loaded else "")
        )
    return rows


def _sweep(
    rows: list[dict],
    jobs: list[tuple[int, str]],
    images: torch.Tensor,
    code_dim: int,
    channels: Sequence[int],
    num_steps: int,
    lr: float,
    batch_size: int,
    seed: int,
    progress: bool,
    cfg: RunConfig | None,
) -> None:
    """Train (or load) one model per job, appending a row for each as it is done."""
    for n, code in tqdm(jobs, desc="capacity sweep", disable=not progress):
        # n and code bound as defaults: each job's functions keep its own values (and its fingerprint shows them)
        def build(n=n, code=code):
            return CodebookDecoder(n, code, code_dim=code_dim, channels=channels, seed=seed).to(images.device)

        def train(model, n=n):
            start = time.perf_counter()
            losses = train_codebook(model, images[:n], num_steps, lr=lr, batch_size=batch_size, seed=seed)
            return History(
                epochs=[{"epoch": 1, "train_loss": losses[-1], "train_seconds": time.perf_counter() - start}],
                steps=losses,
            )

        if cfg is None:
            torch.manual_seed(seed)
            model = build()
            train(model)
            loaded = False
        else:
            model, history = trained(f"codebook_{code}_{n}", build, train, cfg, seed=seed, verbose=False)
            loaded = history.loaded
        counts = model.parameter_counts()
        rows.append(
            {
                "N": n,
                "code": code,
                "params": counts["total"],
                "input_params": counts["codes"] + counts["input_layer"],
                "mse": pixel_mse(model, images[:n]),
                "model": model,
                "loaded": loaded,
            }
        )
