import pytest
import torch

from vae_helpers.models import MLPVAE
from vae_helpers.utils import count_parameters


@pytest.mark.parametrize("latent_dim, hidden_dims", [(2, (64,)), (20, (400,)), (8, (256, 64))])
def test_mlp_vae_shapes(latent_dim, hidden_dims):
    model = MLPVAE(latent_dim=latent_dim, hidden_dims=hidden_dims)
    x = torch.rand(5, 1, 28, 28)
    logits, mu, logvar = model(x)
    assert logits.shape == x.shape
    assert mu.shape == logvar.shape == (5, latent_dim)
    assert model.decode(torch.zeros(3, latent_dim)).shape == (3, 1, 28, 28)


def test_reference_model_has_the_classic_parameter_count():
    # 784-400-20 with 20-400-784: the PyTorch example's layer sizes
    expected = (784 * 400 + 400) + 2 * (400 * 20 + 20) + (20 * 400 + 400) + (400 * 784 + 784)
    assert count_parameters(MLPVAE()) == expected


def test_gradients_reach_mu_and_logvar_through_the_sample():
    mu = torch.zeros(4, 3, requires_grad=True)
    logvar = torch.zeros(4, 3, requires_grad=True)
    MLPVAE.reparameterize(mu, logvar).pow(2).sum().backward()
    assert mu.grad is not None and logvar.grad is not None and logvar.grad.abs().sum() > 0


def test_bad_sizes_raise():
    with pytest.raises(ValueError, match="latent_dim"):
        MLPVAE(latent_dim=0)


# ---------------------------------------------------------------- notebooks 01-02: memorizing decoders

from vae_helpers.models import CODE_KINDS, CodebookDecoder, DeconvDecoder, conv_transpose_output_size  # noqa: E402


@pytest.mark.parametrize(
    "code_dim, channels, image_size", [(1, (16,), 28), (8, (32, 16), 28), (4, (64, 32, 16), 32), (3, (8, 8), 12)]
)
def test_deconv_decoder_output_shape_is_computed_and_true(code_dim, channels, image_size):
    decoder = DeconvDecoder(code_dim, channels, image_size)
    out = decoder(torch.ones(2, code_dim))
    assert decoder.output_shape == (1, image_size, image_size)
    assert tuple(out.shape[1:]) == decoder.output_shape


@pytest.mark.parametrize(
    "size, kernel, stride, padding, output_padding",
    [(1, 7, 1, 0, 0), (7, 4, 2, 1, 0), (5, 3, 2, 1, 1), (3, 2, 3, 0, 0)],
)
def test_transposed_conv_size_formula_matches_pytorch(size, kernel, stride, padding, output_padding):
    layer = torch.nn.ConvTranspose2d(1, 1, kernel, stride=stride, padding=padding, output_padding=output_padding)
    assert layer(torch.zeros(1, 1, size, size)).shape[-1] == conv_transpose_output_size(
        size, kernel, stride, padding, output_padding
    )


def test_deconv_decoder_rejects_unreachable_sizes():
    with pytest.raises(ValueError, match="multiple of 8"):
        DeconvDecoder(8, (32, 16, 8), image_size=28)


def test_deconv_decoder_memorizes_one_image_in_a_few_hundred_steps():
    torch.manual_seed(0)
    target = torch.zeros(1, 1, 28, 28)
    target[0, 0, 6:22, 12:16] = 1.0  # a "1"
    target[0, 0, 6:9, 9:13] = 0.6
    decoder = DeconvDecoder(8, (32, 16))
    optimizer = torch.optim.Adam(decoder.parameters(), lr=3e-3)
    ones = torch.ones(1, 8)
    first = None
    for _ in range(300):
        loss = torch.nn.functional.mse_loss(torch.sigmoid(decoder(ones)), target)
        first = first if first is not None else loss.item()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert loss.item() < 1e-3 < first


