"""The judge: a digit classifier that scores generated images (vae_helpers.judge).

The quick tests check ``recognised`` and ``accuracy`` against a hand computation with a stub classifier
(oracle: ``torch.softmax``) and the judge's caching with ``fit`` replaced by a stand-in; the slow ones
train the real judge once, into a temporary checkpoint folder, and check what it measures.
"""

import math
import re

import pytest
import torch
from torch import nn

from vae_helpers import judge, training, zoo
from vae_helpers.data import Split, Splits
from vae_helpers.training import History
from vae_helpers.utils import RunConfig


def run_config(fast=True, retrain=False):
    return RunConfig(
        fast=fast,
        device=torch.device("cpu"),
        num_threads=1,
        seed=0,
        retrain=retrain,
        retrain_reason="RETRAIN = True" if retrain else "",
    )


def stub(seed=0, dropout=0.0):
    """A linear classifier on the pixels, with random weights: every pixel moves every logit."""
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Flatten(), nn.Dropout(dropout), nn.Linear(784, 10))
    with torch.no_grad():
        model[2].weight.mul_(10)  # confidences spread over (0.2, 1): thresholds of 0.5 and 0.9 both split them
    return model


def images(n=200, seed=0):
    return torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(seed))


def by_hand(model, x, threshold):
    """The measure written out: softmax over the classes, the top class, the share above the threshold."""
    model.eval()
    with torch.no_grad():
        probs = torch.softmax(model(x), dim=1)  # (B, 10)
    confidence, labels = probs.max(dim=1)
    sure = [i for i in range(len(x)) if confidence[i].item() > threshold]
    counts = [sum(1 for i in sure if labels[i] == c) for c in range(10)]
    return len(sure) / len(x), labels, confidence, counts


# --------------------------------------------------------------------------- recognised and accuracy (quick)


@pytest.mark.parametrize("threshold", [0.5, 0.9])
def test_recognised_matches_the_measure_computed_by_hand(threshold):
    model, x = stub(), images()
    share, labels, confidence, counts = by_hand(model, x, threshold)
    assert 0.1 < share < 0.9  # the stub gives both kinds, so the test can tell them apart
    for batch_size in (1000, 7):  # one batch, and many uneven ones
        result = judge.recognised(model, x, threshold=threshold, batch_size=batch_size)
        assert result.share == pytest.approx(share, abs=1e-9)
        assert torch.equal(result.labels, labels) and result.labels.shape == (len(x),)
        torch.testing.assert_close(result.confidence, confidence)
        assert result.counts.tolist() == counts and int(result.counts.sum()) == round(share * len(x))
        assert result.classes_covered == sum(c > 0 for c in counts) and result.threshold == threshold


def test_an_image_exactly_at_the_threshold_is_not_recognised():
    model, x = stub(), images(50)
    confidence = by_hand(model, x, 0.5)[2]
    at = confidence.sort().values[25].item()  # an image in the middle, exactly at the threshold
    above = sum(c > at for c in confidence.tolist())
    assert 0 < above < 25
    assert judge.recognised(model, x, threshold=at).share == above / 50
    just_below = torch.nextafter(torch.tensor(at), torch.tensor(0.0)).item()  # the next float32 down
    assert judge.recognised(model, x, threshold=just_below).share == (above + 1) / 50


def test_an_image_is_judged_alone_as_in_a_batch():
    """Probabilities over the classes of each image, not over the batch: a verdict does not depend on the other images."""
    model, x = stub(), images(30)
    together = judge.recognised(model, x)
    for i in (0, 13, 29):
        alone = judge.recognised(model, x[i : i + 1])
        torch.testing.assert_close(alone.confidence, together.confidence[i : i + 1])
        assert alone.labels.item() == together.labels[i].item()


def test_recognised_runs_in_eval_mode_and_restores_the_mode():
    model, x = stub(dropout=0.5), images(100)
    share, labels, confidence, _ = by_hand(model, x, 0.9)  # in eval mode: no dropout
    model.train()
    result = judge.recognised(model, x)
    assert model.training  # put back
    assert result.share == pytest.approx(share) and torch.equal(result.labels, labels)
    torch.testing.assert_close(result.confidence, confidence)
    model.eval()
    judge.recognised(model, x)
    assert not model.training


