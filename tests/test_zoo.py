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


# --------------------------------------------------------------------------- trained(): any model, by settings


from vae_helpers.checkpoints import CheckpointError, read_manifest  # noqa: E402
from vae_helpers.models import MLPAutoencoder  # noqa: E402
from vae_helpers.utils import RunConfig  # noqa: E402


def run_config(retrain=False):
    return RunConfig(fast=True, device=torch.device("cpu"), num_threads=1, seed=0, retrain=retrain,
                     retrain_reason="RETRAIN = True" if retrain else "")


class Trainer:
    """The notebook's training cell: counts its calls, keeps a snapshot, returns fit's history."""

    def __init__(self, data, epochs=2, interrupt=False):
        self.data, self.epochs, self.calls, self.keep, self.interrupt = data, epochs, 0, {}, interrupt

    def build(self):
        return MLPAutoencoder(latent_dim=2, hidden_dims=(16,))

    def __call__(self, model):
        self.calls += 1
        history = fit(model, self.data.train.batches(64, seed=0), adam(model.parameters()), ae_loss, self.epochs,
                      test_data=self.data.test.batches(64, shuffle=False), progress=False, verbose=False)
        self.keep["first_layer"] = next(model.parameters()).detach().clone()
        history.interrupted = self.interrupt
        return history

    def settings(self, **changes):
        return {"latent_dim": 2, "hidden_dims": (16,), "epochs": self.epochs, "seed": 0, **changes}


def test_trained_saves_then_loads_the_model_its_history_and_what_it_kept(tiny, capsys):
    trainer = Trainer(tiny)
    model, history = zoo.trained("toy", trainer.build, trainer, run_config(), trainer.settings(), keep=trainer.keep)
    assert trainer.calls == 1 and "Training 'toy'" in capsys.readouterr().out
    assert history.last("test_loss") < history["test_loss"][0]  # it did train
    kept = {}
    again, loaded_history = zoo.trained("toy", trainer.build, trainer, run_config(), trainer.settings(), keep=kept)
    out = capsys.readouterr().out
    assert trainer.calls == 1 and "Loaded 'toy'" in out and "2 epochs" in out and "RETRAIN = True" in out
    for a, b in zip(model.state_dict().values(), again.state_dict().values()):
        assert torch.equal(a, b)
    assert loaded_history.epochs == history.epochs and loaded_history.steps == pytest.approx(history.steps)
    assert torch.equal(kept["first_layer"], trainer.keep["first_layer"])


def test_trained_is_seeded_and_leaves_the_notebooks_random_stream_alone(tiny):
    trainer = Trainer(tiny, epochs=1)
    torch.manual_seed(123)
    model, _ = zoo.trained("toy", trainer.build, trainer, run_config(), trainer.settings())
    after_training = torch.rand(3)
    torch.manual_seed(123)
    loaded, _ = zoo.trained("toy", trainer.build, trainer, run_config(), trainer.settings())
    assert torch.equal(torch.rand(3), after_training)  # the same numbers after it, trained or loaded
    other = Trainer(tiny, epochs=1)
    retrained, _ = zoo.trained("toy", other.build, other, run_config(retrain=True), other.settings())
    for a, b in zip(model.state_dict().values(), retrained.state_dict().values()):
        assert torch.equal(a, b)  # seeded from the settings: training again gives the same model


def test_trained_retrains_on_other_settings_a_damaged_file_or_retrain(tiny, capsys):
    trainer = Trainer(tiny, epochs=1)
    zoo.trained("toy", trainer.build, trainer, run_config(), trainer.settings())
    zoo.trained("toy", trainer.build, trainer, run_config(), trainer.settings(lr=0.5))
    assert trainer.calls == 2 and "trained with other settings: lr='<missing>' in the file but 0.5 now" in capsys.readouterr().out
    zoo.checkpoint_path("toy", True).write_bytes(b"not a checkpoint")
    zoo.trained("toy", trainer.build, trainer, run_config(), trainer.settings(lr=0.5))
    assert trainer.calls == 3 and "Could not read checkpoint" in capsys.readouterr().out
    zoo.trained("toy", trainer.build, trainer, run_config(retrain=True), trainer.settings(lr=0.5))
    assert trainer.calls == 4 and "(RETRAIN = True: saved models are not used)" in capsys.readouterr().out
    with pytest.raises(TypeError, match="plain values"):
        zoo.trained("toy", trainer.build, trainer, run_config(), {"device": torch.device("cpu")})


