import math
import os
import signal

import pytest
import torch
from torch import nn

from vae_helpers.training import History, TrainingDiverged, evaluate, fit


def regression_batches(n_batches=8, batch_size=16, seed=0):
    """y = x @ w + 0.5, a problem a linear layer solves exactly."""
    g = torch.Generator().manual_seed(seed)
    w = torch.tensor([[2.0], [-3.0]])
    out = []
    for _ in range(n_batches):
        x = torch.randn(batch_size, 2, generator=g)
        out.append((x, x @ w + 0.5))
    return out


def mse(model, batch):
    x, y = batch
    loss = ((model(x) - y) ** 2).mean()
    return loss, {"abs_err": (model(x) - y).abs().mean().detach()}


def make_model(seed=0):
    torch.manual_seed(seed)
    return nn.Linear(2, 1)


def test_training_lowers_the_loss_and_records_history():
    model = make_model()
    data = regression_batches()
    history = fit(
        model,
        data,
        torch.optim.Adam(model.parameters(), lr=0.05),
        mse,
        num_epochs=15,
        test_data=regression_batches(2, seed=1),
        progress=False,
        verbose=False,
    )
    assert len(history) == 15 and len(history.steps) == 15 * len(data)
    assert history.last("train_loss") < 0.01 * history["train_loss"][0]
    assert history.last("test_loss") < 0.01
    assert set(history.epochs[-1]) >= {"epoch", "train_loss", "train_abs_err", "test_loss", "test_abs_err", "seconds"}
    assert not history.interrupted


def test_epoch_metrics_weight_batches_by_size():
    model = nn.Linear(1, 1, bias=False)
    nn.init.zeros_(model.weight)
    data = [(torch.ones(1, 1), torch.full((1, 1), 3.0)), (torch.ones(3, 1), torch.full((3, 1), 1.0))]
    metrics = evaluate(model, data, mse)
    assert math.isclose(metrics["loss"], (1 * 9 + 3 * 1) / 4)


def test_seeded_training_repeats_exactly():
    def run():
        model = make_model(3)
        return fit(
            model,
            regression_batches(),
            torch.optim.SGD(model.parameters(), lr=0.1),
            mse,
            3,
            progress=False,
            verbose=False,
        ).steps

    assert run() == run()


def test_evaluate_uses_no_grad_and_restores_the_mode():
    model = make_model()

    def loss_fn(m, batch):
        assert not torch.is_grad_enabled() and not m.training
        return mse(m, batch)

    for mode in (True, False):
        model.train(mode)
        evaluate(model, regression_batches(2), loss_fn)
        assert model.training is mode


def test_interrupt_stops_after_the_current_batch_and_returns_history():
    model = make_model()
    data = regression_batches(n_batches=6)
    calls = {"n": 0}
    previous_handler = signal.getsignal(signal.SIGINT)

    def loss_fn(m, batch):
        calls["n"] += 1
        if calls["n"] == len(data) + 3:  # third batch of the second epoch
            os.kill(os.getpid(), signal.SIGINT)  # what Ctrl-C or Jupyter's stop button sends
        return mse(m, batch)

    history = fit(model, data, torch.optim.SGD(model.parameters(), lr=0.05), loss_fn, 5, progress=False, verbose=False)
    assert history.interrupted
    assert len(history.epochs) == 2 and "train_loss" in history.epochs[1]
    assert len(history.steps) == len(data) + 3  # the interrupted batch finished its step
    assert signal.getsignal(signal.SIGINT) is previous_handler
    assert torch.isfinite(model(torch.ones(1, 2))).all()  # still usable


def test_nan_loss_stops_before_the_bad_step_with_a_clear_message():
    model = make_model()
    data = regression_batches(n_batches=4)
    calls = {"n": 0}
    snapshot = {}

    def loss_fn(m, batch):
        calls["n"] += 1
        loss, metrics = mse(m, batch)
        if calls["n"] == len(data) + 2:
            snapshot.update({k: v.clone() for k, v in m.state_dict().items()})
            return loss * float("nan"), metrics
        return loss, metrics

    with pytest.raises(TrainingDiverged, match=r"nan at epoch 2, batch 2") as info:
        fit(model, data, torch.optim.SGD(model.parameters(), lr=0.05), loss_fn, 3, progress=False, verbose=False)
    assert "learning rate" in str(info.value) and "the weights are still finite, from the last good step" in str(
        info.value
    )
    assert isinstance(info.value.history, History) and len(info.value.history) == 1
    assert f"Running averages this epoch: loss {info.value.history.steps[-1]:.4g}, abs_err " in str(info.value)
    for key, value in model.state_dict().items():
        assert torch.equal(value, snapshot[key]), "the NaN step must not be applied"


