"""Self-checks for the exercises of notebooks 01-05.

Every exercise has the same three parts: a stub cell the learner fills in (it holds ``...``), a check
cell calling one of the ``check_*`` functions below, and a worked solution cell tagged ``solution``
(removed from the student copy, see ``tools.classroom``).

Each ``check_*`` takes the learner's function, compares it with PyTorch itself on several cases, and
prints either a confirmation or a hint. It never raises, so *Run All* carries on past an exercise
that is not done yet, and it returns True or False so a solution cell can ``assert`` it.

When later cells need the learner's function, they take it through :func:`yours_or_reference`: the
learner's version once it passes its check, else the course's own, with one line saying so. A stuck
exercise never stops the rest of the notebook.
"""

from __future__ import annotations

import contextlib
import io
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from . import losses
from .models import MLPVAE, CodebookDecoder
from .quality import sharpness


def _attempt(fn: Callable, *args):
    """``(value, None)``, or ``(None, message)`` when ``fn`` is not written yet or fails."""
    try:
        value = fn(*args)
    except NotImplementedError:
        return None, "Not attempted yet: replace the `...` in the exercise cell with your code."
    except Exception as err:  # the learner's code failing is expected, not an error of the check
        return None, f"Your function raised {type(err).__name__}: {err}"
    if value is Ellipsis or value is None:
        return None, "Not attempted yet: your function returns nothing; replace the `...` with your code."
    return value, None


def _shape_of(value) -> tuple | str:
    """A returned value's shape, or its type's name when it is not a tensor (for the hints)."""
    return tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__


def _report(ok: bool, message: str) -> bool:
    print(("Correct! " if ok else "Not yet. ") + message)
    return ok


def check_transposed_conv_size(fn: Callable[[int, int, int, int], int]) -> bool:
    """``fn(size, kernel, stride, padding)`` must give ``nn.ConvTranspose2d``'s output size (notebook 01)."""
    cases = [(1, 7, 1, 0), (7, 4, 2, 1), (14, 4, 2, 1), (5, 3, 1, 1), (4, 3, 2, 0), (10, 5, 3, 2)]
    for size, kernel, stride, padding in cases:
        layer = nn.ConvTranspose2d(1, 1, kernel, stride=stride, padding=padding)
        expected = layer(torch.zeros(1, 1, size, size)).shape[-1]
        got, problem = _attempt(fn, size, kernel, stride, padding)
        if problem:
            return _report(False, problem)
        if got != expected:
            shrink = (size + 2 * padding - kernel) // stride + 1
            if got == shrink:
                hint = "that is the formula of an ordinary convolution, which shrinks. A transposed one runs it backwards."
            elif got == (size - 1) * stride + kernel:
                hint = "close: padding removes pixels from both borders of the output."
            elif got == size * stride:
                hint = "stride multiplies the gaps *between* input pixels: think (size - 1) * stride, then add the kernel."
            else:
                hint = "start from (size - 1) * stride, add the kernel, then take the padding off both sides."
            return _report(False, f"for size={size}, kernel={kernel}, stride={stride}, padding={padding} "
                                  f"you give {got}, PyTorch gives {expected}. Hint: {hint}")
    return _report(True, f"Your formula matches nn.ConvTranspose2d on all {len(cases)} cases.")


def check_conv_transpose_params(fn: Callable[[int, int, int], int]) -> bool:
    """``fn(in_channels, out_channels, kernel)`` must count a ``ConvTranspose2d``'s weights and biases (notebook 01)."""
    cases = [(8, 32, 7), (32, 16, 4), (16, 1, 4), (1, 64, 7), (3, 5, 2)]
    for c_in, c_out, k in cases:
        expected = sum(p.numel() for p in nn.ConvTranspose2d(c_in, c_out, k).parameters())
        got, problem = _attempt(fn, c_in, c_out, k)
        if problem:
            return _report(False, problem)
        if got != expected:
            if got == c_in * c_out * k * k:
                hint = "you counted the weights; every output channel also has one bias."
            elif got == c_in * c_out * k + c_out:
                hint = "a kernel is k x k: square it."
            else:
                hint = "each (input channel, output channel) pair has its own k x k kernel, plus one bias per output channel."
            return _report(False, f"for in={c_in}, out={c_out}, kernel={k} you give {got}, PyTorch has {expected}. Hint: {hint}")
    return _report(True, f"Your count matches PyTorch on all {len(cases)} layers.")


