"""Every public function and constructor checks what it is given: a bad call raises ValueError or
TypeError whose message names the argument (and says what is expected), never a deep torch error,
and is never accepted silently."""

import re

import pytest
import torch

from vae_helpers import channel, data, losses, memorize, models, plotting, quality, training, utils, widgets, zoo
from vae_helpers.checkpoints import load_checkpoint, save_checkpoint
from vae_helpers.data import Split
from vae_helpers.training import History

X = torch.rand(4, 1, 28, 28)
Z = torch.randn(4, 2)
SPLIT = Split((torch.rand(20, 28, 28) * 255).to(torch.uint8), torch.arange(20) % 10)


def vae():
    return models.MLPVAE(latent_dim=2, hidden_dims=(8,))


def ae():
    return models.MLPAutoencoder(latent_dim=2, hidden_dims=(8,))


def sgd(model):
    return torch.optim.SGD(model.parameters(), lr=0.1)


def gen():
    yield (X, None)


# (what is called, the argument its message must name)
BAD_CALLS = [
    # models: constructors
    (lambda: models.MLPVAE(latent_dim=2.5), "latent_dim"),
    (lambda: models.MLPVAE(latent_dim=0), "latent_dim"),
    (lambda: models.MLPVAE(hidden_dims=()), "hidden_dims"),
    (lambda: models.MLPVAE(hidden_dims=(64, -1)), "hidden_dims"),
    (lambda: models.MLPVAE(hidden_dims=512), "hidden_dims"),
    (lambda: models.MLPAutoencoder(latent_dim="20"), "latent_dim"),
    (lambda: models.MLPAutoencoder(input_shape=(1, 0, 28)), "input_shape"),
    (lambda: models.ConvAutoencoder(latent_dim=-1), "latent_dim"),
    (lambda: models.ConvVAE(latent_dim=True), "latent_dim"),
    (lambda: models.ConvVAE(latent_dim=2).encode(X[:, 0]), "x"),
    (lambda: models.ConvEncoder(channels=(32,)), "channels"),
    (lambda: models.ConvEncoder(image_size=30), "image_size"),
    (lambda: models.ConvEncoder(image_size=0), "image_size"),
    (lambda: models.ConvEncoder(latent_dim=0), "latent_dim"),
    (lambda: models.ConvEncoder(channels=()), "channels"),
    (lambda: models.ConvEncoder(in_channels=0), "in_channels"),
    (lambda: models.DeconvDecoder(channels=()), "channels"),
    (lambda: models.DeconvDecoder(image_size=0), "image_size"),
    (lambda: models.DeconvDecoder(out_channels=0), "out_channels"),
    (lambda: models.MLPVAE(activation="tanh"), "activation"),
    (lambda: ae().decode(torch.randn(4, 3)), "z"),
    (lambda: models.CodebookDecoder(4, seed=-1), "seed"),
    (lambda: models.DeconvDecoder(code_dim=0), "code_dim"),
    (lambda: models.DeconvDecoder(channels=(32, 16), image_size=30), "image_size"),
    (lambda: models.CodebookDecoder(num_images=0), "num_images"),
    (lambda: models.CodebookDecoder(4, code_dim=-1), "code_dim"),
    (lambda: models.CodebookDecoder(4, code="hash"), "code"),
    # models: inputs
    (lambda: vae()(X.mul(255).to(torch.uint8)), "x"),
    (lambda: vae()(X[:, 0]), "x"),
    (lambda: vae()(X[0]), "x"),
    (lambda: vae()(X.numpy()), "x"),
    (lambda: ae()(torch.rand(4, 1, 32, 32)), "x"),
    (lambda: models.ConvVAE(latent_dim=2)(X[:, 0]), "x"),
    (lambda: models.ConvAutoencoder(latent_dim=2).encode(X.double().to(torch.int64)), "x"),
    (lambda: vae().decode(torch.randn(4, 3)), "z"),
    (lambda: vae().decode(torch.randn(2)), "z"),
    (lambda: ae().decode(torch.ones(4, 2, dtype=torch.long)), "z"),
    (lambda: models.DeconvDecoder(code_dim=3)(torch.randn(4, 2)), "code"),
    (lambda: models.CodebookDecoder(4)(torch.tensor([0.0, 1.0])), "index"),
    (lambda: models.CodebookDecoder(4)(torch.tensor([0, 4])), "index"),
    (lambda: models.CodebookDecoder(4)(torch.tensor([[0, 1]])), "index"),
    (lambda: models.CodebookDecoder(4)(torch.tensor([True, False])), "index"),
    (lambda: models.ConvVAE(latent_dim=2).decode(torch.randn(4, 3)), "z"),
    # losses
    (lambda: losses.vae_loss(vae(), (X, None), beta=-1), "beta"),
    (lambda: losses.vae_loss(vae(), (X, None), beta=float("nan")), "beta"),
    (lambda: losses.vae_loss(vae(), (X, None), beta=1.0, recon="l1"), "recon"),
    (lambda: losses.bce_recon(torch.zeros(4, 784), torch.zeros(4, 10)), "x"),
    (lambda: losses.bce_recon(torch.zeros(4, 784), torch.zeros(4, 784, dtype=torch.long)), "x"),
    (lambda: losses.mse_recon(torch.zeros(4, 784), torch.zeros(4, 10)), "x"),
    (lambda: losses.bce_recon(torch.zeros(4, 784, dtype=torch.long), torch.zeros(4, 784)), "logits"),
    (lambda: losses.ae_loss(ae(), (X.mul(255).to(torch.uint8), None)), "images"),
    (lambda: losses.kl_divergence(torch.zeros(4, 2, dtype=torch.long), torch.zeros(4, 2)), "mu"),
    (lambda: losses.kl_divergence(torch.zeros(4, 2), torch.zeros(4, 2, 1)), "logvar"),
    (lambda: losses.kl_divergence(torch.zeros(4, 2), torch.zeros(4, 3)), "logvar"),
    (lambda: losses.kl_divergence(torch.zeros(4), torch.zeros(4)), "mu"),
    (lambda: losses.kl_per_dimension(torch.zeros(4, 2), torch.zeros(4, 2, dtype=torch.long)), "logvar"),
    (lambda: losses.add_noise(X, -0.1), "noise_std"),
    (lambda: losses.add_noise(X.mul(255).to(torch.uint8), 0.1), "x"),
    (lambda: losses.vae_loss_with_warmup(-1), "warmup_steps"),
    (lambda: losses.vae_loss_with_warmup(2.5), "warmup_steps"),
    (lambda: losses.ae_loss(ae(), ("not images", None)), "images"),
    # training
    (lambda: training.fit(ae(), [(X, None)], sgd(ae()), losses.ae_loss, num_epochs=1.5), "num_epochs"),
    (lambda: training.fit(ae(), [], sgd(ae()), losses.ae_loss, num_epochs=1), "train_data"),
    (lambda: training.fit(ae(), gen(), sgd(ae()), losses.ae_loss, num_epochs=3), "train_data"),
    (lambda: training.fit(ae(), [(X, None)], "adam", losses.ae_loss, num_epochs=1), "optimizer"),
    (lambda: training.fit(ae(), [(X, None)], sgd(ae()), "ae_loss", num_epochs=1), "loss_fn"),
    (lambda: training.evaluate(ae(), [(X, None)], losses.ae_loss, max_batches=0), "max_batches"),
    (lambda: training.encode_split(ae(), SPLIT, batch_size=0), "batch_size"),
    (lambda: training.evaluate(ae(), [(X, None)], "ae_loss"), "loss_fn"),
    (lambda: training.evaluate(ae(), [], losses.ae_loss), "data"),
    (
        lambda: training.fit(ae(), [torch.tensor(1.0)], sgd(ae()), lambda m, b: (m.decode(Z).sum(), {}), num_epochs=1),
        "batch",
    ),
    (lambda: training.fit(ae(), [("x", "y")], sgd(ae()), lambda m, b: (m.decode(Z).sum(), {}), num_epochs=1), "batch"),
    (lambda: History()[3], "metric name"),
    # data
    (lambda: SPLIT.batches(batch_size=0), "batch_size"),
    (lambda: SPLIT.batches(batch_size=2.5), "batch_size"),
    (lambda: SPLIT.batches(seed=-1), "seed"),
    (lambda: data.Batches(X, 4), "split"),
    (lambda: data.split_indices(100, val_size=-5), "val_size"),
    (lambda: data.split_indices(100, subset=0), "subset"),
    (lambda: data.split_indices(0), "num_train"),
    (lambda: data.split_indices(100, seed=-1), "seed"),
    (lambda: data.examples(SPLIT, n=0), "n"),
    (lambda: data.examples(SPLIT, n=2.0), "n"),
    (lambda: data.examples(SPLIT, n=2, seed=-1), "seed"),
    (lambda: data.examples(X, n=2), "split"),
    (lambda: data.load_split("validation"), "split"),
    (lambda: data.load_mnist(test_subset=0), "test_subset"),
    (lambda: data.course_mnist("yes"), "fast"),
    # plotting
    (lambda: plotting.show_images(torch.rand(3, 3, 28, 28)), "images"),
    (lambda: plotting.show_images(X, labels=[1, 2]), "labels"),
    (lambda: plotting.show_images(X, ncols=0), "ncols"),
    (lambda: plotting.plot_history("history"), "history"),
    (lambda: plotting.png_bytes(X[0], scale=0), "scale"),
    (lambda: plotting.plot_latent_scatter(torch.rand(10, 2), torch.arange(9)), "labels"),
    (lambda: plotting.show_grids({"a": X}, nrow=0), "nrow"),
    # widgets
    (lambda: widgets.LatentSliders.for_model(vae(), SPLIT, k=0), "k"),
    (lambda: widgets.LatentSliders.for_model(vae(), SPLIT, order="random"), "order"),
    (lambda: widgets.LatentSliders(vae().decode, latent_dim=3), "latent"),
    (lambda: widgets.LatentExplorer.for_model(models.MLPVAE(latent_dim=3, hidden_dims=(8,)), SPLIT), "latent"),
    (lambda: widgets.Interpolation.for_models({}, SPLIT), "models"),
    (lambda: widgets.Interpolation.for_models({"a": ae()}, SPLIT, start=25), "index"),
    (lambda: widgets.Interpolation.for_models({"a": ae()}, SPLIT, steps=1), "steps"),
    (lambda: widgets.first_of_class(SPLIT.labels, 11), "class"),
    # memorize, channel, quality
    (lambda: memorize.train_codebook(models.CodebookDecoder(4), X[:3], num_steps=5), "images"),
    (lambda: memorize.train_codebook(models.CodebookDecoder(4), X, num_steps=-1), "num_steps"),
    (lambda: memorize.train_codebook(models.CodebookDecoder(4), X, num_steps=5, lr=0), "lr"),
    (lambda: memorize.capacity_sweep(X, sizes=[2, 9]), "sizes"),
    (lambda: memorize.capacity_sweep(X, sizes=[]), "sizes"),
    (lambda: channel.decoding_accuracy(0, 0.5), "num_messages"),
    (lambda: channel.decoding_accuracy(4, -0.5), "noise_std"),
    (lambda: channel.decoding_accuracy(4, 0.5, low=5, high=1), "high"),
    (lambda: channel.messages_told_apart(0.5, accuracy=1.5), "accuracy"),
    (lambda: quality.sharpness(X[:, 0]), "images"),
    (lambda: quality.sharpness(X.numpy()), "images"),
    # utils, checkpoints, zoo
    (lambda: utils.setup(seed=-1, verbose=False), "seed"),
    (lambda: utils.seed_everything(1.5), "seed"),
    (lambda: utils.configure_threads(0), "num_threads"),
    (lambda: utils.count_parameters("model"), "model"),
    (lambda: utils.layer_table(ae(), X[0], verbose=False), "example"),
    (lambda: save_checkpoint("/tmp/x.pt", "model"), "model"),
    (lambda: save_checkpoint("/tmp/x.pt", ae(), config=[1, 2]), "config"),
    (lambda: load_checkpoint("/tmp/x.pt", "model"), "model"),
    (lambda: zoo.Recipe("MLPVAE", num_epochs=0), "num_epochs"),
    (lambda: zoo.Recipe("MLPVAE", loss="mse"), "loss"),
]


@pytest.mark.parametrize("call, names", BAD_CALLS, ids=[f"{i:02d}-{n}" for i, (_, n) in enumerate(BAD_CALLS)])
def test_a_bad_call_names_its_argument(call, names, tmp_path, monkeypatch):
    monkeypatch.setenv("VAE_CHECKPOINT_DIR", str(tmp_path))
    with pytest.raises((TypeError, ValueError)) as info:
        call()
    # as a word of its own: not inside another (XXnameXX), nor a variable in a code example (x.unsqueeze(1))
    named = re.search(rf"(?<![\w.-]){re.escape(names)}(?=[\s,:;)=]|$)", str(info.value))
    assert named, f"the message should name {names!r}: {info.value}"
    assert type(info.value).__module__ in ("builtins", "vae_helpers.mnist"), f"a deep error: {info.type}"


def test_there_are_at_least_60_bad_calls():
    assert len(BAD_CALLS) >= 60
