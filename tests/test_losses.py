import torch
import torch.nn.functional as F
from torch.distributions import Normal, kl_divergence as torch_kl

from vae_helpers.losses import bce_loss, kl_divergence, vae_loss
from vae_helpers.models import MLPVAE


def test_bce_matches_torch_on_probabilities():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(5, 1, 28, 28, generator=g) * 3
    x = torch.rand(5, 1, 28, 28, generator=g)  # grey levels, not only 0/1
    expected = F.binary_cross_entropy(torch.sigmoid(logits), x, reduction="none").sum(dim=(1, 2, 3))
    assert torch.allclose(bce_loss(logits, x), expected, rtol=1e-5, atol=1e-4)


def test_bce_stays_finite_where_the_probability_form_breaks():
    logits = torch.tensor([[200.0, -200.0]])
    x = torch.tensor([[0.0, 1.0]])
    assert torch.allclose(bce_loss(logits, x), torch.tensor([400.0]))


def test_kl_matches_torch_distributions():
    g = torch.Generator().manual_seed(1)
    mu, logvar = torch.randn(6, 4, generator=g), torch.randn(6, 4, generator=g)
    expected = torch_kl(Normal(mu, torch.exp(0.5 * logvar)), Normal(0.0, 1.0)).sum(dim=1)
    assert torch.allclose(kl_divergence(mu, logvar), expected, atol=1e-5)
    assert torch.equal(kl_divergence(torch.zeros(2, 3), torch.zeros(2, 3)), torch.zeros(2))


def test_kl_gradient_matches_finite_differences():
    g = torch.Generator().manual_seed(2)
    mu = torch.randn(3, 2, dtype=torch.float64, generator=g, requires_grad=True)
    logvar = torch.randn(3, 2, dtype=torch.float64, generator=g, requires_grad=True)
    assert torch.autograd.gradcheck(kl_divergence, (mu, logvar))


def test_vae_loss_is_the_batch_mean_of_recon_plus_beta_kl():
    torch.manual_seed(0)
    model = MLPVAE(latent_dim=3, hidden_dims=(16,))
    x = torch.rand(8, 1, 28, 28)
    torch.manual_seed(5)
    loss, metrics = vae_loss(model, (x, None), beta=2.0)
    torch.manual_seed(5)
    logits, mu, logvar = model(x)
    assert loss.dim() == 0
    assert torch.allclose(metrics["recon"], bce_loss(logits, x).mean())
    assert torch.allclose(loss, metrics["recon"] + 2.0 * kl_divergence(mu, logvar).mean())


def test_ae_loss_is_bce_summed_over_pixels_and_averaged_over_the_batch():
    from vae_helpers.losses import ae_loss
    from vae_helpers.models import MLPAutoencoder

    torch.manual_seed(0)
    model = MLPAutoencoder(latent_dim=3, hidden_dims=(16,))
    x = torch.rand(5, 1, 28, 28)
    loss, _ = ae_loss(model, (x, None))
    expected = F.binary_cross_entropy_with_logits(model(x), x, reduction="sum") / 5
    assert torch.allclose(loss, expected)


def test_add_noise_stays_in_range_and_is_seeded():
    from vae_helpers.losses import add_noise

    x = torch.rand(2, 1, 28, 28)
    a = add_noise(x, 0.5, torch.Generator().manual_seed(0))
    b = add_noise(x, 0.5, torch.Generator().manual_seed(0))
    assert torch.equal(a, b) and 0 <= a.min() and a.max() <= 1
    assert 0.2 < (a - x).abs().mean() < 0.5
