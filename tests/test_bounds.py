"""vae_helpers.bounds (notebook 06): quadrature, the ELBO identity, the importance-weighted bound, per-image q.

The oracles: a tiny VAE over 4 binary pixels, whose p(x) must sum to 1 over all 16 images; Monte Carlo from
the prior; torch.logsumexp in float64; torch.distributions for the KL of each latent dimension."""

import itertools
import math

import pytest
import torch
from torch import nn
from torch.distributions import Normal, kl_divergence

from vae_helpers import bounds, data


class TinyVAE(nn.Module):
    """A 2-D latent space, ``pixels`` Bernoulli pixels; float64 so that identities hold to 1e-9."""

    latent_dim = 2

    def __init__(self, pixels=4, seed=0, constant_decoder=False):
        super().__init__()
        torch.manual_seed(seed)
        self.enc = nn.Linear(pixels, 4)
        self.dec = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, pixels))
        with torch.no_grad():
            self.dec[0].weight.mul_(2.0)  # a posterior with some shape
            self.enc.bias[2:].fill_(-1.0)  # q's standard deviation about 0.6
            if constant_decoder:  # p(x | z) does not depend on z: the posterior is the prior
                self.dec[0].weight.zero_()
                self.enc.weight.zero_()
                self.enc.bias.zero_()
        self.double()

    def encode(self, x):
        h = self.enc(x.reshape(len(x), -1))
        return h[:, :2], h[:, 2:]

    def decode(self, z):
        return self.dec(z)


def all_binary_images(pixels=4):
    return torch.tensor(list(itertools.product([0.0, 1.0], repeat=pixels)), dtype=torch.float64)


# --------------------------------------------------------------------------- log-mean-exp


def test_log_mean_exp_is_stable_at_minus_1e4_and_plus_1e4():
    offsets = torch.tensor([0.0, -1.0, 2.0, -30.0], dtype=torch.float64)
    exact = math.log(offsets.exp().mean().item())
    for centre in (-1e4, 1e4):
        values = (centre + offsets).float()
        naive = values.exp().mean().log()
        assert not torch.isfinite(naive)  # the formula that is not stable fails here ...
        got = bounds.log_mean_exp(values)  # ... the course's does not
        assert torch.isfinite(got) and abs(got.item() - (centre + exact)) <= 1e-3


def test_log_mean_exp_is_logsumexp_minus_log_n_along_the_given_dimension():
    values = torch.randn(7, 5, dtype=torch.float64) * 50
    for dim in (0, 1):
        expected = torch.log(torch.exp(values).mean(dim))  # fine in float64 at this range
        torch.testing.assert_close(bounds.log_mean_exp(values, dim=dim), expected)
    with pytest.raises(ValueError, match="empty"):
        bounds.log_mean_exp(torch.zeros(0, 3))
    with pytest.raises(TypeError, match="float tensor"):
        bounds.log_mean_exp(torch.zeros(3, dtype=torch.long))


# --------------------------------------------------------------------------- quadrature


def test_the_grid_is_the_midpoint_rule_row_by_row():
    grid = bounds.Grid(limit=2.0, n=4)
    assert grid.ticks.tolist() == [-1.5, -0.5, 0.5, 1.5] and grid.spacing == 1.0
    z = grid.z
    assert z.shape == (16, 2)
    assert z[1 * 4 + 2].tolist() == [0.5, -0.5]  # row i = 1 (y), column j = 2 (x)
    assert math.isclose(grid.log_cell_area, 0.0, abs_tol=1e-12)


def test_quadrature_converges_as_the_grid_is_refined():
    model, x = TinyVAE(), all_binary_images()
    values = [bounds.log_marginal(model, x, bounds.Grid(6.0, n)) for n in (6, 12, 24, 48, 96)]
    errors = [(v - values[-1]).abs().max().item() for v in values[:-1]]
    assert errors[0] > 1e-3  # a coarse grid is visibly off ...
    assert all(b < a for a, b in itertools.pairwise(errors))  # ... and each refinement gets closer
    assert errors[-1] < 1e-8