def test_recognised_takes_flat_images_and_says_what_it_found():
    model, x = stub(), images(40)
    assert torch.equal(judge.recognised(model, x.flatten(1)).labels, judge.recognised(model, x).labels)
    result = judge.recognised(model, x)
    text = str(result)
    assert f"{result.share:.0%} of 40 images are confidently a digit" in text
    assert f"classes covered: {result.classes_covered}/10" in text and "0.9" in text


def test_accuracy_is_the_share_of_images_whose_top_class_is_their_label():
    model = stub(dropout=0.5).train()
    g = torch.Generator().manual_seed(1)
    split = Split((torch.rand(250, 28, 28, generator=g) * 255).to(torch.uint8), torch.randint(10, (250,), generator=g))
    model.eval()
    with torch.no_grad():
        predicted = model(split.x()).argmax(dim=1)
    expected = sum(int(p == y) for p, y in zip(predicted, split.labels)) / len(split)
    model.train()
    assert judge.accuracy(model, split, batch_size=64) == pytest.approx(expected, abs=1e-6)
    assert model.training
    right = Split(split.images, predicted)  # labels the stub always gets right
    assert judge.accuracy(model, right) == pytest.approx(1.0)


# --------------------------------------------------------------------------- the network (quick)


def test_the_classifier_sees_standardised_pixels_and_returns_ten_logits(mnist):
    """The network standardises [0, 1] images with MNIST's own mean and spread before its first convolution."""
    model = judge.DigitClassifier().eval()
    seen = []
    model.features[0].register_forward_hook(lambda module, inputs, output: seen.append(inputs[0]))
    x = mnist.train[torch.randperm(60_000, generator=torch.Generator().manual_seed(0))[:5000]].x()
    with torch.no_grad():
        logits = model(x)
    assert logits.shape == (5000, 10)
    assert seen[0].mean().item() == pytest.approx(0.0, abs=0.02) and seen[0].std().item() == pytest.approx(
        1.0, abs=0.02
    )
    pixels = mnist.train.x()
    assert pytest.approx(pixels.mean().item(), abs=1e-3) == judge.MEAN
    assert pytest.approx(pixels.std().item(), abs=1e-3) == judge.STD
    with torch.no_grad():
        assert torch.equal(model(x.flatten(1)), logits)
    assert sum(p.numel() for p in model.parameters()) == 28_938  # as the docstring says


# --------------------------------------------------------------------------- bad inputs (quick)


BAD_CALLS = [
    (lambda: judge.recognised(stub(), (images(4) * 255).to(torch.uint8)), "images", "x.float() / 255"),
    (lambda: judge.recognised(stub(), images(4)[:, 0]), "images", "unsqueeze(1)"),
    (lambda: judge.recognised(stub(), images(4) * 6 - 3), "images", "torch.sigmoid"),
    (lambda: judge.recognised(stub(), images(4) + 1e-3), "images", "[0, 1]"),
    (lambda: judge.recognised(stub(), images(4).clone().index_fill_(0, torch.tensor([1]), math.nan)), "images", "NaN"),
    (lambda: judge.recognised(stub(), images(0)), "images", "no images"),
    (lambda: judge.recognised(stub(), images(4).tolist()), "images", "torch.Tensor"),
    (lambda: judge.recognised(stub(), images(4), threshold=1.5), "threshold", "<= 1"),
    (lambda: judge.recognised(stub(), images(4), threshold=1), "threshold", "below 1"),
    (lambda: judge.recognised(stub(), images(4), threshold=-0.1), "threshold", ">= 0"),
    (lambda: judge.recognised(stub(), images(4), batch_size=0), "batch_size", ">= 1"),
    (lambda: judge.recognised(lambda x: x, images(4)), "classifier", "nn.Module"),
    (lambda: judge.recognised(nn.Flatten(), images(4)), "classifier", "(B, 10)"),
    (lambda: judge.accuracy(stub(), images(4)), "split", "mnist.test"),
    (
        lambda: judge.accuracy(
            None, Split(torch.zeros(2, 28, 28, dtype=torch.uint8), torch.zeros(2, dtype=torch.long))
        ),
        "classifier",
        "nn.Module",
    ),
    (lambda: judge.digit_classifier("cpu"), "cfg", "setup()"),
    (lambda: judge.DigitClassifier(channels=(8, 16, 32)), "channels", "two numbers"),
    (lambda: judge.DigitClassifier(channels=(8, 0)), "channels", "whole number"),
]