def test_a_nan_loss_from_nan_weights_says_the_model_must_be_rebuilt():
    model = make_model()
    with torch.no_grad():
        model.weight.fill_(float("nan"))
    with pytest.raises(TrainingDiverged, match="batch 1") as info:
        fit(
            model,
            regression_batches(2),
            torch.optim.SGD(model.parameters(), lr=0.05),
            mse,
            1,
            progress=False,
            verbose=False,
        )
    assert "(the weights are already NaN/inf: rebuild the model before training again)" in str(info.value)
    assert "Running averages this epoch: none yet" in str(info.value)


def test_a_loss_fn_with_the_wrong_return_value_is_explained():
    model = make_model()
    data = regression_batches(1)
    with pytest.raises(TypeError, match=r"\(loss, metrics\)"):
        fit(model, data, torch.optim.SGD(model.parameters(), lr=0.1), lambda m, b: mse(m, b)[0], 1, progress=False)
    with pytest.raises(ValueError, match="scalar loss"):
        fit(
            model,
            data,
            torch.optim.SGD(model.parameters(), lr=0.1),
            lambda m, b: (((m(b[0]) - b[1]) ** 2).squeeze(1), {}),
            1,
            progress=False,
        )


def test_on_epoch_end_sees_each_epoch():
    model = make_model()
    seen = []
    fit(
        model,
        regression_batches(2),
        torch.optim.SGD(model.parameters(), lr=0.1),
        mse,
        3,
        progress=False,
        verbose=False,
        on_epoch_end=lambda epoch, h: seen.append((epoch, len(h))),
    )
    assert seen == [(1, 1), (2, 2), (3, 3)]


def test_history_lookup_names_the_available_metrics():
    h = History(epochs=[{"epoch": 1, "train_loss": 2.0}])
    with pytest.raises(KeyError, match="train_loss"):
        h["test_loss"]


@pytest.mark.slow
def test_a_short_autoencoder_run_lowers_the_test_loss(mnist):
    from vae_helpers.data import load_mnist
    from vae_helpers.losses import ae_loss
    from vae_helpers.models import ConvAutoencoder, MLPAutoencoder

    small = load_mnist(subset=1024, test_subset=256)
    for model in (MLPAutoencoder(latent_dim=8, hidden_dims=(64,)), ConvAutoencoder(latent_dim=8, channels=(8, 4))):
        test = small.test.batches(256, shuffle=False)
        before = evaluate(model, test, ae_loss)["loss"]
        fit(
            model,
            small.train.batches(64, seed=0),
            torch.optim.Adam(model.parameters(), lr=3e-3),
            ae_loss,
            2,
            progress=False,
            verbose=False,
        )
        assert evaluate(model, test, ae_loss)["loss"] < 0.6 * before


@pytest.mark.slow
def test_short_seeded_vae_runs_lower_the_negative_elbo_and_repeat_exactly(mnist):
    from vae_helpers.data import load_mnist
    from vae_helpers.losses import vae_loss
    from vae_helpers.models import MLPVAE, ConvVAE
    from vae_helpers.utils import seed_everything

    small = load_mnist(subset=1024, test_subset=256)
    for build in (lambda: MLPVAE(latent_dim=4, hidden_dims=(64,)), lambda: ConvVAE(latent_dim=4, channels=(8, 4))):
        runs = []
        for _ in range(2):
            seed_everything(0)
            model = build()
            test = small.test.batches(256, shuffle=False)
            torch.manual_seed(1)
            before = evaluate(model, test, vae_loss)["loss"]
            h = fit(
                model,
                small.train.batches(64, seed=0),
                torch.optim.Adam(model.parameters(), lr=3e-3),
                vae_loss,
                2,
                progress=False,
                verbose=False,
            )
            torch.manual_seed(1)
            after = evaluate(model, test, vae_loss)["loss"]
            assert after < 0.8 * before
            runs.append(h.steps)
        assert runs[0] == runs[1]


# --------------------------------------------------------------------------- interrupts anywhere, and NaN


