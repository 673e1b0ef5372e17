import random

import numpy as np
import pytest
import torch
from torch import nn

from vae_helpers import utils


def test_seed_everything_repeats_all_three_generators():
    def draw():
        return random.random(), np.random.rand(), torch.rand(3)

    utils.seed_everything(123)
    a = draw()
    utils.seed_everything(123)
    b = draw()
    assert a[0] == b[0] and a[1] == b[1] and torch.equal(a[2], b[2])
    g1, g2 = utils.seed_everything(5), utils.seed_everything(5)
    assert torch.equal(torch.rand(4, generator=g1), torch.rand(4, generator=g2))


@pytest.mark.parametrize("value, expected", [("1", True), ("true", True), ("0", False), ("", False), ("off", False)])
def test_fast_mode_reads_vae_fast(monkeypatch, value, expected):
    monkeypatch.setenv("VAE_FAST", value)
    assert utils.fast_mode() is expected


def test_fast_mode_rejects_unclear_values(monkeypatch):
    monkeypatch.setenv("VAE_FAST", "maybe")
    with pytest.raises(ValueError, match="VAE_FAST=1"):
        utils.fast_mode()


def test_thread_setting_follows_argument_then_environment(monkeypatch):
    before = torch.get_num_threads()
    try:
        monkeypatch.setenv("VAE_NUM_THREADS", "1")
        assert utils.configure_threads() == 1 and torch.get_num_threads() == 1
        assert utils.configure_threads(2) == 2 and torch.get_num_threads() == 2
        monkeypatch.delenv("VAE_NUM_THREADS")
        assert 1 <= utils.configure_threads() <= utils.available_cpus()
        monkeypatch.setenv("VAE_NUM_THREADS", "two")
        with pytest.raises(ValueError, match="VAE_NUM_THREADS"):
            utils.configure_threads()
    finally:
        torch.set_num_threads(before)


def test_device_choice_prints_one_line(monkeypatch, capsys):
    monkeypatch.delenv("VAE_DEVICE", raising=False)
    device = utils.get_device()
    expected = "cuda" if torch.cuda.is_available() else ("mps" if torch.backends.mps.is_available() else "cpu")
    assert device.type == expected
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and out.startswith(f"Device: {expected}")


def test_device_can_be_forced_and_impossible_choices_are_explained(monkeypatch):
    monkeypatch.setenv("VAE_DEVICE", "cpu")
    assert utils.get_device(verbose=False) == torch.device("cpu")
    if not torch.cuda.is_available():
        monkeypatch.setenv("VAE_DEVICE", "cuda")
        with pytest.raises(ValueError, match="no CUDA GPU"):
            utils.get_device(verbose=False)
    monkeypatch.setenv("VAE_DEVICE", "gpu please")
    with pytest.raises(ValueError, match="not a device name"):
        utils.get_device(verbose=False)


def test_count_parameters_counts_weights_and_biases():
    model = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
    assert utils.count_parameters(model) == (3 * 4 + 4) + (4 * 2 + 2)
    model[0].weight.requires_grad_(False)
    assert utils.count_parameters(model) == 4 + 10
    assert utils.count_parameters(model, trainable_only=False) == 26


def test_setup_reports_and_returns_the_run_settings(monkeypatch, capsys):
    monkeypatch.setenv("VAE_FAST", "1")
    monkeypatch.setenv("VAE_DEVICE", "cpu")
    before = torch.get_num_threads()
    try:
        cfg = utils.setup(seed=3)
    finally:
        torch.set_num_threads(before)
    assert cfg.fast and cfg.device.type == "cpu" and cfg.seed == 3
    assert "Fast mode: ON" in capsys.readouterr().out


def test_layer_table_lists_each_leaf_layer_with_its_output_shape(capsys):
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 5), nn.ReLU(), nn.Linear(5, 2))
    rows = utils.layer_table(model, torch.zeros(3, 3, 4))
    assert [(r[1], r[2], r[3]) for r in rows] == [
        ("Flatten", (3, 12), 0),
        ("Linear", (3, 5), 65),
        ("ReLU", (3, 5), 0),
        ("Linear", (3, 2), 12),
    ]
    out = capsys.readouterr().out
    assert "(3, 12)" in out and "77" in out
    assert all(not m._forward_hooks for m in model.modules())  # hooks removed


def test_setup_says_what_turned_retraining_on(monkeypatch, capsys):
    from vae_helpers.utils import setup

    monkeypatch.delenv("VAE_RETRAIN", raising=False)
    assert not setup().retrain and "Saved models" not in capsys.readouterr().out  # a notebook that saves none
    assert not setup(retrain=False).retrain and "loaded when their settings match" in capsys.readouterr().out
    cfg = setup(retrain=True)
    assert cfg.retrain and cfg.retrain_reason == "RETRAIN = True"
    monkeypatch.setenv("VAE_RETRAIN", "1")
    assert setup().retrain
    cfg = setup(retrain=False)  # the notebook's flag is off, the environment turns it on
    assert cfg.retrain and cfg.retrain_reason == "VAE_RETRAIN=1"
    assert "ignored (VAE_RETRAIN=1): every model is trained here" in capsys.readouterr().out
    monkeypatch.setenv("VAE_RETRAIN", "maybe")
    with pytest.raises(ValueError, match="VAE_RETRAIN='maybe' is not understood"):
        setup()