@pytest.mark.parametrize("code", CODE_KINDS)
@pytest.mark.parametrize("num_images", [1, 4, 16])
def test_codebook_variants_share_shapes_and_count_parameters(code, num_images):
    model = CodebookDecoder(num_images, code, code_dim=3, channels=(16, 8))
    out = model(torch.arange(num_images))
    assert out.shape == (num_images, 1, 28, 28)
    counts = model.parameter_counts()
    assert counts["total"] == sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert counts["input_layer"] == sum(p.numel() for p in model.decoder.layers[0].parameters())
    in_channels = num_images if code == "onehot" else 3
    assert counts["input_layer"] == in_channels * 16 * 7 * 7 + 16
    assert counts["codes"] == (num_images * 3 if code == "learned" else 0)


def test_onehot_codes_are_the_identity_and_random_codes_stay_fixed():
    onehot = CodebookDecoder(5, "onehot")
    assert torch.equal(onehot.code_of(torch.tensor([2])), torch.tensor([[0.0, 0, 1, 0, 0]]))
    random_codes = CodebookDecoder(5, "random", code_dim=2, seed=1)
    assert not any(p is random_codes.codes for p in random_codes.parameters())
    assert torch.equal(random_codes.codes, CodebookDecoder(5, "random", code_dim=2, seed=1).codes)


def test_codebook_rejects_unknown_code_kinds():
    with pytest.raises(ValueError, match="onehot"):
        CodebookDecoder(4, "binary")


# ---------------------------------------------------------------- notebook 03: autoencoders

from vae_helpers.models import ConvAutoencoder, ConvEncoder, MLPAutoencoder  # noqa: E402


@pytest.mark.parametrize("cls", [MLPAutoencoder, ConvAutoencoder])
@pytest.mark.parametrize("latent_dim", [2, 8, 32])
def test_autoencoder_shapes(cls, latent_dim):
    model = cls(latent_dim=latent_dim)
    x = torch.rand(6, 1, 28, 28)
    z = model.encode(x)
    assert z.shape == (6, latent_dim)
    assert model.decode(z).shape == x.shape == model(x).shape
    assert model.config["latent_dim"] == latent_dim == model.latent_dim


def test_conv_autoencoder_reuses_notebook_01_decoder():
    model = ConvAutoencoder(latent_dim=5, channels=(32, 16))
    assert isinstance(model.decoder, DeconvDecoder) and model.decoder.output_shape == (1, 28, 28)
    assert isinstance(model.encoder, ConvEncoder)


def test_autoencoders_reject_bad_sizes():
    with pytest.raises(ValueError, match="latent_dim"):
        MLPAutoencoder(latent_dim=0)
    with pytest.raises(ValueError, match="divisible by 4"):
        ConvEncoder(4, (32, 16), image_size=30)


@pytest.mark.parametrize("latent_dim", [2, 16])
def test_conv_vae_shapes(latent_dim):
    from vae_helpers.models import ConvVAE

    model = ConvVAE(latent_dim=latent_dim, channels=(16, 8))
    x = torch.rand(3, 1, 28, 28)
    logits, mu, logvar = model(x)
    assert logits.shape == x.shape and mu.shape == logvar.shape == (3, latent_dim)
    assert model.decode(torch.zeros(2, latent_dim)).shape == (2, 1, 28, 28)


@pytest.mark.parametrize("latent_dim", [2, 20, 64])
def test_mlp_vae_forward_shapes_for_several_latent_sizes(latent_dim):
    model = MLPVAE(latent_dim=latent_dim, hidden_dims=(64, 32))
    logits, mu, _ = model(torch.rand(4, 1, 28, 28))
    assert logits.shape == (4, 1, 28, 28) and mu.shape == (4, latent_dim)