@pytest.mark.parametrize("call, name, hint", BAD_CALLS, ids=[f"{i:02d}-{n}" for i, (_, n, _) in enumerate(BAD_CALLS)])
def test_a_bad_call_names_its_argument_and_the_fix(call, name, hint):
    with pytest.raises((TypeError, ValueError)) as info:
        call()
    message = str(info.value)
    assert re.search(rf"(?<![\w.-]){re.escape(name)}(?=[\s,:;)=]|$)", message), message
    assert hint in message, message


def test_fast_modes_subsets_are_refused(mnist, tmp_path, monkeypatch):
    monkeypatch.setenv("VAE_CHECKPOINT_DIR", str(tmp_path))
    small = Splits(mnist.train[:5000], None, mnist.test[:2000])
    with pytest.raises(ValueError, match=r"all of MNIST in both modes.*5,000 and 2,000.*load_mnist\(\)"):
        judge.digit_classifier(run_config(), small)
    with pytest.raises(TypeError, match="mnist must be the Splits"):
        judge.digit_classifier(run_config(), mnist.train)
    assert not any(tmp_path.iterdir())


# --------------------------------------------------------------------------- cached like every course model (quick)


@pytest.fixture
def stand_in(monkeypatch, tmp_path):
    """A temporary checkpoint folder, and ``fit`` replaced by a stand-in that records its calls and reports the
    figures of a good run, so the caching is tested without the 20 s of training."""
    monkeypatch.setenv("VAE_CHECKPOINT_DIR", str(tmp_path))
    calls = []

    def fake_fit(model, train_data, optimizer, loss_fn, num_epochs, test_data=None, **kwargs):
        calls.append(len(train_data.split))
        return History(
            epochs=[
                {
                    "epoch": 1,
                    "train_loss": 0.05,
                    "train_accuracy": 0.99,
                    "train_seconds": 0.0,
                    "test_loss": 0.04,
                    "test_accuracy": 0.99,
                    "seconds": 0.0,
                }
            ],
            steps=[0.05],
        )

    monkeypatch.setattr(judge, "fit", fake_fit)
    return calls


def saved(folder):
    return sorted(p.name for p in folder.glob("*.pt"))


def test_the_judge_is_trained_once_on_all_of_mnist_and_then_loaded_in_either_mode(stand_in, mnist, tmp_path, capsys):
    first = judge.digit_classifier(run_config(fast=True), mnist)
    assert stand_in == [60_000] and "Training 'digit_judge' (no saved model yet)" in capsys.readouterr().out
    assert saved(tmp_path) == ["digit_judge.pt"]  # fast mode saves the one judge of both modes
    for fast in (False, True):
        again = judge.digit_classifier(run_config(fast=fast), mnist)
        assert "Loaded 'digit_judge'" in capsys.readouterr().out
        assert isinstance(again, judge.DigitClassifier) and not again.training
        for a, b in zip(first.state_dict().values(), again.state_dict().values()):
            assert torch.equal(a, b)
    assert stand_in == [60_000] and saved(tmp_path) == ["digit_judge.pt"]
    judge.digit_classifier(run_config(retrain=True), mnist)  # RETRAIN = True trains it again
    assert len(stand_in) == 2


def test_an_edit_of_the_judges_settings_or_code_retrains_it(stand_in, mnist, monkeypatch, capsys):
    judge.digit_classifier(run_config(), mnist, verbose=False)
    monkeypatch.setattr(judge, "LR", 1e-3)
    judge.digit_classifier(run_config(), mnist)
    assert len(stand_in) == 2 and "LR 0.003 → 0.001" in capsys.readouterr().out
    plain = judge.classification_loss
    monkeypatch.setattr(judge, "classification_loss", lambda model, batch: plain(model, batch))
    judge.digit_classifier(run_config(), mnist)
    assert len(stand_in) == 3 and "classification_loss" in capsys.readouterr().out
    judge.digit_classifier(run_config(), mnist)
    assert len(stand_in) == 3 and "Loaded" in capsys.readouterr().out


