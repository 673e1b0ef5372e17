"""tools.zoo: train every model ahead of a class, list what is saved."""

import os

import nbformat
import pytest
import torch
from nbformat.v4 import new_code_cell, new_notebook

from tools import zoo as tools_zoo
from vae_helpers.checkpoints import read_manifest, save_checkpoint


@pytest.mark.slow
def test_train_all_reports_what_each_notebook_trained_and_loaded(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("VAE_CHECKPOINT_DIR", str(tmp_path / "models"))
    monkeypatch.delenv("VAE_RETRAIN", raising=False)
    nb = new_notebook(
        cells=[
            new_code_cell(
                "import torch\n"
                "from vae_helpers import zoo\n"
                "from vae_helpers.training import History\n"
                "from vae_helpers.utils import setup\n"
                "cfg = setup(verbose=False)\n"
                "def train(model):\n"
                "    return History(epochs=[{'epoch': 1, 'train_loss': 1.0, 'test_loss': 1.5, 'train_seconds': 0.1}])\n"
                "zoo.trained('toy', lambda: torch.nn.Linear(2, 1), train, cfg)\n"
            )
        ]
    )
    path = tmp_path / "01_toy.ipynb"
    nbformat.write(nb, path)
    assert tools_zoo.train_all(retrain=True, notebooks=[path]) == ["toy"]
    assert "trained 1 (toy), loaded 0" in capsys.readouterr().out and set(read_manifest()) == {"toy.fast.pt"}
    assert tools_zoo.train_all(retrain=False, notebooks=[path]) == []
    assert "trained 0, loaded 1" in capsys.readouterr().out
    (tmp_path / "models" / "toy.fast.pt").unlink()
    assert tools_zoo.train_all(retrain=False, notebooks=[path]) == ["toy"]  # meant to load, had to train: says why
    assert "'toy' was trained: no saved model yet" in capsys.readouterr().out
    assert "VAE_RETRAIN" not in os.environ  # restored


def test_fail_if_trained_fails_when_a_model_had_to_be_trained(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("VAE_CHECKPOINT_DIR", str(tmp_path))
    monkeypatch.setattr(tools_zoo, "train_all", lambda retrain: ["vae_main"])
    assert tools_zoo.main(["train-all", "--keep", "--fail-if-trained"]) == 3
    assert "1 models were trained although every one should have been loaded: vae_main" in capsys.readouterr().err
    monkeypatch.setattr(tools_zoo, "train_all", lambda retrain: [])
    assert tools_zoo.main(["train-all", "--keep", "--fail-if-trained"]) == 0


def test_list_command_prints_the_manifest_and_rebuilds_a_damaged_one(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("VAE_CHECKPOINT_DIR", str(tmp_path))
    save_checkpoint(tmp_path / "toy.fast.pt", torch.nn.Linear(2, 1), metrics={"test_loss": 12.5})
    capsys.readouterr()
    assert tools_zoo.main(["list"]) == 0
    out = capsys.readouterr().out
    assert "1 checkpoints in" in out and "toy.fast.pt" in out and "12.50" in out
    for damaged in ("{ damaged", '{"models": []}', "null"):
        (tmp_path / "manifest.json").write_text(damaged)
        assert tools_zoo.main(["list"]) == 0
        captured = capsys.readouterr()
        assert "toy.fast.pt" in captured.out
        assert len(captured.err.strip().splitlines()) == 1 and "rebuilt it from the 1 checkpoint files" in captured.err
