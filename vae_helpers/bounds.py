"""How good is the bound? Exact and importance-weighted log-likelihoods of a VAE (notebook 06).

A VAE with a Bernoulli decoder defines the density

    p(x) = integral of p(x | z) p(z) dz,   log p(x | z) = sum_j x_j l_j - softplus(l_j),  l = decoder(z),

the minus binary cross-entropy of notebooks 03-05. For binary pixels it is a probability; for grey pixels
it is the same formula, an unnormalized score (see notebook 06). With a 2-D latent space the integral is a
sum over a grid (:func:`log_joint_on_grid`, :func:`log_marginal`); in any dimension the importance-weighted
bound of Burda, Grosse & Salakhutdinov (2016) estimates it from below (:func:`iwae_bound`).

Everything here works on flattened images ``x`` of shape (B, 784) (or (B, 1, 28, 28)) and any model with
``encode(x) -> (mu, logvar)`` and ``decode(z) -> logits``, as ``models.MLPVAE``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from . import checks

LOG_2PI = math.log(2 * math.pi)
ACTIVE_UNIT_NATS = 0.01  # a latent dimension is active when its KL, averaged over the data, exceeds this


def log_mean_exp(values: torch.Tensor, dim: int = 0) -> torch.Tensor:
    """log(mean(exp(values))) along ``dim``, without overflow or underflow: the largest value is taken out
    first (``torch.logsumexp`` does this), so values of -1e4 or +1e4 give finite answers."""
    if not isinstance(values, torch.Tensor) or not values.is_floating_point():
        raise TypeError(f"values must be a float tensor, got {type(values).__name__}.")
    n = values.shape[dim]
    if n == 0:
        raise ValueError("log_mean_exp of an empty set of values is undefined: give at least one value.")
    return torch.logsumexp(values, dim=dim) - math.log(n)


def _flat(x: torch.Tensor) -> torch.Tensor:
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        raise TypeError(f"x must be a float tensor of images, got {type(x).__name__}.")
    if x.dim() < 2:
        raise ValueError(f"x must be a batch of images, shape (B, 784) or (B, 1, 28, 28); got shape {tuple(x.shape)}.")
    return x.reshape(len(x), -1)


def bernoulli_log_likelihood(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """log p(x | z) for the decoder's ``logits`` (..., B, P) and images ``x`` (B, P): minus the binary
    cross-entropy summed over pixels, shape (..., B). Equal to ``-F.binary_cross_entropy_with_logits(...,
    reduction='none').sum(-1)``, in fewer operations."""
    return (x * logits - F.softplus(logits)).sum(-1)


def log_standard_normal(z: torch.Tensor) -> torch.Tensor:
    """log N(z; 0, I), summed over the last dimension."""
    return -0.5 * (z.pow(2).sum(-1) + z.shape[-1] * LOG_2PI)


def log_normal(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """log N(z; mu, diag(exp(logvar))), summed over the last dimension."""
    return -0.5 * (((z - mu).pow(2) / logvar.exp() + logvar).sum(-1) + z.shape[-1] * LOG_2PI)


def _decode_flat(model: nn.Module, z: torch.Tensor) -> torch.Tensor:
    return model.decode(z.reshape(-1, z.shape[-1])).reshape(*z.shape[:-1], -1)


# --------------------------------------------------------------------------- exact answers on a 2-D grid


@dataclass(frozen=True)
class Grid:
    """The midpoint rule on the square [-limit, limit]^2: ``n`` cells a side, one point at each cell's centre.
    ``z`` is (n * n, 2), row by row (z[i * n + j] = (ticks[j], ticks[i]): x along columns, y down rows)."""

    limit: float = 4.0
    n: int = 200

    def __post_init__(self) -> None:
        checks.number("limit", self.limit, above=0)
        checks.count("n", self.n)

    @property
    def spacing(self) -> float:
        return 2 * self.limit / self.n

    @property
    def ticks(self) -> torch.Tensor:
        return torch.linspace(
            -self.limit + self.spacing / 2, self.limit - self.spacing / 2, self.n, dtype=torch.float64
        )

    @property
    def z(self) -> torch.Tensor:
        y, x = torch.meshgrid(self.ticks, self.ticks, indexing="ij")
        return torch.stack([x.flatten(), y.flatten()], dim=1)

    @property
    def log_cell_area(self) -> float:
        return 2 * math.log(self.spacing)


def _like(model: nn.Module) -> torch.Tensor:
    return next(model.parameters())  # images go to the model's device and float type


@torch.no_grad()
def log_joint_on_grid(model: nn.Module, x: torch.Tensor, grid: Grid, chunk: int = 16384) -> torch.Tensor:
    """log p(x, z) = log p(x | z) + log p(z) at every point of ``grid``, for each image: (B, n * n).
    The decoder runs once per grid point, whatever the number of images."""
    x = _flat(x).to(_like(model))
    z = grid.z.to(x)
    if z.shape[1] != getattr(model, "latent_dim", 2):
        raise ValueError(f"A grid covers a 2-D latent space; this model's has {model.latent_dim} dimensions.")
    out = []
    for zc in z.split(chunk):
        logits = _decode_flat(model, zc)  # (C, P)
        out.append(x @ logits.T - F.softplus(logits).sum(-1) + log_standard_normal(zc))
    return torch.cat(out, dim=1)


def crop(log_joint: torch.Tensor, grid: Grid, smaller: Grid) -> torch.Tensor:
    """The columns of ``log_joint`` (B, n * n), computed on ``grid``, at the points of ``smaller``: a grid with
    the same cell width on a square inside it (e.g. Grid(6, 300) inside Grid(8, 400)), whose points are
    among ``grid``'s. Saves decoding them again."""
    cut = (grid.n - smaller.n) // 2
    if not (math.isclose(grid.spacing, smaller.spacing) and cut >= 0 and grid.n - smaller.n == 2 * cut):
        raise ValueError(
            f"Grid({smaller.limit:g}, {smaller.n}) is not part of Grid({grid.limit:g}, {grid.n}): it needs the same "
            f"cell width ({grid.spacing:g}) and a square inside it, centred on the same point."
        )
    rows = log_joint.reshape(len(log_joint), grid.n, grid.n)[:, cut : cut + smaller.n, cut : cut + smaller.n]
    return rows.reshape(len(log_joint), -1)