def test_a_judge_below_the_accuracy_it_needs_is_never_saved(stand_in, mnist, monkeypatch, tmp_path):
    def untrained_fit(model, train_data, optimizer, loss_fn, num_epochs, test_data=None, **kwargs):
        measured = training.evaluate(model, test_data, loss_fn)  # the real test accuracy of an untrained judge
        return History(
            epochs=[
                {"epoch": 1, "train_loss": 2.3, "train_seconds": 0.0, **{f"test_{k}": v for k, v in measured.items()}}
            ]
        )

    monkeypatch.setattr(judge, "fit", untrained_fit)
    with pytest.raises(zoo.TrainingCheckFailed, match=r"test_accuracy 0\.\d+ is below 0\.98.*not saved"):
        judge.digit_classifier(run_config(), mnist)
    assert saved(tmp_path) == []


def test_a_stopped_training_gives_no_judge(stand_in, mnist, monkeypatch, tmp_path):
    def stopped_fit(*args, **kwargs):
        return History(
            epochs=[{"epoch": 1, "train_loss": 0.2, "test_accuracy": 0.97, "train_seconds": 1.0}],
            interrupted=True,
            stopped="after epoch 1 of 3",
        )

    monkeypatch.setattr(judge, "fit", stopped_fit)
    with pytest.raises(RuntimeError, match=r"stopped after epoch 1 of 3.*half-trained.*Run the cell again"):
        judge.digit_classifier(run_config(), mnist)
    assert saved(tmp_path) == []


# --------------------------------------------------------------------------- the real judge (slow: trains it once)


@pytest.fixture(scope="module")
def real_judge(mnist, tmp_path_factory):
    """The judge trained here, in fast mode as the tests run, into a temporary checkpoint folder."""
    folder = tmp_path_factory.mktemp("checkpoints")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("VAE_CHECKPOINT_DIR", str(folder))
        model = judge.digit_classifier(run_config(fast=True), mnist, verbose=False)
        yield model, folder


@pytest.mark.slow
def test_the_judge_is_accurate_on_the_test_set(real_judge, mnist):
    model, folder = real_judge
    assert isinstance(model, judge.DigitClassifier) and not model.training
    assert judge.accuracy(model, mnist.test) >= 0.98
    assert saved(folder) == ["digit_judge.pt"]
    again = judge.digit_classifier(run_config(fast=False), mnist, verbose=False)  # full mode loads the same judge
    for a, b in zip(model.state_dict().values(), again.state_dict().values()):
        assert torch.equal(a, b)


@pytest.mark.slow
def test_the_judge_recognises_real_digits_and_is_right_about_them(real_judge, mnist):
    model, _ = real_judge
    result = judge.recognised(model, mnist.test.x())
    assert result.share > 0.9 and result.classes_covered == 10
    sure = result.confidence > 0.9
    assert (result.labels[sure] == mnist.test.labels[sure]).float().mean() > 0.99  # confident means right
    per_digit = torch.bincount(mnist.test.labels, minlength=10)
    assert (result.counts / per_digit).min() > 0.9  # no digit left behind: each is recognised about as well
    alone = judge.recognised(model, mnist.test[:1].x())
    torch.testing.assert_close(alone.confidence, result.confidence[:1])


@pytest.mark.slow
def test_the_judge_does_not_recognise_what_is_not_a_digit(real_judge, mnist):
    model, _ = real_judge
    g = torch.Generator().manual_seed(0)
    noise = torch.rand(1000, 1, 28, 28, generator=g)
    assert judge.recognised(model, noise).share < 0.2
    assert judge.recognised(model, torch.zeros(100, 1, 28, 28)).share == 0  # a blank image
    mean_image = mnist.train.x().mean(dim=0, keepdim=True)  # the average of all digits: a grey blob
    assert judge.recognised(model, mean_image).share == 0
    shuffled = mnist.test[:1000].x().flatten(1)[:, torch.randperm(784, generator=g)].view(-1, 1, 28, 28)
    assert judge.recognised(model, shuffled).share < 0.2  # the right amount of ink, in the wrong places
