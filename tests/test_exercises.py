"""The checks must accept the worked solutions, reject common mistakes with a hint, and never raise."""

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
