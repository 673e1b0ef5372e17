"""MNIST, held in memory as ``uint8`` tensors and served in shuffled float batches.

Where the files live: ``VAE_DATA_DIR`` if set, else ``data/`` in the course folder. The layout is
torchvision's, ``<root>/MNIST/raw/<file>``, so a folder prepared by torchvision works here and back.

Prepare a machine before class (it needs internet once)::

    python -m vae_helpers.data download     # fetch into the data root
    python -m vae_helpers.data check        # say where the files are and whether they are sound

Why not ``DataLoader(MNIST(transform=ToTensor()))``? That path converts every image through PIL one
by one, which costs more than the small models of this course; here a whole split is one tensor and a
batch is one indexing operation (see ``benchmarks/bench_training_loop.py``).
"""

from __future__ import annotations

import argparse
import functools
import os
import shutil
import struct
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, NamedTuple

import torch

from .utils import course_path

IMAGE_SIZE = 28
NUM_CLASSES = 10
# split -> (image file, label file, number of examples)
FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", 60_000),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", 10_000),
}
_IMAGES_MAGIC, _LABELS_MAGIC = 2051, 2049  # idx headers: 0x00000803 (uint8, 3 dims) and 0x00000801 (uint8, 1 dim)
DOWNLOAD_COMMAND = "python -m vae_helpers.data download"
FAST_TRAIN_SUBSET, FAST_TEST_SUBSET = 5_000, 2_000  # the data of fast mode (VAE_FAST=1)


class MNISTNotFoundError(FileNotFoundError):
    """MNIST files are missing and could not be downloaded."""


class MNISTCorruptError(RuntimeError):
    """An MNIST file exists but is truncated or not an MNIST file."""


# --------------------------------------------------------------------------- where the files are


def data_root() -> Path:
    """The data root: ``VAE_DATA_DIR`` (relative paths resolve against the current folder) or ``<course>/data``."""
    return course_path("VAE_DATA_DIR", "data")


def raw_folder(root: str | os.PathLike | None = None) -> Path:
    """``<root>/MNIST/raw``, where torchvision keeps the four uncompressed files."""
    return Path(root if root is not None else data_root()).expanduser().resolve() / "MNIST" / "raw"


def check_file(path: Path, is_images: bool, count: int) -> None:
    """Raise :class:`MNISTCorruptError` unless ``path`` has an MNIST idx header and the matching size."""
    header_len = 16 if is_images else 8
    size = path.stat().st_size
    with open(path, "rb") as f:
        header = f.read(header_len)
    fix = f"Delete it and run `{DOWNLOAD_COMMAND}` (or copy a good copy there)."
    if len(header) < header_len:
        raise MNISTCorruptError(f"{path} is only {size} bytes, too short to be an MNIST file. {fix}")
    magic, n = struct.unpack(">II", header[:8])
    expected_magic = _IMAGES_MAGIC if is_images else _LABELS_MAGIC
    if magic != expected_magic:
        hint = " (is it still gzip-compressed?)" if header[:2] == b"\x1f\x8b" else ""
        raise MNISTCorruptError(
            f"{path} does not start with the MNIST {'image' if is_images else 'label'} header{hint}: "
            f"magic number {magic}, expected {expected_magic}. {fix}"
        )
    if is_images:
        rows, cols = struct.unpack(">II", header[8:16])
        if (rows, cols) != (IMAGE_SIZE, IMAGE_SIZE):
            raise MNISTCorruptError(f"{path} holds {rows}x{cols} images, expected 28x28. {fix}")
    if n != count:
        raise MNISTCorruptError(f"{path} says it holds {n} examples; this split has {count}. {fix}")
    expected_size = header_len + n * (IMAGE_SIZE * IMAGE_SIZE if is_images else 1)
    if size != expected_size:
        raise MNISTCorruptError(
            f"{path} is {size:,} bytes but should be {expected_size:,} bytes: it is "
            f"{'truncated (an interrupted download or copy?)' if size < expected_size else 'too long'}. {fix}"
        )


def find_problems(root: str | os.PathLike | None = None) -> tuple[list[Path], list[str]]:
    """(missing files, problems with files that exist) for all four MNIST files under ``root``."""
    folder = raw_folder(root)
    missing, problems = [], []
    for image_file, label_file, count in FILES.values():
        for name, is_images in ((image_file, True), (label_file, False)):
            path = folder / name
            if not path.is_file():
                missing.append(path)
                continue
            try:
                check_file(path, is_images, count)
            except MNISTCorruptError as err:
                problems.append(str(err))
    return missing, problems


