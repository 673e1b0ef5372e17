"""The judge (notebook 03 on): a small digit classifier that scores generated images by how many it calls a digit.

Notebooks judge the samples of an autoencoder or a VAE by a measure, not by eye: "83 % of 1,000
samples are confidently a digit; classes covered: 10/10". :func:`digit_classifier` gives the
classifier (a two-layer CNN, about 99 % accurate on the MNIST test set) and :func:`recognised` the
measure: the share of images whose most likely class has a probability above a threshold.

The judge is a measuring instrument, so every notebook and both modes use the same one: it trains
on the full MNIST training set with a fixed seed, in fast mode (``VAE_FAST=1``) too, and is cached
by ``zoo.trained`` under one name for both modes (see :func:`digit_classifier`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from . import checks
from .data import Split, Splits, load_mnist
from .mnist import FILES, IMAGE_SIZE, NUM_CLASSES
from .training import History, evaluate, fit
from .utils import RunConfig
from .zoo import trained

NAME = "digit_judge"  # its checkpoint: checkpoints/digit_judge.pt, in both modes
MEAN, STD = 0.1307, 0.3081  # of MNIST's training pixels: the network standardises its [0, 1] input with them
NUM_EPOCHS = 3  # passes over the 60,000 training images (in both modes)
BATCH_SIZE = 128  # images per optimizer step
LR = 3e-3  # Adam's learning rate in the first epoch
LR_DECAY = 0.3  # the learning rate is multiplied by this after each epoch (3e-3, 9e-4, 2.7e-4)
SEED = 0  # initial weights and batch order: the judge's own, not the notebook's cfg.seed
# Saved only at or above this test accuracy: what the judge must reach to be trusted as a measure. It
# reaches 0.9889-0.9898 (3 seeds x 1 and 2 threads, on a 2-core CPU), so only a broken judge misses it.
MIN_TEST_ACCURACY = 0.98


class DigitClassifier(nn.Module):
    """Images ``(B, 1, 28, 28)`` in [0, 1] -> logits ``(B, 10)`` over the digits 0-9.

    Two 5x5 convolutions with stride 2 (28 -> 14 -> 7 pixels, no pooling: fast on a CPU), then one
    linear layer; 28,938 parameters with the default ``channels=(16, 32)``.
    """

    def __init__(self, channels: tuple[int, int] = (16, 32)):
        super().__init__()
        channels = checks.sizes("channels", channels)
        if len(channels) != 2:
            raise ValueError(f"channels must be two numbers, one per convolution, e.g. (16, 32); got {channels!r}.")
        c1, c2 = channels
        self.features = nn.Sequential(
            nn.Conv2d(1, c1, kernel_size=5, stride=2, padding=2),
            nn.ReLU(),  # (B, c1, 14, 14)
            nn.Conv2d(c1, c2, kernel_size=5, stride=2, padding=2),
            nn.ReLU(),  # (B, c2, 7, 7)
        )
        self.head = nn.Linear(c2 * (IMAGE_SIZE // 4) ** 2, NUM_CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` ``(B, 1, 28, 28)`` (or flat ``(B, 784)``) in [0, 1] -> logits ``(B, 10)``."""
        checks.images("x", x, (1, IMAGE_SIZE, IMAGE_SIZE))
        x = x.reshape(len(x), 1, IMAGE_SIZE, IMAGE_SIZE)
        h = self.features((x - MEAN) / STD)  # (B, c2, 7, 7)
        return self.head(h.flatten(start_dim=1))  # (B, 10)


def classification_loss(
    model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]
) -> tuple[torch.Tensor, dict[str, Any]]:
    """Cross-entropy of the logits against the labels (mean over the batch), and the accuracy: a loss for ``fit``."""
    x, y = batch
    logits = model(x)  # (B, 10)
    return F.cross_entropy(logits, y), {"accuracy": (logits.argmax(dim=1) == y).float().mean()}


def train_judge(model: nn.Module, mnist: Splits) -> History:
    """``fit`` the judge on ``mnist.train`` (Adam, the learning rate cut after each epoch); the History has
    ``test_accuracy`` on ``mnist.test`` after every epoch."""
    device = next(model.parameters()).device
    train, test = mnist.train.to(device), mnist.test.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    schedule = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=LR_DECAY)
    return fit(
        model,
        train.batches(BATCH_SIZE, seed=SEED),
        optimizer,
        classification_loss,
        NUM_EPOCHS,
        test_data=test.batches(1000, shuffle=False),
        on_epoch_end=lambda epoch, history: schedule.step(),
    )


def _check_full(mnist: Any) -> Splits:
    if not isinstance(mnist, Splits):
        raise TypeError(f"mnist must be the Splits of data.load_mnist(), got {type(mnist).__name__}.")
    sizes = {"train": len(mnist.train), "test": len(mnist.test)}
    if any(sizes[split] != FILES[split][2] for split in sizes):
        raise ValueError(
            f"The judge trains on all of MNIST in both modes (60,000 training and 10,000 test images), "
            f"but mnist holds {sizes['train']:,} and {sizes['test']:,} (fast mode's subsets?). Leave mnist "
            "out, digit_classifier(cfg) loads the full set, or pass load_mnist()."
        )
    return mnist


