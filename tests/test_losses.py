import math

import pytest
import torch
import torch.nn.functional as F
from torch.distributions import Normal
from torch.distributions import kl_divergence as torch_kl

from vae_helpers import losses
from vae_helpers.losses import bce_recon, kl_divergence, vae_loss
from vae_helpers.models import MLPVAE


def test_bce_matches_torch_on_probabilities():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(5, 1, 28, 28, generator=g) * 3
    x = torch.rand(5, 1, 28, 28, generator=g)  # grey levels, not only 0/1
    expected = F.binary_cross_entropy(torch.sigmoid(logits), x, reduction="none").sum(dim=(1, 2, 3))
    assert torch.allclose(bce_recon(logits, x), expected, rtol=1e-5, atol=1e-4)


def test_bce_stays_finite_where_the_probability_form_breaks():
    logits = torch.tensor([[200.0, -200.0]])
    x = torch.tensor([[0.0, 1.0]])
    assert torch.allclose(bce_recon(logits, x), torch.tensor([400.0]))


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
    assert torch.allclose(metrics["recon"], bce_recon(logits, x).mean())
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
    assert torch.equal(a, b) and a.min() >= 0 and a.max() <= 1
    assert 0.2 < (a - x).abs().mean() < 0.5


def test_beta_zero_is_pure_reconstruction_and_the_kl_part_scales_linearly():

    torch.manual_seed(0)
    model = MLPVAE(latent_dim=3, hidden_dims=(16,))
    x = torch.rand(6, 1, 28, 28)

    def run(beta, recon="bce"):
        torch.manual_seed(7)  # the same z sample every time
        return vae_loss(model, (x, None), beta=beta, recon=recon)

    loss0, parts = run(0.0)
    assert torch.allclose(loss0, parts["recon"])
    losses = [run(b)[0] for b in (0.0, 1.0, 2.0, 5.0)]
    kl = parts["kl"]
    for beta, loss in zip((0.0, 1.0, 2.0, 5.0), losses):
        assert torch.allclose(loss, parts["recon"] + beta * kl, rtol=1e-5)
    assert torch.allclose(run(1.0)[0], vae_loss_seeded(model, x))
    mse_loss0, _ = run(0.0, "mse")
    torch.manual_seed(7)
    logits, _, _ = model(x)
    assert torch.allclose(mse_loss0, ((torch.sigmoid(logits) - x) ** 2).sum(dim=(1, 2, 3)).mean())


def vae_loss_seeded(model, x):
    torch.manual_seed(7)
    return vae_loss(model, (x, None))[0]


def test_beta_loss_rejects_bad_arguments():
    import pytest

    model, x = MLPVAE(latent_dim=3, hidden_dims=(16,)), torch.rand(2, 1, 28, 28)
    with pytest.raises(ValueError, match="beta"):
        vae_loss(model, (x, None), beta=-1.0)
    with pytest.raises(ValueError, match="'bce', 'mse'"):
        vae_loss(model, (x, None), recon="l1")


def test_kl_per_dimension_sums_to_the_total_kl():
    from vae_helpers.losses import kl_per_dimension

    g = torch.Generator().manual_seed(3)
    mu, logvar = torch.randn(7, 5, generator=g), torch.randn(7, 5, generator=g)
    per_dim = kl_per_dimension(mu, logvar)
    assert per_dim.shape == (5,)
    assert torch.allclose(per_dim.sum(), kl_divergence(mu, logvar).mean())
    mu[:, 2], logvar[:, 2] = 0.0, 0.0  # a dimension at the prior carries nothing
    assert kl_per_dimension(mu, logvar)[2] == 0


def test_kl_is_zero_exactly_at_the_prior_and_positive_elsewhere():
    g = torch.Generator().manual_seed(4)
    assert torch.equal(kl_divergence(torch.zeros(3, 4), torch.zeros(3, 4)), torch.zeros(3))
    mu, logvar = torch.randn(100, 4, generator=g), torch.randn(100, 4, generator=g) * 3
    assert (kl_divergence(mu, logvar) > 0).all()


def test_kl_matches_torch_for_tiny_and_huge_variances():
    for scale in (-12.0, -4.0, 4.0, 8.0):
        mu = torch.randn(5, 3, dtype=torch.float64)
        logvar = torch.full((5, 3), scale, dtype=torch.float64)
        expected = torch_kl(Normal(mu, torch.exp(0.5 * logvar)), Normal(0.0, 1.0)).sum(dim=1)
        assert torch.allclose(kl_divergence(mu, logvar), expected, rtol=1e-9)


