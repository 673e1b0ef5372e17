"""The MNIST files on disk: where they are, whether they are sound, and downloading them (notebook 00).

``vae_helpers.data`` holds them in memory.

Where the files live: ``VAE_DATA_DIR`` if set, else ``data/`` in the course folder. The layout is
torchvision's, ``<root>/MNIST/raw/<file>``, so a folder prepared by torchvision works here and back.

Prepare a machine before class (it needs internet once)::

    python -m vae_helpers.mnist download     # fetch into the data root
    python -m vae_helpers.mnist check        # say where the files are and whether they are sound

What is detected, and when. Every load checks that the four files exist, can be read, and have the
MNIST header and size of their split (a missing, unreadable, truncated, gzip-compressed or foreign
file stops with a message naming the file and the fix), and that the labels lie in 0-9. ``check``
also compares each file's MD5 with the official MNIST files and warns, naming the file, where one
differs (altered bytes, or a rebuilt copy such as a lab's): a warning, because such a copy still works.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import os
import shutil
import struct
import sys
from dataclasses import dataclass, field
from pathlib import Path

import torch

from . import checks
from .files import remove_leftovers, staging_folder
from .utils import course_path, display_path, python_command

IMAGE_SIZE = 28
NUM_CLASSES = 10
# split -> (image file, label file, number of examples)
FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", 60_000),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", 10_000),
}
# MD5 of the official, uncompressed files (http://yann.lecun.com/exdb/mnist/, as torchvision unpacks them)
OFFICIAL_MD5 = {
    "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
}
_IMAGES_MAGIC, _LABELS_MAGIC = 2051, 2049  # idx headers: 0x00000803 (uint8, 3 dims) and 0x00000801 (uint8, 1 dim)
STAGING = ".mnist-download"  # prefix of the folder a download is unpacked in before it is moved into place


class DataError(Exception):
    """A problem with the MNIST files. In a notebook it shows as its message alone, without a traceback:
    the message says what is wrong, where, and the command that fixes it."""

    def _render_traceback_(self) -> list[str]:  # IPython shows this instead of the traceback
        return [f"{type(self).__name__}: {line}" if i == 0 else line for i, line in enumerate(str(self).splitlines())]


class MNISTNotFoundError(DataError, FileNotFoundError):
    """MNIST files are missing and could not be downloaded."""


class MNISTCorruptError(DataError, RuntimeError):
    """An MNIST file exists but is truncated or not an MNIST file."""


class MNISTUnreadableError(DataError, PermissionError):
    """The data folder or an MNIST file exists but this user cannot read it (or the data root is a file)."""


def download_command() -> str:
    """The command that downloads MNIST, as this learner would type it (this environment's Python)."""
    return f"{python_command()} -m vae_helpers.mnist download"


# --------------------------------------------------------------------------- where the files are


def data_root() -> Path:
    """The data root: ``VAE_DATA_DIR`` (relative paths resolve against the current folder) or ``<course>/data``."""
    return course_path("VAE_DATA_DIR", "data")


def raw_folder(root: str | os.PathLike | None = None) -> Path:
    """``<root>/MNIST/raw``, where torchvision keeps the four uncompressed files."""
    return Path(root if root is not None else data_root()).expanduser().resolve() / "MNIST" / "raw"


def _check_root(root: Path) -> None:
    """The data root must be a folder (or not exist yet), and one this user can open."""
    if root.exists() and not root.is_dir():
        where = "VAE_DATA_DIR points at" if os.environ.get("VAE_DATA_DIR") else "the data root is"
        raise MNISTUnreadableError(
            f"{where} {display_path(root)}, which is a file, not a folder. Point VAE_DATA_DIR at the "
            "folder that holds MNIST/raw/ (or at an empty folder to download into)."
        )
    for folder in (root, root / "MNIST", root / "MNIST" / "raw"):
        if folder.is_dir() and not os.access(folder, os.R_OK | os.X_OK):
            raise MNISTUnreadableError(
                f"The folder {display_path(folder)} cannot be opened (permission denied). Make it "
                f"readable (chmod a+rx {display_path(folder)}), or point VAE_DATA_DIR at a copy "
                "you can read."
            )


def check_file(path: Path, is_images: bool, count: int) -> None:
    """Raise :class:`MNISTCorruptError` unless ``path`` has an MNIST idx header and the matching size
    (:class:`MNISTUnreadableError` when it cannot be read at all)."""
    header_len = 16 if is_images else 8
    fix = f"Delete it and run `{download_command()}` (or copy a good copy there)."
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            header = f.read(header_len)
    except PermissionError as err:
        raise MNISTUnreadableError(
            f"{display_path(path)} cannot be read ({err.strerror}). Make it readable "
            f"(chmod a+r {display_path(path)}), or point VAE_DATA_DIR at a copy you can read."
        ) from err
    except OSError as err:
        raise MNISTCorruptError(f"{display_path(path)} cannot be read ({err.strerror}). {fix}") from err
    path = display_path(path)
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


@dataclass
class Findings:
    """What :func:`find_problems` found: missing files, damaged ones, and ones that cannot be read."""

    missing: list[Path] = field(default_factory=list)
    damaged: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)

    def raise_problems(self) -> None:
        if self.unreadable:
            raise MNISTUnreadableError("\n".join(self.unreadable))
        if self.damaged:
            raise MNISTCorruptError("\n".join(self.damaged))


