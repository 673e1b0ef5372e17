import pickle

import pytest
import torch

from vae_helpers import checkpoints
from vae_helpers.checkpoints import CheckpointError, CheckpointMismatchError, load_checkpoint, save_checkpoint
from vae_helpers.models import MLPVAE


def test_round_trip_restores_every_tensor_config_and_metrics(tmp_path):
    torch.manual_seed(0)
    model = MLPVAE(latent_dim=4, hidden_dims=(32,))
    path = save_checkpoint(tmp_path / "vae.pt", model, config=model.config, metrics={"test_loss": 101.5})
    torch.manual_seed(1)
    fresh = MLPVAE(latent_dim=4, hidden_dims=(32,))
    assert not torch.equal(fresh.to_mu.weight, model.to_mu.weight)
    payload = load_checkpoint(path, fresh, config=model.config)
    for (name, a), (_, b) in zip(model.state_dict().items(), fresh.state_dict().items()):
        assert torch.equal(a, b), name
    assert payload["config"] == model.config and payload["metrics"] == {"test_loss": 101.5}
    assert payload["model_class"] == "MLPVAE"


def test_architecture_mismatch_is_explained_in_plain_words(tmp_path):
    path = save_checkpoint(tmp_path / "small.pt", MLPVAE(latent_dim=2, hidden_dims=(16,)))
    model = MLPVAE(latent_dim=20, hidden_dims=(16,))
    before = model.to_mu.weight.clone()
    with pytest.raises(CheckpointMismatchError) as info:
        load_checkpoint(path, model)
    message = str(info.value)
    assert "'to_mu.weight' is (2, 16) in the file but (20, 16) in the model" in message
    assert "latent_dim" in message and "retrain" in message
    assert torch.equal(model.to_mu.weight, before)  # nothing loaded


def test_missing_layers_are_listed(tmp_path):
    path = save_checkpoint(tmp_path / "one.pt", MLPVAE(hidden_dims=(16,)))
    with pytest.raises(CheckpointMismatchError, match="the model has layers the file lacks: encoder.2.weight"):
        load_checkpoint(path, MLPVAE(hidden_dims=(16, 16)))


def test_config_mismatch_is_reported(tmp_path):
    model = MLPVAE(latent_dim=2, hidden_dims=(8,))
    path = save_checkpoint(tmp_path / "m.pt", model, config={"beta": 1.0})
    with pytest.raises(CheckpointMismatchError, match="beta=1.0 in the file but 4.0 now"):
        load_checkpoint(path, model, config={"beta": 4.0})


def test_corrupt_and_missing_files_raise_checkpoint_error(tmp_path):
    model = MLPVAE(latent_dim=2, hidden_dims=(8,))
    with pytest.raises(CheckpointError, match="No checkpoint"):
        load_checkpoint(tmp_path / "none.pt", model)
    path = save_checkpoint(tmp_path / "m.pt", model)
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(CheckpointError, match="damaged"):
        load_checkpoint(path, model)


class Evil:
    def __reduce__(self):
        return (print, ("this should never run",))


def test_files_with_pickled_code_are_refused(tmp_path, capsys):
    path = tmp_path / "evil.pt"
    torch.save({"state_dict": {}, "payload": Evil()}, path)
    with pytest.raises(CheckpointError):
        load_checkpoint(path, MLPVAE(latent_dim=2, hidden_dims=(8,)))
    assert "should never run" not in capsys.readouterr().out


def test_interrupted_save_keeps_the_old_file_and_leaves_no_temp(tmp_path, monkeypatch):
    model = MLPVAE(latent_dim=2, hidden_dims=(8,))
    path = save_checkpoint(tmp_path / "m.pt", model, metrics={"loss": 1.0})
    good = path.read_bytes()

    def interrupted_save(obj, f):
        f.write(b"half")
        raise KeyboardInterrupt

    monkeypatch.setattr(checkpoints.torch, "save", interrupted_save)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(path, model, metrics={"loss": 2.0})
    assert path.read_bytes() == good
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.pt", "manifest.json"]  # no temporary file left


def test_checkpoint_dir_follows_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("VAE_CHECKPOINT_DIR", str(tmp_path))
    assert checkpoints.checkpoint_dir() == tmp_path
    monkeypatch.delenv("VAE_CHECKPOINT_DIR")
    assert checkpoints.checkpoint_dir().name == "checkpoints"
