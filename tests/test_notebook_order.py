"""Notebooks run in any order after 00 never train the same model twice: run 05, then 04, then 03 (fast
mode, one empty checkpoint folder) and count the models each one trains and loads."""

import collections

import nbformat
import pytest

from tools.classroom import course_notebooks
from tools.zoo import training_lines

pytestmark = pytest.mark.slow


def run(path, monkeypatch, checkpoints):
    from nbclient import NotebookClient

    monkeypatch.setenv("VAE_CHECKPOINT_DIR", str(checkpoints))
    monkeypatch.setenv("VAE_FAST", "1")
    monkeypatch.delenv("VAE_RETRAIN", raising=False)
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
    return training_lines(nb)


def test_backwards_order_trains_every_model_once(tmp_path, monkeypatch):
    notebooks = {p.name[:2]: p for p in course_notebooks()}
    trained, loaded = collections.Counter(), {}
    for number in ("05", "04", "03"):
        here, there = run(notebooks[number], monkeypatch, tmp_path)
        trained.update(here)
        loaded[number] = set(there)
    twice = [name for name, count in trained.items() if count > 1]
    assert not twice, f"trained more than once: {twice}"
    assert {"vae_main", "vae_2d", "ae_main"} <= set(trained)  # notebook 05 trained what it needed first ...
    assert {"vae_main", "vae_2d", "ae_main"} <= loaded["04"]  # ... and notebook 04 loaded them
    assert {"ae_main", "ae_2d"} <= loaded["03"]  # notebook 03 loaded its own models, trained by 05 and 04