def find_problems(root: str | os.PathLike | None = None) -> Findings:
    """Check all four MNIST files under ``root`` (header and size, not content; see :func:`checksum_warnings`)."""
    root = Path(root if root is not None else data_root()).expanduser().resolve()
    _check_root(root)
    folder = raw_folder(root)
    found = Findings()
    for image_file, label_file, count in FILES.values():
        for name, is_images in ((image_file, True), (label_file, False)):
            path = folder / name
            if not path.exists():
                found.missing.append(path)
                continue
            try:
                check_file(path, is_images, count)
            except MNISTUnreadableError as err:
                found.unreadable.append(str(err))
            except MNISTCorruptError as err:
                found.damaged.append(str(err))
    return found


def checksum_warnings(root: str | os.PathLike | None = None) -> list[str]:
    """One line per MNIST file whose MD5 differs from the official file's (altered bytes or a rebuilt copy)."""
    folder = raw_folder(root)
    warnings = []
    for name, official in OFFICIAL_MD5.items():
        path = folder / name
        try:
            digest = hashlib.md5(path.read_bytes()).hexdigest()
        except OSError:
            continue  # missing or unreadable files are reported by find_problems
        if digest != official:
            warnings.append(
                f"warning: {display_path(path)} differs from the official MNIST file (MD5 {digest}, official "
                f"{official}): some bytes were changed, or it is a rebuilt copy. The course runs on it, "
                f"but its figures may differ a little; `{download_command()} --force` fetches the original."
            )
    return warnings


