import re
import shutil
import struct
import subprocess
import urllib.error
from pathlib import Path

import pytest
import torch

from vae_helpers import mnist as mnist_files
from vae_helpers.data import load_split
from vae_helpers.mnist import (
    FILES,
    MNISTCorruptError,
    MNISTNotFoundError,
    raw_folder,
)

ALL_FILES = [name for image_file, label_file, _ in FILES.values() for name in (image_file, label_file)]


def copy_of_raw(tmp_path: Path, link: bool = True) -> Path:
    """A data root in ``tmp_path`` whose MNIST/raw files point at (or are copies of) the real ones."""
    src, dst = raw_folder(), raw_folder(tmp_path)
    dst.mkdir(parents=True)
    for name in ALL_FILES:
        (dst / name).symlink_to(src / name) if link else shutil.copy(src / name, dst / name)
    return dst


def copying_download(calls: list | None = None):
    """A stand-in for the network: a download that copies the real files (read from the data root now, so
    that a test may point the data root elsewhere afterwards), noting each call in ``calls``."""
    source = raw_folder()

    def download(target_root):
        if calls is not None:
            calls.append(target_root)
        shutil.copytree(source, raw_folder(target_root))

    return download


# ---------------------------------------------------------------- locations


def test_data_root_defaults_to_the_course_folder(monkeypatch):
    monkeypatch.delenv("VAE_DATA_DIR", raising=False)
    assert mnist_files.data_root() == Path(mnist_files.__file__).resolve().parent.parent / "data"