def test_an_interrupted_training_is_not_saved(tiny, capsys):
    trainer = Trainer(tiny, epochs=1, interrupt=True)
    model, history = zoo.trained("toy", trainer.build, trainer, run_config(), trainer.settings())
    assert history.interrupted and "interrupted" in capsys.readouterr().out
    assert not zoo.checkpoint_path("toy", True).exists() and "toy.fast.pt" not in read_manifest()


def test_manifest_round_trips_settings_and_figures(tiny, tmp_path):
    trainer = Trainer(tiny, epochs=1)
    model, history = zoo.trained("toy", trainer.build, trainer, run_config(), trainer.settings())
    entry = read_manifest()["toy.fast.pt"]
    assert entry["config"] == {"latent_dim": 2, "hidden_dims": [16], "epochs": 1, "seed": 0, "fast": True}
    assert entry["metrics"]["test_loss"] == pytest.approx(history.last("test_loss"))
    assert entry["metrics"]["epochs"] == 1 and entry["model_class"] == "MLPAutoencoder"
    assert entry["parameters"] == sum(p.numel() for p in model.parameters())
    payload = load_checkpoint(zoo.checkpoint_path("toy", True), trainer.build(), config=entry["config"])  # the manifest's settings fit the file
    assert payload["metrics"] == entry["metrics"]
    (tmp_path / "manifest.json").write_text("{ damaged")
    with pytest.raises(CheckpointError, match="manifest.json is damaged"):
        read_manifest()
    zoo.save("tiny", zoo.build("tiny"), fast=True)  # saving rebuilds it
    assert set(read_manifest()) == {"tiny.fast.pt"}


def test_train_all_runs_each_notebook_with_retraining_set_and_returns_the_manifest(tmp_path, monkeypatch):
    import os

    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    monkeypatch.setenv("VAE_CHECKPOINT_DIR", str(tmp_path / "models"))
    monkeypatch.delenv("VAE_RETRAIN", raising=False)
    nb = new_notebook(cells=[new_code_cell(
        "import torch\n"
        "from vae_helpers.checkpoints import checkpoint_dir, save_checkpoint\n"
        "from vae_helpers.utils import setup\n"
        "cfg = setup(verbose=False)\n"
        "save_checkpoint(checkpoint_dir() / f'toy-{int(cfg.retrain)}.pt', torch.nn.Linear(2, 1), metrics={'test_loss': 1.5})\n")])
    path = tmp_path / "01_toy.ipynb"
    nbformat.write(nb, path)
    assert set(zoo.train_all(retrain=True, notebooks=[path])) == {"toy-1.pt"}
    assert set(zoo.train_all(retrain=False, notebooks=[path])) == {"toy-1.pt", "toy-0.pt"}
    assert "VAE_RETRAIN" not in os.environ  # restored
    assert "toy-0.pt" in zoo.describe_manifest(read_manifest())


def test_list_command_prints_the_manifest_or_a_clear_error(tiny, tmp_path, capsys):
    zoo.save("tiny", zoo.build("tiny"), fast=True, metrics={"test_loss": 12.5})
    assert zoo.main(["list"]) == 0
    out = capsys.readouterr().out
    assert "1 checkpoints in" in out and "tiny.fast.pt" in out and "12.50" in out
    (tmp_path / "manifest.json").write_text("{ damaged")
    assert zoo.main(["list"]) == 2
    assert "manifest.json is damaged" in capsys.readouterr().err
