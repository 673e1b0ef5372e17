import math
import random
import re

import numpy as np
import pytest
import torch

from vae_helpers import zoo
from vae_helpers.checkpoints import read_checkpoint, read_manifest
from vae_helpers.data import Split, Splits
from vae_helpers.training import History
from vae_helpers.utils import RunConfig


@pytest.fixture
def tiny(monkeypatch, tmp_path):
    """A checkpoint folder in tmp, and 256 random 'images' as an MNIST of train and test splits."""
    monkeypatch.setenv("VAE_CHECKPOINT_DIR", str(tmp_path))
    g = torch.Generator().manual_seed(0)
    images = (torch.rand(256, 28, 28, generator=g) * 255).to(torch.uint8)
    split = Split(images, torch.arange(256) % 10)
    return Splits(split, None, split[:64])


def run_config(retrain=False, fast=True):
    return RunConfig(
        fast=fast,
        device=torch.device("cpu"),
        num_threads=1,
        seed=0,
        retrain=retrain,
        retrain_reason="RETRAIN = True" if retrain else "",
    )


SETUP = """
import torch
from vae_helpers import zoo
from vae_helpers.losses import ae_loss
from vae_helpers.models import MLPAutoencoder
from vae_helpers.training import fit
"""

TRAIN = """
LR = {lr}
EPOCHS = 2

def build():
    return MLPAutoencoder(latent_dim=2, hidden_dims=(16,))

def train(model):
    calls.append(1)  # counts the trainings (the list is made in the test, not part of the key's values)
    return fit(model, data.train.batches(64, seed=0), torch.optim.Adam(model.parameters(), lr=LR), ae_loss, EPOCHS,
               test_data=data.test.batches(64, shuffle=False), progress=False, verbose=False)

model, history = zoo.trained("toy", build, train, cfg)
"""


def cell(notebook, tiny, calls, cfg=None, lr="1e-3", source=TRAIN):
    notebook.ns.update(data=tiny, calls=calls, cfg=cfg or run_config())
    return notebook.run(source.replace("{lr}", lr))


@pytest.fixture
def nb(notebook, tiny):
    notebook.run(SETUP)
    return notebook


def test_a_second_run_loads_the_model_its_history_and_repeats_nothing(nb, tiny, capsys):
    calls = []
    first = cell(nb, tiny, calls)
    model, history = first["model"], first["history"]
    assert len(calls) == 1 and "Training 'toy' (no saved model yet)" in capsys.readouterr().out
    assert history.last("test_loss") < history["test_loss"][0] and not history.loaded
    again = cell(nb, tiny, calls)  # the cell run again: same code, same settings
    out = capsys.readouterr().out
    assert len(calls) == 1 and "Loaded 'toy'" in out and "2 epochs" in out and "RETRAIN = True" in out
    assert again["history"].loaded and again["history"].epochs == history.epochs
    for a, b in zip(model.state_dict().values(), again["model"].state_dict().values()):
        assert torch.equal(a, b)


@pytest.mark.slow
def test_editing_the_training_code_retrains_and_says_what_changed(nb, tiny, capsys):
    calls = []
    cell(nb, tiny, calls)
    edited = TRAIN.replace("torch.optim.Adam(model.parameters(), lr=LR)", "torch.optim.SGD(model.parameters(), lr=LR)")
    cell(nb, tiny, calls, source=edited)  # an edit inside the training function
    assert len(calls) == 2 and "the code of `train` changed" in capsys.readouterr().out
    cell(nb, tiny, calls, source=edited, lr="3e-3")  # a setting the function reads
    assert len(calls) == 3 and "LR 0.001 → 0.003" in capsys.readouterr().out
    commented = edited.replace("EPOCHS = 2", "EPOCHS = 2  # a comment").replace(
        "def train(model):", "def train(model):  # hi"
    )
    cell(nb, tiny, calls, source=commented, lr="3e-3")  # comments and spacing do not change what is trained
    assert len(calls) == 3 and "Loaded 'toy'" in capsys.readouterr().out