def _not_found_message(root: Path, missing: list[Path], reason: str) -> str:
    folder = display_path(raw_folder(root))
    env = os.environ.get("VAE_DATA_DIR")
    lines = [
        f"MNIST is not in {folder} and {reason}.",
        "To fix it, do one of:",
        f"  - on a machine with internet, in the course folder: {download_command()}   (or: make data)",
        f"  - copy the four files (uncompressed) into {folder}",
        "  - or point VAE_DATA_DIR at a folder that already holds MNIST/raw/, e.g. export VAE_DATA_DIR=/path/to/shared/data",
        f"VAE_DATA_DIR is {'set to ' + repr(env) if env else 'not set'}. Files expected there: "
        + ", ".join(
            f"{p.name} ({'MISSING' if p in missing else 'ok'})"
            for p in (raw_folder(root) / n for f in FILES.values() for n in f[:2])
        ),
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
    place, so a failed or interrupted download leaves nothing half-written; what a killed download
    left behind is removed by the next one. Files already present and sound are kept unless ``force``.
    """
    root = Path(root if root is not None else data_root()).expanduser().resolve()
    folder = raw_folder(root)
    found = find_problems(root)
    if not force and not found.missing and not found.damaged and not found.unreadable:
        return folder
    try:
        staging = staging_folder(root, STAGING)
    except OSError as err:
        raise MNISTNotFoundError(
            _not_found_message(
                root, found.missing, f"the folder {display_path(root)} cannot be written ({err.strerror or err})"
            )
        ) from None
    try:
        try:
            _torchvision_download(staging)
        except Exception as err:  # no network, a mirror down, an md5 mismatch...
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise MNISTNotFoundError(
                _not_found_message(root, found.missing, f"downloading it failed ({first})")
            ) from None
        staged = find_problems(staging)
        if staged.damaged or staged.missing:
            raise MNISTCorruptError("The downloaded files are damaged:\n" + "\n".join(staged.damaged))
        folder.mkdir(parents=True, exist_ok=True)
        for image_file, label_file, _ in FILES.values():
            for name in (image_file, label_file):
                os.replace(raw_folder(staging) / name, folder / name)  # atomic on one filesystem
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    _read.cache_clear()
    return folder


# --------------------------------------------------------------------------- reading


def _signature(folder: Path, split: str) -> tuple:
    """Size and modification time of a split's files: a file replaced on disk is read again."""
    stats = [(folder / name).stat() for name in FILES[split][:2]]
    return tuple((st.st_size, st.st_mtime_ns) for st in stats)


@functools.lru_cache(maxsize=4)
def _read(folder: str, split: str, signature: tuple) -> tuple[torch.Tensor, torch.Tensor]:
    from torchvision.datasets import MNIST

    ds = MNIST(str(Path(folder).parent.parent), train=(split == "train"), download=False)
    images, labels = ds.data.contiguous(), ds.targets.to(torch.int64)
    if labels.min() < 0 or labels.max() >= NUM_CLASSES:
        raise MNISTCorruptError(
            f"{display_path(Path(folder) / FILES[split][1])} holds labels outside 0-9; delete it "
            f"and run `{download_command()}`."
        )
    return images, labels


def read_split(
    split: str = "train", root: str | os.PathLike | None = None, download: bool = True
) -> tuple[torch.Tensor, torch.Tensor]:
    """The images ``(N, 28, 28)`` uint8 and labels ``(N,)`` of the ``"train"`` (60,000) or ``"test"``
    (10,000) split, read from disk once and then kept (read again when a file changes on disk).

    Missing files are downloaded when ``download`` is true; a failed download, or a truncated,
    corrupt or unreadable file, raises a :class:`DataError` that says which file, where, and how to fix it.
    """
    checks.choice("split", split, FILES)
    root = Path(root if root is not None else data_root()).expanduser().resolve()
    remove_leftovers(root, STAGING) if root.is_dir() else None  # what a killed download left
    found = find_problems(root)
    found.raise_problems()
    if found.missing:
        if not download:
            raise MNISTNotFoundError(_not_found_message(root, found.missing, "downloading is switched off"))
        download_mnist(root)
    folder = raw_folder(root)
    return _read(str(folder), split, _signature(folder, split))


# --------------------------------------------------------------------------- command line


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m vae_helpers.mnist", description="Prepare MNIST for the VAE course."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p_down = sub.add_parser("download", help="download MNIST into the data root (needs internet once)")
    p_check = sub.add_parser("check", help="say where MNIST is and whether the files are sound")
    for p in (p_down, p_check):
        p.add_argument("--root", help="data root (default: $VAE_DATA_DIR, else data/ in the course folder)")
    p_down.add_argument("--force", action="store_true", help="download again even if the files look fine")
    args = parser.parse_args(argv)
    try:
        root = Path(args.root).expanduser().resolve() if args.root else data_root()
        if args.command == "download":
            folder = download_mnist(root, force=args.force)
            print(f"MNIST is ready in {display_path(folder)}")
        found = find_problems(root)
        if found.missing:
            print(_not_found_message(root, found.missing, "is not complete"), file=sys.stderr)
        if found.missing or found.damaged or found.unreadable:
            print(*found.unreadable, *found.damaged, sep="\n", file=sys.stderr)
            return 1
        for split in FILES:
            images, labels = read_split(split, root, download=False)
            print(f"{split:5s}: {len(images):6,d} images, labels {labels.bincount().tolist()}")
        warnings = checksum_warnings(root)
        print(*warnings, sep="\n", file=sys.stderr) if warnings else None
        print(
            f"MNIST is complete and readable in {display_path(raw_folder(root))}"
            + (
                f" ({len(warnings)} of 4 files differ from the official ones, see above)"
                if warnings
                else "; every file matches the official MNIST checksums"
            )
        )
        if args.root is None and not os.environ.get("VAE_DATA_DIR"):
            print("(Set VAE_DATA_DIR to use a different folder, e.g. a shared one in a lab.)")
        return 0
    except DataError as err:
        print(err, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
