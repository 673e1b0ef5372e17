"""vae_helpers.anomaly (notebook 07): surprise scores, the sets that are not digits, and the AUROC.

The oracles: a brute-force count over every (inside, outside) pair in float64 for the AUROC;
torch.rot90 and 1 - x for the transformed digits; the binomial standard error for the noise's ink;
bounds.log_weights and losses.bce_recon, called directly, for the scores."""

import math

import pytest
import torch

from vae_helpers import anomaly, bounds, losses
from vae_helpers.models import MLPVAE, MLPAutoencoder


def brute_force_auroc(inside, outside):
    inside, outside = inside.double(), outside.double()
    wins = (outside[None, :] > inside[:, None]).double().mean()
    ties = (outside[None, :] == inside[:, None]).double().mean()
    return (wins + 0.5 * ties).item()


# --------------------------------------------------------------------------- AUROC


def test_auroc_matches_the_pairwise_count_on_random_scores():
    g = torch.Generator().manual_seed(0)
    for n_in, n_out, shift in ((50, 70, 0.5), (200, 30, -0.3), (13, 13, 0.0)):
        inside = torch.randn(n_in, generator=g)
        outside = torch.randn(n_out, generator=g) + shift
        assert anomaly.auroc(inside, outside) == pytest.approx(brute_force_auroc(inside, outside), abs=1e-12)


def test_auroc_counts_ties_half_on_integer_scores():
    g = torch.Generator().manual_seed(1)
    inside = torch.randint(0, 5, (300,), generator=g)  # five values: almost every pair has a tie somewhere
    outside = torch.randint(1, 6, (200,), generator=g)
    expected = brute_force_auroc(inside, outside)
    assert anomaly.auroc(inside, outside) == pytest.approx(expected, abs=1e-12)
    assert anomaly.auroc(inside.float(), outside.float()) == pytest.approx(expected, abs=1e-12)


def test_auroc_of_separated_reversed_and_identical_sets():
    low, high = torch.arange(10.0), torch.arange(10.0) + 100
    assert anomaly.auroc(low, high) == 1.0
    assert anomaly.auroc(high, low) == 0.0
    assert anomaly.auroc(low, low.clone()) == 0.5
    assert anomaly.auroc(torch.full((7,), 3.0), torch.full((4,), 3.0)) == 0.5


def test_auroc_of_one_score_against_many():
    g = torch.Generator().manual_seed(2)
    many = torch.randn(40, generator=g)
    one = torch.tensor([0.1])
    assert anomaly.auroc(one, many) == pytest.approx(brute_force_auroc(one, many), abs=1e-12)
    assert anomaly.auroc(many, one) == pytest.approx(brute_force_auroc(many, one), abs=1e-12)
    assert anomaly.auroc(many, one) == pytest.approx((many < 0.1).double().mean().item(), abs=1e-12)
    assert anomaly.auroc(torch.tensor([1.0]), torch.tensor([2.0])) == 1.0


def test_auroc_does_not_change_under_a_strictly_increasing_transform():
    g = torch.Generator().manual_seed(3)
    inside = torch.randn(60, generator=g, dtype=torch.float64)
    outside = torch.randn(45, generator=g, dtype=torch.float64) + 0.4
    outside[:5] = inside[:5]  # some ties, which a strictly increasing map keeps
    before = anomaly.auroc(inside, outside)
    for transform in (torch.exp, lambda s: 3 * s - 7, lambda s: s.pow(3), torch.sigmoid):
        assert anomaly.auroc(transform(inside), transform(outside)) == pytest.approx(before, abs=1e-12)
    assert anomaly.auroc(-inside, -outside) == pytest.approx(1 - before, abs=1e-12)