def test_relative_data_dir_is_made_absolute(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("VAE_DATA_DIR", "somewhere/data")
    assert mnist_files.data_root() == tmp_path / "somewhere" / "data"


# ---------------------------------------------------------------- faults: missing, corrupt, failed download


def test_missing_files_error_names_files_folder_variable_and_command(tmp_path, monkeypatch):
    monkeypatch.setenv("VAE_DATA_DIR", str(tmp_path))
    with pytest.raises(MNISTNotFoundError) as info:
        load_split("train", download=False)
    message = str(info.value)
    assert str(raw_folder(tmp_path)) in message
    assert all(name in message for name in ALL_FILES)
    assert "VAE_DATA_DIR" in message and mnist_files.download_command() in message


def test_failed_download_leaves_no_file_behind(tmp_path, monkeypatch):
    def half_download(target_root):
        folder = raw_folder(target_root)
        folder.mkdir(parents=True)
        (folder / "train-images-idx3-ubyte.gz").write_bytes(b"\x1f\x8b partial")
        raise RuntimeError("Error downloading train-images-idx3-ubyte.gz") from urllib.error.URLError("no network")

    monkeypatch.setattr(mnist_files, "_torchvision_download", half_download)
    with pytest.raises(MNISTNotFoundError, match="downloading it failed"):
        load_split("test", root=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_download_moves_checked_files_into_place(tmp_path, monkeypatch, mnist):
    source = raw_folder()
    monkeypatch.setattr(mnist_files, "_torchvision_download", copying_download())
    # the files must come from the download, never from the data root (a mutant once moved the data root's
    # files into place, emptying it): point the data root at an empty folder
    monkeypatch.setenv("VAE_DATA_DIR", str(tmp_path / "elsewhere"))
    folder = mnist_files.download_mnist(tmp_path / "root")
    assert sorted(p.name for p in folder.iterdir()) == sorted(ALL_FILES)
    assert set(ALL_FILES) <= {p.name for p in source.iterdir()}
    assert [p.name for p in (tmp_path / "root").iterdir()] == ["MNIST"]  # staging folder removed
    assert torch.equal(load_split("test", root=tmp_path / "root").labels, mnist.test.labels.cpu())


def test_truncated_file_is_reported_not_used(tmp_path, mnist):
    folder = copy_of_raw(tmp_path)
    bad = folder / "t10k-images-idx3-ubyte"
    bad.unlink()
    bad.write_bytes((raw_folder() / bad.name).read_bytes()[:100_000])
    with pytest.raises(MNISTCorruptError, match="truncated") as info:
        load_split("train", root=tmp_path)  # any split: a damaged file is reported up front
    assert str(bad) in str(info.value) and mnist_files.download_command() in str(info.value)


def test_gzipped_or_foreign_file_is_reported(tmp_path, mnist):
    folder = copy_of_raw(tmp_path)
    (folder / "t10k-labels-idx1-ubyte").unlink()
    (folder / "t10k-labels-idx1-ubyte").write_bytes(b"\x1f\x8b\x08" + bytes(100))
    # (the messages are matched word for word: pytest's tmp folder name holds "gzipped" too)
    with pytest.raises(MNISTCorruptError, match="is it still gzip-compressed"):
        load_split("test", root=tmp_path)
    (folder / "t10k-labels-idx1-ubyte").write_bytes(struct.pack(">II", 2049, 9_999) + bytes(9_999))
    with pytest.raises(MNISTCorruptError, match="says it holds 9999 examples"):
        load_split("test", root=tmp_path)
    # right size and count, wrong magic number (an image file saved under the label file's name, say)
    (folder / "t10k-labels-idx1-ubyte").write_bytes(struct.pack(">II", 2051, 10_000) + bytes(10_000))
    with pytest.raises(MNISTCorruptError, match="magic number 2051, expected 2049"):
        load_split("test", root=tmp_path)


def test_labels_outside_0_to_9_are_reported(tmp_path, mnist):
    folder = copy_of_raw(tmp_path)
    labels = folder / "t10k-labels-idx1-ubyte"
    good = labels.read_bytes()
    labels.unlink()
    labels.write_bytes(good[:-1] + bytes([10]))  # a well-formed file whose last label is 10
    with pytest.raises(MNISTCorruptError, match="holds labels outside 0-9"):
        load_split("test", root=tmp_path)


def test_command_line_check(mnist, capsys, tmp_path):
    assert mnist_files.main(["check"]) == 0
    assert "complete and readable" in capsys.readouterr().out
    assert mnist_files.main(["check", "--root", str(tmp_path)]) == 1
    assert "MISSING" in capsys.readouterr().err


# ---------------------------------------------------------------- more faults: permissions, a file as root, leftovers, bytes


def as_another_user(code: str, root: Path) -> subprocess.CompletedProcess:
    """Run ``code`` in a Python process of an ordinary user (``nobody`` when the tests run as root, who can
    read everything), with the data root ``root``."""
    import os
    import sys

    command = [sys.executable, "-c", code]
    env = {**os.environ, "VAE_DATA_DIR": str(root), "HOME": "/nonexistent"}
    if os.geteuid() == 0:
        if not shutil.which("setpriv"):
            pytest.skip("running as root without setpriv: permissions cannot be tested")
        command = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--", *command]
        # a Python built under /root (pyenv) cannot be started by nobody at all: that says nothing about our code
        probe = subprocess.run(
            [*command[:-1], "import vae_helpers"], capture_output=True, text=True, env=env, timeout=120
        )
        if probe.returncode != 0:
            first = (probe.stderr.strip().splitlines() or ["no message"])[-1]
            pytest.skip(f"the user nobody cannot start this Python ({first}): permissions cannot be tested here")
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)


@pytest.fixture
def open_tmp():
    """A folder that an ordinary user can enter (pytest's own tmp folders are private to their owner)."""
    import os
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="vae-perm-", dir="/tmp"))
    os.chmod(folder, 0o755)
    yield folder
    for path in folder.rglob("*"):
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    shutil.rmtree(folder)


