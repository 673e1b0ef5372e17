import math

import pytest

from vae_helpers.channel import decoding_accuracy, messages_told_apart


def test_without_noise_every_message_gets_through():
    assert decoding_accuracy(500, 0.0) == 1.0


def test_more_noise_never_lets_more_messages_through():
    counts = [messages_told_apart(s, trials=300) for s in (0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0)]
    assert counts == sorted(counts, reverse=True)
    assert counts[0] > 50 > counts[-1] >= 1
    for n in (5, 20):
        accs = [decoding_accuracy(n, s, trials=500) for s in (0.05, 0.1, 0.3, 1.0, 3.0)]
        assert accs == sorted(accs, reverse=True)


def test_accuracy_matches_the_normal_distribution():
    # two messages at 0 and 10: an error needs noise beyond the midpoint, P = 1 - Phi(5 / sigma)
    sigma = 4.0
    expected = 0.5 * (1 + math.erf(5 / sigma / math.sqrt(2)))
    assert decoding_accuracy(2, sigma, trials=40_000) == pytest.approx(expected, abs=0.01)


def test_bad_arguments():
    with pytest.raises(ValueError, match="num_messages"):
        decoding_accuracy(0, 1.0)
    with pytest.raises(ValueError, match="noise_std"):
        decoding_accuracy(3, -1.0)