def test_auroc_rejects_empty_and_nan_scores_clearly():
    scores = torch.randn(5)
    with pytest.raises(ValueError, match="no scores"):
        anomaly.auroc(torch.tensor([]), scores)
    with pytest.raises(ValueError, match="no scores"):
        anomaly.auroc(scores, torch.tensor([]))
    with pytest.raises(ValueError, match="NaN"):
        anomaly.auroc(torch.tensor([1.0, float("nan")]), scores)
    with pytest.raises(ValueError, match="NaN"):
        anomaly.auroc(scores, torch.tensor([float("inf")]))
    with pytest.raises(ValueError, match="dimensions"):
        anomaly.auroc(scores[:, None], scores)


# --------------------------------------------------------------------------- sets that are not digits


def test_rotated_is_a_quarter_turn_and_four_of_them_are_none():
    g = torch.Generator().manual_seed(4)
    x = torch.rand(3, 1, 28, 28, generator=g)
    turned = anomaly.rotated(x)
    assert torch.equal(turned, torch.rot90(x, 1, dims=(2, 3)))
    assert not torch.equal(turned, x)
    four = x
    for _ in range(4):
        four = anomaly.rotated(four)
    assert torch.equal(four, x)
    assert torch.equal(anomaly.rotated(x.reshape(3, 784)), turned)  # flat images come back as images


def test_inverted_is_one_minus_the_image():
    g = torch.Generator().manual_seed(5)
    x = torch.rand(2, 1, 28, 28, generator=g)
    assert torch.equal(anomaly.inverted(x), 1 - x)
    assert torch.equal(anomaly.inverted(x.reshape(2, 784)), 1 - x)
    with pytest.raises(ValueError):
        anomaly.inverted(torch.rand(2, 28, 28))


def test_noise_has_the_ink_asked_for_and_is_seeded():
    n, share = 50, 0.13
    images = anomaly.noise(n, share, torch.Generator().manual_seed(0))
    assert images.shape == (n, 1, 28, 28)
    assert set(images.unique().tolist()) <= {0.0, 1.0}
    standard_error = math.sqrt(share * (1 - share) / images.numel())
    assert abs(images.mean().item() - share) < 4 * standard_error
    assert torch.equal(images, anomaly.noise(n, share, torch.Generator().manual_seed(0)))
    assert not torch.equal(images, anomaly.noise(n, share, torch.Generator().manual_seed(1)))
    assert anomaly.noise(2, 0.0, torch.Generator()).sum() == 0
    assert anomaly.noise(2, 1.0, torch.Generator()).mean() == 1
    with pytest.raises(ValueError):
        anomaly.noise(2, 1.5, torch.Generator())


def test_strokes_are_images_with_ink_that_differ_and_are_seeded():
    images = anomaly.strokes(6, torch.Generator().manual_seed(0))
    assert images.shape == (6, 1, 28, 28)
    assert images.min() >= 0 and images.max() <= 1
    assert (images.sum(dim=(1, 2, 3)) > 10).all()
    for i in range(6):
        for j in range(i):
            assert not torch.equal(images[i], images[j])
    assert torch.equal(images, anomaly.strokes(6, torch.Generator().manual_seed(0)))
    assert not torch.equal(images, anomaly.strokes(6, torch.Generator().manual_seed(1)))


def test_outliers_are_the_four_named_sets_shaped_like_the_digits():
    g = torch.Generator().manual_seed(6)
    digits = torch.rand(4, 1, 28, 28, generator=g) * (torch.rand(4, 1, 28, 28, generator=g) < 0.2)
    sets = anomaly.outliers(digits, seed=3)
    assert list(sets) == ["rotated digits", "inverted digits", "noise", "strokes"]
    for name, images in sets.items():
        assert images.shape == digits.shape, name
        assert images.dtype == digits.dtype, name
    assert torch.equal(sets["rotated digits"], anomaly.rotated(digits))
    assert torch.equal(sets["inverted digits"], anomaly.inverted(digits))
    # the noise: black and white pixels, as much ink as the digits on average; the strokes: a pen's grey edges
    share = digits.mean().item()
    assert set(sets["noise"].unique().tolist()) <= {0.0, 1.0}
    assert abs(sets["noise"].mean().item() - share) < 4 * math.sqrt(share * (1 - share) / digits.numel())
    assert ((sets["strokes"] > 0) & (sets["strokes"] < 1)).any(dim=(1, 2, 3)).all()
    assert (sets["strokes"].sum(dim=(1, 2, 3)) > 10).all()
    again = anomaly.outliers(digits, seed=3)
    assert all(torch.equal(sets[name], again[name]) for name in sets)
    assert not torch.equal(sets["strokes"], anomaly.outliers(digits, seed=4)["strokes"])
    flat = anomaly.outliers(digits.reshape(4, 784), seed=3)
    assert all(flat[name].shape == (4, 1, 28, 28) for name in flat)