@pytest.mark.parametrize("what", ["file", "folder"])
@pytest.mark.slow
def test_unreadable_data_is_one_line_naming_the_path_and_the_fix(open_tmp, what, mnist):
    import os

    folder = copy_of_raw(open_tmp, link=False)
    for path in [open_tmp / "MNIST", folder, *folder.iterdir()]:
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    target = folder / "t10k-labels-idx1-ubyte" if what == "file" else folder
    os.chmod(target, 0)
    out = as_another_user("from vae_helpers import mnist; raise SystemExit(mnist.main(['check']))", open_tmp)
    assert out.returncode == 1 and "Traceback" not in out.stderr, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and str(target) in lines[0] and "chmod" in lines[0] and "VAE_DATA_DIR" in lines[0], lines
    out = as_another_user("from vae_helpers import mnist; mnist.read_split('test')", open_tmp)
    assert "MNISTUnreadableError" in out.stderr and str(target) in out.stderr


def test_a_data_root_that_is_a_file_is_named(tmp_path, monkeypatch):
    (tmp_path / "data").write_text("not a folder")
    monkeypatch.setenv("VAE_DATA_DIR", str(tmp_path / "data"))
    with pytest.raises(
        mnist_files.MNISTUnreadableError, match=r"VAE_DATA_DIR points at .* which is a file, not a folder"
    ):
        load_split("test")
    assert mnist_files.main(["check"]) == 1


def test_a_killed_download_is_cleaned_up_by_the_next_run(tmp_path, mnist):
    import subprocess
    import sys

    from vae_helpers.files import _host

    copy_of_raw(tmp_path)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    leftover = tmp_path / f"{mnist_files.STAGING}.{_host()}-{dead.stdout.strip()}.abcd1234"
    (leftover / "MNIST" / "raw").mkdir(parents=True)
    (leftover / "MNIST" / "raw" / "train-images-idx3-ubyte.gz").write_bytes(b"\x1f\x8b half")
    load_split("test", root=tmp_path)
    assert not leftover.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["MNIST"]


def test_changed_bytes_are_a_warning_of_check_naming_the_file(tmp_path, capsys, mnist):
    folder = copy_of_raw(tmp_path, link=False)
    bad = folder / "t10k-images-idx3-ubyte"
    content = bytearray(bad.read_bytes())
    content[5000] ^= 0xFF  # one pixel changed: the header and size are still right
    bad.write_bytes(bytes(content))
    assert mnist_files.main(["check", "--root", str(tmp_path)]) == 0  # a warning, not an error: the course still runs
    err = capsys.readouterr().err
    warned = [line for line in err.splitlines() if line.startswith("warning:")]
    assert any(str(bad) in line and "differs from the official MNIST file" in line for line in warned)
    assert not any("t10k-labels" in line for line in warned)
    assert mnist_files.checksum_warnings(tmp_path) == warned
    assert len(load_split("test", root=tmp_path)) == 10_000


def test_a_file_replaced_on_disk_is_read_again(tmp_path, mnist):
    folder = copy_of_raw(tmp_path, link=False)
    first = load_split("test", root=tmp_path)
    path = folder / "t10k-images-idx3-ubyte"
    content = bytearray(path.read_bytes())
    content[16] = 255  # the first pixel of the first image
    path.write_bytes(bytes(content))
    assert load_split("test", root=tmp_path).images[0, 0, 0] == 255 != first.images[0, 0, 0]


@pytest.mark.slow
def test_in_a_notebook_missing_data_shows_a_short_message_with_the_learners_command(tmp_path):
    """No MNIST and no network: the learner sees the short message first (no 80-line traceback), and the
    command names this environment's Python."""
    import os

    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell("from vae_helpers import data\nmnist = data.course_mnist(True)")]
    )
    env = {"VAE_DATA_DIR": str(tmp_path / "empty"), "PYTHONPATH": str(Path(__file__).parent / "offline")}
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        NotebookClient(nb, timeout=120, kernel_name="python3", allow_errors=True).execute()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    error = next(o for o in nb.cells[0].outputs if o.output_type == "error")
    shown = "\n".join(error.traceback).splitlines()
    assert shown[0].startswith("MNISTNotFoundError: MNIST is not in"), shown[:3]
    assert len(shown) <= 8, f"{len(shown)} lines:\n" + "\n".join(shown)
    assert mnist_files.download_command() in "\n".join(shown) and "Traceback" not in "\n".join(shown)