def _not_found_message(root: Path, missing: list[Path], reason: str) -> str:
    lines = [f"MNIST is not in {raw_folder(root)} and {reason}.", "Expected these files there:"]
    lines += [f"  {p.name}  ({'MISSING' if p in missing else 'ok'})" for p in (raw_folder(root) / n for f in FILES.values() for n in f[:2])]
    lines += [
        "To fix it, do one of:",
        f"  - on a machine with internet, run: {DOWNLOAD_COMMAND}",
        "  - copy the four files (uncompressed) into that folder,",
        "  - or point VAE_DATA_DIR at a folder that already holds MNIST/raw/, e.g. export VAE_DATA_DIR=/path/to/shared/data",
        f"VAE_DATA_DIR is currently {'set to ' + repr(os.environ['VAE_DATA_DIR']) if os.environ.get('VAE_DATA_DIR') else 'not set'}.",
    ]
    return "\n".join(lines)


# --------------------------------------------------------------------------- download


def _torchvision_download(target_root: Path) -> None:
    """torchvision's own MNIST download (mirrors, md5 check, gunzip) into ``target_root/MNIST/raw``."""
    from torchvision.datasets import MNIST

    MNIST(str(target_root), train=True, download=True)


def download_mnist(root: str | os.PathLike | None = None, force: bool = False) -> Path:
    """Fetch MNIST into ``<root>/MNIST/raw`` (default root: :func:`data_root`) and return that folder.

    Files are downloaded into a temporary folder beside the target, checked, and only then moved into
    place, so a failed or interrupted download leaves nothing half-written. Files already present and
    sound are kept unless ``force``.
    """
    root = Path(root if root is not None else data_root()).expanduser().resolve()
    folder = raw_folder(root)
    missing, problems = find_problems(root)
    if not force and not missing and not problems:
        return folder
    try:
        root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=root, prefix=".mnist-download-"))
    except OSError as err:
        raise MNISTNotFoundError(_not_found_message(root, missing, f"the folder cannot be written ({err})")) from err
    try:
        try:
            _torchvision_download(staging)
        except Exception as err:  # no network, a mirror down, an md5 mismatch...
            raise MNISTNotFoundError(_not_found_message(root, missing, f"downloading it failed ({err})")) from err
        _, staged_problems = find_problems(staging)
        if staged_problems:
            raise MNISTCorruptError("The downloaded files are damaged:\n" + "\n".join(staged_problems))
        folder.mkdir(parents=True, exist_ok=True)
        for image_file, label_file, _ in FILES.values():
            for name in (image_file, label_file):
                os.replace(raw_folder(staging) / name, folder / name)  # atomic on one filesystem
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    _read_split.cache_clear()
    return folder


# --------------------------------------------------------------------------- loading


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

    def __getitem__(self, index) -> "Split":
        if isinstance(index, int):
            index = slice(index, index + 1)
        return Split(self.images[index], self.labels[index])

    @property
    def device(self) -> torch.device:
        return self.images.device

    def x(self) -> torch.Tensor:
        """All images as float ``(N, 1, 28, 28)`` in [0, 1] (fine for small splits; use batches for large)."""
        return to_float(self.images)

    def to(self, device: str | torch.device) -> "Split":
        """A copy on ``device`` (the uint8 tensor is small: 47 MB for the training set)."""
        return Split(self.images.to(device), self.labels.to(device))

    def batches(self, batch_size: int = 128, shuffle: bool = True, seed: int | None = None, drop_last: bool = False) -> "Batches":
        """Re-iterable float batches of this split, see :class:`Batches`."""
        return Batches(self, batch_size=batch_size, shuffle=shuffle, seed=seed, drop_last=drop_last)


class Batches:
    """Iterate over ``(x, y)`` batches of a :class:`Split`: ``x`` float ``(B, 1, 28, 28)`` in [0, 1], ``y`` ``(B,)``.

    Each pass (epoch) draws a new order with ``torch.randperm``. With a ``seed`` the order comes from
    a private ``torch.Generator``, so the whole sequence of epochs repeats from run to run; without one
    it comes from torch's global generator (seeded by ``utils.seed_everything``).
    """

    def __init__(self, split: Split, batch_size: int = 128, shuffle: bool = True, seed: int | None = None, drop_last: bool = False):
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}.")
        if len(split) == 0:
            raise ValueError("Cannot make batches of an empty split.")
        if drop_last and batch_size > len(split):
            raise ValueError(f"batch_size={batch_size} is larger than the split ({len(split)} images) and drop_last=True would yield nothing.")
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


