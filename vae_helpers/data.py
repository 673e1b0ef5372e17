"""MNIST in memory: the splits as ``uint8`` tensors, served in shuffled float batches (notebook 00 on).

``vae_helpers.mnist`` finds, checks and downloads the files they are read from.

Why not ``DataLoader(MNIST(transform=ToTensor()))``? That path converts every image through PIL one
by one, which costs more than the small models of this course; here a whole split is one tensor and a
batch is one indexing operation (see ``benchmarks/bench_training_loop.py``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import NamedTuple

import torch

from . import checks
from .mnist import NUM_CLASSES, read_split

FAST_TRAIN_SUBSET, FAST_TEST_SUBSET = 5_000, 2_000  # the data of fast mode (VAE_FAST=1)


def to_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 images ``(B, 28, 28)`` -> float32 ``(B, 1, 28, 28)`` in [0, 1]."""
    return images.unsqueeze(1).to(torch.float32).div_(255.0)


@dataclass(frozen=True)
class Split:
    """One part of MNIST held in memory. Index it to get a smaller Split; call :meth:`x` for floats."""

    images: torch.Tensor  # (N, 28, 28) uint8
    labels: torch.Tensor  # (N,) int64

    def __len__(self) -> int:
        return self.images.shape[0]

    def __getitem__(self, index) -> Split:
        if isinstance(index, int):  # one image, kept as a split of one
            if not -len(self) <= index < len(self):
                raise IndexError(f"index {index} is out of range for a split of {len(self)} images.")
            index = slice(index % len(self), index % len(self) + 1)
        return Split(self.images[index], self.labels[index])

    @property
    def device(self) -> torch.device:
        return self.images.device

    def x(self) -> torch.Tensor:
        """All images as float ``(N, 1, 28, 28)`` in [0, 1] (fine for small splits; use batches for large)."""
        return to_float(self.images)

    def to(self, device: str | torch.device) -> Split:
        """A copy on ``device`` (the uint8 tensor is small: 47 MB for the training set)."""
        return Split(self.images.to(device), self.labels.to(device))

    def batches(
        self, batch_size: int = 128, shuffle: bool = True, seed: int | None = None, drop_last: bool = False
    ) -> Batches:
        """Re-iterable float batches of this split, see :class:`Batches`."""
        return Batches(self, batch_size=batch_size, shuffle=shuffle, seed=seed, drop_last=drop_last)


class Batches:
    """Iterate over ``(x, y)`` batches of a :class:`Split`: ``x`` float ``(B, 1, 28, 28)`` in [0, 1], ``y`` ``(B,)``.

    Each pass (epoch) draws a new order with ``torch.randperm``. With a ``seed`` the order comes from
    a private ``torch.Generator``, so the whole sequence of epochs repeats from run to run; without one
    it comes from torch's global generator (seeded by ``utils.seed_everything``).
    """

    def __init__(
        self,
        split: Split,
        batch_size: int = 128,
        shuffle: bool = True,
        seed: int | None = None,
        drop_last: bool = False,
    ):
        if not isinstance(split, Split):
            raise TypeError(f"split must be a data.Split (e.g. mnist.train), got {type(split).__name__}.")
        checks.count("batch_size", batch_size)
        if seed is not None:
            checks.count("seed", seed, minimum=0)
        if len(split) == 0:
            raise ValueError("Cannot make batches of an empty split.")
        if drop_last and batch_size > len(split):
            raise ValueError(
                f"batch_size={batch_size} is larger than the split ({len(split)} images) and drop_last=True would yield nothing."
            )
        self.split = split
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.generator = torch.Generator().manual_seed(seed) if seed is not None else None

    def __len__(self) -> int:
        n = len(self.split)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        n = len(self.split)
        if self.shuffle:
            order = torch.randperm(n, generator=self.generator).to(self.split.device)
        else:
            order = torch.arange(n, device=self.split.device)
        images, labels = self.split.images, self.split.labels
        for b in range(len(self)):
            idx = order[b * self.batch_size : (b + 1) * self.batch_size]
            yield to_float(images[idx]), labels[idx]


def load_split(split: str = "train", root: str | os.PathLike | None = None, download: bool = True) -> Split:
    """The whole ``"train"`` (60,000) or ``"test"`` (10,000) split as a :class:`Split` (see ``mnist.read_split``)."""
    return Split(*read_split(split, root, download))


class Splits(NamedTuple):
    """The three splits a notebook trains, tunes and tests on."""

    train: Split
    val: Split | None
    test: Split


