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