def test_the_download_asks_torchvision_for_the_training_set_with_download_on(tmp_path, monkeypatch):
    """torchvision's MNIST fetches all four files (with its mirrors and md5 checks) when asked for one split."""
    import torchvision.datasets

    calls = []
    monkeypatch.setattr(torchvision.datasets, "MNIST", lambda *args, **kwargs: calls.append((args, kwargs)))
    mnist_files._torchvision_download(tmp_path)
    assert calls == [((str(tmp_path),), {"train": True, "download": True})]


def test_a_data_error_shows_in_a_notebook_as_its_message_alone():
    err = mnist_files.MNISTCorruptError("train-images-idx3-ubyte is truncated.\nRun: make data")
    assert err._render_traceback_() == ["MNISTCorruptError: train-images-idx3-ubyte is truncated.", "Run: make data"]


def no_download(target_root):
    raise AssertionError("a sound data root must not be downloaded again")


def test_sound_files_are_kept_and_the_default_root_is_the_data_root(tmp_path, monkeypatch, mnist):
    copy_of_raw(tmp_path / "data")
    monkeypatch.setattr(mnist_files, "_torchvision_download", no_download)
    assert mnist_files.download_mnist(tmp_path / "data") == raw_folder(tmp_path / "data")
    monkeypatch.setenv("VAE_DATA_DIR", str(tmp_path / "data"))
    assert mnist_files.download_mnist() == raw_folder(tmp_path / "data")


def test_force_downloads_again_into_an_existing_folder(tmp_path, monkeypatch, mnist):
    calls = []
    copy_of_raw(tmp_path, link=False)
    monkeypatch.setattr(mnist_files, "_torchvision_download", copying_download(calls))
    monkeypatch.setenv("VAE_DATA_DIR", str(tmp_path / "elsewhere"))
    assert mnist_files.download_mnist(tmp_path, force=True) == raw_folder(tmp_path) and len(calls) == 1
    empty = tmp_path / "empty"
    raw_folder(empty).mkdir(parents=True)  # the folder is there, the files are not
    assert sorted(p.name for p in mnist_files.download_mnist(empty).iterdir()) == sorted(ALL_FILES)


@pytest.mark.parametrize(
    "error, shown", [(RuntimeError("mirror down\nsecond line"), "(mirror down)"), (RuntimeError(""), "(RuntimeError)")]
)
def test_a_failed_download_quotes_the_first_line_of_its_error(tmp_path, monkeypatch, error, shown):
    def failing(target_root):
        raise error

    monkeypatch.setattr(mnist_files, "_torchvision_download", failing)
    with pytest.raises(MNISTNotFoundError) as info:
        mnist_files.download_mnist(tmp_path)
    assert f"downloading it failed {shown}" in str(info.value) and "second line" not in str(info.value)


