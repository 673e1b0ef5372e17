import shutil
import struct
import urllib.error
from pathlib import Path

import pytest
import torch

from vae_helpers import data
from vae_helpers.data import (
    DOWNLOAD_COMMAND,
    FILES,
    Batches,
    MNISTCorruptError,
    MNISTNotFoundError,
    Split,
    examples,
    fixed_test_batch,
    load_mnist,
    load_split,
    raw_folder,
    split_indices,
)

ALL_FILES = [name for image_file, label_file, _ in FILES.values() for name in (image_file, label_file)]


def synthetic_split(n: int) -> Split:
    """Images whose first pixel is the index (mod 256), labels equal to the index."""
    images = torch.zeros(n, 28, 28, dtype=torch.uint8)
    images[:, 0, 0] = torch.arange(n) % 256
    return Split(images, torch.arange(n))


def copy_of_raw(tmp_path: Path, link: bool = True) -> Path:
    """A data root in ``tmp_path`` whose MNIST/raw files point at (or are copies of) the real ones."""
    src, dst = raw_folder(), raw_folder(tmp_path)
    dst.mkdir(parents=True)
    for name in ALL_FILES:
        (dst / name).symlink_to(src / name) if link else shutil.copy(src / name, dst / name)
    return dst


# ---------------------------------------------------------------- locations


def test_data_root_defaults_to_the_course_folder(monkeypatch):
    monkeypatch.delenv("VAE_DATA_DIR", raising=False)
    assert data.data_root() == Path(data.__file__).resolve().parent.parent / "data"


