import pytest
import torch

from vae_helpers import zoo
from vae_helpers.checkpoints import load_checkpoint
from vae_helpers.data import Split, MNIST
from vae_helpers.losses import ae_loss
from vae_helpers.training import adam, fit
from vae_helpers.utils import seed_everything


@pytest.fixture
def tiny(monkeypatch, tmp_path):
    """A small recipe, a checkpoint folder in tmp, and 256 random 'images'."""
    monkeypatch.setenv("VAE_CHECKPOINT_DIR", str(tmp_path))
    monkeypatch.setitem(zoo.RECIPES, "tiny", zoo.Recipe("MLPAutoencoder", {"latent_dim": 2, "hidden_dims": (16,)},
                                                        num_epochs=2, fast_epochs=1, batch_size=64))
    g = torch.Generator().manual_seed(0)
    images = (torch.rand(256, 28, 28, generator=g) * 255).to(torch.uint8)
    split = Split(images, torch.zeros(256, dtype=torch.int64))
    return MNIST(split, None, split[:64])


def test_train_is_the_fit_call_the_notebook_shows(tiny):
    model, history = zoo.train("tiny", tiny, fast=True, progress=False)
    seed_everything(0)
    manual = zoo.build("tiny")
    fit(manual, tiny.train.batches(64, seed=0), adam(manual.parameters(), lr=1e-3), ae_loss, 1, progress=False, verbose=False)
    for a, b in zip(model.state_dict().values(), manual.state_dict().values()):
        assert torch.equal(a, b)
    assert len(history) == 1


def test_load_or_train_saves_then_loads(tiny, capsys):
    first = zoo.load_or_train("tiny", tiny, fast=True)
    assert "Training 'tiny'" in capsys.readouterr().out
    second = zoo.load_or_train("tiny", tiny, fast=True)
    assert "Loaded 'tiny'" in capsys.readouterr().out
    for a, b in zip(first.state_dict().values(), second.state_dict().values()):
        assert torch.equal(a, b)
    payload = load_checkpoint(zoo.checkpoint_path("tiny", True), zoo.build("tiny"))
    assert payload["config"] == zoo.recipe("tiny").config(True) and "test_loss" in payload["metrics"]
    assert zoo.saved_metrics("tiny", True)["train_seconds"] > 0


def test_fast_and_full_mode_models_are_kept_apart(tiny, capsys):
    full = zoo.load_or_train("tiny", tiny, fast=False)
    zoo.load_or_train("tiny", tiny, fast=True)  # a fast test run ...
    assert zoo.checkpoint_path("tiny", True) != zoo.checkpoint_path("tiny", False)
    capsys.readouterr()
    again = zoo.load_or_train("tiny", tiny, fast=False)  # ... leaves the full-mode model in place
    assert "Loaded 'tiny'" in capsys.readouterr().out
    assert all(torch.equal(a, b) for a, b in zip(full.state_dict().values(), again.state_dict().values()))


def test_a_checkpoint_from_the_other_mode_or_recipe_is_retrained(tiny, capsys, monkeypatch):
    zoo.load_or_train("tiny", tiny, fast=True)
    zoo.checkpoint_path("tiny", True).replace(zoo.checkpoint_path("tiny", False))  # a fast model under the full name
    capsys.readouterr()
    zoo.load_or_train("tiny", tiny, fast=False)  # full mode must not reuse a fast-mode model
    out = capsys.readouterr().out
    assert "Training 'tiny'" in out and "fast=True in the file but False now" in out
    monkeypatch.setitem(zoo.RECIPES, "tiny", zoo.Recipe("MLPAutoencoder", {"latent_dim": 3, "hidden_dims": (16,)}, 2, 1, batch_size=64))
    zoo.load_or_train("tiny", tiny, fast=False)
    assert "other settings" in capsys.readouterr().out


def test_a_damaged_checkpoint_is_reported_and_retrained(tiny, capsys):
    zoo.load_or_train("tiny", tiny, fast=True)
    path = zoo.checkpoint_path("tiny", True)
    path.write_bytes(b"not a checkpoint")
    capsys.readouterr()
    zoo.load_or_train("tiny", tiny, fast=True)
    assert "damaged" in capsys.readouterr().out
    load_checkpoint(path, zoo.build("tiny"))  # a good file again


def test_unknown_recipe_names_the_known_ones():
    with pytest.raises(KeyError, match="ae_main"):
        zoo.build("nope")


def test_a_checkpoint_without_a_needed_metric_is_retrained(tiny, capsys):
    model = zoo.build("tiny")
    zoo.save("tiny", model, True, metrics={"test_loss": 1.0})
    zoo.load_or_train("tiny", tiny, fast=True, needs=("train_seconds",))
    assert "does not record train_seconds" in capsys.readouterr().out
    assert "train_seconds" in zoo.saved_metrics("tiny", True)
