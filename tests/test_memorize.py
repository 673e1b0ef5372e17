import pytest
import torch
import torch.nn.functional as F

from vae_helpers.memorize import capacity_sweep, pixel_mse, train_codebook
from vae_helpers.models import CodebookDecoder


def blob_images(n, seed=0):
    """Distinct smooth images in [0, 1]: Gaussian blobs at different places."""
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.arange(28.0), torch.arange(28.0), indexing="ij")
    centres = torch.rand(n, 2, generator=g) * 16 + 6
    d2 = (yy - centres[:, 0, None, None]) ** 2 + (xx - centres[:, 1, None, None]) ** 2
    return torch.exp(-d2 / 18.0)[:, None]


@pytest.mark.parametrize("code", ["onehot", "learned"])
@pytest.mark.slow
def test_training_lowers_the_reconstruction_error(code):
    images = blob_images(4)
    torch.manual_seed(0)
    model = CodebookDecoder(4, code, code_dim=2, channels=(16, 8))
    before = pixel_mse(model, images)
    losses = train_codebook(model, images, num_steps=300)
    after = pixel_mse(model, images)
    assert len(losses) == 300
    assert after < 0.1 * before and after < 5e-3


def test_train_codebook_is_the_hand_written_loop():
    images = blob_images(3)
    torch.manual_seed(0)
    a = CodebookDecoder(3, "onehot", channels=(8, 4))
    b = CodebookDecoder(3, "onehot", channels=(8, 4))
    b.load_state_dict(a.state_dict())
    optimizer = torch.optim.Adam(a.parameters(), lr=3e-3)
    hand = []
    for _ in range(10):
        loss = F.mse_loss(torch.sigmoid(a(torch.arange(3))), images)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        hand.append(loss.item())
    assert train_codebook(b, images, 10) == hand


def test_seeded_minibatch_runs_repeat():
    images = blob_images(20)

    def run():
        torch.manual_seed(1)
        return train_codebook(CodebookDecoder(20, "learned", channels=(8, 4)), images, 20, batch_size=8, seed=3)

    assert run() == run()


def test_train_codebook_checks_the_number_of_images():
    with pytest.raises(ValueError, match="images holds 3 images but the model stores 4"):
        train_codebook(CodebookDecoder(4), blob_images(3), 1)


def test_capacity_sweep_counts_match_the_models():
    rows = capacity_sweep(blob_images(8), sizes=[2, 8], code_dim=3, channels=(8, 4), num_steps=5, progress=False)
    assert [(r["N"], r["code"]) for r in rows] == [(n, c) for n in (2, 8) for c in ("onehot", "learned", "random")]
    for r in rows:
        model = r["model"]
        assert r["params"] == sum(p.numel() for p in model.parameters() if p.requires_grad)
        first = sum(p.numel() for p in model.decoder.layers[0].parameters())
        assert r["input_params"] == first + (model.codes.numel() if r["code"] == "learned" else 0)
        assert r["mse"] == pytest.approx(pixel_mse(model, blob_images(8)[: r["N"]]))
    onehot = [r["input_params"] for r in rows if r["code"] == "onehot"]
    assert onehot[1] - onehot[0] == 6 * 8 * 7 * 7  # six more images, 8 channels, 7x7 kernel each


@pytest.mark.slow
def test_capacity_sweep_saves_its_models_and_loads_them_next_time(tmp_path, monkeypatch, capsys):
    from vae_helpers.utils import RunConfig

    monkeypatch.setenv("VAE_CHECKPOINT_DIR", str(tmp_path))
    cfg = RunConfig(fast=True, device=torch.device("cpu"), num_threads=1, seed=0)
    images = blob_images(8)
    kwargs = dict(sizes=[2, 8], codes=("onehot", "learned"), code_dim=3, channels=(8, 4), num_steps=5, progress=False)
    plain = capacity_sweep(images, **kwargs)  # no cfg: trained here, nothing saved
    assert not list(tmp_path.glob("*.pt"))
    first = capacity_sweep(images, cfg=cfg, **kwargs)
    assert "4 models trained here and saved, 0 loaded" in capsys.readouterr().out
    second = capacity_sweep(images, cfg=cfg, **kwargs)
    assert "0 models trained here and saved, 4 loaded from earlier runs" in capsys.readouterr().out
    for a, b, c in zip(plain, first, second):
        assert a["mse"] == b["mse"] == c["mse"]  # seeded the same way, trained or loaded
        for p, q in zip(b["model"].state_dict().values(), c["model"].state_dict().values()):
            assert torch.equal(p, q)
    capacity_sweep(images, cfg=cfg, **{**kwargs, "num_steps": 6})  # other settings: trained again
    assert "4 models trained here and saved, 0 loaded" in capsys.readouterr().out
    capacity_sweep(images.flip(-1), cfg=cfg, **{**kwargs, "num_steps": 6})  # other images: trained again
    assert "4 models trained here and saved, 0 loaded" in capsys.readouterr().out


def test_a_nan_loss_stops_train_codebook_with_a_clear_message():
    from vae_helpers.training import TrainingDiverged

    images = blob_images(2)
    images[0, 0, 0, 0] = float("nan")
    with pytest.raises(TrainingDiverged, match="loss became nan at step 1"):
        train_codebook(CodebookDecoder(2, "onehot", channels=(4, 2)), images, num_steps=3)


def test_an_interrupted_sweep_returns_and_keeps_the_models_done(tmp_path, monkeypatch, capsys):
    from vae_helpers import memorize
    from vae_helpers.utils import RunConfig

    monkeypatch.setenv("VAE_CHECKPOINT_DIR", str(tmp_path))
    cfg = RunConfig(fast=True, device=torch.device("cpu"), num_threads=1, seed=0)
    real, calls = memorize.pixel_mse, []

    def stop_at_the_third(*args, **kwargs):  # (the training code itself is left alone: editing it retrains)
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt  # the stop button, just after the third model was trained and saved
        return real(*args, **kwargs)

    monkeypatch.setattr(memorize, "pixel_mse", stop_at_the_third)
    kwargs = dict(sizes=[2, 4], codes=("onehot", "learned"), code_dim=3, channels=(8, 4), num_steps=3, progress=False)
    rows = capacity_sweep(blob_images(4), cfg=cfg, **kwargs)
    out = capsys.readouterr().out
    assert len(rows) == 2 and "Stopped after 2 of 4 models" in out and "2 models trained here" in out
    monkeypatch.setattr(memorize, "pixel_mse", real)
    rows = capacity_sweep(blob_images(4), cfg=cfg, **kwargs)  # run again: the three saved are loaded
    assert len(rows) == 4 and "1 models trained here and saved, 3 loaded" in capsys.readouterr().out