def test_quadrature_gives_probabilities_that_sum_to_one_over_all_binary_images():
    model, x = TinyVAE(), all_binary_images()
    p = bounds.log_marginal(model, x, bounds.Grid(7.0, 200)).exp()
    assert abs(p.sum().item() - 1) < 1e-6  # p(x) is a distribution over the 16 images


def test_quadrature_agrees_with_monte_carlo_from_the_prior():
    model, x = TinyVAE(), all_binary_images()
    torch.manual_seed(1)
    z = torch.randn(400_000, 2, dtype=torch.float64)
    with torch.no_grad():
        log_lik = bounds.bernoulli_log_likelihood(model.decode(z)[:, None], x)  # (N, 16)
    mc = bounds.log_mean_exp(log_lik, dim=0)
    stderr = (log_lik - mc).exp().std(0) / math.sqrt(len(z))  # relative standard error of the mean of p(x|z)
    quad = bounds.log_marginal(model, x, bounds.Grid(7.0, 200))
    assert ((quad - mc).abs() < 4 * stderr + 1e-9).all()


def test_bernoulli_log_likelihood_is_minus_the_summed_cross_entropy():
    logits, x = torch.randn(3, 5, 10) * 5, torch.rand(5, 10)
    expected = -nn.functional.binary_cross_entropy_with_logits(logits, x.expand(3, 5, 10), reduction="none").sum(-1)
    torch.testing.assert_close(bounds.bernoulli_log_likelihood(logits, x), expected)


def test_log_normal_matches_torch_distributions():
    z, mu, logvar = torch.randn(6, 3), torch.randn(6, 3), torch.randn(6, 3)
    expected = Normal(mu, (0.5 * logvar).exp()).log_prob(z).sum(-1)
    torch.testing.assert_close(bounds.log_normal(z, mu, logvar), expected)
    torch.testing.assert_close(bounds.log_standard_normal(z), Normal(0.0, 1.0).log_prob(z).sum(-1))


# --------------------------------------------------------------------------- ELBO + KL(q || posterior) = log p(x)


def test_elbo_plus_kl_to_the_posterior_is_log_px_exactly_on_a_tiny_model():
    model, x = TinyVAE(), all_binary_images()
    grid = bounds.Grid(7.0, 300)
    with torch.no_grad():
        mu, logvar = model.encode(x)
    log_joint = bounds.log_joint_on_grid(model, x, grid)
    log_px = torch.logsumexp(log_joint, 1) + grid.log_cell_area
    elbo = bounds.elbo_by_quadrature(model, x, mu, logvar, n=80, width=7.0)
    kl = bounds.kl_q_to_posterior(mu, logvar, log_joint, grid)
    assert (kl > 1e-3).all()  # q is not the posterior: the gap is real ...
    torch.testing.assert_close(elbo + kl, log_px, atol=1e-7, rtol=0)  # ... and exactly the KL


def test_the_elbo_by_quadrature_agrees_with_sampling():
    model, x = TinyVAE(), all_binary_images()
    with torch.no_grad():
        mu, logvar = model.encode(x)
        w = bounds.log_weights(model, x, 200_000, generator=torch.Generator().manual_seed(0))
    elbo = bounds.elbo_by_quadrature(model, x, mu, logvar)
    assert ((w.mean(0) - elbo).abs() < 4 * w.std(0) / math.sqrt(len(w))).all()