@pytest.mark.slow
def test_editing_a_function_or_class_the_training_uses_retrains(nb, tiny, capsys):
    calls = []
    helper = "def my_loss(model, batch):\n    return ae_loss(model, batch){}\n"
    uses_helper = TRAIN.replace("ae_loss, EPOCHS", "my_loss, EPOCHS")
    nb.run(helper.format(""))
    cell(nb, tiny, calls, source=uses_helper)
    nb.run(helper.format(" if True else None"))  # the learner edits the loss, in another cell
    cell(nb, tiny, calls, source=uses_helper)
    assert len(calls) == 2 and "the code of `my_loss` changed" in capsys.readouterr().out
    model_class = (
        "class Small(torch.nn.Module):\n    def __init__(self):\n        super().__init__()\n"
        "        self.net = MLPAutoencoder(latent_dim=2, hidden_dims=({},))\n"
        "    def forward(self, x):\n        return self.net(x)\n"
    )
    uses_class = uses_helper.replace("return MLPAutoencoder(latent_dim=2, hidden_dims=(16,))", "return Small()")
    nb.run(model_class.format(16))
    cell(nb, tiny, calls, source=uses_class)
    nb.run(model_class.format(8))  # the model class edited
    cell(nb, tiny, calls, source=uses_class)
    assert len(calls) == 4 and "the code of `Small` changed" in capsys.readouterr().out


@pytest.mark.slow
def test_other_data_or_mode_retrains(nb, tiny, capsys):
    calls = []
    cell(nb, tiny, calls)
    flipped = Splits(Split(tiny.train.images.flip(-1), tiny.train.labels), None, tiny.test)
    cell(nb, flipped, calls)
    assert len(calls) == 2 and "the data in `data.train.images` changed" in capsys.readouterr().out
    cell(nb, flipped, calls, cfg=run_config(fast=False))  # full mode has a file of its own: trained, fast one kept
    cell(nb, flipped, calls)
    assert len(calls) == 3 and "Loaded 'toy'" in capsys.readouterr().out.splitlines()[-1]


def test_loading_or_training_leaves_every_random_stream_as_it_was(nb, tiny):
    def after(calls):
        torch.manual_seed(123), random.seed(123), np.random.seed(123)
        cell(nb, tiny, calls)
        return torch.rand(3), random.random(), np.random.rand()

    calls = []
    trained_then = after(calls)
    loaded_then = after(calls)
    assert len(calls) == 1  # the second one was loaded
    assert torch.equal(trained_then[0], loaded_then[0]) and trained_then[1:] == loaded_then[1:]
    torch.manual_seed(123)
    assert torch.equal(torch.rand(3), trained_then[0])  # as if the cell had not run at all


@pytest.mark.slow
def test_retrain_trains_the_same_model_again(nb, tiny, capsys):
    calls = []
    first = cell(nb, tiny, calls)["model"]
    second = cell(nb, tiny, calls, cfg=run_config(retrain=True))["model"]
    assert len(calls) == 2 and "(RETRAIN = True: saved models are not used)" in capsys.readouterr().out
    for a, b in zip(first.state_dict().values(), second.state_dict().values()):
        assert torch.equal(a, b)  # seeded: training again gives the same model


def test_an_interrupted_training_is_kept_but_not_saved(nb, tiny, capsys):
    calls = []
    nb.ns["History"] = History
    interrupted = TRAIN.replace("    return fit(", "    h = fit(").replace(
        "verbose=False)\n\nmodel",
        ("verbose=False)\n    h.interrupted, h.stopped = True, 'during epoch 2 of 2'\n    return h\n\nmodel"),
    )
    model = cell(nb, tiny, calls, source=interrupted)["model"]
    out = capsys.readouterr().out
    assert "stopped during epoch 2 of 2" in out and "not saved" in out and isinstance(model, torch.nn.Module)
    assert not zoo.checkpoint_path("toy", True).exists() and "toy.fast.pt" not in read_manifest()


@pytest.mark.slow
def test_a_model_outside_its_sanity_bounds_is_never_saved(nb, tiny, capsys):
    calls = []
    strict = TRAIN.replace(
        'zoo.trained("toy", build, train, cfg)',
        'zoo.trained("toy", build, train, cfg, expect={"test_loss": (None, 1.0)})',
    )
    with pytest.raises(zoo.TrainingCheckFailed, match=r"test_loss \d+\.?\d* is above 1.*not saved"):
        cell(nb, tiny, calls, source=strict)
    assert not zoo.checkpoint_path("toy", True).exists()
    lenient = strict.replace("(None, 1.0)", "(None, 1e6)")
    cell(nb, tiny, calls, source=lenient)
    assert "Checks passed: test_loss" in capsys.readouterr().out and zoo.checkpoint_path("toy", True).exists()
    with pytest.raises(zoo.TrainingCheckFailed):  # a saved model must pass the bounds too: retrained, and failed
        cell(nb, tiny, calls, source=strict.replace("(None, 1.0)", "(None, 2.0)"))
    assert len(calls) == 3 and "the saved one fails its checks (test_loss" in capsys.readouterr().out


