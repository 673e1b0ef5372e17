"""Files and folders written whole or not at all, with the user's usual permissions.

The leftovers of a writer that was killed are cleaned up by the next one.

Every temporary name carries the host and process that made it (``.NAME.HOST-PID.tmp`` for a file,
``PREFIX.HOST-PID.xxxxxxxx`` for a folder), so a later
run can tell a leftover of a dead process from the work of one still running, also on a shared drive.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

STALE_SECONDS = 24 * 3600  # a leftover of another machine (a shared drive) is removed after a day


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def usual_mode(directory: bool = False) -> int:
    """The permissions a plain ``open`` or ``mkdir`` would give: 0o666 / 0o777 minus the umask.
    (Python's temporary files are private, 0o600 / 0o700, which would hide a class's shared folder.)"""
    return (0o777 if directory else 0o666) & ~_umask()


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", socket.gethostname())[:40] or "host"


def _tag() -> str:
    return f"{_host()}-{os.getpid()}"


def _alive(pid: int) -> bool:
    if sys.platform == "win32":  # os.kill would end the process there; only the age rule applies
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


_TAGGED = re.compile(r"\.(?P<host>[A-Za-z0-9_]+)-(?P<pid>\d+)\.[A-Za-z0-9_]+$")


def is_leftover(path: Path, now: float | None = None) -> bool:
    """True for a temporary file or folder whose writer is gone: a dead process of this host, or
    anything older than a day (another host's, or one without a tag)."""
    try:
        age = (now or time.time()) - path.lstat().st_mtime
    except OSError:
        return False
    match = _TAGGED.search(path.name)
    if match and match["host"] == _host():
        return not _alive(int(match["pid"]))
    return age > STALE_SECONDS


def remove_leftovers(folder: Path, prefix: str) -> list[Path]:
    """Delete the leftovers (see :func:`is_leftover`) named ``prefix*`` in ``folder``; returns what went."""
    removed = []
    try:
        candidates = [p for p in Path(folder).iterdir() if p.name.startswith(prefix)]
    except OSError:
        return removed
    for path in candidates:
        if is_leftover(path):
            try:
                shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
                removed.append(path)
            except OSError:
                pass
    return removed


@contextmanager
def replaced_atomically(path: str | os.PathLike, mode: str = "wb") -> Iterator[IO]:
    """A temporary file beside ``path`` to write; renamed into place when the block ends, deleted when
    anything goes wrong (Ctrl-C included), so ``path`` is the old file or the whole new one, never half."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_leftovers(path.parent, f".{path.name}.")
    tmp = path.parent / f".{path.name}.{_tag()}.tmp"
    try:
        with open(tmp, mode) as f:  # a plain open: the user's usual permissions (umask), unlike mkstemp's 0o600
            yield f
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file renamed into place."""
    with replaced_atomically(path, "w") as f:
        f.write(text)


def staging_folder(parent: Path, prefix: str) -> Path:
    """A new empty folder ``parent/PREFIX.HOST-PID.xxxxxxxx`` with the usual permissions, for building
    something whole before it is moved into place; leftovers of earlier, killed runs are removed first."""
    parent.mkdir(parents=True, exist_ok=True)
    remove_leftovers(parent, prefix + ".")
    folder = Path(tempfile.mkdtemp(dir=parent, prefix=f"{prefix}.{_tag()}."))
    os.chmod(folder, usual_mode(directory=True))
    return folder