def test_the_elbo_stays_below_log_px_and_is_tight_when_q_is_the_posterior():
    model, x = TinyVAE(), all_binary_images()
    grid = bounds.Grid(7.0, 200)
    with torch.no_grad():
        mu, logvar = model.encode(x)
    assert (bounds.elbo_by_quadrature(model, x, mu, logvar) < bounds.log_marginal(model, x, grid)).all()
    flat = TinyVAE(constant_decoder=True)  # the posterior is N(0, I), and so is its q
    with torch.no_grad():
        mu, logvar = flat.encode(x)
    torch.testing.assert_close(
        bounds.elbo_by_quadrature(flat, x, mu, logvar), bounds.log_marginal(flat, x, grid), atol=1e-9, rtol=0
    )


# --------------------------------------------------------------------------- the importance-weighted bound


def test_the_iwae_bound_rises_with_k_towards_log_px():
    model, x = TinyVAE(), all_binary_images()
    log_px = bounds.log_marginal(model, x, bounds.Grid(7.0, 200)).mean().item()
    means = [
        torch.stack([bounds.iwae_bound(model, x, k, seed=s) for s in range(20)]).mean().item() for k in (1, 5, 50, 500)
    ]
    assert all(b > a for a, b in itertools.pairwise(means)), means
    assert means[-1] < log_px + 1e-3 and log_px - means[-1] < 0.25 * (log_px - means[0]), (means, log_px)


def test_the_iwae_bound_is_log_px_for_every_k_when_q_is_the_posterior():
    flat, x = TinyVAE(constant_decoder=True), all_binary_images()
    log_px = bounds.log_marginal(flat, x, bounds.Grid(7.0, 200))
    for k in (1, 7, 300):
        torch.testing.assert_close(bounds.iwae_bound(flat, x, k, rows_per_step=50), log_px, atol=1e-9, rtol=0)


def test_the_iwae_bound_combines_its_steps_exactly():
    """Drawn in steps or at once, the same draws give the same bound (the running logsumexp is exact)."""
    model, x = TinyVAE(), all_binary_images()
    with torch.no_grad():
        mu, logvar = model.encode(x)
    g = torch.Generator().manual_seed(3)
    steps = [bounds.log_weights(model, x, 1, mu, logvar, g) for _ in range(40)]  # one draw per step
    stepwise = torch.stack([bounds.iwae_bound(model, x, 40, seed=3, rows_per_step=len(x))])[0]
    torch.testing.assert_close(stepwise, bounds.log_mean_exp(torch.cat(steps), dim=0), atol=1e-12, rtol=0)


def test_k_equal_to_one_is_an_unbiased_estimate_of_the_elbo():
    model, x = TinyVAE(), all_binary_images()
    with torch.no_grad():
        mu, logvar = model.encode(x)
    one = torch.stack([bounds.iwae_bound(model, x, 1, seed=s) for s in range(4000)])
    elbo = bounds.elbo_by_quadrature(model, x, mu, logvar)
    assert ((one.mean(0) - elbo).abs() < 4 * one.std(0) / math.sqrt(len(one))).all()


# --------------------------------------------------------------------------- per-image q, active units, binarizing


def best_gaussian_elbo(model, x, mu, logvar):
    """An independent optimum: L-BFGS on the quadrature ELBO (no sampling), from the same start."""
    mu, logvar = mu.clone().requires_grad_(True), logvar.clone().requires_grad_(True)
    optimizer = torch.optim.LBFGS([mu, logvar], max_iter=500, line_search_fn="strong_wolfe")
    elbo = bounds.elbo_by_quadrature.__wrapped__  # without its no_grad

    def closure():
        optimizer.zero_grad()
        loss = -elbo(model, x, mu, logvar).sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    return bounds.elbo_by_quadrature(model, x, mu.detach(), logvar.detach())


