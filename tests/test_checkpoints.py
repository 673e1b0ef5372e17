import re

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
    with pytest.raises(
        CheckpointMismatchError, match=re.escape("the model has layers the file lacks: encoder.2.weight")
    ):
        load_checkpoint(path, MLPVAE(hidden_dims=(16, 16)))


def test_config_mismatch_is_reported(tmp_path):
    model = MLPVAE(latent_dim=2, hidden_dims=(8,))
    path = save_checkpoint(tmp_path / "m.pt", model, config={"beta": 1.0})
    with pytest.raises(CheckpointMismatchError, match=re.escape("beta=1.0 in the file but 4.0 now")):
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
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != ".manifest-lock") == [
        "m.pt",
        "manifest.json",
    ]  # no temporary file left


def test_checkpoint_dir_follows_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("VAE_CHECKPOINT_DIR", str(tmp_path))
    assert checkpoints.checkpoint_dir() == tmp_path
    monkeypatch.delenv("VAE_CHECKPOINT_DIR")
    assert checkpoints.checkpoint_dir().name == "checkpoints"


# --------------------------------------------------------------------------- a folder shared by a class


def _save_many(folder, worker, count, barrier):
    """Run in a separate process: save ``count`` small checkpoints into the shared ``folder``, starting
    together with the other workers."""
    import torch

    from vae_helpers.checkpoints import save_checkpoint

    barrier.wait()
    for i in range(count):
        save_checkpoint(f"{folder}/w{worker}-{i}.pt", torch.nn.Linear(2, 1), metrics={"test_loss": float(i)})


@pytest.mark.slow
def test_concurrent_saves_from_several_processes_lose_no_manifest_entry(tmp_path):
    import multiprocessing

    from vae_helpers.checkpoints import read_manifest

    workers, count = 4, 20
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(workers)
    processes = [context.Process(target=_save_many, args=(str(tmp_path), w, count, barrier)) for w in range(workers)]
    for p in processes:
        p.start()
    for p in processes:
        p.join(timeout=300)
        assert p.exitcode == 0
    listed = read_manifest(tmp_path)
    expected = {f"w{w}-{i}.pt" for w in range(workers) for i in range(count)}
    assert set(listed) == expected, f"{len(expected - set(listed))} of {len(expected)} entries lost"
    assert not [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize(
    "content, problem",
    [
        ('{"models": []}', "no 'models' table"),
        ("null", "no 'models' table"),
        ("{ damaged", "cannot be read"),
        ('{"models": {"m.pt": {"config": {}, "metrics": {"test_loss": "low"}}}}', "metrics that are not numbers"),
    ],
)
def test_a_manifest_of_the_wrong_shape_is_reported_in_one_line_and_rebuilt(tmp_path, capsys, content, problem):
    from vae_helpers.checkpoints import read_manifest

    model = MLPVAE(latent_dim=2, hidden_dims=(8,))
    save_checkpoint(tmp_path / "a.pt", model, config={"x": 1}, metrics={"test_loss": 3.0})
    (tmp_path / "manifest.json").write_text(content)
    save_checkpoint(tmp_path / "b.pt", model)  # a save on top of the bad manifest: no TypeError, nothing lost
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and problem in err and "rebuilt it from the 2 checkpoint files" in err
    listed = read_manifest(tmp_path)
    assert set(listed) == {"a.pt", "b.pt"} and listed["a.pt"]["metrics"] == {"test_loss": 3.0}
    assert listed["a.pt"]["config"] == {"x": 1}


def test_files_are_written_with_the_users_usual_permissions(tmp_path):
    import os

    old = os.umask(0o022)
    try:
        save_checkpoint(tmp_path / "shared" / "m.pt", MLPVAE(latent_dim=2, hidden_dims=(8,)))
    finally:
        os.umask(old)
    for name in ("m.pt", "manifest.json"):
        assert (tmp_path / "shared" / name).stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "shared").stat().st_mode & 0o777 == 0o755


def test_a_killed_writer_leaves_a_temporary_file_that_the_next_save_removes(tmp_path):
    import subprocess
    import sys

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    from vae_helpers.files import _host

    leftover = tmp_path / f".m.pt.{_host()}-{dead.stdout.strip()}.tmp"
    leftover.write_bytes(b"half a checkpoint")
    save_checkpoint(tmp_path / "m.pt", MLPVAE(latent_dim=2, hidden_dims=(8,)))
    assert not leftover.exists()


def test_weights_or_metrics_that_are_not_finite_count_as_damaged(tmp_path):
    model = MLPVAE(latent_dim=2, hidden_dims=(8,))
    path = save_checkpoint(tmp_path / "m.pt", model, metrics={"test_loss": float("nan")})  # saved as asked ...
    with pytest.raises(CheckpointError, match="test_loss is not finite"):
        load_checkpoint(path, model)
    with torch.no_grad():
        model.to_mu.weight[0, 0] = float("inf")
    path = save_checkpoint(tmp_path / "m.pt", model)
    with pytest.raises(CheckpointError, match=re.escape("to_mu.weight is not finite")):
        load_checkpoint(path, MLPVAE(latent_dim=2, hidden_dims=(8,)))
