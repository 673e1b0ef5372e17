"""A lab without internet (``.ci/run`` runs this with ``tests/offline`` on PYTHONPATH, which blocks the
network, and MNIST and the ready-trained models in a prepared shared folder). Skipped otherwise."""

import os
import socket
import urllib.request
from pathlib import Path

import pytest
import torch

pytestmark = pytest.mark.skipif(
    os.environ.get("VAE_OFFLINE_CHECK") != "1",
    reason="the offline check runs in .ci/run (VAE_OFFLINE_CHECK=1, network blocked)",
)


def test_the_network_is_really_blocked():
    assert getattr(socket, "OFFLINE_CHECK", False), "tests/offline/sitecustomize.py was not loaded (PYTHONPATH)"
    with pytest.raises(OSError, match="network blocked"):
        urllib.request.urlopen("https://pypi.org/simple/", timeout=10)


def test_a_download_fails_cleanly_and_leaves_nothing(tmp_path):
    from vae_helpers.mnist import MNISTNotFoundError, download_mnist

    with pytest.raises(MNISTNotFoundError, match="VAE_DATA_DIR"):
        download_mnist(tmp_path / "empty")
    assert not any((tmp_path / "empty").rglob("*ubyte*"))


def test_data_and_models_come_from_the_shared_folder():
    from vae_helpers import zoo
    from vae_helpers.checkpoints import checkpoint_dir, load_checkpoint, read_manifest
    from vae_helpers.mnist import data_root, find_problems

    shared_data, shared_models = Path(os.environ["VAE_DATA_DIR"]), Path(os.environ["VAE_CHECKPOINT_DIR"])
    assert data_root() == shared_data.resolve() and checkpoint_dir() == shared_models.resolve()
    found = find_problems()
    assert not found.missing and not found.damaged and not found.unreadable
    manifest = read_manifest()
    names = {"ae_main.pt", "ae_2d.pt", "vae_main.pt", "vae_2d.pt"}
    assert names <= set(manifest), f"the ready-trained models are not all there: {sorted(manifest)}"
    for file in names:  # every file listed loads, with the key the manifest records
        entry = manifest[file]
        model = zoo.recipe(file[:-3]).build()
        load_checkpoint(shared_models / file, model, config=entry["config"])
        assert all(torch.isfinite(p).all() for p in model.parameters())