def test_fit_q_finds_each_images_best_gaussian_without_touching_the_model():
    model, x = TinyVAE(), all_binary_images()
    before = [p.detach().clone() for p in model.parameters()]
    with torch.no_grad():
        mu, logvar = model.encode(x)
    mu_star, logvar_star = bounds.fit_q(model, x, steps=200, samples=64)
    old = bounds.elbo_by_quadrature(model, x, mu, logvar)
    new = bounds.elbo_by_quadrature(model, x, mu_star, logvar_star)
    best = best_gaussian_elbo(model, x, mu, logvar)
    log_px = bounds.log_marginal(model, x, bounds.Grid(7.0, 200))
    assert (new > old).all() and (best < log_px).all()
    assert ((best - new) < 0.02 * (best - old)).all(), (best - new, best - old)  # within 2 % of the best Gaussian
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))
    assert all(p.requires_grad for p in model.parameters())


def test_active_units_are_the_dimensions_whose_average_kl_exceeds_the_threshold():
    torch.manual_seed(0)
    mu = torch.randn(500, 5) * torch.tensor([1.0, 0.0, 0.3, 0.0, 0.1])
    logvar = torch.randn(500, 5) * torch.tensor([0.5, 0.0, 0.0, 0.01, 0.0]) + torch.tensor([-2.0, 0.0, 0.0, 0, 0])
    kl = kl_divergence(Normal(mu, (0.5 * logvar).exp()), Normal(0.0, 1.0)).mean(0)
    assert torch.equal(bounds.active_units(mu, logvar), kl > 0.01)
    assert bounds.active_units(mu, logvar).tolist() == [True, False, True, False, False]  # 0.1**2 / 2 < 0.01
    assert bounds.active_units(mu, logvar, threshold=0.001).tolist()[4]


def test_a_binarized_split_draws_each_pixel_once_with_its_grey_level():
    grey = torch.linspace(0, 255, 256).round().to(torch.uint8).repeat(400).reshape(-1, 16, 16)
    split = data.Split(grey, torch.zeros(len(grey), dtype=torch.long))
    a, b, c = data.binarized(split, seed=0), data.binarized(split, seed=0), data.binarized(split, seed=1)
    assert set(a.images.unique().tolist()) == {0, 255}
    assert torch.equal(a.images, b.images) and not torch.equal(a.images, c.images)
    share_white = (a.images == 255).double().mean(0).flatten()  # per grey level, over 400 copies
    assert (share_white - grey[0].double().flatten() / 255).abs().max() < 0.1
    assert share_white[0] == 0 and share_white[-1] == 1


def test_a_digits_posterior_close_up_holds_its_probability_and_its_shares():
    model, x = TinyVAE(), all_binary_images()[5:6]
    post = bounds.posterior(model, x, bounds.Grid(7.0, 140), n=120)
    cell = (post.x_ticks[1] - post.x_ticks[0]) * (post.y_ticks[1] - post.y_ticks[0])
    assert abs((post.density.sum() * cell).item() - 1) < 2e-3  # the window holds the whole posterior
    assert abs(post.log_px - bounds.log_marginal(model, x, bounds.Grid(7.0, 300)).item()) < 1e-6
    with torch.no_grad():
        mu, logvar = model.encode(x)
    assert abs(post.elbo - bounds.elbo_by_quadrature(model, x, mu, logvar).item()) < 1e-9
    for level, mass in zip(post.levels(), sorted(bounds.MASSES, reverse=True)):
        held = (post.density * (post.density >= level)).sum() * cell
        assert abs(held.item() - mass) < 0.01, (mass, held)


def test_crop_takes_a_smaller_grids_points_from_a_larger_ones():
    model, x = TinyVAE(), all_binary_images()[:3]
    big, small = bounds.Grid(8.0, 40), bounds.Grid(4.0, 20)
    cropped = bounds.crop(bounds.log_joint_on_grid(model, x, big), big, small)
    torch.testing.assert_close(cropped, bounds.log_joint_on_grid(model, x, small), atol=1e-12, rtol=0)
    for other in (bounds.Grid(4.0, 10), bounds.Grid(8.2, 41), bounds.Grid(9.0, 45)):
        with pytest.raises(ValueError, match="is not part of"):
            bounds.crop(torch.zeros(3, 1600), big, other)