def check_one_hot(fn: Callable[[torch.Tensor, int], torch.Tensor]) -> bool:
    """``fn(index, n)`` must return float one-hot rows ``(B, n)`` like ``F.one_hot(index, n).float()`` (notebook 02)."""
    for index, n in ((torch.tensor([0, 3, 1]), 4), (torch.tensor([2]), 3), (torch.arange(6), 6)):
        expected = F.one_hot(index, n).float()
        got, problem = _attempt(fn, index.clone(), n)
        if problem:
            return _report(False, problem)
        if not isinstance(got, torch.Tensor):
            return _report(False, f"return a tensor, not a {type(got).__name__}.")
        if tuple(got.shape) != tuple(expected.shape):
            return _report(False, f"for index={index.tolist()} and n={n} the shape should be {tuple(expected.shape)}, "
                                  f"got {tuple(got.shape)}. Hint: one row per index, one column per image.")
        if not got.is_floating_point():
            return _report(False, "the values must be floats (0.0 and 1.0): the decoder multiplies them with float weights.")
        if not torch.equal(got, expected):
            return _report(False, f"for index={index.tolist()} you give {got.tolist()}. Hint: row r has a single 1.0 at column index[r].")
    return _report(True, "Your one-hot vectors match torch.nn.functional.one_hot.")


def check_onehot_input_params(fn: Callable[[int, int, int], int]) -> bool:
    """``fn(num_images, channels, kernel)`` must count the first layer of a one-hot decoder (notebook 02)."""
    for n, c0 in ((4, 32), (16, 32), (256, 32), (10, 8)):
        model = CodebookDecoder(n, "onehot", channels=(c0, 16))
        expected = model.parameter_counts()["input_layer"]
        kernel = model.decoder.layers[0].kernel_size[0]
        got, problem = _attempt(fn, n, c0, kernel)
        if problem:
            return _report(False, problem)
        if got != expected:
            return _report(False, f"for {n} images, {c0} channels and kernel {kernel} you give {got}, the model has "
                                  f"{expected}. Hint: the one-hot code has num_images entries, and each is an input "
                                  "channel of a transposed convolution (see the exercise of notebook 01).")
    return _report(True, "Your formula matches the model: the input layer grows by channels * kernel**2 weights per image.")