def test_conv_encoder_channels_are_in_the_order_they_are_applied():
    from vae_helpers.models import ConvAutoencoder, ConvEncoder, ConvVAE

    convs = [m for m in ConvEncoder(5, (8, 24)).modules() if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == [8, 24]
    # the autoencoders take the decoder's widths and mirror them: the encoder narrows first
    for model in (ConvAutoencoder(5, (24, 8)), ConvVAE(5, (24, 8))):
        enc = [m.out_channels for m in model.encoder.modules() if isinstance(m, torch.nn.Conv2d)]
        dec = [m.out_channels for m in model.decoder.modules() if isinstance(m, torch.nn.ConvTranspose2d)]
        assert enc == [8, 24] and dec == [24, 8, 1]


def test_conv_transpose_output_size_defaults_are_pytorchs():
    for size, kernel in [(1, 7), (5, 3), (7, 4)]:
        layer = torch.nn.ConvTranspose2d(1, 1, kernel)  # stride 1, no padding, no output padding
        assert layer(torch.zeros(1, 1, size, size)).shape[-1] == conv_transpose_output_size(size, kernel)


def test_default_sizes_are_the_documented_ones():
    """The notebooks and the README quote these sizes (the classic 784-400-20 VAE, for one)."""
    from vae_helpers.models import MLPVAE, ConvAutoencoder, ConvEncoder, ConvVAE, MLPAutoencoder

    assert MLPVAE().config == {"latent_dim": 20, "hidden_dims": [400], "input_shape": [1, 28, 28], "activation": "silu"}
    assert MLPAutoencoder().config == {
        "latent_dim": 20,
        "hidden_dims": [512, 256],
        "input_shape": [1, 28, 28],
        "activation": "silu",
    }
    for cls in (ConvVAE, ConvAutoencoder):
        assert cls().config == {"latent_dim": 20, "channels": [32, 16], "image_size": 28}
    assert DeconvDecoder().config == {"code_dim": 8, "channels": [32, 16], "image_size": 28, "out_channels": 1}
    assert CodebookDecoder(4).config == {
        "num_images": 4,
        "code": "learned",
        "code_dim": 2,
        "channels": [32, 16],
        "image_size": 28,
        "seed": 0,
    }
    encoder = ConvEncoder()
    convs = [m for m in encoder.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [m.out_channels for m in convs] == [16, 32]
    assert convs[0](torch.zeros(1, 1, 28, 28)).shape[-1] == 14 and convs[1](torch.zeros(1, 16, 14, 14)).shape[-1] == 7
    from vae_helpers.models import mlp

    assert any(isinstance(m, torch.nn.SiLU) for m in mlp([2, 3, 4]))
    assert encoder(torch.zeros(1, 1, 28, 28)).shape == (1, 20)


@pytest.mark.parametrize("code", CODE_KINDS)
def test_codebook_decoders_draw_the_image_size_they_are_built_for(code):
    decoder = CodebookDecoder(3, code=code, code_dim=2, channels=(8, 4), image_size=32)
    assert decoder(torch.arange(3)).shape == (3, 1, 32, 32)


# ----------------------------------------------------------------------------- notebook 07: the conditional VAE

from vae_helpers.models import ConditionalVAE  # noqa: E402


def tiny_cvae(seed=0, latent_dim=3):
    torch.manual_seed(seed)
    return ConditionalVAE(latent_dim=latent_dim, hidden_dims=(32, 16))


def test_conditional_vae_shapes():
    model = tiny_cvae()
    x, y = torch.rand(5, 1, 28, 28), torch.tensor([0, 3, 9, 3, 1])
    mu, logvar = model.encode(x, y)
    assert mu.shape == logvar.shape == (5, 3)
    assert model.decode(mu, y).shape == (5, 1, 28, 28)
    torch.manual_seed(3)
    logits, mu2, logvar2 = model(x, y)
    assert logits.shape == (5, 1, 28, 28) and torch.equal(mu2, mu) and torch.equal(logvar2, logvar)
    torch.manual_seed(3)  # the same draw of z, decoded with the same labels
    assert torch.allclose(logits, model.decode(mu + torch.exp(0.5 * logvar) * torch.randn_like(mu), y))
    assert torch.equal(model.encode(x.reshape(5, 784), y)[0], mu)  # flat images too
    assert model.num_classes == 10 and model.latent_dim == 3
    assert model.one_hot(y, 5).argmax(1).tolist() == y.tolist()


def test_another_label_decodes_another_digit_from_the_same_untouched_code():
    model = tiny_cvae()
    x, y = torch.rand(4, 1, 28, 28), torch.tensor([2, 5, 7, 0])
    with torch.no_grad():
        mu, _ = model.encode(x, y)
        z = mu.clone()
        same = model.decode(z, y)
        other = model.decode(z, (y + 1) % 10)
    assert torch.equal(z, mu)  # decode leaves the code alone: the style stays
    assert torch.equal(model.decode(z, y).detach(), same)
    assert ((same - other).abs().flatten(1).max(1).values > 1e-4).all()  # every image changes


def test_the_encoder_is_told_the_label():
    model = tiny_cvae(1)
    x = torch.rand(3, 1, 28, 28)
    mu_a, logvar_a = model.encode(x, torch.tensor([1, 1, 1]))
    mu_b, logvar_b = model.encode(x, torch.tensor([4, 4, 4]))
    assert not torch.allclose(mu_a, mu_b) and not torch.allclose(logvar_a, logvar_b)


def test_a_briefly_trained_conditional_vae_writes_the_digit_it_is_told():
    """Two 'digits' (a vertical and a horizontal bar): after a few Adam steps the code 0 with label 0 draws
    something closer to the first, with label 1 closer to the second."""
    from vae_helpers.losses import cvae_loss

    torch.manual_seed(1)
    model = ConditionalVAE(latent_dim=2, hidden_dims=(16,))
    templates = torch.zeros(2, 1, 28, 28)
    templates[0, 0, 4:24, 12:16] = 1  # vertical
    templates[1, 0, 12:16, 4:24] = 1  # horizontal
    y = torch.tensor([0, 1] * 4)
    x = templates[y]
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(100):
        loss, _ = cvae_loss(model, (x, y))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        drawn = torch.sigmoid(model.decode(torch.zeros(2, 2), torch.tensor([0, 1])))
    error = ((drawn[:, None] - templates[None]) ** 2).sum(dim=(2, 3, 4))  # (drawn, template)
    # measured: about 12 against 79 (label 0) and 9 against 87 (label 1)
    assert error[0, 0] < 0.5 * error[0, 1] and error[1, 1] < 0.5 * error[1, 0], error


def test_conditional_vae_rejects_bad_labels_clearly():
    model = tiny_cvae()
    x = torch.rand(3, 1, 28, 28)
    with pytest.raises(ValueError, match="from 0 to 9"):
        model.encode(x, torch.tensor([0, 10, 2]))
    with pytest.raises(ValueError, match="from 0 to 9"):
        model.decode(torch.zeros(3, 3), torch.tensor([0, -1, 2]))
    with pytest.raises(ValueError, match="one label per image"):
        model(x, torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="one label per image"):
        model.decode(torch.zeros(3, 3), torch.tensor([[0], [1], [2]]))
    with pytest.raises(TypeError, match="integer labels"):
        model(x, torch.tensor([0.0, 1.0, 2.0]))
    with pytest.raises(TypeError, match="integer labels"):
        model(x, [0, 1, 2])
    with pytest.raises(ValueError):
        ConditionalVAE(num_classes=1)


def test_a_seeded_conditional_vae_repeats_exactly():
    a, b = tiny_cvae(5), tiny_cvae(5)
    for (name, p), q in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(p, q), name
    x, y = torch.rand(2, 1, 28, 28), torch.tensor([6, 8])
    torch.manual_seed(9)
    out_a = a(x, y)
    torch.manual_seed(9)
    out_b = b(x, y)
    assert all(torch.equal(u, v) for u, v in zip(out_a, out_b, strict=True))
    assert not torch.equal(tiny_cvae(6).state_dict()["to_mu.weight"], a.state_dict()["to_mu.weight"])