def test_reparameterized_samples_have_the_right_mean_and_variance():
    mu, logvar = torch.tensor([1.0, -2.0]), torch.tensor([0.5, -1.5])
    torch.manual_seed(0)
    z = MLPVAE.reparameterize(mu.expand(100_000, 2), logvar.expand(100_000, 2))
    assert torch.allclose(z.mean(0), mu, atol=0.02)
    assert torch.allclose(z.var(0), logvar.exp(), rtol=0.03)


# ---------------------------------------------------------------- oracles for every loss term


def test_mse_recon_matches_torch_mse_on_the_pixels():
    from vae_helpers.losses import mse_recon

    g = torch.Generator().manual_seed(6)
    logits, x = torch.randn(4, 1, 28, 28, generator=g) * 4, torch.rand(4, 1, 28, 28, generator=g)
    expected = F.mse_loss(torch.sigmoid(logits), x, reduction="none").sum(dim=(1, 2, 3))
    assert torch.allclose(mse_recon(logits, x), expected, rtol=1e-5)
    assert torch.allclose(mse_recon(logits, x.flatten(start_dim=1)), expected, rtol=1e-5)  # flat targets


def test_bce_accepts_flat_targets_and_sums_per_example():
    g = torch.Generator().manual_seed(7)
    logits, x = torch.randn(3, 1, 28, 28, generator=g), torch.rand(3, 784, generator=g)
    expected = F.binary_cross_entropy_with_logits(logits.flatten(start_dim=1), x, reduction="none").sum(dim=1)
    assert torch.allclose(bce_recon(logits, x), expected, rtol=1e-5)


def test_kl_only_loss_is_the_kl_and_reports_the_reconstruction():
    from vae_helpers.losses import kl_only_loss

    torch.manual_seed(0)
    model = MLPVAE(latent_dim=3, hidden_dims=(16,))
    x = torch.rand(6, 1, 28, 28)
    torch.manual_seed(9)
    loss, metrics = kl_only_loss(model, (x, None))
    torch.manual_seed(9)
    logits, mu, logvar = model(x)
    kl = torch_kl(Normal(mu, torch.exp(0.5 * logvar)), Normal(0.0, 1.0)).sum(dim=1).mean()
    recon = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / len(x)
    assert torch.allclose(loss, kl, rtol=1e-5) and torch.allclose(metrics["kl"], kl, rtol=1e-5)
    assert torch.allclose(metrics["recon"], recon, rtol=1e-5)
    loss.backward()  # the decoder gets no gradient: nothing in this loss depends on it
    assert all(p.grad is None or p.grad.abs().sum() == 0 for p in model.decoder.parameters())


def test_vae_loss_with_squared_error_matches_the_oracles():
    torch.manual_seed(0)
    model = MLPVAE(latent_dim=3, hidden_dims=(16,))
    x = torch.rand(5, 1, 28, 28)
    torch.manual_seed(3)
    loss, metrics = vae_loss(model, (x, None), beta=0.25, recon="mse")
    torch.manual_seed(3)
    logits, mu, logvar = model(x)
    recon = F.mse_loss(torch.sigmoid(logits), x, reduction="sum") / len(x)
    kl = torch_kl(Normal(mu, torch.exp(0.5 * logvar)), Normal(0.0, 1.0)).sum(dim=1).mean()
    assert torch.allclose(metrics["recon"], recon, rtol=1e-5) and torch.allclose(metrics["kl"], kl, rtol=1e-5)
    assert torch.allclose(loss, recon + 0.25 * kl, rtol=1e-5)