# --------------------------------------------------------------------------- scores


def tiny_vae(seed=0):
    torch.manual_seed(seed)
    return MLPVAE(latent_dim=2, hidden_dims=(16,)).eval()


def test_vae_scores_are_minus_the_mean_and_log_mean_exp_of_the_log_weights():
    model = tiny_vae()
    g = torch.Generator().manual_seed(7)
    images = torch.rand(5, 1, 28, 28, generator=g)
    scores = anomaly.vae_scores(model, images, samples=20, seed=11)
    with torch.no_grad():
        lw = bounds.log_weights(model, images, 20, generator=torch.Generator().manual_seed(11)).double()  # (K, B)
    assert torch.allclose(scores["negative ELBO"].double(), -lw.mean(0), rtol=1e-5)
    assert torch.allclose(scores["importance-weighted"].double(), -(torch.logsumexp(lw, 0) - math.log(20)), rtol=1e-5)
    # the log of a mean is at least the mean of the logs: the importance-weighted score is never the larger
    assert (scores["importance-weighted"] <= scores["negative ELBO"] + 1e-4).all()
    assert (scores["importance-weighted"] < scores["negative ELBO"] - 1e-3).any()  # and tighter, not equal


def test_vae_scores_agree_for_one_sample_and_are_seeded():
    model = tiny_vae(1)
    images = torch.rand(4, 784, generator=torch.Generator().manual_seed(8))
    one = anomaly.vae_scores(model, images, samples=1, seed=2)
    assert one["negative ELBO"].shape == (4,)
    assert torch.allclose(one["negative ELBO"], one["importance-weighted"], atol=1e-5)
    assert torch.equal(anomaly.vae_scores(model, images, samples=5, seed=2)["negative ELBO"],
                       anomaly.vae_scores(model, images, samples=5, seed=2)["negative ELBO"])  # fmt: skip
    assert not torch.equal(anomaly.vae_scores(model, images, samples=5, seed=2)["negative ELBO"],
                           anomaly.vae_scores(model, images, samples=5, seed=3)["negative ELBO"])  # fmt: skip


def test_vae_scores_in_batches_are_each_images_bound():
    model = tiny_vae(2)
    images = torch.rand(6, 1, 28, 28, generator=torch.Generator().manual_seed(9))
    batched = anomaly.vae_scores(model, images, samples=400, seed=0, batch_size=4)
    whole = anomaly.vae_scores(model, images, samples=400, seed=0)
    assert batched["negative ELBO"].shape == (6,)
    # other draws of q, the same bound: Monte Carlo error of 400 samples only
    assert torch.allclose(batched["importance-weighted"], whole["importance-weighted"], rtol=0.01)


def test_reconstruction_error_is_the_bce_of_the_reconstruction():
    torch.manual_seed(0)
    model = MLPAutoencoder(latent_dim=3, hidden_dims=(16,))
    images = torch.rand(7, 1, 28, 28, generator=torch.Generator().manual_seed(10))
    with torch.no_grad():
        expected = losses.bce_recon(model(images), images)
    assert torch.allclose(anomaly.reconstruction_error(model, images), expected)
    assert torch.allclose(anomaly.reconstruction_error(model, images, batch_size=3), expected)
    assert not anomaly.reconstruction_error(model, images).requires_grad