@functools.lru_cache(maxsize=4)
def _read_split(folder: str, split: str) -> Split:
    from torchvision.datasets import MNIST

    ds = MNIST(str(Path(folder).parent.parent), train=(split == "train"), download=False)
    images, labels = ds.data.contiguous(), ds.targets.to(torch.int64)
    if labels.min() < 0 or labels.max() >= NUM_CLASSES:
        raise MNISTCorruptError(f"{folder}/{FILES[split][1]} holds labels outside 0-9; delete it and run `{DOWNLOAD_COMMAND}`.")
    return Split(images, labels)


def load_split(split: str = "train", root: str | os.PathLike | None = None, download: bool = True) -> Split:
    """The whole ``"train"`` (60,000) or ``"test"`` (10,000) split, read from disk once and then cached.

    Missing files are downloaded when ``download`` is true; a failed download, or a truncated or
    corrupt file, raises an error that says which file, where, and how to fix it.
    """
    if split not in FILES:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}.")
    root = Path(root if root is not None else data_root()).expanduser().resolve()
    missing, problems = find_problems(root)
    if problems:
        raise MNISTCorruptError("\n".join(problems))
    if missing:
        if not download:
            raise MNISTNotFoundError(_not_found_message(root, missing, "downloading is switched off"))
        download_mnist(root)
    return _read_split(str(raw_folder(root)), split)



class MNIST(NamedTuple):
    """The three splits a notebook trains, tunes and tests on."""

    train: Split
    val: Split | None
    test: Split


def split_indices(num_train: int, val_size: int = 0, subset: int | None = None, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Seeded, disjoint (train, validation) index sets out of ``num_train`` training examples, each sorted."""
    if not 0 <= val_size < num_train:
        raise ValueError(f"val_size={val_size} must be between 0 and {num_train - 1}.")
    left = num_train - val_size
    if subset is not None and not 1 <= subset <= left:
        raise ValueError(f"subset={subset} must be between 1 and {left} (the training images left after val_size={val_size}).")
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
) -> MNIST:
    """MNIST train / validation / test splits, optionally smaller for a quick run.

    Args:
        subset: keep this many training images (a seeded random choice), e.g. 5000 in fast mode.
        test_subset: keep this many test images (a seeded random choice).
        val_size: hold out this many training images as a validation split (chosen before ``subset``).
        seed: which random choice of subset / validation images; the same seed gives the same images.
        device: move the splits there (a GPU keeps the whole dataset in its memory).
    """
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
    return MNIST(train, val, test)


def course_mnist(fast: bool, device: str | torch.device | None = None) -> MNIST:
    """The data the notebooks train on: all of MNIST, or in fast mode 5,000 training and 2,000 test images."""
    if fast:
        return load_mnist(subset=FAST_TRAIN_SUBSET, test_subset=FAST_TEST_SUBSET, device=device)
    return load_mnist(device=device)


# --------------------------------------------------------------------------- examples for figures


def examples(split: Split, n: int = 10, one_per_class: bool = False, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` images ``(n, 1, 28, 28)`` and their labels, a seeded random choice.

    With ``one_per_class`` the labels cycle 0, 1, ..., 9, 0, 1, ... (``n=10``: one of each digit).
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}.")
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


# --------------------------------------------------------------------------- command line


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vae_helpers.data", description="Prepare MNIST for the VAE course.")
    sub = parser.add_subparsers(dest="command", required=True)
    p_down = sub.add_parser("download", help="download MNIST into the data root (needs internet once)")
    p_check = sub.add_parser("check", help="say where MNIST is and whether the files are sound")
    for p in (p_down, p_check):
        p.add_argument("--root", help="data root (default: $VAE_DATA_DIR, else data/ in the course folder)")
    p_down.add_argument("--force", action="store_true", help="download again even if the files look fine")
    args = parser.parse_args(argv)
    root = Path(args.root).expanduser().resolve() if args.root else data_root()
    try:
        if args.command == "download":
            folder = download_mnist(root, force=args.force)
            print(f"MNIST is ready in {folder}")
        missing, problems = find_problems(root)
        if missing or problems:
            print(_not_found_message(root, missing, "is not complete") if missing else "", *problems, sep="\n", file=sys.stderr)
            return 1
        for split in FILES:
            s = load_split(split, root, download=False)
            print(f"{split:5s}: {len(s):6,d} images, labels {s.labels.bincount().tolist()}")
        print(f"MNIST is complete and sound in {raw_folder(root)}")
        if args.root is None and not os.environ.get("VAE_DATA_DIR"):
            print("(Set VAE_DATA_DIR to use a different folder, e.g. a shared one in a lab.)")
        return 0
    except (MNISTNotFoundError, MNISTCorruptError) as err:
        print(err, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
