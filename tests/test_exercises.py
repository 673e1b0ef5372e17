"""The checks must accept the worked solutions, reject common mistakes with a hint, and never raise."""

import pytest
import torch

from vae_helpers import exercises


def test_transposed_conv_size(capsys):
    assert exercises.check_transposed_conv_size(lambda s, k, st, p: (s - 1) * st - 2 * p + k)
    assert "Correct" in capsys.readouterr().out
    assert not exercises.check_transposed_conv_size(lambda s, k, st, p: (s + 2 * p - k) // st + 1)
    assert "ordinary convolution" in capsys.readouterr().out
    assert not exercises.check_transposed_conv_size(lambda s, k, st, p: (s - 1) * st + k)
    assert "padding" in capsys.readouterr().out


def test_unfinished_or_crashing_answers_get_a_hint_not_a_traceback(capsys):
    def stub(*args):
        return ...

    def broken(*args):
        raise NotImplementedError

    def typo(*args):
        return undefined_name  # noqa: F821

    for fn in (stub, broken):
        assert not exercises.check_conv_transpose_params(fn)
        assert "Not attempted yet" in capsys.readouterr().out
    assert not exercises.check_one_hot(typo)
    assert "NameError" in capsys.readouterr().out


def test_conv_transpose_params(capsys):
    assert exercises.check_conv_transpose_params(lambda i, o, k: i * o * k * k + o)
    assert not exercises.check_conv_transpose_params(lambda i, o, k: i * o * k * k)
    assert "bias" in capsys.readouterr().out


def test_one_hot(capsys):
    def one_hot(index, n):
        out = torch.zeros(len(index), n)
        out[torch.arange(len(index)), index] = 1.0
        return out

    assert exercises.check_one_hot(one_hot)
    assert not exercises.check_one_hot(lambda index, n: torch.nn.functional.one_hot(index, n))
    assert "floats" in capsys.readouterr().out


def test_onehot_input_params(capsys):
    assert exercises.check_onehot_input_params(lambda n, c, k: n * c * k * k + c)
    assert not exercises.check_onehot_input_params(lambda n, c, k: n * c + c)
    assert "Hint" in capsys.readouterr().out


def test_bce_with_logits(capsys):
    def stable(logits, x):
        return logits.clamp(min=0) - logits * x + torch.log1p(torch.exp(-logits.abs()))

    def naive(logits, x):
        p = torch.sigmoid(logits)
        return -(x * torch.log(p) + (1 - x) * torch.log(1 - p))

    assert exercises.check_bce_with_logits(stable)
    assert not exercises.check_bce_with_logits(naive)
    assert "inf or nan" in capsys.readouterr().out
    assert not exercises.check_bce_with_logits(lambda l, x: stable(l, x).sum())
    assert "one loss per pixel" in capsys.readouterr().out


def test_interpolate(capsys):
    assert exercises.check_interpolate(lambda z0, z1, n: torch.stack([z0 + (z1 - z0) * t for t in torch.linspace(0, 1, n)]))
    assert not exercises.check_interpolate(lambda z0, z1, n: torch.stack([z0 + (z1 - z0) * t for t in torch.arange(n) / n]))
    assert "last z1" in capsys.readouterr().out


def test_reparameterize(capsys):
    assert exercises.check_reparameterize(lambda mu, logvar: mu + torch.exp(0.5 * logvar) * torch.randn_like(mu))
    assert not exercises.check_reparameterize(lambda mu, logvar: mu + torch.exp(logvar) * torch.randn_like(mu))
    assert "variance" in capsys.readouterr().out
    assert not exercises.check_reparameterize(lambda mu, logvar: torch.normal(mu.detach(), torch.exp(0.5 * logvar.detach())))
    assert "not connected" in capsys.readouterr().out


def test_kl(capsys):
    assert exercises.check_kl(lambda mu, lv: 0.5 * (mu ** 2 + lv.exp() - lv - 1).sum(dim=1))
    assert not exercises.check_kl(lambda mu, lv: 0.5 * (mu ** 2 + lv.exp() - lv).sum(dim=1))  # without the -1
    assert "-1 inside the sum" in capsys.readouterr().out
    assert not exercises.check_kl(lambda mu, lv: (mu ** 2 + lv.exp() - lv - 1).sum(dim=1))
    assert "factor 1/2" in capsys.readouterr().out
    assert not exercises.check_kl(lambda mu, lv: 0.5 * (mu ** 2 + lv.exp() - lv - 1).mean(dim=1))
    assert "sum" in capsys.readouterr().out


def test_latent_size_prediction(capsys):
    measured = {2: {"kl": 6.0, "recon": 140.0}, 20: {"kl": 25.0, "recon": 75.0}}
    assert exercises.check_latent_size_prediction("20", "20", measured)
    assert not exercises.check_latent_size_prediction("2", "20", measured)
    assert "KL" in capsys.readouterr().out
    assert not exercises.check_latent_size_prediction(..., ..., measured)
    assert "Not attempted" in capsys.readouterr().out


def test_beta_reading(capsys):
    sweep = {0.5: {"kl": 7.0, "recon": 140.0}, 1.0: {"kl": 6.0, "recon": 145.0}, 4.0: {"kl": 3.0, "recon": 170.0}}
    assert exercises.check_beta_reading(0.5, 0.5, sweep)
    assert not exercises.check_beta_reading(4.0, 0.5, sweep)
    assert "price" in capsys.readouterr().out
    assert not exercises.check_beta_reading(..., 0.5, sweep)
    assert "Not attempted" in capsys.readouterr().out


def test_sharpness(capsys):
    from vae_helpers.quality import sharpness

    assert exercises.check_sharpness(sharpness)
    assert not exercises.check_sharpness(lambda x: (x[..., :, 1:] - x[..., :, :-1]).abs().flatten(1).mean(1))
    assert "Hint" in capsys.readouterr().out


# --------------------------------------------------------------------------- yours_or_reference


@pytest.mark.parametrize("name", ["bce_with_logits", "interpolate", "reparameterize", "kl_divergence"])
def test_every_reference_passes_its_own_check(name, capsys):
    from vae_helpers.exercises import REFERENCES, reference

    assert REFERENCES[name][1](reference(name))
    assert "Correct!" in capsys.readouterr().out


def test_yours_or_reference_keeps_a_passing_function_quietly(capsys):
    from vae_helpers.exercises import yours_or_reference

    def mine(z0, z1, steps):
        return torch.stack([z0 + (z1 - z0) * t for t in torch.linspace(0, 1, steps)])

    state = torch.get_rng_state()
    assert yours_or_reference("interpolate", mine) is mine
    assert capsys.readouterr().out == ""
    assert torch.equal(torch.get_rng_state(), state)  # the quiet check leaves the notebook's random stream alone


def test_yours_or_reference_falls_back_and_says_so(capsys):
    from vae_helpers.exercises import reference, yours_or_reference

    def stub(mu, logvar):
        return ...

    state = torch.get_rng_state()
    assert yours_or_reference("reparameterize", stub) is reference("reparameterize")
    out = capsys.readouterr().out
    assert "Your `reparameterize` does not pass its check yet" in out and "reference('reparameterize')" in out
    assert torch.equal(torch.get_rng_state(), state)
    with pytest.raises(KeyError, match="No exercise function named 'nope'"):
        yours_or_reference("nope", stub)
