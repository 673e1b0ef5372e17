"""The noisy channel (notebook 05): how many different messages survive a channel that adds noise?

Messages are numbers spread evenly over ``[low, high]``; the channel adds Gaussian noise of standard
deviation ``noise_std``; the receiver decodes each received number to the nearest message. The
simulation reuses the same standard-normal draws for every noise level (common random numbers), so
more noise can never decode more messages correctly.
"""

from __future__ import annotations

import torch

from . import checks


def _check_range(low: float, high: float) -> None:
    checks.number("low", low)
    checks.number("high", high, above=low)


def decoding_accuracy(
    num_messages: int, noise_std: float, low: float = 0.0, high: float = 10.0, trials: int = 2000, seed: int = 0
) -> float:
    """Share of transmissions decoded to the right message, for ``num_messages`` evenly spaced messages."""
    checks.count("num_messages", num_messages)
    checks.number("noise_std", noise_std, minimum=0)
    _check_range(low, high)
    checks.count("trials", trials)
    checks.count("seed", seed, minimum=0)
    if num_messages == 1:
        return 1.0
    messages = torch.linspace(low, high, num_messages, dtype=torch.float64)
    spacing = (high - low) / (num_messages - 1)
    g = torch.Generator().manual_seed(seed)
    noise = torch.randn(trials, num_messages, generator=g, dtype=torch.float64)  # the same draws at every noise level
    received = messages + noise_std * noise  # (trials, num_messages)
    decoded = ((received - low) / spacing).round().clamp(0, num_messages - 1)  # the nearest message's index
    return (decoded == torch.arange(num_messages)).double().mean().item()


def messages_told_apart(
    noise_std: float,
    accuracy: float = 0.95,
    low: float = 0.0,
    high: float = 10.0,
    max_messages: int = 400,
    trials: int = 1000,
    seed: int = 0,
) -> int:
    """How many evenly spaced messages the channel carries: the largest ``n`` such that every set of
    ``2, 3, ..., n`` messages is decoded with at least ``accuracy`` (capped at ``max_messages``)."""
    checks.number("noise_std", noise_std, minimum=0)
    checks.number("accuracy", accuracy, above=0, maximum=1)
    _check_range(low, high)
    checks.count("max_messages", max_messages)
    n = 1
    while n < max_messages and decoding_accuracy(n + 1, noise_std, low, high, trials, seed) >= accuracy:
        n += 1
    return n