def log_marginal(model: nn.Module, x: torch.Tensor, grid: Grid | None = None) -> torch.Tensor:
    """log p(x) by quadrature: log of the sum over the grid of p(x, z) times the cell's area, per image (B,)."""
    grid = grid or Grid()
    return torch.logsumexp(log_joint_on_grid(model, x, grid), dim=1) + grid.log_cell_area


def log_posterior_on_grid(log_joint: torch.Tensor, grid: Grid) -> torch.Tensor:
    """log p(z | x) = log p(x, z) - log p(x), a density, at the grid's points; from ``log_joint_on_grid``."""
    return log_joint - (torch.logsumexp(log_joint, dim=1, keepdim=True) + grid.log_cell_area)


def kl_q_to_posterior(mu: torch.Tensor, logvar: torch.Tensor, log_joint: torch.Tensor, grid: Grid) -> torch.Tensor:
    """KL(q(z|x) || p(z|x)) by quadrature on ``grid``, per image (B,): the sum of q log(q / posterior) times the
    cell area. Needs a grid fine enough for q: a spacing below q's standard deviation."""
    z = grid.z.to(mu)
    log_q = log_normal(z[None], mu[:, None], logvar[:, None])  # (B, n * n)
    q_mass = (log_q + grid.log_cell_area).exp()
    return (q_mass * (log_q - log_posterior_on_grid(log_joint, grid))).sum(1)