def sigint():
    os.kill(os.getpid(), signal.SIGINT)  # what Ctrl-C or Jupyter's stop button sends


def interrupting_loss(where, data, hard=False, twice=False):
    """A loss that interrupts at ``where``: ("train", step) or ("test", call); ``hard`` raises
    KeyboardInterrupt itself (a second Ctrl-C, or one outside the main thread)."""
    calls = {"train": 0, "test": 0}

    def loss_fn(m, batch):
        phase = "train" if m.training else "test"
        calls[phase] += 1
        if (phase, calls[phase]) == where:
            if hard:
                raise KeyboardInterrupt
            sigint()
            if twice:
                sigint()
        return mse(m, batch)

    return loss_fn


def assert_consistent(history, stopped):
    assert history.interrupted and stopped in history.stopped
    lengths = {key: len(history[key]) for key in history.epochs[-1]}
    assert len(set(lengths.values())) == 1, lengths  # every metric the same length
    for key in ("train_loss", "test_loss"):
        history.last(key)  # the next cells can read it
    from vae_helpers.plotting import plot_history

    plot_history(history)


@pytest.mark.parametrize(
    "where, hard, twice, stopped, epochs, train_finite, test_finite",
    [
        (("train", 1), False, False, "during epoch 1 of 5, after 1 of 6 batches", 1, True, True),  # first batch
        (("train", 9), False, False, "during epoch 2 of 5, after 3 of 6 batches", 2, True, True),  # mid-epoch
        (("train", 1), True, False, "during epoch 1 of 5, after 0 of 6 batches", 1, False, True),  # hard, first batch
        (("train", 1), False, True, "during epoch 1 of 5, after 0 of 6 batches", 1, False, True),  # twice in a row
        (("test", 1), False, False, "after epoch 1 of 5", 1, True, True),  # in the test pass
        (("test", 2), True, False, "during the test pass of epoch 1", 1, True, False),  # hard, in the test pass
    ],
)
def test_an_interrupt_anywhere_returns_the_model_and_a_consistent_history(
    where, hard, twice, stopped, epochs, train_finite, test_finite
):
    model = make_model()
    data = regression_batches(n_batches=6)
    previous_handler = signal.getsignal(signal.SIGINT)
    history = fit(
        model,
        data,
        torch.optim.SGD(model.parameters(), lr=0.05),
        interrupting_loss(where, data, hard, twice),
        5,
        test_data=regression_batches(2, seed=1),
        progress=False,
        verbose=False,
    )
    assert_consistent(history, stopped)
    assert len(history) == epochs
    assert math.isfinite(history.last("train_loss")) is train_finite
    assert math.isfinite(history.last("test_loss")) is test_finite
    assert signal.getsignal(signal.SIGINT) is previous_handler and model.training
    assert torch.isfinite(model(torch.ones(1, 2))).all()


@pytest.mark.parametrize("hard", [False, True])
def test_an_interrupt_in_the_epoch_callback_stops_after_that_epoch(hard):
    model = make_model()

    def callback(epoch, history):
        if epoch == 2:
            if hard:
                raise KeyboardInterrupt
            sigint()

    history = fit(
        model,
        regression_batches(3),
        torch.optim.SGD(model.parameters(), lr=0.05),
        mse,
        5,
        test_data=regression_batches(2, seed=1),
        progress=False,
        verbose=False,
        on_epoch_end=callback,
    )
    assert_consistent(history, "after epoch 2 of 5")
    assert len(history) == 2 and all(math.isfinite(v) for v in history["test_loss"])


def test_the_stopped_epoch_keeps_training_figures_over_the_batches_done():
    model = make_model()
    data = regression_batches(n_batches=6)
    history = fit(
        model,
        data,
        torch.optim.SGD(model.parameters(), lr=0.05),
        interrupting_loss(("train", 3), data),
        5,
        progress=False,
        verbose=False,
    )
    assert history.last("train_loss") == pytest.approx(sum(history.steps) / 3)