def split_indices(
    num_train: int, val_size: int = 0, subset: int | None = None, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Seeded, disjoint (train, validation) index sets out of ``num_train`` training examples, each sorted."""
    checks.count("num_train", num_train)
    checks.count("val_size", val_size, minimum=0)
    if subset is not None:
        checks.count("subset", subset)
    checks.count("seed", seed, minimum=0)
    if not 0 <= val_size < num_train:
        raise ValueError(f"val_size={val_size} must be between 0 and {num_train - 1}.")
    left = num_train - val_size
    if subset is not None and not 1 <= subset <= left:
        raise ValueError(
            f"subset={subset} must be between 1 and {left} (the training images left after val_size={val_size})."
        )
    order = torch.randperm(num_train, generator=torch.Generator().manual_seed(seed))
    val, train = order[:val_size], order[val_size:]
    if subset is not None:
        train = train[:subset]
    return train.sort().values, val.sort().values


def load_mnist(
    subset: int | None = None,
    test_subset: int | None = None,
    val_size: int = 0,
    seed: int = 0,
    root: str | os.PathLike | None = None,
    download: bool = True,
    device: str | torch.device | None = None,
) -> Splits:
    """MNIST train / validation / test splits, optionally smaller for a quick run.

    Args:
        subset: keep this many training images (a seeded random choice), e.g. 5000 in fast mode.
        test_subset: keep this many test images (a seeded random choice).
        val_size: hold out this many training images as a validation split (chosen before ``subset``).
        seed: which random choice of subset / validation images; the same seed gives the same images.
        device: move the splits there (a GPU keeps the whole dataset in its memory).
    """
    if test_subset is not None:
        checks.count("test_subset", test_subset)
    train, test = load_split("train", root, download), load_split("test", root, download)
    if subset is not None or val_size:
        train_idx, val_idx = split_indices(len(train), val_size, subset, seed)
        train, val = train[train_idx], (train[val_idx] if val_size else None)
    else:
        val = None
    if test_subset is not None:
        if not 1 <= test_subset <= len(test):
            raise ValueError(f"test_subset={test_subset} must be between 1 and {len(test)}.")
        test = test[split_indices(len(test), 0, test_subset, seed + 1)[0]]
    if device is not None:
        train, test = train.to(device), test.to(device)
        val = val.to(device) if val is not None else None
    return Splits(train, val, test)


def course_mnist(fast: bool, device: str | torch.device | None = None) -> Splits:
    """The data the notebooks train on: all of MNIST, or in fast mode 5,000 training and 2,000 test images."""
    if not isinstance(fast, bool):
        raise TypeError(f"fast must be True or False (cfg.fast from setup()), got {fast!r}.")
    if fast:
        return load_mnist(subset=FAST_TRAIN_SUBSET, test_subset=FAST_TEST_SUBSET, device=device)
    return load_mnist(device=device)


# --------------------------------------------------------------------------- examples for figures


def examples(
    split: Split, n: int = 10, one_per_class: bool = False, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` images ``(n, 1, 28, 28)`` and their labels, a seeded random choice.

    With ``one_per_class`` the labels cycle 0, 1, ..., 9, 0, 1, ... (``n=10``: one of each digit).
    """
    if not isinstance(split, Split):
        raise TypeError(f"split must be a data.Split (e.g. mnist.test), got {type(split).__name__}.")
    checks.count("n", n)
    checks.count("seed", seed, minimum=0)
    g = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(split), generator=g).to(split.device)
    if not one_per_class:
        if n > len(split):
            raise ValueError(f"n={n} is more than the {len(split)} images in this split.")
        idx = order[:n]
    else:
        labels = split.labels[order]
        per_class = [order[labels == c] for c in range(NUM_CLASSES)]
        need = [(n - c + NUM_CLASSES - 1) // NUM_CLASSES for c in range(NUM_CLASSES)]
        short = [c for c in range(NUM_CLASSES) if len(per_class[c]) < need[c]]
        if short:
            raise ValueError(f"This split has too few images of digit(s) {short} for n={n} with one_per_class=True.")
        idx = torch.stack([per_class[i % NUM_CLASSES][i // NUM_CLASSES] for i in range(n)])
    return to_float(split.images[idx]), split.labels[idx]


def fixed_test_batch(test: Split, n: int = 16) -> tuple[torch.Tensor, torch.Tensor]:
    """The same ``n`` test images in every notebook and every run, for before/after figures."""
    return examples(test, n, one_per_class=n >= NUM_CLASSES, seed=2024)


# --------------------------------------------------------------------------- binary pixels (notebook 06)


def binarized(split: Split, seed: int = 0) -> Split:
    """``split`` with every pixel drawn once as black or white, white with probability its grey level: a
    *stochastically binarized* copy, the same for a given ``seed`` (the literature's test set for binarized
    MNIST is made this way). Training on *dynamically* binarized images instead draws afresh at every step,
    ``torch.bernoulli(x)`` on each batch (notebook 06)."""
    if not isinstance(split, Split):
        raise TypeError(f"split must be a data.Split (e.g. mnist.test), got {type(split).__name__}.")
    checks.count("seed", seed, minimum=0)
    g = torch.Generator().manual_seed(seed)
    grey = split.images.cpu().to(torch.float32).div(255.0)
    white = torch.rand(grey.shape, generator=g) < grey
    return Split((white.to(torch.uint8) * 255).to(split.device), split.labels)