@torch.no_grad()
def elbo_by_quadrature(
    model: nn.Module,
    x: torch.Tensor,
    mu: torch.Tensor,
    logvar: torch.Tensor,
    n: int = 24,
    width: float = 6.0,
    rows_per_step: int = 32768,
) -> torch.Tensor:
    """The ELBO, E_q[log p(x|z)] - KL(q || p(z)), with the expectation computed on an ``n`` x ``n`` grid of
    standardized noise over [-width, width]^2 (z = mu + sigma * eps) instead of by sampling, per image (B,).
    The KL to the prior is the closed form of notebook 04. 2-D latent spaces only."""
    x = _flat(x).to(mu)
    eps_grid = Grid(width, n)
    eps = eps_grid.z.to(mu)  # (M, 2)
    weights = (log_standard_normal(eps) + eps_grid.log_cell_area).softmax(0)  # (M,): sums to 1
    sd = logvar.mul(0.5).exp()
    expected = torch.zeros(len(x), dtype=x.dtype, device=x.device)
    step = max(1, rows_per_step // len(x))  # grid points per step: about rows_per_step decodes at a time
    for e, w in zip(eps.split(step), weights.split(step)):
        z = mu[None] + e[:, None] * sd[None]  # (m, B, 2)
        expected += (w[:, None] * bernoulli_log_likelihood(_decode_flat(model, z), x)).sum(0)
    kl = 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum(-1)
    return expected - kl


# --------------------------------------------------------------------------- any latent size: sampling


def log_weights(
    model: nn.Module,
    x: torch.Tensor,
    num_samples: int,
    mu: torch.Tensor | None = None,
    logvar: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """log w_k = log p(x, z_k) - log q(z_k | x) for ``num_samples`` draws z_k ~ q(z|x), shape (K, B).
    q is the encoder's unless ``mu`` and ``logvar`` are given. Its mean is the ELBO; its log-mean-exp
    the importance-weighted bound."""
    checks.count("num_samples", num_samples)
    x = _flat(x).to(_like(model))
    if mu is None or logvar is None:
        mu, logvar = model.encode(x)
    eps = torch.randn(num_samples, *mu.shape, generator=generator).to(mu)
    z = mu + eps * logvar.mul(0.5).exp()  # (K, B, D)
    log_q = -0.5 * (eps.pow(2).sum(-1) + logvar.sum(-1) + mu.shape[-1] * LOG_2PI)
    return bernoulli_log_likelihood(_decode_flat(model, z), x) + log_standard_normal(z) - log_q


@torch.no_grad()
def iwae_bound(
    model: nn.Module,
    x: torch.Tensor,
    num_samples: int,
    seed: int = 0,
    rows_per_step: int = 32768,
) -> torch.Tensor:
    """The importance-weighted lower bound on log p(x) with K = ``num_samples``, per image (B,):
    log (1/K) sum_k p(x, z_k) / q(z_k | x). K = 1 is one sample of the ELBO; it rises towards log p(x) as K
    grows. The samples are drawn in steps of about ``rows_per_step`` decodes and combined exactly
    (a running logsumexp), so K = 5000 fits in memory."""
    checks.count("num_samples", num_samples)
    x = _flat(x).to(_like(model))
    mu, logvar = model.encode(x)
    generator = torch.Generator().manual_seed(seed)
    step = max(1, rows_per_step // len(x))
    total = torch.full((len(x),), -math.inf, dtype=x.dtype, device=x.device)
    done = 0
    while done < num_samples:
        k = min(step, num_samples - done)
        total = torch.logaddexp(total, torch.logsumexp(log_weights(model, x, k, mu, logvar, generator), dim=0))
        done += k
    return total - math.log(num_samples)


def fit_q(
    model: nn.Module,
    x: torch.Tensor,
    steps: int = 150,
    samples: int = 32,
    lr: float = 0.05,
    seed: int = 0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The best Gaussian q for each image on its own: starting from the encoder's mean and log-variance,
    ``steps`` of Adam on the ELBO (``samples`` fresh draws per step, every image at once), the learning rate
    falling to a tenth. Returns (mu, logvar), detached. The model's weights do not change."""
    checks.count("steps", steps)
    checks.count("samples", samples)
    x = _flat(x).to(_like(model))
    with torch.no_grad():
        mu0, logvar0 = model.encode(x)
    mu, logvar = mu0.clone().requires_grad_(True), logvar0.clone().requires_grad_(True)
    optimizer = torch.optim.Adam([mu, logvar], lr=lr)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda t: 0.1 ** (t / steps))
    generator = torch.Generator().manual_seed(seed)
    frozen = [p.requires_grad for p in model.parameters()]
    for p in model.parameters():
        p.requires_grad_(False)
    try:
        for _ in range(steps):
            eps = torch.randn(samples, *mu.shape, generator=generator).to(mu)
            z = mu + eps * logvar.mul(0.5).exp()
            recon = bernoulli_log_likelihood(_decode_flat(model, z), x).mean(0)
            kl = 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum(-1)
            optimizer.zero_grad()
            (kl - recon).sum().backward()  # each image's ELBO depends only on its own mu and logvar
            optimizer.step()
            schedule.step()
    finally:
        for p, flag in zip(model.parameters(), frozen):
            p.requires_grad_(flag)
    return mu.detach(), logvar.detach()


def active_units(mu: torch.Tensor, logvar: torch.Tensor, threshold: float = ACTIVE_UNIT_NATS) -> torch.Tensor:
    """Which latent dimensions are active: those whose KL to N(0, 1), averaged over the images, exceeds
    ``threshold`` nats. ``mu`` and ``logvar`` are the encoder's outputs, (N, D); returns a bool tensor (D,)."""
    kl = 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar)  # (N, D)
    return kl.mean(0) > threshold


# --------------------------------------------------------------------------- one image's posterior, close up

MASSES = (0.5, 0.9, 0.99)  # the contours drawn: the smallest regions holding these shares of the probability


@dataclass
class Posterior:
    """One image's posterior p(z | x) on a fine grid around it, and the encoder's q(z | x) beside it."""

    x_ticks: torch.Tensor  # (n,)
    y_ticks: torch.Tensor  # (n,)
    density: torch.Tensor  # (n, n): p(z | x), rows along y
    mu: torch.Tensor  # (2,): q's mean
    logvar: torch.Tensor  # (2,): q's log-variance
    log_px: float  # by quadrature on the whole grid
    elbo: float  # by quadrature over q

    def levels(self, masses: tuple[float, ...] = MASSES) -> list[float]:
        """The density above which the posterior holds each share of ``masses`` (ascending levels)."""
        d = self.density.flatten().sort(descending=True).values
        cum = d.cumsum(0) / d.sum()
        return sorted(d[min(int((cum < m).sum()), len(d) - 1)].item() for m in masses)


@torch.no_grad()
def posterior(
    model: nn.Module, x: torch.Tensor, coarse: Grid | None = None, n: int = 90, log_joint: torch.Tensor | None = None
) -> Posterior:
    """The posterior of one image ``x`` on an ``n`` x ``n`` grid over the window that holds it and q: first
    the whole ``coarse`` grid (or its ``log_joint`` row for this image, if given) locates the posterior, then
    a fine grid covers its mean +- 5 standard deviations and q's, so that narrow posteriors are resolved."""
    coarse = coarse or Grid(4.0, 100)
    x = _flat(x).to(_like(model))[:1]
    if log_joint is None:
        log_joint = log_joint_on_grid(model, x, coarse)
    weights = log_joint.reshape(-1).softmax(0)
    z = coarse.z.to(weights)
    mean = weights @ z
    sd = (weights @ (z - mean).pow(2)).sqrt().clamp_min(coarse.spacing)
    mu, logvar = (t[0] for t in model.encode(x))
    q_sd = logvar.mul(0.5).exp()
    low = torch.minimum(mean - 5 * sd, mu - 4 * q_sd).clamp_min(-coarse.limit)
    high = torch.maximum(mean + 5 * sd, mu + 4 * q_sd).clamp_max(coarse.limit)
    x_ticks, y_ticks = (torch.linspace(low[i].item(), high[i].item(), n) for i in range(2))
    yy, xx = torch.meshgrid(y_ticks, x_ticks, indexing="ij")
    zf = torch.stack([xx.flatten(), yy.flatten()], 1).to(mu)
    logits = _decode_flat(model, zf)
    local = bernoulli_log_likelihood(logits, x) + log_standard_normal(zf)  # (n * n,)
    log_px = (torch.logsumexp(log_joint.reshape(-1), 0) + coarse.log_cell_area).item()
    density = (local - log_px).exp().reshape(n, n)
    elbo = elbo_by_quadrature(model, x, mu[None], logvar[None])[0].item()
    return Posterior(x_ticks, y_ticks, density.cpu(), mu.cpu(), logvar.cpu(), log_px, elbo)