def test_nan_weights_after_the_last_step_stop_training_with_a_clear_message():
    model = make_model()
    with pytest.raises(
        TrainingDiverged, match=r"in epoch 1: the test figures .* NaN or infinite after its last step"
    ) as info:
        fit(
            model,
            regression_batches(1),
            torch.optim.SGD(model.parameters(), lr=float("inf")),
            mse,
            1,
            test_data=regression_batches(1, seed=1),
            progress=False,
            verbose=False,
        )
    assert "learning rate" in str(info.value) and len(info.value.history) == 1
    model = make_model()
    with pytest.raises(TrainingDiverged, match="some weights are NaN"):  # no test data: the weights are checked
        fit(
            model,
            regression_batches(1),
            torch.optim.SGD(model.parameters(), lr=float("inf")),
            mse,
            1,
            progress=False,
            verbose=False,
        )


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"num_epochs": 1.5}, TypeError, "num_epochs must be a whole number >= 1, got float 1.5"),
        ({"num_epochs": 0}, ValueError, "num_epochs must be a whole number >= 1, got 0"),
        ({"train_data": []}, ValueError, "train_data is empty"),
        ({"train_data": iter(regression_batches(2))}, TypeError, "one-pass iterator"),
        ({"train_data": torch.zeros(4, 2)}, TypeError, "train_data must be re-iterable batches"),
        ({"optimizer": "adam"}, TypeError, "optimizer must be a torch.optim.Optimizer"),
        ({"loss_fn": None}, TypeError, "loss_fn must be a function"),
        ({"test_data": 3}, TypeError, "test_data must be re-iterable batches"),
        ({"on_epoch_end": 5}, TypeError, "on_epoch_end must be a function"),
        ({"model": "a model"}, TypeError, "model must be a torch.nn.Module"),
    ],
)
def test_bad_arguments_to_fit_are_named(kwargs, error, match):
    model = make_model()
    args = dict(
        model=model,
        train_data=regression_batches(2),
        optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
        loss_fn=mse,
        num_epochs=2,
        progress=False,
        verbose=False,
    )
    args.update(kwargs)
    with pytest.raises(error, match=match):
        fit(**args)


def test_a_generator_is_fine_for_one_epoch():
    model = make_model()
    history = fit(
        model,
        (b for b in regression_batches(2)),
        torch.optim.SGD(model.parameters(), lr=0.1),
        mse,
        1,
        progress=False,
        verbose=False,
    )
    assert len(history) == 1


def test_encode_split_gives_every_code_in_order_and_restores_the_mode():
    from vae_helpers.data import Split
    from vae_helpers.models import MLPVAE, MLPAutoencoder
    from vae_helpers.training import encode_split

    g = torch.Generator().manual_seed(0)
    split = Split(torch.randint(0, 256, (25, 28, 28), dtype=torch.uint8, generator=g), torch.arange(25) % 10)
    x = split.images.float().div(255).unsqueeze(1)
    vae, ae = MLPVAE(latent_dim=3, hidden_dims=(16,)), MLPAutoencoder(latent_dim=2, hidden_dims=(16,))
    vae.train()
    mu, logvar = encode_split(vae, split, batch_size=7)  # batches of 7, 7, 7, 4
    assert vae.training
    expected_mu, expected_logvar = vae.encode(x)
    assert torch.allclose(mu, expected_mu, atol=1e-6) and torch.allclose(logvar, expected_logvar, atol=1e-6)
    codes, none = encode_split(ae.eval(), split, batch_size=10)
    assert none is None and not ae.training and torch.allclose(codes, ae.encode(x), atol=1e-6)
    with pytest.raises(TypeError, match="encode"):
        encode_split(torch.nn.Linear(2, 2), split)
    with pytest.raises(TypeError, match="Split"):
        encode_split(vae, x)

    class Flatten(torch.nn.Module):  # an encoder without parameters: the codes stay on the CPU
        def encode(self, images):
            return images.flatten(1)[:, :5]

    codes, _ = encode_split(Flatten(), split)
    assert torch.equal(codes, x.flatten(1)[:, :5])


