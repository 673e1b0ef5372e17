"""Training decoders to memorize images (notebooks 01 and 02).

:func:`train_codebook` is the hand-written loop of notebook 01 (forward, MSE, backward, Adam step),
promoted here so notebook 02 can run it for many models; notebook 02 checks that both agree.
"""

from __future__ import annotations

import time
from typing import Sequence

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from .models import CodebookDecoder


def reconstruction_mse(model: CodebookDecoder, images: torch.Tensor) -> float:
    """Mean squared error per pixel between every stored image ``(N, 1, H, W)`` and its decoding."""
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
    """
    if len(images) != model.config["num_images"]:
        raise ValueError(f"The model stores {model.config['num_images']} images but {len(images)} were given.")
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(seed)
    n = len(images)
    model.train()
    losses = []
    for _ in range(num_steps):
        if n <= batch_size:
            index = torch.arange(n)
        else:
            index = torch.randint(n, (batch_size,), generator=generator)
        index = index.to(images.device)
        x_hat = torch.sigmoid(model(index))  # (B, 1, H, W) in [0, 1]
        loss = F.mse_loss(x_hat, images[index])
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
    cfg=None,
    images_note: str = "",
) -> list[dict]:
    """Memorize the first ``N`` of ``images`` for each ``N`` in ``sizes`` and each kind of code.

    Returns one row per model: ``{"N", "code", "params", "input_params", "mse", "model"}`` where
    ``input_params`` counts the code table (if trained) plus the decoder's first layer.

    With the notebook's ``cfg`` (from ``setup()``), each model goes through ``zoo.trained``: saved after
    training and loaded on the next run when its settings match; ``images_note`` says which images
    were stored (part of those settings). Without it every model is trained here, nothing is saved.
    """
    from .training import History
    from .zoo import trained

    if max(sizes) > len(images):
        raise ValueError(f"sizes go up to {max(sizes)} but only {len(images)} images were given.")
    rows, trained_here = [], 0
    jobs = [(n, code) for n in sizes for code in codes]
    for n, code in tqdm(jobs, desc="capacity sweep", disable=not progress):
        def build():
            return CodebookDecoder(n, code, code_dim=code_dim, channels=channels, seed=seed).to(images.device)

        def train(model):
            nonlocal trained_here
            trained_here += 1
            start = time.perf_counter()
            losses = train_codebook(model, images[:n], num_steps, lr=lr, batch_size=batch_size, seed=seed)
            return History(epochs=[{"epoch": 1, "train_loss": losses[-1], "train_seconds": time.perf_counter() - start}],
                           steps=losses)

        if cfg is None:
            torch.manual_seed(seed)
            model = build()
            train(model)
        else:
            settings = {"num_images": n, "code": code, "code_dim": code_dim, "channels": tuple(channels), "steps": num_steps,
                        "lr": lr, "batch_size": batch_size, "seed": seed, "images": images_note}
            model, _ = trained(f"codebook_{code}_{n}", build, train, cfg, settings, verbose=False)
        counts = model.parameter_counts()
        rows.append({"N": n, "code": code, "params": counts["total"], "input_params": counts["codes"] + counts["input_layer"],
                     "mse": reconstruction_mse(model, images[:n]), "model": model})
    if cfg is not None:
        loaded = len(jobs) - trained_here
        print(f"capacity sweep: {trained_here} models trained here and saved, {loaded} loaded from earlier runs"
              + (" (RETRAIN = True trains them all here)" if loaded else ""))
    return rows