@pytest.mark.slow
def test_a_damaged_or_non_finite_checkpoint_is_replaced(nb, tiny, capsys):
    calls = []
    cell(nb, tiny, calls)
    path = zoo.checkpoint_path("toy", True)
    payload = torch.load(path, weights_only=True)
    payload["metrics"]["test_loss"] = float("nan")
    torch.save(payload, path)
    capsys.readouterr()
    cell(nb, tiny, calls)
    assert len(calls) == 2 and "not finite" in capsys.readouterr().out
    path.write_bytes(b"not a checkpoint")
    cell(nb, tiny, calls)
    assert len(calls) == 3 and "cannot be used" in capsys.readouterr().out
    assert math.isfinite(read_checkpoint(path)["metrics"]["test_loss"])


def test_a_folder_that_cannot_be_written_keeps_the_model_for_the_session(nb, tiny, capsys, monkeypatch):
    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(zoo, "save_checkpoint", refuse)
    calls = []
    model = cell(nb, tiny, calls)["model"]
    assert isinstance(model, torch.nn.Module) and "Could not save 'toy'" in capsys.readouterr().err


def test_bad_arguments_are_named(tiny):
    cfg = run_config()
    with pytest.raises(TypeError, match="build must be a function"):
        zoo.trained("x", None, lambda m: None, cfg)
    with pytest.raises(TypeError, match="cfg must be the RunConfig"):
        zoo.trained("x", lambda: None, lambda m: None, {"fast": True})
    with pytest.raises(TypeError, match="train must return the History"):
        zoo.trained("x", lambda: torch.nn.Linear(2, 2), lambda m: None, cfg)
    with pytest.raises(TypeError, match=r"expect\['test_loss'\] must be a \(lowest, highest\) pair"):
        zoo.trained("x", lambda: torch.nn.Linear(2, 2), lambda m: None, cfg, expect={"test_loss": 3})


# --------------------------------------------------------------------------- recipes shared by notebooks


@pytest.fixture
def tiny_recipe(monkeypatch):
    r = zoo.Recipe("MLPAutoencoder", latent_dim=2, hidden_dims=(16,), num_epochs=2, fast_epochs=1, batch_size=64)
    monkeypatch.setitem(zoo.RECIPES, "tiny", r)
    return r


def test_the_notebooks_seed_decides_a_recipe_model(tiny, tiny_recipe, capsys):
    first, _, _ = zoo.from_recipe("tiny", run_config(), tiny)
    other = RunConfig(fast=True, device=torch.device("cpu"), num_threads=1, seed=1)
    second, _, _ = zoo.from_recipe("tiny", other, tiny)
    assert "seed 0 → 1" in capsys.readouterr().out
    assert not torch.equal(next(first.parameters()), next(second.parameters()))


def test_a_recipe_model_is_trained_once_whichever_notebook_asks_first(notebook, tiny, tiny_recipe, capsys):
    first, second = type(notebook)(), type(notebook)()  # two notebooks, each with its own namespace
    for nb in (first, second):
        nb.ns.update(data=tiny, cfg=run_config())
        nb.run("from vae_helpers import zoo\nmodel, history, recon = zoo.from_recipe('tiny', cfg, data)\n")
    out = capsys.readouterr().out
    assert out.count("Training 'tiny'") == 1 and out.count("Loaded 'tiny'") == 1
    assert set(first["recon"]) == {1} and torch.equal(first["recon"][1], second["recon"][1])
    changed = zoo.Recipe(
        "MLPAutoencoder", latent_dim=2, hidden_dims=(16,), num_epochs=2, fast_epochs=1, batch_size=64, lr=3e-3
    )
    zoo.from_recipe("tiny", run_config(), tiny, changed)
    assert "lr 0.001 → 0.003" in capsys.readouterr().out


@pytest.mark.parametrize("seed", [0, 1])
def test_train_recipe_is_the_fit_call_notebook_03_shows(tiny, tiny_recipe, seed):
    from vae_helpers.losses import ae_loss
    from vae_helpers.training import fit
    from vae_helpers.utils import seed_everything

    cfg = RunConfig(fast=True, device=torch.device("cpu"), num_threads=1, seed=seed)
    model, history, _ = zoo.from_recipe("tiny", cfg, tiny)
    seed_everything(seed)  # the notebook's seed: the initial weights and the order of the batches
    manual = tiny_recipe.build()
    fit(
        manual,
        tiny.train.batches(64, seed=seed),
        torch.optim.Adam(manual.parameters(), lr=1e-3, betas=(0.9, 0.99), fused=True),
        ae_loss,
        1,
        progress=False,
        verbose=False,
    )
    for a, b in zip(model.state_dict().values(), manual.state_dict().values()):
        assert torch.equal(a, b)
    assert len(history) == 1


