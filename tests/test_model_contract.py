"""What every model class of the package promises, checked on each of them (one test, many classes).

Shapes alone let a wrong model through: a decoder that returns probabilities, logvar read from the
mu head, or a missing activation all produce the right shapes. These tests check behaviour instead.
"""

import itertools

import pytest
import torch
from torch import nn

from vae_helpers.losses import ae_loss, vae_loss
from vae_helpers.models import (
    CODE_KINDS,
    MLPVAE,
    CodebookDecoder,
    ConvAutoencoder,
    ConvVAE,
    DeconvDecoder,
    MLPAutoencoder,
    mlp,
)

LATENT = 3
VAES = {
    "MLPVAE": lambda: MLPVAE(latent_dim=LATENT, hidden_dims=(16,)),
    "MLPVAE-deep-relu": lambda: MLPVAE(latent_dim=LATENT, hidden_dims=(16, 8), activation="relu"),
    "ConvVAE": lambda: ConvVAE(latent_dim=LATENT, channels=(16, 8)),
}
AUTOENCODERS = {
    "MLPAutoencoder": lambda: MLPAutoencoder(latent_dim=LATENT, hidden_dims=(16,)),
    "MLPAutoencoder-deep-relu": lambda: MLPAutoencoder(latent_dim=LATENT, hidden_dims=(16, 8), activation="relu"),
    "ConvAutoencoder": lambda: ConvAutoencoder(latent_dim=LATENT, channels=(16, 8)),
}
ENCODER_MODELS = {**VAES, **AUTOENCODERS}
DECODERS = {  # model, and what it decodes: codes (B, LATENT) or image indices (B,)
    "DeconvDecoder": (
        lambda: DeconvDecoder(code_dim=LATENT, channels=(16, 8)),
        lambda g: torch.randn(6, LATENT, generator=g),
    ),
    **{
        f"CodebookDecoder-{kind}": (
            lambda kind=kind: CodebookDecoder(6, code=kind, code_dim=LATENT, channels=(16, 8)),
            lambda g: torch.arange(6),
        )
        for kind in CODE_KINDS
    },
}
AFFINE = (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)
ACTIVATIONS = (nn.ReLU, nn.SiLU)


def images(n=6, seed=0):
    return torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(seed))


def build(factory, seed=0):
    torch.manual_seed(seed)
    return factory()


def decode_of(name):
    """The model's decoding function and a batch of its input, for every model of the package."""
    if name in DECODERS:
        factory, inputs = DECODERS[name]
        model = build(factory)
        return model, model, inputs(torch.Generator().manual_seed(1))
    model = build(ENCODER_MODELS[name])
    return model, model.decode, 3 * torch.randn(6, LATENT, generator=torch.Generator().manual_seed(1))


ALL = [*ENCODER_MODELS, *DECODERS]


@pytest.mark.parametrize("name", ALL)
def test_decoders_output_logits_not_probabilities(name):
    """Logits move with the last layer's bias without bound: +10 puts every output above 1, -10 every
    output below 0. Probabilities (a sigmoid at the end) never leave (0, 1)."""
    model, decode, inputs = decode_of(name)
    decoder = model if name in DECODERS else model.decoder
    last = [m for m in decoder.modules() if isinstance(m, AFFINE)][-1]
    with torch.no_grad():
        out = decode(inputs)
        assert out.shape[1:] == (1, 28, 28)
        last.bias += 10.0 - out.min()
        assert decode(inputs).min() > 1
        last.bias -= 20.0 + out.max() - out.min()
        assert decode(inputs).max() < 0


@pytest.mark.parametrize("name", VAES)
def test_mu_and_logvar_come_from_separate_heads(name):
    """Some weights move mu and not logvar, and others logvar and not mu: two heads, not one read twice."""
    model = build(VAES[name])
    mu, logvar = model.encode(images())
    assert not torch.allclose(mu, logvar)
    params = list(model.parameters())
    grads_mu = torch.autograd.grad(mu.sum(), params, retain_graph=True, allow_unused=True)
    grads_logvar = torch.autograd.grad(logvar.sum(), params, allow_unused=True)
    only_mu = only_logvar = 0
    for g_mu, g_lv in zip(grads_mu, grads_logvar):
        g_mu = torch.zeros(1, dtype=torch.bool) if g_mu is None else g_mu.ne(0)
        g_lv = torch.zeros(1, dtype=torch.bool) if g_lv is None else g_lv.ne(0)
        if g_mu.shape == g_lv.shape:
            only_mu += (g_mu & ~g_lv).sum().item()
            only_logvar += (g_lv & ~g_mu).sum().item()
        else:  # one of them is not reached at all
            only_mu += g_mu.sum().item() if g_lv.numel() == 1 else 0
            only_logvar += g_lv.sum().item() if g_mu.numel() == 1 else 0
    assert only_mu > 0 and only_logvar > 0, (only_mu, only_logvar)


@pytest.mark.parametrize("name", VAES)
def test_vae_forward_is_decode_of_a_sample_of_the_encoding(name):
    model = build(VAES[name])
    x = images()
    torch.manual_seed(5)
    logits, mu, logvar = model(x)
    torch.manual_seed(5)
    mu2, logvar2 = model.encode(x)
    expected = model.decode(model.reparameterize(mu2, logvar2))
    assert torch.equal(mu, mu2) and torch.equal(logvar, logvar2) and torch.allclose(logits, expected)
    # and the sample really is mu + sigma * eps: with a tiny sigma, forward decodes mu itself
    torch.manual_seed(5)
    z = model.reparameterize(mu, torch.full_like(logvar, -40.0))
    assert torch.allclose(z, mu, atol=1e-6)
    eps = (model.reparameterize(mu, logvar) - mu) / (0.5 * logvar).exp()
    assert 0.2 < eps.std().item() < 3 and not torch.allclose(eps, torch.zeros_like(eps))