def test_a_damaged_download_is_reported_and_not_moved_into_place(tmp_path, monkeypatch, mnist):
    source = raw_folder()

    def damaged(target_root):
        shutil.copytree(source, raw_folder(target_root))
        truncated = raw_folder(target_root) / "t10k-images-idx3-ubyte"
        truncated.write_bytes(truncated.read_bytes()[:1000])

    monkeypatch.setattr(mnist_files, "_torchvision_download", damaged)
    with pytest.raises(MNISTCorruptError, match="downloaded files are damaged"):
        mnist_files.download_mnist(tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_load_mnist_reads_both_splits_from_its_root_and_downloads_what_is_missing(tmp_path, monkeypatch, mnist):
    from vae_helpers.data import load_mnist

    download = copying_download()  # from the real data root, before it is pointed elsewhere
    copy_of_raw(tmp_path / "here")
    monkeypatch.setenv("VAE_DATA_DIR", str(tmp_path / "elsewhere"))  # empty: every file must come from root
    monkeypatch.setattr(mnist_files, "_torchvision_download", no_download)
    splits = load_mnist(root=tmp_path / "here")
    assert (len(splits.train), len(splits.test)) == (60_000, 10_000)
    monkeypatch.setattr(mnist_files, "_torchvision_download", download)
    assert len(load_mnist(root=tmp_path / "empty").test) == 10_000  # downloaded, as by default


def test_the_missing_files_message_names_the_root_asked_for_and_the_variable(tmp_path, monkeypatch):
    monkeypatch.setattr(
        mnist_files, "_torchvision_download", lambda target_root: (_ for _ in ()).throw(OSError("offline"))
    )
    monkeypatch.setenv("VAE_DATA_DIR", str(tmp_path / "env-root"))
    with pytest.raises(MNISTNotFoundError) as info:
        load_split("test", root=tmp_path / "asked")
    message = str(info.value)
    assert f"MNIST is not in {raw_folder(tmp_path / 'asked')}" in message and "env-root/MNIST" not in message
    assert f"VAE_DATA_DIR is set to {str(tmp_path / 'env-root')!r}." in message
    monkeypatch.delenv("VAE_DATA_DIR")
    with pytest.raises(MNISTNotFoundError, match=re.escape("VAE_DATA_DIR is not set.")):
        load_split("test", root=tmp_path / "asked")


def test_command_line_download_and_check_say_what_they_did(tmp_path, monkeypatch, capsys, mnist):
    calls = []
    monkeypatch.setattr(mnist_files, "_torchvision_download", copying_download(calls))
    assert mnist_files.main(["download", "--root", str(tmp_path)]) == 0 and len(calls) == 1
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert lines[0] == f"MNIST is ready in {raw_folder(tmp_path)}"
    labels = load_split("train", root=tmp_path).labels.bincount().tolist()
    assert lines[1] == f"train: 60,000 images, labels {labels}" and lines[2].startswith(
        "test : 10,000 images, labels ["
    )
    warnings = mnist_files.checksum_warnings(tmp_path)
    ending = (
        f" ({len(warnings)} of 4 files differ from the official ones, see above)"
        if warnings
        else "; every file matches the official MNIST checksums"
    )
    assert lines[3] == f"MNIST is complete and readable in {raw_folder(tmp_path)}{ending}" and len(lines) == 4
    assert err.splitlines() == warnings
    assert mnist_files.main(["download", "--root", str(tmp_path)]) == 0 and len(calls) == 1  # sound: kept
    assert mnist_files.main(["download", "--root", str(tmp_path), "--force"]) == 0 and len(calls) == 2
    capsys.readouterr()
    monkeypatch.delenv("VAE_DATA_DIR", raising=False)
    monkeypatch.setattr(mnist_files, "data_root", lambda: tmp_path)
    assert mnist_files.main(["check"]) == 0
    assert (
        capsys.readouterr().out.splitlines()[-1]
        == "(Set VAE_DATA_DIR to use a different folder, e.g. a shared one in a lab.)"
    )


def test_command_line_help_names_both_commands_and_their_options(capsys):
    for argv, phrases in [
        (
            ["--help"],
            [
                "usage: python -m vae_helpers.mnist",
                "Prepare MNIST for the VAE course.",
                "download MNIST into the data root (needs internet once)",
                "say where MNIST is and whether the files are sound",
            ],
        ),
        (
            ["download", "--help"],
            [
                "--root ROOT",
                "data root (default: $VAE_DATA_DIR, else data/ in the course folder)",
                "--force",
                "download again even if the files look fine",
            ],
        ),
        (["check", "--help"], ["--root ROOT"]),
    ]:
        with pytest.raises(SystemExit):
            mnist_files.main(argv)
        text = " ".join(capsys.readouterr().out.split())  # argparse wraps lines to the terminal
        assert all(phrase in text for phrase in phrases) and "XX" not in text, text
    with pytest.raises(SystemExit):
        mnist_files.main([])  # a command is required
    assert "required: command" in capsys.readouterr().err