def test_add_noise_is_gaussian_noise_of_that_std_clipped_to_the_pixel_range():
    """The corruption of notebook 03's denoiser, against the same draws made by hand."""
    from vae_helpers.losses import add_noise

    x = torch.rand(64, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    noisy = add_noise(x, 0.3, torch.Generator().manual_seed(2))
    expected = (x + 0.3 * torch.randn(x.shape, generator=torch.Generator().manual_seed(2))).clamp(0, 1)
    assert torch.equal(noisy, expected)
    assert (noisy != x).float().mean() > 0 and noisy.min() >= 0 and noisy.max() <= 1
    assert torch.equal(add_noise(x, 0.0), x)


def test_vae_loss_with_warmup_ramps_beta_from_zero_to_one_then_evaluates_at_one():
    from vae_helpers.losses import vae_loss_with_warmup

    torch.manual_seed(0)
    model = MLPVAE(latent_dim=3, hidden_dims=(16,))
    x = torch.rand(4, 1, 28, 28)
    loss_fn = vae_loss_with_warmup(4)
    for step, beta in enumerate([0.0, 0.25, 0.5, 0.75, 1.0, 1.0]):
        torch.manual_seed(step)
        loss, m = loss_fn(model.train(), (x, None))
        assert torch.allclose(loss, m["recon"] + beta * m["kl"]), (step, beta)
    model.eval()
    torch.manual_seed(0)
    loss, m = vae_loss_with_warmup(100)(model, (x, None))
    assert torch.allclose(loss, m["recon"] + m["kl"])  # evaluation is always the plain negative ELBO


def test_vae_loss_with_no_warmup_is_the_plain_vae_loss_from_the_first_step():
    from vae_helpers.losses import vae_loss_with_warmup

    torch.manual_seed(0)
    model = MLPVAE(latent_dim=3, hidden_dims=(16,)).train()
    x = torch.rand(4, 1, 28, 28)
    loss_fn = vae_loss_with_warmup(0)  # zero steps of warm-up is allowed: beta is 1 at once
    for step in range(2):
        torch.manual_seed(step)
        loss, m = loss_fn(model, (x, None))
        assert torch.allclose(loss, m["recon"] + m["kl"]), step


def test_a_batch_may_be_the_images_alone():
    torch.manual_seed(0)
    model = MLPVAE(latent_dim=3, hidden_dims=(16,))
    x = torch.rand(4, 1, 28, 28)
    torch.manual_seed(1)
    alone, _ = vae_loss(model, x)
    torch.manual_seed(1)
    paired, _ = vae_loss(model, (x, None))
    assert torch.equal(alone, paired)


def test_bce_floor_is_the_cross_entropy_of_each_image_with_itself_and_no_decoder_goes_below():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(6, 1, 28, 28, generator=g)
    x[0] = 0.0  # a black image: nothing to pay
    x[1] = (x[1] > 0.5).float()  # a binary image: nothing to pay either
    x[2] = 0.5  # mid-grey everywhere: log 2 per pixel
    floor = losses.bce_floor(x)
    oracle = F.binary_cross_entropy(x, x, reduction="none").sum(dim=(1, 2, 3))
    assert floor.shape == (6,) and torch.allclose(floor, oracle, atol=1e-3)
    assert floor[0] == 0 and floor[1] == 0 and torch.isclose(floor[2], torch.tensor(784 * math.log(2)))
    logit = torch.logit(x.clamp(1e-6, 1 - 1e-6))
    assert torch.allclose(losses.bce_recon(logit, x), floor, atol=0.05)  # reached where p = x
    for _ in range(5):  # and any other decoder output costs more
        assert (losses.bce_recon(logit + torch.randn(x.shape, generator=g), x) > floor).all()


def test_bce_floor_rejects_values_outside_the_pixel_range():
    with pytest.raises(ValueError, match=r"x must hold pixels in \[0, 1\]"):
        losses.bce_floor(torch.full((2, 4), 1.5))


# --------------------------------------------------------------------------- notebook 07: the conditional VAE's loss


def test_cvae_loss_is_the_batch_mean_of_bce_summed_plus_kl():
    from vae_helpers.losses import cvae_loss
    from vae_helpers.models import ConditionalVAE

    torch.manual_seed(0)
    model = ConditionalVAE(latent_dim=3, hidden_dims=(16,))
    x, y = torch.rand(6, 1, 28, 28), torch.tensor([0, 1, 2, 7, 8, 9])
    torch.manual_seed(4)
    loss, metrics = cvae_loss(model, (x, y))
    torch.manual_seed(4)
    logits, mu, logvar = model(x, y)
    recon = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / 6
    kl = torch_kl(Normal(mu, torch.exp(0.5 * logvar)), Normal(0.0, 1.0)).sum() / 6
    assert loss.dim() == 0
    assert torch.allclose(loss, recon + kl, rtol=1e-5)
    assert torch.allclose(metrics["recon"], recon, rtol=1e-5) and torch.allclose(metrics["kl"], kl, rtol=1e-5)
    assert kl > 0.01  # the KL term is there to be counted


def test_a_few_adam_steps_on_the_cvae_loss_lower_it():
    from vae_helpers.losses import cvae_loss
    from vae_helpers.models import ConditionalVAE

    torch.manual_seed(1)
    model = ConditionalVAE(latent_dim=2, hidden_dims=(16,))
    batch = ((torch.rand(8, 1, 28, 28) > 0.7).float(), torch.arange(8))

    def fixed_loss():
        torch.manual_seed(123)  # the same draws of z before and after
        with torch.no_grad():
            return cvae_loss(model, batch)[0].item()

    before = fixed_loss()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(20):
        loss, _ = cvae_loss(model, batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert fixed_loss() < before - 0.05 * abs(before)


def test_cvae_loss_needs_images_and_labels():
    from vae_helpers.losses import cvae_loss
    from vae_helpers.models import ConditionalVAE

    model = ConditionalVAE(latent_dim=2, hidden_dims=(8,))
    with pytest.raises(TypeError, match="pair"):
        cvae_loss(model, torch.rand(2, 1, 28, 28))
    with pytest.raises(TypeError, match="integer labels"):
        cvae_loss(model, (torch.rand(2, 1, 28, 28), None))