@pytest.mark.parametrize("name", AUTOENCODERS)
def test_autoencoder_forward_is_decode_of_encode(name):
    model = build(AUTOENCODERS[name])
    x = images()
    assert torch.equal(model(x), model.decode(model.encode(x)))


@pytest.mark.parametrize("name", ENCODER_MODELS)
def test_encoding_is_deterministic_and_takes_both_input_shapes(name):
    model = build(ENCODER_MODELS[name]).train()
    x = images()
    first, again, flat = model.encode(x), model.encode(x), model.encode(x.flatten(start_dim=1))
    first, again, flat = ([t] if torch.is_tensor(t) else list(t) for t in (first, again, flat))
    assert all(torch.equal(a, b) for a, b in zip(first, again)), "encode must not sample"
    assert all(torch.allclose(a, b) for a, b in zip(first, flat)), "(B, 784) must encode like (B, 1, 28, 28)"
    torch.manual_seed(0)
    out_images = model(x)
    torch.manual_seed(0)
    out_flat = model(x.flatten(start_dim=1))
    out_images, out_flat = ([t] if torch.is_tensor(t) else list(t) for t in (out_images, out_flat))
    assert all(torch.allclose(a, b) for a, b in zip(out_images, out_flat))


@pytest.mark.parametrize("name", ALL)
def test_a_gradient_reaches_every_parameter(name):
    if name in VAES:
        model = build(VAES[name])
        loss = vae_loss(model, (images(), None))[0]
    elif name in AUTOENCODERS:
        model = build(AUTOENCODERS[name])
        loss = ae_loss(model, (images(), None))[0]
    else:
        model, decode, inputs = decode_of(name)
        loss = nn.functional.binary_cross_entropy_with_logits(decode(inputs), images()).sum()
    loss.backward()
    dead = [
        n for n, p in model.named_parameters() if p.requires_grad and (p.grad is None or not p.grad.abs().sum() > 0)
    ]
    assert not dead, f"no gradient reaches {dead}"


def leaf_sequences(module: nn.Module):
    """The leaf layers of every outermost nn.Sequential inside ``module``, in the order they run."""

    def leaves(m):
        children = list(m.children())
        return [m] if not children else [leaf for c in children for leaf in leaves(c)]

    found = []

    def visit(m):
        if isinstance(m, nn.Sequential):
            found.append(leaves(m))
        else:
            for c in m.children():
                visit(c)

    visit(module)
    return found


@pytest.mark.parametrize("name", ALL)
def test_an_activation_sits_between_every_two_layers(name):
    model = decode_of(name)[0]
    for sequence in leaf_sequences(model):
        kinds = [type(m) for m in sequence if isinstance(m, AFFINE + ACTIVATIONS)]
        for before, after in itertools.pairwise(kinds):
            assert not (issubclass(before, AFFINE) and issubclass(after, AFFINE)), (
                f"{name}: {before.__name__} then {after.__name__} with no activation between them: {kinds}"
            )


def test_mlp_follows_every_layer_with_its_activation():
    for activation, kind in (("silu", nn.SiLU), ("relu", nn.ReLU)):
        layers = list(mlp([5, 7, 3], activation))
        assert [type(m) for m in layers] == [nn.Linear, kind, nn.Linear, kind]


@pytest.mark.parametrize("name", ["MLPVAE", "MLPAutoencoder"])
def test_a_one_hidden_layer_encoder_is_not_linear(name):
    """With one hidden layer, a missing activation would make the encoder affine: f(a + b) = f(a) + f(b) - f(0)."""
    model = build(ENCODER_MODELS[name])
    a, b = images(seed=1), images(seed=2)

    def code(x):
        out = model.encode(x)
        return out[0] if isinstance(out, tuple) else out

    with torch.no_grad():
        gap = code(a + b) - code(a) - code(b) + code(torch.zeros_like(a))
    assert gap.abs().max() > 1e-3


@pytest.mark.parametrize("name", ALL)
def test_a_model_rebuilt_from_its_config_has_the_same_parameters(name):
    """Checkpoints rebuild a model from ``model.config``: every setting must be in it, under its own name."""
    model = build(DECODERS[name][0] if name in DECODERS else ENCODER_MODELS[name])
    twin = type(model)(**model.config)
    assert {k: v.shape for k, v in model.state_dict().items()} == {k: v.shape for k, v in twin.state_dict().items()}
    twin.load_state_dict(model.state_dict())
    assert twin.config == model.config


@pytest.mark.parametrize("cls", [ConvAutoencoder, ConvVAE])
def test_conv_models_take_the_image_size_they_are_built_for(cls):
    model = cls(latent_dim=LATENT, channels=(8, 4), image_size=32)
    x = torch.rand(2, 1, 32, 32)
    out = model(x)
    logits = out[0] if isinstance(out, tuple) else out
    assert logits.shape == (2, 1, 32, 32)
    with pytest.raises(ValueError, match=r"\(B, 1, 32, 32\)"):
        model.encode(torch.rand(2, 1, 28, 28))


@pytest.mark.parametrize("cls", [MLPVAE, MLPAutoencoder])
@pytest.mark.parametrize("activation, kind", [("relu", nn.ReLU), ("silu", nn.SiLU)])
def test_every_activation_is_the_one_asked_for(cls, activation, kind):
    model = cls(latent_dim=LATENT, hidden_dims=(16, 8), activation=activation)
    found = [type(m) for m in model.modules() if isinstance(m, ACTIVATIONS)]
    assert len(found) >= 4 and set(found) == {kind}