def test_fit_epoch_figures_match_a_hand_written_loop_with_an_uneven_last_batch():
    """fit's train_* figures are the per-example means of what each step saw, before its update; test_* are
    evaluate's. Batches of 5, 5 and 2: a plain mean of the batch means would weight the last one wrongly."""
    g = torch.Generator().manual_seed(4)
    xs, ys = torch.randn(12, 2, generator=g), torch.randn(12, 1, generator=g)
    data = [(xs[:5], ys[:5]), (xs[5:10], ys[5:10]), (xs[10:], ys[10:])]
    test = [(xs[:7] + 1, ys[:7]), (xs[7:] - 1, ys[7:])]

    def by_hand():
        model = make_model(1)
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        epochs = []
        for _ in range(3):
            total = {"loss": 0.0, "abs_err": 0.0}
            for batch in data:
                loss, metrics = mse(model, batch)
                total["loss"] += loss.item() * len(batch[0])
                total["abs_err"] += metrics["abs_err"].item() * len(batch[0])
                opt.zero_grad()
                loss.backward()
                opt.step()
            with torch.no_grad():
                test_total = sum(mse(model, b)[0].item() * len(b[0]) for b in test)
            epochs.append(
                {"train_loss": total["loss"] / 12, "train_abs_err": total["abs_err"] / 12, "test_loss": test_total / 12}
            )
        return model, epochs

    hand_model, expected = by_hand()
    model = make_model(1)
    history = fit(
        model, data, torch.optim.SGD(model.parameters(), lr=0.1), mse, 3, test_data=test, progress=False, verbose=False
    )
    for got, want in zip(history.epochs, expected):
        for key, value in want.items():
            assert math.isclose(got[key], value, rel_tol=1e-6), (key, got[key], value)
    assert [len(b[0]) for b in data] == [5, 5, 2] and len(history.steps) == 9
    assert all(torch.equal(a, b) for a, b in zip(model.parameters(), hand_model.parameters()))


# --------------------------------------------------------------------------- what fit shows and records


def test_fit_records_its_times_and_history_gives_nan_where_nothing_was_measured():
    model = make_model()
    history = fit(
        model,
        regression_batches(3),
        torch.optim.SGD(model.parameters(), lr=0.05),
        mse,
        2,
        test_data=regression_batches(2, seed=1),
        progress=False,
        verbose=False,
    )
    for record in history.epochs:
        assert 0 < record["train_seconds"] <= record["seconds"] < 60
    h = History(epochs=[{"epoch": 1, "train_loss": 2.0}, {"epoch": 2, "train_loss": 1.0, "test_loss": 3.0}])
    first, second = h["test_loss"]
    assert math.isnan(first) and second == 3.0
    h.fill_missing()
    assert math.isnan(h.epochs[0]["test_loss"]) and h.epochs[1]["test_loss"] == 3.0


def test_an_interrupt_among_batches_of_unknown_number_counts_the_batches_done():
    model = make_model()
    data = regression_batches(4)
    history = fit(
        model,
        (b for b in data),
        torch.optim.SGD(model.parameters(), lr=0.05),
        interrupting_loss(("train", 2), data),
        1,
        test_data=regression_batches(2, seed=1),
        progress=False,
        verbose=False,
    )
    assert history.stopped == "during epoch 1 of 1, after 2 batches"
    last = history.epochs[-1]
    assert set(last) == {
        "epoch",
        "train_loss",
        "train_abs_err",
        "train_seconds",
        "test_loss",
        "test_abs_err",
        "seconds",
    }
    assert 0 < last["train_seconds"] <= last["seconds"] < 60


def test_a_stopped_test_pass_leaves_nan_test_figures_and_only_those():
    model = make_model()
    data = regression_batches(3)
    history = fit(
        model,
        data,
        torch.optim.SGD(model.parameters(), lr=0.05),
        interrupting_loss(("test", 2), data, hard=True),
        2,
        test_data=regression_batches(2, seed=1),
        progress=False,
        verbose=False,
    )
    last = history.epochs[-1]
    assert set(last) == {
        "epoch",
        "train_loss",
        "train_abs_err",
        "train_seconds",
        "test_loss",
        "test_abs_err",
        "seconds",
    }
    assert math.isnan(last["test_loss"]) and math.isnan(last["test_abs_err"]) and 0 < last["seconds"] < 60


def test_an_interrupt_before_the_first_batch_is_recorded_as_such(capsys):
    from vae_helpers import training

    history = History()
    training._close_interrupted(make_model(), history, None, None, mse, 3, None)
    assert history.interrupted and history.stopped == "before the first batch" and history.epochs == []
    assert "Training stopped before the first batch." in capsys.readouterr().out