def check_bce_with_logits(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> bool:
    """``fn(logits, x)`` must give the element-wise BCE of ``F.binary_cross_entropy_with_logits`` and stay finite.
    Introduced in notebook 03."""
    g = torch.Generator().manual_seed(0)
    cases = [
        (torch.randn(4, 6, generator=g) * 3, torch.rand(4, 6, generator=g)),  # ordinary values, grey targets
        (torch.tensor([[80.0, -80.0, 0.0]]), torch.tensor([[0.0, 1.0, 0.5]])),  # very sure and wrong: huge but finite
    ]
    for logits, x in cases:
        expected = F.binary_cross_entropy_with_logits(logits, x, reduction="none")
        got, problem = _attempt(fn, logits.clone(), x.clone())
        if problem:
            return _report(False, problem)
        if not isinstance(got, torch.Tensor) or got.shape != expected.shape:
            return _report(False, f"return one loss per pixel, shape {tuple(expected.shape)} (no sum or mean here).")
        if not torch.isfinite(got).all():
            return _report(False, "some losses are inf or nan for logits of +-80. Hint: log(sigmoid(l)) underflows; "
                                  "rewrite the loss as max(l, 0) - l * x + log(1 + exp(-|l|)).")
        if not torch.allclose(got, expected, atol=1e-4, rtol=1e-4):
            return _report(False, f"for logits {logits[0, :3].tolist()} and targets {x[0, :3].tolist()} you give "
                                  f"{got[0, :3].tolist()}, PyTorch gives {expected[0, :3].tolist()}. "
                                  "Hint: -(x log p + (1 - x) log(1 - p)) with p = sigmoid(l).")
    return _report(True, "Your loss matches F.binary_cross_entropy_with_logits, even for extreme logits.")


def check_interpolate(fn: Callable[[torch.Tensor, torch.Tensor, int], torch.Tensor]) -> bool:
    """``fn(z0, z1, steps)`` must return ``steps`` evenly spaced points ``(steps, D)`` from ``z0`` to ``z1``.
    Introduced in notebook 03."""
    z0, z1 = torch.tensor([0.0, 2.0, -1.0]), torch.tensor([4.0, -2.0, 1.0])
    for steps in (2, 5):
        expected = torch.stack([z0 + (z1 - z0) * t for t in torch.linspace(0, 1, steps)])
        got, problem = _attempt(fn, z0.clone(), z1.clone(), steps)
        if problem:
            return _report(False, problem)
        if not isinstance(got, torch.Tensor) or tuple(got.shape) != tuple(expected.shape):
            return _report(False, f"expected a tensor of shape {tuple(expected.shape)} (steps, D), got {_shape_of(got)}.")
        if not torch.allclose(got, expected, atol=1e-6):
            return _report(False, f"with steps={steps} you give {got.tolist()}. Hint: the first row must be z0, the last z1, "
                                  "and t = 0, 1/(steps-1), ..., 1 in between (torch.linspace).")
    return _report(True, "Your path starts at z0, ends at z1 and is evenly spaced.")


def check_reparameterize(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> bool:
    """``fn(mu, logvar)`` must sample ``z ~ N(mu, exp(logvar))`` so that gradients reach ``mu`` and ``logvar``.
    Introduced in notebook 04."""
    mu = torch.tensor([[0.0, 2.0, -1.0]]).repeat(20_000, 1).requires_grad_(True)
    logvar = torch.tensor([[0.0, -2.0, 1.0]]).repeat(20_000, 1).requires_grad_(True)
    torch.manual_seed(0)
    z, problem = _attempt(fn, mu, logvar)
    if problem:
        return _report(False, problem)
    if not isinstance(z, torch.Tensor) or z.shape != mu.shape:
        return _report(False, f"z must have the shape of mu, {tuple(mu.shape)}.")
    if z.grad_fn is None:
        return _report(False, "z is not connected to mu and logvar, so no gradient can reach the encoder. Hint: draw "
                              "eps = torch.randn_like(mu) and build z from mu, logvar and eps with ordinary arithmetic.")
    mean, var = z.detach().mean(0), z.detach().var(0)
    want_var = logvar.detach()[0].exp()
    if not torch.allclose(mean, mu.detach()[0], atol=0.05):
        return _report(False, f"the samples average {mean.tolist()}, but should average mu = {mu[0].tolist()}.")
    if not torch.allclose(var, want_var, rtol=0.08):
        if torch.allclose(var, want_var ** 2, rtol=0.08):
            hint = "you used exp(logvar) as the standard deviation; it is the variance. sigma = exp(0.5 * logvar)."
        elif torch.allclose(var, want_var.sqrt(), rtol=0.08):
            hint = "your spread is too small: sigma = exp(0.5 * logvar), and z = mu + sigma * eps."
        else:
            hint = "z = mu + exp(0.5 * logvar) * eps, with eps from a standard normal."
        return _report(False, f"the samples' variances are {[round(v, 2) for v in var.tolist()]}, they should be "
                              f"exp(logvar) = {[round(v, 2) for v in want_var.tolist()]}. Hint: {hint}")
    z.sum().backward()
    if mu.grad is None or logvar.grad is None or logvar.grad.abs().sum() == 0:
        return _report(False, "gradients do not reach both mu and logvar. Hint: both must appear in the formula for z.")
    return _report(True, "z has the right mean and variance, and gradients flow to both mu and logvar.")


def check_kl(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> bool:
    """``fn(mu, logvar)`` must give KL(N(mu, exp(logvar)) || N(0, I)) per example, ``(B, D) -> (B,)`` (notebook 04)."""
    from torch.distributions import Normal, kl_divergence

    g = torch.Generator().manual_seed(0)
    mu, logvar = torch.randn(5, 4, generator=g) * 2, torch.randn(5, 4, generator=g) * 2
    expected = kl_divergence(Normal(mu, (0.5 * logvar).exp()), Normal(0.0, 1.0)).sum(dim=1)
    got, problem = _attempt(fn, mu.clone(), logvar.clone())
    if problem:
        return _report(False, problem)
    if not isinstance(got, torch.Tensor) or tuple(got.shape) != (5,):
        return _report(False, f"return one KL per example, shape (5,) for 5 examples; got {_shape_of(got)}. "
                              "Hint: sum over the latent dimensions with .sum(dim=1).")
    if torch.allclose(got, expected, atol=1e-4):
        return _report(True, "Your KL matches torch.distributions.kl_divergence.")
    diff = got - expected
    if torch.allclose(diff, torch.full_like(diff, mu.shape[1] / 2), atol=1e-4):
        hint = ("you are 2 = 4 dimensions x 1/2 above: the closed form has a -1 inside the sum for every dimension "
                "(without it the value is off by a constant, as in some write-ups; the gradient is the same).")
    elif torch.allclose(got, 2 * expected, atol=1e-4):
        hint = "twice too large: the closed form starts with a factor 1/2."
    elif torch.allclose(got, expected / 4, atol=1e-4):
        hint = "that is the mean over dimensions; KL adds up over them: use sum."
    else:
        hint = "KL = 0.5 * sum(mu^2 + exp(logvar) - logvar - 1) over the latent dimensions."
    return _report(False, f"you give {got[:2].tolist()}..., torch.distributions gives {expected[:2].tolist()}... Hint: {hint}")


def check_latent_size_prediction(larger_kl: str, better_reconstruction: str, measured: dict) -> bool:
    """Predictions ("2" or "20") checked against ``measured = {latent_dim: {"kl": ..., "recon": ...}}``.
    Introduced in notebook 04."""
    answers = {str(k) for k in measured}
    for name, value in (("larger_kl", larger_kl), ("better_reconstruction", better_reconstruction)):
        if value is Ellipsis or str(value) not in answers:
            return _report(False, f"Not attempted yet: set {name} to one of {sorted(answers)}.")
    kl_winner = str(max(measured, key=lambda k: measured[k]["kl"]))
    recon_winner = str(min(measured, key=lambda k: measured[k]["recon"]))
    lines = ", ".join(f"{k}-D: KL {v['kl']:.1f}, reconstruction {v['recon']:.1f}" for k, v in measured.items())
    if str(larger_kl) != kl_winner:
        return _report(False, f"measured: {lines}. Hint: every dimension the encoder uses to carry information "
                              "costs KL; more dimensions give it room to carry more.")
    if str(better_reconstruction) != recon_winner:
        return _report(False, f"measured: {lines}. Hint: the reconstruction term falls when the code carries "
                              "more information about the image.")
    return _report(True, f"measured: {lines}. More latent dimensions carry more information: the KL term pays for "
                         "it, the reconstruction term gains from it.")


def check_beta_reading(most_information, best_reconstruction, sweep: dict) -> bool:
    """Answers (beta values) checked against ``sweep = {beta: {"kl": ..., "recon": ...}}`` (notebook 05)."""
    betas = list(sweep)
    for name, value in (("most_information", most_information), ("best_reconstruction", best_reconstruction)):
        if value is Ellipsis or value not in betas:
            return _report(False, f"Not attempted yet: set {name} to one of the betas {betas}.")
    most = max(betas, key=lambda b: sweep[b]["kl"])
    best = min(betas, key=lambda b: sweep[b]["recon"])
    table = ", ".join(f"beta {b}: KL {sweep[b]['kl']:.2f}, recon {sweep[b]['recon']:.1f}" for b in betas)
    if most_information != most:
        return _report(False, f"measured: {table}. Hint: the KL is the information in the code, and beta is its price.")
    if best_reconstruction != best:
        return _report(False, f"measured: {table}. Hint: which model can afford to put the most into its codes?")
    return _report(True, f"measured: {table}. The cheaper information is, the more the codes carry and the better "
                         "the reconstructions.")


def check_sharpness(fn: Callable[[torch.Tensor], torch.Tensor]) -> bool:
    """``fn(images)`` must match ``quality.sharpness`` (mean gradient magnitude per image) (notebook 05)."""
    g = torch.Generator().manual_seed(0)
    images = torch.rand(3, 1, 6, 7, generator=g)
    expected = sharpness(images)
    got, problem = _attempt(fn, images.clone())
    if problem:
        return _report(False, problem)
    if not isinstance(got, torch.Tensor) or tuple(got.shape) != (3,):
        return _report(False, f"return one number per image, shape (3,) for 3 images; got {_shape_of(got)}.")
    if not torch.allclose(got, expected, atol=1e-5):
        return _report(False, f"you give {got.tolist()}, expected {expected.tolist()}. Hint: both differences must be "
                              "taken on the same (H-1) x (W-1) pixels, then sqrt(dx**2 + dy**2), then the mean per image.")
    return _report(True, "Your measure matches: sharp edges score high, blur scores low.")


# --------------------------------------------------------------------------- the course's own versions


def _bce_with_logits(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return F.binary_cross_entropy_with_logits(logits, x, reduction="none")


def _interpolate(z0: torch.Tensor, z1: torch.Tensor, steps: int) -> torch.Tensor:
    t = torch.linspace(0, 1, steps, device=z0.device)[:, None]
    return (1 - t) * z0 + t * z1


# exercise function name -> (the course's version, its check)
REFERENCES: dict[str, tuple[Callable, Callable[[Callable], bool]]] = {
    "bce_with_logits": (_bce_with_logits, check_bce_with_logits),
    "interpolate": (_interpolate, check_interpolate),
    "reparameterize": (MLPVAE.reparameterize, check_reparameterize),
    "kl_divergence": (losses.kl_divergence, check_kl),
}


def reference(name: str) -> Callable:
    """The course's own version of exercise function ``name``."""
    if name not in REFERENCES:
        raise KeyError(f"No exercise function named {name!r}; known: {', '.join(REFERENCES)}.")
    return REFERENCES[name][0]


def yours_or_reference(name: str, fn: Callable) -> Callable:
    """The learner's ``fn`` when it passes its check (run quietly, without touching the random state),
    else the course's version, with one printed line saying so; the cells below then work either way.
    Introduced in notebook 03."""
    ref = reference(name)
    check = REFERENCES[name][1]
    with torch.random.fork_rng(), contextlib.redirect_stdout(io.StringIO()):
        passed = check(fn)
    if passed:
        return fn
    print(f"Your `{name}` does not pass its check yet (see the exercise above), so the cells below use the "
          f"course's version, `vae_helpers.exercises.reference({name!r})`. Come back to the exercise any time.")
    return ref