def test_relative_data_dir_is_made_absolute(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("VAE_DATA_DIR", "somewhere/data")
    assert data.data_root() == tmp_path / "somewhere" / "data"


# ---------------------------------------------------------------- loading real MNIST


def test_splits_have_mnist_shapes_and_types(mnist):
    full = load_mnist()
    assert full.train.images.shape == (60_000, 28, 28) and full.train.images.dtype == torch.uint8
    assert full.test.images.shape == (10_000, 28, 28) and full.test.labels.dtype == torch.int64
    assert full.train.labels.bincount().tolist()[:2] == [5923, 6742]  # the well-known class counts
    assert full.val is None


def test_split_is_read_once_and_cached(mnist):
    assert load_split("test") is load_split("test")


def test_batches_are_float_in_unit_range(mnist):
    batches = mnist.test.batches(batch_size=128, seed=0)
    assert len(batches) == 79  # 10,000 / 128 rounded up
    sizes = []
    for x, y in batches:
        assert x.dtype == torch.float32 and x.shape[1:] == (1, 28, 28)
        assert 0.0 <= x.min() and x.max() <= 1.0
        sizes.append(len(y))
    assert sizes[-1] == 10_000 % 128 and sum(sizes) == 10_000
    x, _ = next(iter(batches))
    assert x.max() == 1.0  # 255 maps to exactly 1


def test_float_conversion_matches_torchvision_to_tensor(mnist):
    from PIL import Image
    from torchvision.transforms.functional import to_tensor

    x = mnist.test[:3].x()
    expected = torch.stack([to_tensor(Image.fromarray(img.numpy())) for img in mnist.test.images[:3]])
    assert torch.equal(x, expected)


def test_subset_validation_and_test_subset(mnist):
    parts = load_mnist(subset=1000, val_size=500, test_subset=200, seed=3)
    assert (len(parts.train), len(parts.val), len(parts.test)) == (1000, 500, 200)
    again = load_mnist(subset=1000, val_size=500, test_subset=200, seed=3)
    assert torch.equal(parts.train.images, again.train.images) and torch.equal(parts.val.labels, again.val.labels)
    other = load_mnist(subset=1000, val_size=500, seed=4)
    assert not torch.equal(parts.train.images, other.train.images)


@pytest.mark.parametrize("kwargs", [{"subset": 0}, {"subset": 60_001}, {"val_size": 60_000}, {"test_subset": 10_001}])
def test_bad_sizes_raise_clear_errors(mnist, kwargs):
    name = next(iter(kwargs))
    with pytest.raises(ValueError, match=name):
        load_mnist(**kwargs)


def test_split_indices_are_disjoint_and_seeded():
    train, val = split_indices(100, val_size=20, subset=50, seed=1)
    assert len(train) == 50 and len(val) == 20
    assert not set(train.tolist()) & set(val.tolist())
    assert torch.equal(train, split_indices(100, 20, 50, seed=1)[0])
    assert not torch.equal(train, split_indices(100, 20, 50, seed=2)[0])


# ---------------------------------------------------------------- the batch iterator


def test_each_epoch_visits_every_example_once():
    split = synthetic_split(1000)
    batches = Batches(split, batch_size=64, seed=0)
    for _ in range(2):
        seen = torch.cat([y for _, y in batches])
        assert torch.equal(seen.sort().values, torch.arange(1000))
        # images travel with their labels
    for x, y in batches:
        assert torch.equal((x[:, 0, 0, 0] * 255).round().long(), y % 256)


def test_seeded_order_repeats_and_differs_between_epochs():
    split = synthetic_split(500)

    def two_epochs(seed):
        b = Batches(split, batch_size=50, seed=seed)
        return [torch.cat([y for _, y in b]) for _ in range(2)]

    first, second = two_epochs(7), two_epochs(7)
    assert all(torch.equal(a, b) for a, b in zip(first, second))
    assert not torch.equal(first[0], first[1])
    assert not torch.equal(first[0], two_epochs(8)[0])


def test_unshuffled_batches_keep_order_and_drop_last():
    split = synthetic_split(10)
    b = Batches(split, batch_size=4, shuffle=False, drop_last=True)
    assert len(b) == 2
    assert torch.equal(torch.cat([y for _, y in b]), torch.arange(8))


def test_batches_reject_bad_arguments():
    with pytest.raises(ValueError, match="batch_size"):
        Batches(synthetic_split(10), batch_size=0)
    with pytest.raises(ValueError, match="drop_last"):
        Batches(synthetic_split(10), batch_size=20, drop_last=True)


# ---------------------------------------------------------------- examples for figures


def test_examples_one_per_class(mnist):
    x, y = examples(mnist.test, 20, one_per_class=True)
    assert x.shape == (20, 1, 28, 28)
    assert y.tolist() == list(range(10)) * 2


def test_fixed_test_batch_is_the_same_every_time(mnist):
    x1, y1 = fixed_test_batch(mnist.test, 16)
    x2, y2 = fixed_test_batch(load_mnist().test, 16)
    assert torch.equal(x1, x2) and torch.equal(y1, y2)
    assert set(y1.tolist()) == set(range(10))


# ---------------------------------------------------------------- faults: missing, corrupt, failed download


def test_missing_files_error_names_files_folder_variable_and_command(tmp_path, monkeypatch):
    monkeypatch.setenv("VAE_DATA_DIR", str(tmp_path))
    with pytest.raises(MNISTNotFoundError) as info:
        load_split("train", download=False)
    message = str(info.value)
    assert str(raw_folder(tmp_path)) in message
    assert all(name in message for name in ALL_FILES)
    assert "VAE_DATA_DIR" in message and DOWNLOAD_COMMAND in message


def test_failed_download_leaves_no_file_behind(tmp_path, monkeypatch):
    def half_download(target_root):
        folder = raw_folder(target_root)
        folder.mkdir(parents=True)
        (folder / "train-images-idx3-ubyte.gz").write_bytes(b"\x1f\x8b partial")
        raise RuntimeError("Error downloading train-images-idx3-ubyte.gz") from urllib.error.URLError("no network")

    monkeypatch.setattr(data, "_torchvision_download", half_download)
    with pytest.raises(MNISTNotFoundError, match="downloading it failed"):
        load_split("test", root=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_download_moves_checked_files_into_place(tmp_path, monkeypatch, mnist):
    def fake_download(target_root):  # stands in for the network: copies the real files
        copy_of_raw(target_root, link=False)

    monkeypatch.setattr(data, "_torchvision_download", fake_download)
    folder = data.download_mnist(tmp_path / "root")
    assert sorted(p.name for p in folder.iterdir()) == sorted(ALL_FILES)
    assert [p.name for p in (tmp_path / "root").iterdir()] == ["MNIST"]  # staging folder removed
    assert torch.equal(load_split("test", root=tmp_path / "root").labels, mnist.test.labels.cpu())


def test_truncated_file_is_reported_not_used(tmp_path, mnist):
    folder = copy_of_raw(tmp_path)
    bad = folder / "t10k-images-idx3-ubyte"
    bad.unlink()
    bad.write_bytes((raw_folder() / bad.name).read_bytes()[:100_000])
    with pytest.raises(MNISTCorruptError, match="truncated") as info:
        load_split("train", root=tmp_path)  # any split: a damaged file is reported up front
    assert str(bad) in str(info.value) and DOWNLOAD_COMMAND in str(info.value)


def test_gzipped_or_foreign_file_is_reported(tmp_path, mnist):
    folder = copy_of_raw(tmp_path)
    (folder / "t10k-labels-idx1-ubyte").unlink()
    (folder / "t10k-labels-idx1-ubyte").write_bytes(b"\x1f\x8b\x08" + bytes(100))
    with pytest.raises(MNISTCorruptError, match="gzip"):
        load_split("test", root=tmp_path)
    (folder / "t10k-labels-idx1-ubyte").write_bytes(struct.pack(">II", 2049, 9_999) + bytes(9_999))
    with pytest.raises(MNISTCorruptError, match="9999 examples"):
        load_split("test", root=tmp_path)


def test_command_line_check(mnist, capsys, tmp_path):
    assert data.main(["check"]) == 0
    assert "complete and readable" in capsys.readouterr().out
    assert data.main(["check", "--root", str(tmp_path)]) == 1
    assert "MISSING" in capsys.readouterr().err


# ---------------------------------------------------------------- more faults: permissions, a file as root, leftovers, bytes


def as_another_user(code: str, root: Path) -> "subprocess.CompletedProcess":
    """Run ``code`` in a Python process of an ordinary user (``nobody`` when the tests run as root, who can
    read everything), with the data root ``root``."""
    import os
    import subprocess
    import sys

    command = [sys.executable, "-c", code]
    if os.geteuid() == 0:
        if not shutil.which("setpriv"):
            pytest.skip("running as root without setpriv: permissions cannot be tested")
        command = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"] + command
    env = {**os.environ, "VAE_DATA_DIR": str(root), "HOME": "/nonexistent"}
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
def test_unreadable_data_is_one_line_naming_the_path_and_the_fix(open_tmp, what, mnist):
    import os

    folder = copy_of_raw(open_tmp, link=False)
    for path in [open_tmp / "MNIST", folder, *folder.iterdir()]:
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    target = folder / "t10k-labels-idx1-ubyte" if what == "file" else folder
    os.chmod(target, 0)
    out = as_another_user("from vae_helpers import data; raise SystemExit(data.main(['check']))", open_tmp)
    assert out.returncode == 1 and "Traceback" not in out.stderr, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and str(target) in lines[0] and "chmod" in lines[0] and "VAE_DATA_DIR" in lines[0], lines
    out = as_another_user("from vae_helpers import data; data.load_split('test')", open_tmp)
    assert "MNISTUnreadableError" in out.stderr and str(target) in out.stderr


def test_a_data_root_that_is_a_file_is_named(tmp_path, monkeypatch):
    (tmp_path / "data").write_text("not a folder")
    monkeypatch.setenv("VAE_DATA_DIR", str(tmp_path / "data"))
    with pytest.raises(data.MNISTUnreadableError, match="VAE_DATA_DIR points at .* which is a file, not a folder"):
        load_split("test")
    assert data.main(["check"]) == 1


def test_a_killed_download_is_cleaned_up_by_the_next_run(tmp_path, mnist):
    import subprocess
    import sys

    from vae_helpers.files import _host

    copy_of_raw(tmp_path)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    leftover = tmp_path / f"{data.STAGING}.{_host()}-{dead.stdout.strip()}.abcd1234"
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
    assert data.main(["check", "--root", str(tmp_path)]) == 0  # a warning, not an error: the course still runs
    err = capsys.readouterr().err
    warned = [line for line in err.splitlines() if line.startswith("warning:")]
    assert any(str(bad) in line and "differs from the official MNIST file" in line for line in warned)
    assert not any("t10k-labels" in line for line in warned)
    assert data.checksum_warnings(tmp_path) == warned
    assert len(load_split("test", root=tmp_path)) == 10_000


def test_a_file_replaced_on_disk_is_read_again(tmp_path, mnist):
    folder = copy_of_raw(tmp_path, link=False)
    first = load_split("test", root=tmp_path)
    path = folder / "t10k-images-idx3-ubyte"
    content = bytearray(path.read_bytes())
    content[16] = 255  # the first pixel of the first image
    path.write_bytes(bytes(content))
    assert load_split("test", root=tmp_path).images[0, 0, 0] == 255 != first.images[0, 0, 0]


def test_in_a_notebook_missing_data_shows_a_short_message_with_the_learners_command(tmp_path):
    """No MNIST and no network: the learner sees the short message first (no 80-line traceback), and the
    command names this environment's Python."""
    import os

    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("from vae_helpers import data\nmnist = data.course_mnist(True)")])
    env = {"VAE_DATA_DIR": str(tmp_path / "empty"), "PYTHONPATH": str(Path(__file__).parent / "offline")}
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        NotebookClient(nb, timeout=120, kernel_name="python3", allow_errors=True).execute()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    error = [o for o in nb.cells[0].outputs if o.output_type == "error"][0]
    shown = "\n".join(error.traceback).splitlines()
    assert shown[0].startswith("MNISTNotFoundError: MNIST is not in"), shown[:3]
    assert len(shown) <= 8, f"{len(shown)} lines:\n" + "\n".join(shown)
    assert data.download_command() in "\n".join(shown) and "Traceback" not in "\n".join(shown)