def test_fit_shows_a_bar_and_a_line_per_epoch_unless_asked_not_to(capsys):
    model = make_model()
    fit(model, regression_batches(3), torch.optim.SGD(model.parameters(), lr=0.05), mse, 2)  # the defaults
    out, err = capsys.readouterr()
    import re

    lines = out.splitlines()
    assert len(lines) == 2, out
    for i, line in enumerate(lines, start=1):  # the figures, then the time; no epoch number or seconds among them
        assert re.fullmatch(rf"epoch {i}/2  train_loss \S+  train_abs_err \S+  \(\d+\.\d s\)", line), line
    assert "training: 100%" in err and "6/6" in err and "7/6" not in err
    fit(
        model,
        regression_batches(3),
        torch.optim.SGD(model.parameters(), lr=0.05),
        mse,
        2,
        progress=False,
        verbose=False,
    )
    assert capsys.readouterr() == ("", "")


def test_the_bar_shows_the_loss_every_20_batches(monkeypatch):
    from vae_helpers import training

    shown = []

    class Bar:
        def __init__(self, *args, **kwargs):
            self.n = 0

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def update(self, n):
            self.n += n

        def set_postfix(self, **kwargs):
            shown.append((self.n, kwargs["epoch"]))

    monkeypatch.setattr(training, "tqdm", Bar)
    model = make_model()
    fit(
        model, regression_batches(45, batch_size=2), torch.optim.SGD(model.parameters(), lr=0.01), mse, 2, verbose=False
    )
    assert shown == [(1, 1), (21, 1), (41, 1), (46, 2), (66, 2), (86, 2)]  # after batches 1, 21 and 41 of each epoch


def test_evaluate_stops_after_max_batches_and_takes_a_one_pass_iterator():
    model = make_model()
    data = regression_batches(3, batch_size=4)
    first = evaluate(model, data[:1], mse)
    assert evaluate(model, data, mse, max_batches=1) == first
    assert evaluate(model, (b for b in data), mse) == evaluate(model, data, mse)
    with pytest.raises(ValueError, match="no batches"):
        evaluate(model, [], mse)


def test_plain_tensor_batches_are_weighted_by_their_rows():
    def loss_fn(m, x):  # the batch is a tensor, not an (x, y) pair
        loss = m(x).pow(2).mean()
        return loss, {}

    model = make_model()
    x = torch.randn(7, 2, generator=torch.Generator().manual_seed(0))
    history = fit(
        model, [x[:5], x[5:]], torch.optim.SGD(model.parameters(), lr=0.0), loss_fn, 1, progress=False, verbose=False
    )
    assert history.last("train_loss") == pytest.approx((5 * history.steps[0] + 2 * history.steps[1]) / 7)


def test_nan_test_figures_are_named_when_training_stops():
    model = make_model()
    bad_test = [(torch.full((4, 2), float("nan")), torch.zeros(4, 1))]
    with pytest.raises(TrainingDiverged, match="the test figures test_loss, test_abs_err are NaN"):
        fit(
            model,
            regression_batches(2),
            torch.optim.SGD(model.parameters(), lr=0.05),
            mse,
            2,
            test_data=bad_test,
            progress=False,
            verbose=False,
        )


def test_the_running_averages_of_a_nan_message_are_per_example_with_batches_of_one():
    model = make_model()
    calls = {"n": 0}

    def loss_fn(m, batch):
        calls["n"] += 1
        loss, metrics = mse(m, batch)
        return (loss * float("nan") if calls["n"] == 2 else loss), metrics

    with pytest.raises(TrainingDiverged) as info:
        fit(
            model,
            regression_batches(3, batch_size=1),
            torch.optim.SGD(model.parameters(), lr=0.0),
            loss_fn,
            1,
            progress=False,
            verbose=False,
        )
    assert f"Running averages this epoch: loss {info.value.history.steps[0]:.4g}, " in str(info.value)


def test_evaluate_takes_a_single_example_and_labels_that_are_none():
    model = make_model()
    x = torch.randn(1, 2)
    assert evaluate(model, [(x, x @ torch.tensor([[2.0], [-3.0]]))], mse)["loss"] >= 0

    def loss_fn(m, batch):  # batches of (x, None), as unlabelled data gives them
        return m(batch[0]).pow(2).mean(), {}

    data = [(torch.randn(5, 2), None), (torch.randn(2, 2), None)]
    history = fit(model, data, torch.optim.SGD(model.parameters(), lr=0.0), loss_fn, 1, progress=False, verbose=False)
    assert history.last("train_loss") == pytest.approx((5 * history.steps[0] + 2 * history.steps[1]) / 7)