def digit_classifier(cfg: RunConfig, mnist: Splits | None = None, verbose: bool = True) -> DigitClassifier:
    """The judge, loaded or trained (10-15 s on an idle 2-core CPU) through ``zoo.trained``; in eval mode, on ``cfg.device``.

    Args:
        cfg: the notebook's ``setup()`` result; ``cfg.retrain`` trains the judge again, ``cfg.fast`` is ignored.
        mnist: the full MNIST (``data.load_mnist()``), to save loading it again; by default it is loaded here.
            Fast mode's subsets are refused: the judge always trains on all 60,000 training images.
        verbose: print one line saying whether it was loaded or why it is trained.

    One judge for both modes: ``zoo.trained`` keeps one checkpoint per mode and puts the mode in the
    key, so it gets a copy of ``cfg`` with ``fast=False`` (``dataclasses.replace``). As the data and
    the settings are the same in both modes, so is the model; fast mode saves and loads
    ``digit_judge.pt`` like full mode. Like every course model the key holds the code of
    :class:`DigitClassifier` and :func:`train_judge` and the values they read, so an edit retrains. A
    judge below ``MIN_TEST_ACCURACY`` on the test set is neither saved nor returned.
    """
    if not isinstance(cfg, RunConfig):
        raise TypeError(f"cfg must be the RunConfig that setup() returns, got {type(cfg).__name__}.")
    mnist = load_mnist(device=cfg.device) if mnist is None else _check_full(mnist)

    def train(model: nn.Module) -> History:
        return train_judge(model, mnist)

    model, history = trained(
        NAME,
        DigitClassifier,
        train,
        dataclasses.replace(cfg, fast=False),
        seed=SEED,
        expect={"test_accuracy": (MIN_TEST_ACCURACY, None)},
        verbose=verbose,
    )
    if history.interrupted:
        raise RuntimeError(
            f"The judge's training stopped {history.stopped}: a half-trained judge gives wrong figures, "
            "so none is returned. Run the cell again to train it."
        )
    return model.eval()


# --------------------------------------------------------------------------- judging images


def _device(model: nn.Module) -> torch.device:
    param = next(model.parameters(), None)
    return param.device if param is not None else torch.device("cpu")


@dataclass(frozen=True, eq=False)
class Recognition:
    """What :func:`recognised` found in a batch of images (tensors on the CPU)."""

    share: float  # fraction of the images whose most likely class has probability > threshold
    labels: torch.Tensor  # (B,) int64: the most likely class of each image
    confidence: torch.Tensor  # (B,) its probability
    counts: torch.Tensor  # (10,) int64: how many confidently recognised images per class
    threshold: float  # the probability an image's top class had to exceed

    @property
    def classes_covered(self) -> int:
        """How many of the 10 digits at least one image is confidently recognised as."""
        return int((self.counts > 0).sum())

    def __str__(self) -> str:
        return (
            f"{self.share:.0%} of {len(self.labels):,} images are confidently a digit (probability > "
            f"{self.threshold:g}); classes covered: {self.classes_covered}/{NUM_CLASSES}"
        )


def recognised(
    classifier: nn.Module, images: torch.Tensor, threshold: float = 0.9, batch_size: int = 1000
) -> Recognition:
    """Classify ``images`` ``(B, 1, 28, 28)`` in [0, 1] (on any device; e.g. ``torch.sigmoid(model.decode(z))``)
    and count the confident ones: an image is recognised when its top class probability is > ``threshold``.

    The classifier runs without gradients, in eval mode, and is put back in its mode afterwards.
    """
    if not isinstance(classifier, nn.Module):
        raise TypeError(
            f"classifier must be a torch.nn.Module, e.g. digit_classifier(cfg); got {type(classifier).__name__}."
        )
    checks.images("images", images, (1, IMAGE_SIZE, IMAGE_SIZE))
    if len(images) == 0:
        raise ValueError("images holds no images: pass at least one.")
    if not torch.isfinite(images).all():
        raise ValueError("images holds NaN or infinite pixels: check the model that made them.")
    low, high = images.min().item(), images.max().item()
    if low < 0 or high > 1:
        raise ValueError(
            f"images must be in [0, 1], got values from {low:.3g} to {high:.3g}. A decoder returns logits: "
            "pass torch.sigmoid(logits)."
        )
    checks.number("threshold", threshold, minimum=0, maximum=1)
    if threshold == 1:
        raise ValueError("threshold must be below 1: no probability exceeds 1, so nothing would be recognised.")
    checks.count("batch_size", batch_size)
    device = _device(classifier)
    was_training = classifier.training
    classifier.eval()
    probs = []
    try:
        with torch.no_grad():
            for start in range(0, len(images), batch_size):
                x = images[start : start + batch_size].to(device)
                logits = classifier(x)
                if not (isinstance(logits, torch.Tensor) and tuple(logits.shape) == (len(x), NUM_CLASSES)):
                    shape = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
                    raise ValueError(f"classifier must return logits shaped (B, {NUM_CLASSES}), got {shape}.")
                probs.append(torch.softmax(logits.float(), dim=1).cpu())  # (b, 10): each row sums to 1
    finally:
        classifier.train(was_training)
    confidence, labels = torch.cat(probs).max(dim=1)  # (B,), (B,)
    sure = confidence > threshold
    return Recognition(
        share=sure.sum().item() / len(sure),
        labels=labels,
        confidence=confidence,
        counts=torch.bincount(labels[sure], minlength=NUM_CLASSES),
        threshold=float(threshold),
    )


def accuracy(classifier: nn.Module, split: Split, batch_size: int = 1000) -> float:
    """Fraction of ``split``'s images (e.g. ``mnist.test``) whose most likely class is their label.

    The classifier runs without gradients, in eval mode, and is put back in its mode afterwards.
    """
    if not isinstance(classifier, nn.Module):
        raise TypeError(
            f"classifier must be a torch.nn.Module, e.g. digit_classifier(cfg); got {type(classifier).__name__}."
        )
    if not isinstance(split, Split):
        raise TypeError(f"split must be a data.Split such as mnist.test, got {type(split).__name__}.")
    batches = split.to(_device(classifier)).batches(batch_size, shuffle=False)
    return evaluate(classifier, batches, classification_loss)["accuracy"]