def test_recipes_check_their_fields():
    with pytest.raises(ValueError, match="model must be one of"):
        zoo.Recipe("MLP")
    with pytest.raises(TypeError, match="latent_dim must be a whole number"):
        zoo.Recipe("MLPVAE", latent_dim=2.5)
    with pytest.raises(ValueError, match="lr must be > 0"):
        zoo.Recipe("MLPVAE", lr=0)
    with pytest.raises(KeyError, match="ae_main"):
        zoo.from_recipe("nope", run_config(), None)


# --------------------------------------------------------------------------- command line and manifest


def test_manifest_records_the_key_and_figures(nb, tiny):
    calls = []
    model, history = (lambda ns: (ns["model"], ns["history"]))(cell(nb, tiny, calls))
    entry = read_manifest()["toy.fast.pt"]
    assert entry["config"]["fast"] is True and entry["config"]["LR"] == "0.001" and entry["config"]["EPOCHS"] == "2"
    assert entry["metrics"]["test_loss"] == pytest.approx(history.last("test_loss"))
    assert entry["metrics"]["epochs"] == 2 and entry["model_class"] == "MLPAutoencoder"
    assert entry["parameters"] == sum(p.numel() for p in model.parameters())


def test_recipes_check_the_vae_only_fields():
    with pytest.raises(ValueError, match="loss='vae' does not suit model='MLPAutoencoder'"):
        zoo.Recipe("MLPAutoencoder", loss="vae")
    with pytest.raises(ValueError, match="loss='ae' does not suit model='MLPVAE'"):
        zoo.Recipe("MLPVAE")
    with pytest.raises(ValueError, match=re.escape("beta=2.0 and recon='bce' need loss='vae'")):
        zoo.Recipe("MLPVAE", loss="kl_only", beta=2.0)
    with pytest.raises(ValueError, match="beta must be >= 0"):
        zoo.Recipe("MLPVAE", loss="vae", beta=-1.0)
    with pytest.raises(ValueError, match="recon must be one of"):
        zoo.Recipe("MLPVAE", loss="vae", recon="l1")


@pytest.mark.parametrize("loss, beta, recon", [("vae", 0.0, "bce"), ("vae", 4.0, "mse"), ("kl_only", 1.0, "bce")])
def test_train_recipe_trains_with_the_recipes_kl_weight_and_reconstruction_term(tiny, loss, beta, recon):
    # the oracle: fit with notebook 05's loss, written out with functools.partial, after a warm-up by hand
    import functools

    from vae_helpers import losses
    from vae_helpers.training import fit
    from vae_helpers.utils import seed_everything

    recipe = zoo.Recipe(
        "MLPVAE",
        latent_dim=2,
        hidden_dims=(16,),
        loss=loss,
        beta=beta,
        recon=recon,
        kl_warmup_epochs=1 if loss == "vae" else 0,
        num_epochs=2,
        fast_epochs=2,
        batch_size=64,
    )
    seed_everything(0)
    model = recipe.build()
    history = zoo.train_recipe(model, recipe, tiny, fast=True, seed=0)
    seed_everything(0)
    manual = recipe.build()
    batches = tiny.train.batches(64, seed=0)
    steps = {"n": 0}

    def by_hand(m, batch):
        if loss == "kl_only":
            return losses.kl_only_loss(m, batch)
        weight = beta * min(1.0, steps["n"] / len(batches)) if m.training else 1.0
        steps["n"] += m.training
        return losses.vae_loss(m, batch, beta=weight, recon=recon)

    manual_history = fit(
        manual,
        batches,
        torch.optim.Adam(manual.parameters(), lr=1e-3, betas=(0.9, 0.99), fused=True),
        functools.partial(by_hand),
        2,
        test_data=tiny.test.batches(1000, shuffle=False),
        progress=False,
        verbose=False,
    )
    for a, b in zip(model.state_dict().values(), manual.state_dict().values()):
        assert torch.equal(a, b)
    assert history.last("test_loss") == pytest.approx(manual_history.last("test_loss"))
