"""Self-checks for the exercises of notebooks 01-07.

Every exercise has the same three parts: a stub cell the learner fills in (it holds ``...``), a check
cell calling one of the ``check_*`` functions below, and a worked solution cell tagged ``solution``
(removed from the student copy, see ``tools.classroom``). The solution defines the course's answer under
a name of its own (``course_...``), so that *Run All* never replaces the learner's answer, and checks it
with ``quiet=True``, so that it never prints "Correct!" under an exercise the learner has not done.
A prediction exercise asks for its answer in a cell above the numbers and checks it in a cell below them.

Each ``check_*`` takes the learner's function, compares it with PyTorch itself on several cases, and
prints either a confirmation or a hint (or nothing, with ``quiet=True``). It never raises, so *Run All*
carries on past an exercise that is not done yet, and it returns True or False so a solution cell can
``assert`` it.

The cases are chosen so that plausible wrong answers fail: fixed ordinary values first (a failure
there gets the most specific hint), then random inputs over wide ranges drawn with several seeds
(logits up to +-1000 and down to 1e-8, logvar in [-12, 12], mu up to +-20, odd image sizes, log weights
from -1e4 to +1e3 and up to 5000 of them, ...).
A correct answer may come as a float32 or float64 tensor, a NumPy array or a (nested) Python list:
it is converted to a float32 tensor and the message says so. A whole-number answer may be an int,
a NumPy integer or a float without a fractional part. A function that raises gets a one-line hint,
never a traceback. The tolerances are the constants below; each is pinned by tests/test_exercises.py.

When later cells need the learner's function, they take it through :func:`yours_or_reference`: the
learner's version once it passes its check, else the course's own, with one line saying so. A stuck
exercise never stops the rest of the notebook.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import functools
import io
import math
import re
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.distributions import Normal
from torch.distributions import kl_divergence as torch_kl_divergence

from . import anomaly, attributes, bounds, losses
from .models import MLPVAE, CodebookDecoder, ConditionalVAE
from .quality import sharpness

# --------------------------------------------------------------------------- tolerances
# A float answer passes where |yours - expected| <= ATOL + RTOL * scale, element by element; the scale
# is what float32 rounding grows with in a correct answer. Whole numbers and one-hot rows must be exact.

BCE_ATOL, BCE_RTOL = 1e-5, 1e-5  # scale: |expected| + |logit| (l and l * x are rounded before they cancel)
INTERPOLATE_ATOL, INTERPOLATE_RTOL = 1e-6, 1e-5  # scale: |z0| + |z1|
KL_ATOL, KL_RTOL = 1e-4, 1e-5  # scale: |expected|
SHARPNESS_ATOL, SHARPNESS_RTOL = 1e-5, 1e-5  # scale: |expected|
# scale: |expected| + spread (max - min of the image's K log weights). A correct float32 answer rounds m = max,
# lw - m and the result (measured: under 1 float32 ulp of the scale, 1.2e-7; RTOL allows 8) and sums K terms
# exp(lw - m), whose relative rounding is an absolute error in the log (measured: 3e-6 for a Python loop over
# K = 5000, 1e-6 for torch.logsumexp; ATOL allows 1e-5).
IWAE_ATOL, IWAE_RTOL = 1e-5, 1e-6
SLANT_ATOL, SLANT_RTOL = 1e-5, 1e-4  # scale: |expected|; float32 raw moments cancel (E[y^2] - cy^2) to ~1e-6
DIRECTION_ATOL = 1e-5  # per entry of the unit vector; float32 means of up to 500 codes round to ~1e-6
STYLE_SHEET_ATOL = 1e-5  # per pixel probability; a float32 model's answer differs from float64 by ~1e-7
AUROC_ATOL = 1e-5  # a share of up to 6e6 pairs; float32 rank sums round to ~1e-6 of it

# check_reparameterize draws REPARAM_ROWS samples for each of the columns below (logvar from -12 to 12,
# mu uniform in +-REPARAM_MU_RANGE) and standardizes them, u = (z - mu) / exp(0.5 * logvar). A correct
# answer gives u ~ N(0, 1), independent entries. Each limit is in units of its statistic's own spread
# (1 / sqrt(n) for a max-CDF distance or a correlation, 1 / sqrt(2n) for a standard deviation), so a
# correct answer fails one test with probability ~3e-8 (Kolmogorov-Smirnov at 3.0) or ~2e-9 (6 sigma),
# about 4e-7 for the 45 tests of the whole check; uniform, +-1 or Laplace noise of unit variance lies
# 0.057, 0.34 and 0.062 from the normal CDF, far above the pooled limit 3.0 / sqrt(4096 * 8) = 0.017.
REPARAM_ROWS = 4096
REPARAM_LOGVAR = (0.0, -2.0, 1.0, -12.0, 12.0, 6.0, -6.0, 3.0)
REPARAM_MU_RANGE = 20.0
REPARAM_KS_LIMIT = 3.0  # sqrt(n) * max |F_n(u) - Phi(u)|, for every column and for all columns pooled
REPARAM_SCALE_LIMIT = 6.0  # sqrt(2 n) * |rms(u) - 1| for every column: the spread must be sigma
REPARAM_CORR_LIMIT = 6.0  # sqrt(n) * |correlation| between any two columns of u: every entry its own eps
REPARAM_GRAD_ATOL, REPARAM_GRAD_RTOL = 1e-5, 1e-5  # dz/dmu = 1, dz/dlogvar = (z - mu) / 2; scale: |z| + |mu|
REPARAM_SEED = 0

CHECK_SEEDS = (0, 1, 2)  # the random cases of every check are drawn with these seeds


# --------------------------------------------------------------------------- shared machinery


@dataclasses.dataclass
class _Result:
    ok: bool
    message: str
    converted: bool = False  # the answer was turned into a float32 tensor (or a whole number) on the way


class _Run:
    """One check's notes on the conversions it made, appended to its final message."""

    def __init__(self) -> None:
        self.notes: list[str] = []

    def note(self, text: str | None) -> None:
        """Keep ``text`` unless a note of its kind (the same words, other numbers) is already kept: a check
        tries many cases, and a conversion is worth saying once."""
        kind = re.sub(r"\d+", "#", text or "")
        if text and kind not in (re.sub(r"\d+", "#", n) for n in self.notes):
            self.notes.append(text)

    def result(self, ok: bool, message: str) -> _Result:
        return _Result(ok, " ".join([message, *self.notes]), converted=bool(self.notes))


def _report(result: _Result, quiet: bool = False) -> bool:
    if not quiet:
        print(("Correct! " if result.ok else "Not yet. ") + result.message)
    return result.ok


@contextlib.contextmanager
def _one_thread():
    """Run on one CPU thread: the checks' tensors are small, and on a busy machine waking other threads costs
    far more than the arithmetic (ten times more on a loaded two-core machine). The setting is put back afterwards."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _safely(check: Callable[..., _Result], *args: Any) -> _Result:
    """The check's result; should the check itself fail on an unexpected answer, a hint instead of a traceback."""
    try:
        with _one_thread():
            return check(*args)
    except Exception as err:  # a net under the net: every learner call is already guarded by _call
        return _Result(
            False,
            f"the check could not read your answer ({type(err).__name__}: {_one_line(err)}). "
            "Hint: return a single torch tensor (or a number where one is asked for).",
        )


def _one_line(err: BaseException, limit: int = 160) -> str:
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    text = lines[0] if lines else ""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _fmt(x: float) -> str:
    return f"{x:.6g}"


def _describe(value: Any) -> str:
    """A short description of a returned value, for the hints ("a float64 tensor of shape (3,)")."""
    if isinstance(value, torch.Tensor):
        dtype = str(value.dtype).replace("torch.", "")
        return f"{'an' if dtype.startswith('int') else 'a'} {dtype} tensor of shape {tuple(value.shape)}"
    if isinstance(value, np.ndarray):
        return f"a NumPy {value.dtype} array of shape {value.shape}"
    if isinstance(value, np.generic):
        return f"a NumPy {value.dtype} number"
    if _is_return_types(value):
        return f"torch.return_types.{type(value).__name__} (values, indices)"
    if isinstance(value, (list, tuple)):
        kind = "list" if isinstance(value, list) else "tuple"
        parts = ", ".join(_describe(v).removeprefix("a ").removeprefix("an ") for v in value[:3])
        return f"a {kind} of {len(value)} ({parts}{', ...' if len(value) > 3 else ''})"
    if value is None or isinstance(value, bool):
        return repr(value)
    if isinstance(value, str):
        return f"the string {value!r}"
    if isinstance(value, (int, float)):
        return f"the {type(value).__name__} {value!r}"
    return f"a {type(value).__name__}"


def _is_return_types(value: Any) -> bool:
    return type(value).__module__ == "torch.return_types"


def _common_hint(err: Exception) -> str | None:
    """A hint for the errors learners meet most, whatever the exercise."""
    text = str(err)
    if isinstance(err, NameError):
        name = getattr(err, "name", None) or "a name"
        return f"{name} is not defined here: run the cell that defines it, or check the spelling."
    if "ellipsis" in text:
        return "there is still a `...` in your code: replace it with your own."
    if "return_types" in text:
        return (
            "torch.max(t, dim) / torch.min(t, dim) reduce along a dimension and return a (values, indices) pair; "
            "for an element-wise max(t, 0) use t.clamp(min=0)."
        )
    if "Boolean value of Tensor with more than one value is ambiguous" in text or "truth value of an array" in text:
        return (
            "Python's max, min, `if`, `and` and `or` look at a whole tensor at once; use element-wise torch "
            "functions instead (t.clamp(min=0), torch.maximum, torch.where)."
        )
    if "numpy() on Tensor that requires grad" in text:
        return "NumPy cannot carry gradients: stay with torch operations (torch.exp, torch.sqrt, ...) on the tensors."
    if "in-place operation" in text:
        return "do not change the inputs in place (+=, .add_(), t[...] = ...); build a new tensor from them."
    if ("Double" in text and "Float" in text) or "same dtype" in text:
        return (
            "float64 (NumPy's default) meets float32 (PyTorch's): keep to torch operations, or convert "
            "with torch.as_tensor(..., dtype=torch.float32)."
        )
    if "must match the size of tensor" in text:
        return "two tensors of different shapes were combined: print their .shape to see which."
    return None


def _call(fn: Any, *args: Any, hint: Callable[[Exception], str | None] | None = None) -> tuple[Any, str | None]:
    """``(value, None)``, or ``(None, message)`` when ``fn`` is not written yet or fails (never raises)."""
    if not callable(fn):
        return None, (
            f"pass your function itself, e.g. check_kl(kl_divergence) without parentheses after the "
            f"name; you passed {_describe(fn)}."
        )
    try:
        value = fn(*args)
    except NotImplementedError:
        return None, "Not attempted yet: replace the `...` in the exercise cell with your code."
    except Exception as err:  # the learner's code failing is expected, not an error of the check
        try:
            extra = (hint(err) if hint else None) or _common_hint(err)
        except Exception:
            extra = None
        message = f"your function raised {type(err).__name__}" + (f": {_one_line(err)}" if str(err).strip() else "")
        return None, message + (f". Hint: {extra}" if extra else ".")
    if value is Ellipsis or value is None:
        return None, "Not attempted yet: your function returns nothing; replace the `...` with your code."
    return value, None


def _as_float_tensor(value: Any, floats_only: bool = False) -> tuple[torch.Tensor | None, str | None, str | None]:
    """``(float32 CPU tensor, note on the conversion or None, None)``, or ``(None, None, problem)``.

    Tensors of another float type or device, NumPy arrays and numbers, (nested) Python lists and lists of
    equally shaped tensors are converted; gradients survive where the answer was a tensor. Whole numbers
    (int or bool types) are refused when ``floats_only``, else converted like the rest.
    """
    floats = "return floats, e.g. with .float()"
    if isinstance(value, torch.Tensor):
        if value.is_complex():
            return None, None, f"your answer is {_describe(value)}: {floats}."
        if not value.is_floating_point() and floats_only:
            return None, None, f"the values must be floats (0.0 and 1.0), got {_describe(value)}: {floats}."
        if value.dtype == torch.float32 and value.device.type == "cpu":
            return value, None, None
        where = "" if value.device.type == "cpu" else f" on {value.device}"
        note = f"(your answer was {_describe(value).split(' of shape')[0]}{where}; converted to a float32 tensor)"
        return value.to("cpu", torch.float32), note, None
    if _is_return_types(value):
        return (
            None,
            None,
            (
                f"your function returns {_describe(value)}. torch.{type(value).__name__}(t, dim) reduces "
                "along a dimension and returns a pair; take .values, or for an element-wise max(t, 0) "
                "use t.clamp(min=0)."
            ),
        )
    if isinstance(value, (np.ndarray, np.generic)):
        array = np.asarray(value)
        if array.dtype.kind in "iub" and floats_only:
            return None, None, f"the values must be floats (0.0 and 1.0), got {_describe(value)}: {floats}."
        if array.dtype.kind not in "fiub":
            return None, None, f"your answer is {_describe(value)}; return a tensor of real numbers."
        note = f"(your answer was a NumPy {array.dtype} array; converted to a float32 tensor)"
        return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32)), note, None
    if isinstance(value, (list, tuple)) and len(value) and all(isinstance(v, torch.Tensor) for v in value):
        if len({tuple(v.shape) for v in value}) > 1:
            return None, None, f"your answer is {_describe(value)} of different shapes; return one tensor."
        stacked = torch.stack([v.cpu() for v in value])
        if not stacked.is_floating_point() and floats_only:
            return None, None, f"the values must be floats (0.0 and 1.0), got {_describe(value)}: {floats}."
        kind = "list" if isinstance(value, list) else "tuple"
        note = f"(your answer was a {kind} of {len(value)} tensors; stacked into one float32 tensor)"
        return stacked.float(), note, None
    if isinstance(value, (list, tuple)):
        try:
            array = np.asarray(value)
            if array.dtype.kind in "iub" and floats_only:
                return (
                    None,
                    None,
                    f"the values must be floats (0.0 and 1.0), got a Python list of whole numbers: {floats}.",
                )
            array = np.asarray(value, dtype=np.float64)
        except Exception:
            return None, None, f"your answer is {_describe(value)}, which is not a grid of numbers; return one tensor."
        kind = "list" if isinstance(value, list) else "tuple"
        return (
            torch.from_numpy(array).float(),
            f"(your answer was a Python {kind}; converted to a float32 tensor)",
            None,
        )
    return None, None, f"return a torch tensor, not {_describe(value)}."


def _tensor_answer(
    value: Any,
    shape: tuple,
    run: _Run,
    shape_hint: Callable[[tuple], str | None] | None = None,
    floats_only: bool = False,
) -> tuple[torch.Tensor | None, str | None]:
    """The answer as a float32 tensor of ``shape``, or ``(None, a hint)``; notes a conversion on ``run``."""
    shape = tuple(shape)
    tensor, note, problem = _as_float_tensor(value, floats_only)
    if problem:
        return None, problem
    if tuple(tensor.shape) != shape:
        if isinstance(value, tuple):
            hint = (
                "`return a, b` (or a trailing comma) returns a tuple; return the one tensor asked for"
                if len(value) > 1
                else "a trailing comma makes a tuple; return the tensor itself"
            )
        else:
            hint = shape_hint(tuple(tensor.shape)) if shape_hint else None
        got = _describe(value) if not isinstance(value, (torch.Tensor, np.ndarray)) else f"shape {tuple(tensor.shape)}"
        return None, f"expected one tensor of shape {shape}, got {got}." + (f" Hint: {hint}." if hint else "")
    run.note(note)
    return tensor, None


def _whole_number(value: Any, run: _Run) -> tuple[int | None, str | None]:
    """The answer as an int, or ``(None, a hint)``; a whole float or a one-element tensor is noted and accepted."""
    original = value
    if isinstance(value, (torch.Tensor, np.ndarray)):
        n = value.numel() if isinstance(value, torch.Tensor) else value.size
        if n != 1:
            return None, f"you give {_describe(value)}; return one whole number."
        value = value.item()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        extra = " (the height, which is also the width)" if isinstance(value, (tuple, list)) else ""
        return None, f"you give {_describe(original)}; return one whole number{extra}."
    if isinstance(value, float):
        if not (math.isfinite(value) and value.is_integer()):
            return None, (
                f"you give {value!r}, which is not a whole number. Hint: sizes and counts are whole numbers; "
                "divide with // rather than /."
            )
        value = int(value)
    if type(original) is not int:  # one note for all the layers' answers, whatever their values
        kind = (
            f"NumPy {original.dtype} numbers"
            if isinstance(original, np.generic)
            else f"{type(original).__name__} arrays"
            if isinstance(original, np.ndarray)
            else "tensors"
            if isinstance(original, torch.Tensor)
            else f"{type(original).__name__}s"
        )
        run.note(f"(your answers were {kind}; read as whole numbers)")
    return value, None


def _formula(
    fn: Any,
    cases: list[tuple],
    expected: list[int],
    names: tuple[str, ...],
    source: str,
    candidates: list[tuple[Callable[..., int], str]],
    generic: str,
    success: str,
) -> _Result:
    """A whole-number formula checked on every case; a hint from the first wrong formula it matches on all cases."""
    run = _Run()
    answers = []
    for case in cases:
        where = ", ".join(f"{n}={v}" for n, v in zip(names, case))
        got, problem = _call(fn, *case)
        if not problem:
            got, problem = _whole_number(got, run)
        if problem:  # no note on conversions here: it could contradict the problem
            return _Result(False, f"for {where}: {problem}")
        answers.append(got)
    wrong = [i for i, (a, e) in enumerate(zip(answers, expected)) if a != e]
    if not wrong:
        return run.result(True, success)
    hint = next((h for formula, h in candidates if all(formula(*c) == a for c, a in zip(cases, answers))), generic)
    i = wrong[0]
    where = ", ".join(f"{n}={v}" for n, v in zip(names, cases[i]))
    return run.result(
        False,
        f"for {where} you give {answers[i]}, {source} {expected[i]} "
        f"({len(wrong)} of {len(cases)} cases wrong). Hint: {hint}",
    )


def _close(got: torch.Tensor, expected: torch.Tensor, atol: float, rtol: float, scale: torch.Tensor) -> torch.Tensor:
    """Element-wise: finite and within ``atol + rtol * scale`` of ``expected`` (compared in float64)."""
    got = got.detach().double()
    return torch.isfinite(got) & ((got - expected).abs() <= atol + rtol * scale)


def _first_bad(ok: torch.Tensor) -> tuple[int, ...]:
    return tuple(int(i) for i in (~ok).nonzero()[0])


# --------------------------------------------------------------------------- notebook 01


@functools.cache
def _transposed_conv_cases() -> tuple[list[tuple[int, int, int, int]], list[int]]:
    cases = [(1, 7, 1, 0), (7, 4, 2, 1), (14, 4, 2, 1), (5, 3, 1, 1), (4, 3, 2, 0), (10, 5, 3, 2)]
    for seed in CHECK_SEEDS:
        g = torch.Generator().manual_seed(seed)
        for _ in range(6):
            size, kernel, stride = (
                int(torch.randint(lo, hi, (1,), generator=g)) for lo, hi in ((1, 300), (1, 12), (1, 7))
            )
            padding = int(torch.randint(0, (kernel - 1) // 2 + 1, (1,), generator=g))
            cases.append((size, kernel, stride, padding))
    expected = []
    for size, kernel, stride, padding in cases:  # PyTorch itself; a (size, 1) input is enough to read the height
        weight = torch.zeros(1, 1, kernel, kernel)
        expected.append(
            F.conv_transpose2d(torch.zeros(1, 1, size, 1), weight, stride=stride, padding=padding).shape[-2]
        )
    return cases, expected


def check_transposed_conv_size(fn: Callable[[int, int, int, int], int], *, quiet: bool = False) -> bool:
    """``fn(size, kernel, stride, padding)`` must give ``nn.ConvTranspose2d``'s output size (notebook 01).
    Checked on 6 classic layers and 18 random ones (size up to 300, kernel up to 11, stride up to 6); exact."""
    return _report(_safely(_transposed_conv_size, fn), quiet)


def _transposed_conv_size(fn: Any) -> _Result:
    cases, expected = _transposed_conv_cases()
    candidates = [
        (
            lambda s, k, st, p: (s + 2 * p - k) // st + 1,
            "that is the formula of an ordinary convolution, which shrinks. A transposed one runs it backwards.",
        ),
        (lambda s, k, st, p: (s - 1) * st + k, "close: padding removes pixels from both borders of the output."),
        (lambda s, k, st, p: (s - 1) * st - p + k, "padding is taken off both borders: subtract 2 * padding."),
        (lambda s, k, st, p: (s - 1) * st + 2 * p + k, "in a transposed convolution padding is taken off, not added."),
        (
            lambda s, k, st, p: s * st - 2 * p + k,
            "stride multiplies the gaps *between* input pixels: think (size - 1) * stride, then add the kernel.",
        ),
        (
            lambda s, k, st, p: (s - 1) * st - 2 * p + k + 1,
            "one too many: the + 1 belongs to the ordinary convolution's formula, not to this one.",
        ),
        (
            lambda s, k, st, p: s * st,
            "stride multiplies the gaps *between* input pixels: think (size - 1) * stride, then add the kernel.",
        ),
    ]
    return _formula(
        fn,
        cases,
        expected,
        ("size", "kernel", "stride", "padding"),
        "PyTorch gives",
        candidates,
        "start from (size - 1) * stride, add the kernel, then take the padding off both sides.",
        f"Your formula matches nn.ConvTranspose2d on all {len(cases)} layers.",
    )


@functools.cache
def _conv_params_cases() -> tuple[list[tuple[int, int, int]], list[int]]:
    cases = [(8, 32, 7), (32, 16, 4), (16, 1, 4), (1, 64, 7), (3, 5, 2)]
    for seed in CHECK_SEEDS:
        g = torch.Generator().manual_seed(seed)
        for _ in range(4):
            cases.append(tuple(int(torch.randint(lo, hi, (1,), generator=g)) for lo, hi in ((1, 97), (1, 97), (1, 10))))
    expected = [sum(p.numel() for p in nn.ConvTranspose2d(i, o, k).parameters()) for i, o, k in cases]
    return cases, expected


def check_conv_transpose_params(fn: Callable[[int, int, int], int], *, quiet: bool = False) -> bool:
    """``fn(in_channels, out_channels, kernel)`` must count a ``ConvTranspose2d``'s weights and biases (notebook 01).
    Checked on 5 classic layers and 12 random ones (up to 96 channels, kernel up to 9); exact."""
    return _report(_safely(_conv_transpose_params, fn), quiet)


def _conv_transpose_params(fn: Any) -> _Result:
    cases, expected = _conv_params_cases()
    candidates = [
        (lambda i, o, k: i * o * k * k, "you counted the weights; every output channel also has one bias."),
        (lambda i, o, k: i * o * k + o, "a kernel is k x k: square it."),
        (lambda i, o, k: i * o * k, "a kernel is k x k: square it, and add one bias per output channel."),
        (lambda i, o, k: i * o * k * k + i, "the biases belong to the output channels: + out_channels."),
        (lambda i, o, k: i * o * (k * k + 1), "one bias per output channel, not one per (input, output) pair."),
        (lambda i, o, k: i * k * k + o, "each (input channel, output channel) pair has its own k x k kernel."),
        (lambda i, o, k: o * k * k + o, "each (input channel, output channel) pair has its own k x k kernel."),
    ]
    return _formula(
        fn,
        cases,
        expected,
        ("in", "out", "kernel"),
        "PyTorch has",
        candidates,
        "each (input channel, output channel) pair has its own k x k kernel, plus one bias per output channel.",
        f"Your count matches PyTorch on all {len(cases)} layers.",
    )


# --------------------------------------------------------------------------- notebook 02


def _one_hot_cases() -> list[tuple[torch.Tensor, int]]:
    cases = [
        (torch.tensor([0, 3, 1]), 4),
        (torch.tensor([2]), 3),
        (torch.arange(6), 6),
        (torch.zeros(2, dtype=torch.long), 1),
    ]
    for seed in CHECK_SEEDS:
        g = torch.Generator().manual_seed(seed)
        n = int(torch.randint(5, 1000, (1,), generator=g))
        batch = int(torch.randint(2, 200, (1,), generator=g))
        index = torch.randint(0, n - 1, (batch,), generator=g)  # never column n - 1: n is not index.max() + 1
        cases.append((index, n))
    return cases


def check_one_hot(fn: Callable[[torch.Tensor, int], torch.Tensor], *, quiet: bool = False) -> bool:
    """``fn(index, n)`` must return float one-hot rows ``(B, n)`` like ``F.one_hot(index, n).float()`` (notebook 02).
    Checked on 4 small cases and 3 random ones (up to 200 rows and 1000 columns); the values must be exactly 0 and 1."""
    return _report(_safely(_one_hot, fn), quiet)


def _one_hot(fn: Any) -> _Result:
    run = _Run()
    for index, n in _one_hot_cases():
        expected = F.one_hot(index, n).float()
        shown = index.tolist() if len(index) <= 6 else f"{index[:4].tolist()[:-1]}... ({len(index)} indices)"
        got, problem = _call(fn, index.clone(), n)
        if problem:
            return run.result(False, problem)
        batch = len(index)

        def shape_hint(shape: tuple, n=n, batch=batch, index=index) -> str | None:
            if shape == (n, batch):
                return "that is transposed: one row per index, one column per image"
            if len(shape) == 2 and shape[0] == batch and shape[1] == int(index.max()) + 1:
                return "the number of columns is n, not index.max() + 1: pass n on, e.g. F.one_hot(index, n)"
            return "one row per index, one column per image"

        got, problem = _tensor_answer(got, expected.shape, run, shape_hint, floats_only=True)
        if problem:
            return run.result(False, f"for index={shown} and n={n}: {problem}")
        if not torch.equal(got.detach(), expected):
            if torch.equal(got.detach() != 0, expected != 0):
                hint = "the non-zero entries are in the right places, but they must be exactly 1.0."
            elif bool((got.detach()[:, index] != 0).all()) and batch > 1 and len(set(index.tolist())) > 1:
                hint = "out[:, index] = 1 sets those columns in every row; give each row its own column: out[torch.arange(B), index] = 1.0."
            elif n > 1 and torch.equal(got.detach()[:, :-1], expected[:, 1:]):
                hint = "off by one: columns count from 0, so index i goes to column i."
            else:
                hint = "row r has a single 1.0 at column index[r], zeros elsewhere."
            r = int((got.detach() != expected).any(dim=1).nonzero()[0])
            return run.result(
                False, f"for index={shown} and n={n}, row {r} (index {int(index[r])}) is wrong. Hint: {hint}"
            )
    return run.result(True, "Your one-hot vectors match torch.nn.functional.one_hot.")


@functools.cache
def _onehot_params_cases() -> tuple[list[tuple[int, int, int]], list[int]]:
    settings = [(4, 32, 28), (16, 32, 28), (256, 32, 28), (10, 8, 28)]  # (num_images, channels, image_size)
    for seed in CHECK_SEEDS:
        g = torch.Generator().manual_seed(seed)
        for image_size in (4, 12, 20, 32)[seed : seed + 2]:  # kernels 1, 3, 5, 8: image_size / 4
            n, c0 = (int(torch.randint(lo, hi, (1,), generator=g)) for lo, hi in ((1, 600), (1, 65)))
            settings.append((n, c0, image_size))
    cases, expected = [], []
    for n, c0, image_size in settings:
        model = CodebookDecoder(n, "onehot", channels=(c0, 16), image_size=image_size)
        cases.append((n, c0, model.decoder.layers[0].kernel_size[0]))
        expected.append(model.parameter_counts()["input_layer"])
    return cases, expected


def check_onehot_input_params(fn: Callable[[int, int, int], int], *, quiet: bool = False) -> bool:
    """``fn(num_images, channels, kernel)`` must count the first layer of a one-hot decoder (notebook 02).
    Checked on 4 decoders of the notebook's size and 6 random ones (up to 600 images, kernels 1 to 8); exact."""
    return _report(_safely(_onehot_input_params, fn), quiet)


def _onehot_input_params(fn: Any) -> _Result:
    cases, expected = _onehot_params_cases()
    candidates = [
        (lambda n, c, k: n * c * k * k, "you counted the weights; each of the channels also has one bias."),
        (lambda n, c, k: n * c * 49 + c, "the kernel is an argument: use kernel * kernel, not 7 * 7 = 49."),
        (lambda n, c, k: n * c * k + c, "a kernel is kernel x kernel: square it."),
        (lambda n, c, k: n * c * k * k + n, "the biases belong to the output channels: + channels."),
        (
            lambda n, c, k: n * c + c,
            "each of the num_images input channels has a kernel x kernel kernel per output channel.",
        ),
    ]
    generic = (
        "the one-hot code has num_images entries, and each is an input channel of a transposed convolution "
        "(see the exercise of notebook 01)."
    )
    return _formula(
        fn,
        cases,
        expected,
        ("num_images", "channels", "kernel"),
        "the model has",
        candidates,
        generic,
        "Your formula matches the model: the input layer grows by channels * kernel**2 weights per image.",
    )


# --------------------------------------------------------------------------- notebook 03


def _bce_cases() -> list[tuple[str, torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(0)
    cases = [
        ("ordinary", torch.randn(4, 6, generator=g) * 3, torch.rand(4, 6, generator=g)),
        (
            "extreme",
            torch.tensor([[1000.0, -1000.0, 100.0, -100.0, 89.0, -89.0, 20.0, -20.0, 0.0, 1e-30, -1e-30, 1e-8]]),
            torch.tensor([[0.0, 1.0, 0.0, 1.0, 0.3, 0.7, 0.9, 0.1, 0.5, 1.0, 0.0, 0.25]]),
        ),
    ]
    for seed in CHECK_SEEDS:  # magnitudes from 1e-8 to 1e3, either sign; targets grey, 0 or 1
        g = torch.Generator().manual_seed(seed)
        magnitude = 10 ** (torch.rand(6, 8, generator=g) * 11 - 8)
        logits = torch.where(torch.rand(6, 8, generator=g) < 0.5, -magnitude, magnitude)
        u, x = torch.rand(6, 8, generator=g), torch.rand(6, 8, generator=g)
        x = torch.where(u < 0.2, torch.zeros_like(x), torch.where(u < 0.4, torch.ones_like(x), x))
        cases.append((f"random (seed {seed})", logits, x))
    return cases


def check_bce_with_logits(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], *, quiet: bool = False) -> bool:
    """``fn(logits, x)`` must give the element-wise BCE of ``F.binary_cross_entropy_with_logits`` and stay finite.
    Checked on ordinary logits, on extreme ones (+-1000, +-100, 0, 1e-30) and on random ones whose size runs
    from 1e-8 to 1e3, within ``BCE_ATOL + BCE_RTOL * (|expected| + |logit|)``. Introduced in notebook 03."""
    return _report(_safely(_bce, fn), quiet)


def _bce_crash_hint(err: Exception) -> str | None:
    text = str(err)
    if "return_types" in text:
        return (
            "torch.max(logits, 0) is not the element-wise max(l, 0): it takes the largest value along dimension 0 "
            "and returns a (values, indices) pair. Use logits.clamp(min=0)."
        )
    if "Boolean value of Tensor" in text:
        return "Python's max(logits, 0) compares the whole tensor with 0; for the element-wise max(l, 0) use logits.clamp(min=0)."
    return None


def _bce(fn: Any) -> _Result:
    run = _Run()
    stable_hint = (
        "for large |l|, exp(l) overflows and sigmoid(l) rounds to exactly 0 or 1, so log(1 + exp(l)) and "
        "log(sigmoid(l)) break down; rewrite the loss as max(l, 0) - l * x + log(1 + exp(-|l|)) "
        "(logits.clamp(min=0), torch.log1p, torch.exp(-logits.abs()))."
    )
    for name, logits, x in _bce_cases():
        expected = F.binary_cross_entropy_with_logits(logits.double(), x.double(), reduction="none")
        got, problem = _call(fn, logits.clone(), x.clone(), hint=_bce_crash_hint)
        if problem:
            return run.result(False, problem)
        got, problem = _tensor_answer(got, expected.shape, run, lambda s: "one loss per pixel, no sum or mean here")
        if problem:
            return run.result(False, problem)
        ok = _close(got, expected, BCE_ATOL, BCE_RTOL, expected.abs() + logits.double().abs())
        if bool(ok.all()):
            continue
        i = _first_bad(ok)
        logit, t, v, e = logits[i].item(), x[i].item(), got[i].item(), expected[i].item()
        where = f"for logit {_fmt(logit)} and target {_fmt(t)} you give {_fmt(v)}, PyTorch gives {_fmt(e)}"
        if not math.isfinite(v):
            hint = (
                stable_hint
                if abs(logit) > 15
                else "some step divides by zero or takes the log of 0 or of a negative number."
            )
            return run.result(False, f"{where}: the loss is inf or nan ({name} logits). Hint: {hint}")
        d, lx = logits.double(), x.double()
        patterns = [
            (
                torch.max(d, 0).values - d * lx + torch.log1p(torch.exp(-d.abs())),
                "torch.max(logits, 0) takes the largest logit of each column (dimension 0), not max(l, 0) for each "
                "element: use logits.clamp(min=0).",
            ),
            (d.clamp(min=0) - d * lx, "the term log(1 + exp(-|l|)) is missing."),
            (d.clamp(min=0) + d * lx + torch.log1p(torch.exp(-d.abs())), "the sign of l * x: max(l, 0) - l * x + ..."),
            (
                d.clamp(min=0) - d * (1 - lx) + torch.log1p(torch.exp(-d.abs())),
                "x and 1 - x are swapped: it is - l * x.",
            ),
        ]
        hint = next(
            (h for value, h in patterns if bool(_close(got, value, BCE_ATOL, BCE_RTOL, value.abs() + d.abs()).all())),
            None,
        )
        if hint is None:
            if name == "ordinary":
                hint = "-(x log p + (1 - x) log(1 - p)) with p = sigmoid(l), computed as max(l, 0) - l * x + log(1 + exp(-|l|))."
            else:
                hint = (
                    "right for ordinary logits, wrong for this one: do not clamp the logits or approximate; "
                    + stable_hint.split("; ")[1]
                )
        return run.result(False, f"{where} ({name} logits). Hint: {hint}")
    return run.result(True, "Your loss matches F.binary_cross_entropy_with_logits, even for extreme logits.")


def _interpolate_cases() -> list[tuple[str, torch.Tensor, torch.Tensor, int]]:
    z0, z1 = torch.tensor([0.0, 2.0, -1.0]), torch.tensor([4.0, -2.0, 1.0])
    cases = [("ordinary", z0, z1, 2), ("ordinary", z0, z1, 5)]
    for seed, (dim, steps) in zip(CHECK_SEEDS, ((1, 3), (7, 10), (32, 2))):  # never dim == steps: a transpose shows
        g = torch.Generator().manual_seed(seed)
        z0, z1 = (torch.randn(dim, generator=g) * 10 ** (torch.rand(dim, generator=g) * 6 - 3) for _ in range(2))
        cases.append((f"random (seed {seed})", z0, z1, steps))  # sizes from 1e-3 to 1e3
    return cases


def check_interpolate(fn: Callable[[torch.Tensor, torch.Tensor, int], torch.Tensor], *, quiet: bool = False) -> bool:
    """``fn(z0, z1, steps)`` must return ``steps`` evenly spaced points ``(steps, D)`` from ``z0`` to ``z1``.
    Checked on 2 small cases and 3 random ones (D from 1 to 32, values from 1e-3 to 1e3), within
    ``INTERPOLATE_ATOL + INTERPOLATE_RTOL * (|z0| + |z1|)``. Introduced in notebook 03."""
    return _report(_safely(_interpolate_check, fn), quiet)


def _interpolate_crash_hint(err: Exception) -> str | None:
    if "must match the size of tensor" in str(err):
        return (
            "t = torch.linspace(0, 1, steps) has shape (steps,); make it a column, t[:, None] of shape (steps, 1), "
            "so that it broadcasts against z0 (D,) into (steps, D)."
        )
    return None


def _interpolate_check(fn: Any) -> _Result:
    run = _Run()
    for name, z0, z1, steps in _interpolate_cases():
        t = torch.arange(steps, dtype=torch.float64)[:, None] / (steps - 1)
        a, b = z0.double(), z1.double()
        expected = (1 - t) * a + t * b
        got, problem = _call(fn, z0.clone(), z1.clone(), steps, hint=_interpolate_crash_hint)
        if problem:
            return run.result(False, problem)
        dim = len(z0)

        def shape_hint(shape: tuple, dim=dim, steps=steps) -> str | None:
            if shape == (dim, steps):
                return "that is transposed: one row per step, (steps, D); put t in a column, t[:, None]"
            if len(shape) == 2 and shape[1] == dim and shape[0] in (steps - 1, steps + 1):
                return f"steps={steps} points, counting both ends z0 and z1"
            if shape == (steps,):
                return (
                    "keep the D dimension, even when D = 1 (.squeeze() drops it): t[:, None] * z1 has shape (steps, D)"
                )
            if len(shape) == 2 and shape[0] == 2 and shape[1] == dim:
                return "that is only the two ends; steps points run from z0 to z1, t = torch.linspace(0, 1, steps)"
            return None

        got, problem = _tensor_answer(got, expected.shape, run, shape_hint)
        if problem:
            return run.result(False, f"with steps={steps} and z0 of shape ({dim},): {problem}")
        scale = a.abs() + b.abs()
        ok = _close(got, expected, INTERPOLATE_ATOL, INTERPOLATE_RTOL, scale)
        if bool(ok.all()):
            continue

        def row_is(row: int, target: torch.Tensor, got=got, scale=scale) -> bool:
            return bool(_close(got[row], target, INTERPOLATE_ATOL, INTERPOLATE_RTOL, scale).all())

        if not row_is(0, a):
            hint = (
                "your path runs from z1 to z0: t = 0 must give z0, e.g. (1 - t) * z0 + t * z1."
                if row_is(0, b)
                else "the first row must be z0 (t = 0)."
            )
        elif not row_is(-1, b):
            hint = (
                "t stops short of 1: arange(steps) / steps never reaches it; torch.linspace(0, 1, steps) includes "
                "both ends."
                if row_is(-1, a + (b - a) * (steps - 1) / steps)
                else "the last row must be z1 (t = 1)."
            )
        else:
            hint = "evenly spaced points: t = 0, 1/(steps-1), ..., 1 (torch.linspace(0, 1, steps))."
        r = _first_bad(ok)[0]
        return run.result(
            False,
            f"with steps={steps} ({name} z0, z1 of shape ({dim},)), row {r} is "
            f"{[_fmt(v) for v in got[r, :3].tolist()]}{'...' if dim > 3 else ''}, expected "
            f"{[_fmt(v) for v in expected[r, :3].tolist()]}{'...' if dim > 3 else ''}. Hint: {hint}",
        )
    return run.result(True, "Your path starts at z0, ends at z1 and is evenly spaced.")


# --------------------------------------------------------------------------- notebook 04


def _ks_statistics(u: torch.Tensor) -> torch.Tensor:
    """``sqrt(n) * max |F_n - Phi|`` of each column of ``u`` (n, c) against the standard normal CDF (Kolmogorov-Smirnov)."""
    n = len(u)
    ordered = u.sort(dim=0).values
    cdf = torch.special.ndtr(ordered.float()).double()  # float32 is ample for distances of 1e-3 and more
    i = torch.arange(1, n + 1, dtype=torch.float64)[:, None]
    return torch.maximum(i / n - cdf, cdf - (i - 1) / n).amax(dim=0) * math.sqrt(n)


def _reparameterize_inputs(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    columns = len(REPARAM_LOGVAR)
    mu = (torch.rand(REPARAM_ROWS, columns, generator=g) * 2 - 1) * REPARAM_MU_RANGE
    logvar = torch.tensor(REPARAM_LOGVAR).repeat(REPARAM_ROWS, 1)
    return mu.requires_grad_(True), logvar.requires_grad_(True)


def check_reparameterize(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], *, quiet: bool = False) -> bool:
    """``fn(mu, logvar)`` must sample ``z ~ N(mu, exp(logvar))`` so that gradients reach ``mu`` and ``logvar``.

    The standardized samples ``(z - mu) / sigma`` of ``REPARAM_ROWS`` rows x 8 columns (logvar from -12 to 12,
    mu up to +-20) must look standard normal (spread, Kolmogorov-Smirnov distance per column and pooled) and
    independent across columns, within the ``REPARAM_*_LIMIT`` constants; gradients must be exactly those of
    ``mu + sigma * eps``; a 1-D ``mu`` must work; two calls must draw fresh noise. The random state is seeded
    inside (``REPARAM_SEED``) and restored afterwards. Introduced in notebook 04."""
    return _report(_safely(_reparameterize_check, fn, REPARAM_SEED), quiet)


def _reparameterize_crash_hint(err: Exception) -> str | None:
    text = str(err)
    if "must match the size of tensor" in text or "out of range" in text or "shape" in text:
        return (
            "eps must have exactly the shape of mu, whatever it is (the check also passes a 1-D mu): "
            "eps = torch.randn_like(mu)."
        )
    return None


def _reparameterize_check(fn: Any, seed: int = REPARAM_SEED) -> _Result:
    with torch.random.fork_rng(devices=[]):  # CPU only; the notebook's random stream is left as it was
        torch.default_generator.manual_seed(seed)
        return _reparameterize_steps(fn, seed)


def _reparameterize_steps(fn: Any, seed: int) -> _Result:
    run = _Run()
    mu, logvar = _reparameterize_inputs(seed)
    z, problem = _call(fn, mu, logvar, hint=_reparameterize_crash_hint)
    if not problem:
        z, problem = _tensor_answer(z, mu.shape, run)
    if problem:
        return run.result(False, problem)
    lv = torch.tensor(REPARAM_LOGVAR, dtype=torch.float64)
    if not bool(torch.isfinite(z).all()):
        column = int((~torch.isfinite(z)).any(dim=0).nonzero()[0])
        return run.result(
            False,
            f"z holds inf or nan where logvar = {_fmt(lv[column].item())}. Hint: sigma = "
            "exp(0.5 * logvar) is finite for every logvar; sqrt(logvar) or log(logvar) is not.",
        )
    if z.grad_fn is None:
        return run.result(
            False,
            "z is not connected to mu and logvar, so no gradient can reach the encoder. Hint: draw "
            "eps = torch.randn_like(mu) and build z from mu, logvar and eps with ordinary arithmetic "
            "(no NumPy, .detach(), .item() or torch.normal).",
        )
    zd, m = z.detach().double(), mu.detach().double()
    sigma = (0.5 * lv).exp()
    u = (zd - m) / sigma  # (rows, columns): standard normal for a correct answer
    n = len(u)
    spread = u.std(dim=0)
    if bool((u.abs() < 1e-6).all()):
        return run.result(
            False, "z equals mu: there is no noise. Hint: z = mu + sigma * eps, eps = torch.randn_like(mu)."
        )
    if bool(((spread < 1e-3) & (u.abs().mean(dim=0) > 1e-3)).any()):
        return run.result(
            False,
            "every example (row) gets the same noise. Hint: draw one eps per entry of mu, "
            "eps = torch.randn_like(mu), not torch.randn(latent_dim).",
        )
    if bool((u >= 0).all()):
        return run.result(
            False,
            "your noise is never negative. Hint: torch.rand_like draws uniformly from [0, 1); "
            "the noise must be standard normal, torch.randn_like(mu).",
        )
    if len(torch.unique((u[:200] * 100).round())) <= 4:
        return run.result(
            False,
            "your noise takes only a few values (such as -1 and +1). Hint: the noise must be "
            "standard normal, torch.randn_like(mu).",
        )
    rms = u.pow(2).mean(dim=0).sqrt()
    if bool(((rms - 1).abs() * math.sqrt(2 * n) > REPARAM_SCALE_LIMIT).any()):
        measured = (zd - m).pow(2).mean(dim=0).sqrt().log()  # log of your spread, per column
        candidates = [
            (lv, "you used exp(logvar) as the standard deviation; it is the variance. sigma = exp(0.5 * logvar)."),
            (0.25 * lv, "your spread is sqrt(sigma): sigma = exp(0.5 * logvar), and z = mu + sigma * eps."),
            (-0.5 * lv, "the sign: sigma = exp(+0.5 * logvar)."),
            (torch.zeros_like(lv), "eps is not scaled: z = mu + sigma * eps with sigma = exp(0.5 * logvar)."),
            (
                lv.abs().log(),
                "logvar is the log of the variance, not the standard deviation: sigma = exp(0.5 * logvar).",
            ),
            (0.5 * lv.clamp(-4, 4), "right for moderate logvar, wrong for logvar = -12 or 12: do not clamp logvar."),
        ]
        hint = next(
            (h for c, h in candidates if bool(((measured - c).abs()[c.isfinite()] < 0.1).all())),
            "z = mu + exp(0.5 * logvar) * eps, with eps from a standard normal.",
        )
        worst = int(((rms - 1).abs()).argmax())
        return run.result(
            False,
            f"where logvar = {_fmt(lv[worst].item())} the spread of z around mu is "
            f"{_fmt(rms[worst].item() * sigma[worst].item())}, it should be exp(0.5 * logvar) = "
            f"{_fmt(sigma[worst].item())}. Hint: {hint}",
        )
    per_column = _ks_statistics(u)
    distances = [(float(per_column[c]), f"where logvar = {_fmt(lv[c].item())}", c) for c in range(u.shape[1])]
    distances.append((float(_ks_statistics(u.reshape(-1, 1))[0]), "over all columns", None))
    stat, where, column = max(distances, key=lambda d: d[0])
    if stat > REPARAM_KS_LIMIT:
        shift = u.mean(dim=0)
        if bool((shift.abs() * math.sqrt(n) > 6).any()):
            c = int(shift.abs().argmax())
            hint = (
                f"where logvar = {_fmt(lv[c].item())} your samples sit {_fmt(shift[c].item())} sigma away from mu on "
                "average: z = mu + sigma * eps, with eps of mean 0 (torch.randn_like)."
            )
        else:
            hint = (
                "the mean and spread are right, but the noise is not normally distributed (uniform or +-1 noise "
                "scaled to variance 1 is not enough): eps = torch.randn_like(mu)."
            )
        size = n if column is not None else u.numel()
        return run.result(
            False,
            f"{where}, the distribution of (z - mu) / sigma is {_fmt(stat / math.sqrt(size))} away "
            f"from the standard normal's (largest CDF difference; allowed "
            f"{_fmt(REPARAM_KS_LIMIT / math.sqrt(size))}). Hint: {hint}",
        )
    corr = torch.corrcoef(u.T) - torch.eye(u.shape[1], dtype=torch.float64)
    if bool((corr.abs() * math.sqrt(n) > REPARAM_CORR_LIMIT).any()):
        i, j = divmod(int(corr.abs().argmax()), u.shape[1])
        same = (
            "every latent dimension of an example gets the same noise"
            if corr[i, j] > 0.99
            else "the noise of different latent dimensions is correlated"
        )
        return run.result(
            False,
            f"{same} (correlation {_fmt(corr[i, j].item())} between columns {i} and {j}). Hint: "
            "draw one eps per entry of mu, eps = torch.randn_like(mu).",
        )
    try:
        z.sum().backward()
    except Exception as err:
        return run.result(
            False,
            f"backward() through z fails ({type(err).__name__}: {_one_line(err)}). Hint: build z "
            "from mu, logvar and eps with torch arithmetic.",
        )
    scale = zd.abs() + m.abs()
    for name, grad, want, hint in (
        (
            "mu",
            mu.grad,
            torch.ones_like(m),
            "dz/dmu must be 1: don't detach mu, and sample as mu + sigma * eps "
            "(torch.normal(mu, sigma) passes no gradient).",
        ),
        (
            "logvar",
            logvar.grad,
            0.5 * (zd - m),
            "dz/dlogvar must be 0.5 * sigma * eps: build sigma from logvar, "
            "exp(0.5 * logvar), without detaching it; torch.normal passes no gradient.",
        ),
    ):
        if grad is None or not bool(_close(grad, want, REPARAM_GRAD_ATOL, REPARAM_GRAD_RTOL, scale).all()):
            missing = "do not reach" if grad is None or not bool(grad.any()) else "are wrong for"
            return run.result(False, f"gradients {missing} {name}. Hint: {hint}")
    small = [
        (torch.tensor([0.5, -1.0]), torch.tensor([0.0, -2.0])),
        (torch.zeros(3, 5), torch.zeros(3, 5)),
        (torch.zeros(3, 5), torch.zeros(3, 5)),
    ]
    draws = []
    for m_small, lv_small in small:
        m_small.requires_grad_(True)
        lv_small.requires_grad_(True)
        got, problem = _call(fn, m_small, lv_small, hint=_reparameterize_crash_hint)
        if not problem:
            got, problem = _tensor_answer(
                got, m_small.shape, run, lambda s: "z has the shape of mu; eps = torch.randn_like(mu)"
            )
        if problem:
            return run.result(False, f"with mu of shape {tuple(m_small.shape)}: {problem}")
        if got.grad_fn is None or bool((got.detach() == m_small.detach()).all()):
            return run.result(
                False,
                f"with mu of shape {tuple(m_small.shape)}, z is not a noisy, connected copy of mu. "
                "Hint: z = mu + exp(0.5 * logvar) * torch.randn_like(mu).",
            )
        draws.append(got.detach())
    if torch.equal(draws[1], draws[2]):
        return run.result(
            False,
            "two calls give the same z. Hint: draw a fresh eps at every call, and do not seed "
            "the random generator inside the function.",
        )
    return run.result(
        True,
        "z is normal with mean mu and variance exp(logvar), independently for every entry, "
        "and gradients flow to both mu and logvar.",
    )


def _kl_cases() -> list[tuple[str, torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(0)
    cases = [
        ("ordinary", torch.randn(5, 4, generator=g), torch.randn(5, 4, generator=g)),
        (
            "tiny",
            torch.tensor([[0.0, 1e-6, -1e-3], [0.0, 0.0, 0.0]]),
            torch.tensor([[0.0, -1e-6, 1e-3], [0.0, 0.0, 0.0]]),
        ),
    ]
    # never b == d: a sum over the wrong dimension shows
    for seed, (b, d) in zip(CHECK_SEEDS, ((6, 3), (4, 9), (7, 1))):
        g = torch.Generator().manual_seed(seed)
        mu = (torch.rand(b, d, generator=g) * 2 - 1) * 20
        logvar = (torch.rand(b, d, generator=g) * 2 - 1) * 12
        cases.append((f"random (seed {seed})", mu, logvar))
    return cases


def check_kl(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], *, quiet: bool = False) -> bool:
    """``fn(mu, logvar)`` must give KL(N(mu, exp(logvar)) || N(0, I)) per example, ``(B, D) -> (B,)`` (notebook 04).
    Checked against ``torch.distributions.kl_divergence`` on ordinary, tiny and random inputs (mu up to +-20,
    logvar from -12 to 12), within ``KL_ATOL + KL_RTOL * |expected|``."""
    return _report(_safely(_kl, fn), quiet)


def _kl(fn: Any) -> _Result:
    run = _Run()
    for name, mu, logvar in _kl_cases():
        m, lv = mu.double(), logvar.double()
        expected = torch_kl_divergence(Normal(m, (0.5 * lv).exp()), Normal(0.0, 1.0)).sum(dim=1)
        got, problem = _call(fn, mu.clone(), logvar.clone())
        if problem:
            return run.result(False, problem)
        b, d = mu.shape

        def shape_hint(shape: tuple, b=b, d=d) -> str | None:
            if shape == (b, d):
                return "one KL per example: sum over the latent dimensions with .sum(dim=1)"
            if shape == (d,):
                return "you summed over the batch (dim 0); the KL sums over the latent dimensions, .sum(dim=1)"
            if shape in ((), (1,)):
                return "one KL per example: .sum(dim=1), not .sum() over everything"
            return "sum over the latent dimensions with .sum(dim=1)"

        got, problem = _tensor_answer(got, (b,), run, shape_hint)
        if problem:
            return run.result(False, f"for mu and logvar of shape ({b}, {d}): {problem}")
        ok = _close(got, expected, KL_ATOL, KL_RTOL, expected.abs())
        if bool(ok.all()):
            continue
        value = got.detach().double()
        patterns = [
            (
                expected + d / 2,
                f"you are {d} dimensions x 1/2 above: the closed form has a -1 inside the sum for every "
                "dimension (without it the value is off by a constant, as in some write-ups; the "
                "gradient is the same).",
            ),
            (2 * expected, "twice too large: the closed form starts with a factor 1/2."),
            (expected / d, "that is the mean over dimensions; KL adds up over them: use sum."),
            (-expected, "the sign: the KL is never negative, 0.5 * sum(mu^2 + exp(logvar) - logvar - 1)."),
        ]
        hint = next((h for p, h in patterns if bool(_close(value, p, KL_ATOL, KL_RTOL, p.abs()).all())), None)
        if hint is None and not bool(torch.isfinite(value).all()):
            hint = "inf or nan: exp(logvar) is finite for logvar up to 88; avoid sqrt or log of logvar and divisions."
        if hint is None:
            hint = (
                "right for ordinary inputs, wrong for large ones: do not clamp or approximate; the closed form "
                "0.5 * sum(mu^2 + exp(logvar) - logvar - 1) holds everywhere."
                if name.startswith("random")
                else "KL = 0.5 * sum(mu^2 + exp(logvar) - logvar - 1) over the latent dimensions."
            )
        r = _first_bad(ok)[0]
        return run.result(
            False,
            f"for {name} inputs (mu {[_fmt(v) for v in mu[r, :3].tolist()]}, logvar "
            f"{[_fmt(v) for v in logvar[r, :3].tolist()]}{'...' if d > 3 else ''}) you give "
            f"{_fmt(value[r].item())}, torch.distributions gives {_fmt(expected[r].item())}. Hint: {hint}",
        )
    return run.result(True, "Your KL matches torch.distributions.kl_divergence.")


def _one_of(value: Any, options: list) -> Any:
    """The option ``value`` stands for ("20" for 20, 0.5 for np.float64(0.5) or tensor(0.5)), else None."""
    if isinstance(value, (torch.Tensor, np.ndarray, np.generic)):
        if (value.numel() if isinstance(value, torch.Tensor) else np.size(value)) != 1:
            return None
        value = value.item()
    if isinstance(value, bool):
        return None
    try:
        number = float(value)  # the options are numbers; float() also reads "20", " 20 " and "2e1"
    except (TypeError, ValueError):
        return None
    return next((option for option in options if float(option) == number), None)


def check_latent_size_prediction(
    larger_kl: str, better_reconstruction: str, measured: dict, *, quiet: bool = False
) -> bool:
    """Predictions ("2" or "20") checked against ``measured = {latent_dim: {"kl": ..., "recon": ...}}``.
    Introduced in notebook 04."""
    return _report(_safely(_latent_size_prediction, larger_kl, better_reconstruction, measured), quiet)


def _latent_size_prediction(larger_kl: Any, better_reconstruction: Any, measured: dict) -> _Result:
    options = list(measured)
    answers = {}
    for name, value in (("larger_kl", larger_kl), ("better_reconstruction", better_reconstruction)):
        answers[name] = _one_of(value, options)
        if answers[name] is None:
            start = "Not attempted yet: set" if value is Ellipsis else f"you set {_describe(value)}; set"
            return _Result(False, f"{start} {name} to one of {sorted(str(k) for k in options)}.")
    kl_winner = max(measured, key=lambda k: measured[k]["kl"])
    recon_winner = min(measured, key=lambda k: measured[k]["recon"])
    lines = ", ".join(f"{k}-D: KL {v['kl']:.1f}, reconstruction {v['recon']:.1f}" for k, v in measured.items())
    if answers["larger_kl"] != kl_winner:
        return _Result(
            False,
            f"measured: {lines}. Hint: every dimension the encoder uses to carry information "
            "costs KL; more dimensions give it room to carry more.",
        )
    if answers["better_reconstruction"] != recon_winner:
        return _Result(
            False,
            f"measured: {lines}. Hint: the reconstruction term falls when the code carries "
            "more information about the image.",
        )
    return _Result(
        True,
        f"measured: {lines}. More latent dimensions carry more information: the KL term pays for "
        "it, the reconstruction term gains from it.",
    )


# --------------------------------------------------------------------------- notebook 05


def check_beta_reading(most_information, best_reconstruction, sweep: dict, *, quiet: bool = False) -> bool:
    """Answers (beta values) checked against ``sweep = {beta: {"kl": ..., "recon": ...}}`` (notebook 05)."""
    return _report(_safely(_beta_reading, most_information, best_reconstruction, sweep), quiet)


def _beta_reading(most_information: Any, best_reconstruction: Any, sweep: dict) -> _Result:
    betas = list(sweep)
    answers = {}
    for name, value in (("most_information", most_information), ("best_reconstruction", best_reconstruction)):
        answers[name] = _one_of(value, betas)
        if answers[name] is None:
            start = "Not attempted yet: set" if value is Ellipsis else f"you set {_describe(value)}; set"
            return _Result(False, f"{start} {name} to one of the betas {betas}.")
    most = max(betas, key=lambda b: sweep[b]["kl"])
    best = min(betas, key=lambda b: sweep[b]["recon"])
    table = ", ".join(f"beta {b}: KL {sweep[b]['kl']:.2f}, recon {sweep[b]['recon']:.1f}" for b in betas)
    if answers["most_information"] != most:
        return _Result(False, f"measured: {table}. Hint: the KL is the information in the code, and beta is its price.")
    if answers["best_reconstruction"] != best:
        return _Result(False, f"measured: {table}. Hint: which model can afford to put the most into its codes?")
    return _Result(
        True,
        f"measured: {table}. The cheaper information is, the more the codes carry and the better the reconstructions.",
    )


def _sharpness_cases() -> list[tuple[str, torch.Tensor]]:
    g = torch.Generator().manual_seed(0)
    cases = [("random", torch.rand(3, 1, 6, 7, generator=g)), ("a single image", torch.rand(1, 1, 5, 8, generator=g))]
    for seed, (b, h, w) in zip(CHECK_SEEDS, ((2, 2, 9), (3, 17, 5), (2, 31, 24))):  # never square
        g = torch.Generator().manual_seed(seed)
        noise = torch.rand(b, 1, h, w, generator=g)
        ramp = torch.linspace(0, 1, h)[:, None] * torch.linspace(0, 1, w)[None, :]
        images = torch.cat([noise, (noise > 0.5).float(), ramp.expand(b, 1, h, w), noise * 1e-3])
        cases.append((f"noise, binary, smooth and faint images of size {h} x {w}", images))
    return cases


def check_sharpness(fn: Callable[[torch.Tensor], torch.Tensor], *, quiet: bool = False) -> bool:
    """``fn(images)`` must match ``quality.sharpness`` (mean gradient magnitude per image) (notebook 05).
    Checked on random, binary, smooth and faint images of sizes from 2 x 9 to 31 x 24 (and a batch of one), within
    ``SHARPNESS_ATOL + SHARPNESS_RTOL * |expected|``."""
    return _report(_safely(_sharpness, fn), quiet)


def _sharpness_crash_hint(err: Exception) -> str | None:
    if "must match the size of tensor" in str(err):
        return (
            "dx is (H, W-1) and dy is (H-1, W): crop both to the same (H-1) x (W-1) pixels, dx[..., :-1, :] and "
            "dy[..., :, :-1], before combining them."
        )
    return None


def _sharpness(fn: Any) -> _Result:
    run = _Run()
    for name, images in _sharpness_cases():
        x = images.double()
        expected = sharpness(x)
        got, problem = _call(fn, images.clone(), hint=_sharpness_crash_hint)
        if problem:
            return run.result(False, problem)
        b = len(images)

        def shape_hint(shape: tuple, b=b) -> str | None:
            if shape == () and b == 1:
                return "a batch of one image still needs shape (1,): .squeeze() drops that dimension too"
            if shape in ((), (1,)):
                return "one number per image: take the mean of each image, .flatten(start_dim=1).mean(dim=1)"
            if len(shape) > 1 and shape[0] == b and math.prod(shape) == b:
                return "flatten each image before the mean, .flatten(start_dim=1).mean(dim=1), to get shape (B,)"
            return None

        got, problem = _tensor_answer(got, (b,), run, shape_hint)
        if problem:
            return run.result(False, f"for {b} image{'s' * (b != 1)} of size {tuple(images.shape[-2:])}: {problem}")
        ok = _close(got, expected, SHARPNESS_ATOL, SHARPNESS_RTOL, expected.abs())
        if bool(ok.all()):
            continue
        dx, dy = x[..., :-1, 1:] - x[..., :-1, :-1], x[..., 1:, :-1] - x[..., :-1, :-1]

        def per_image(t: torch.Tensor) -> torch.Tensor:
            return t.flatten(start_dim=1).mean(dim=1)

        patterns = [
            (
                per_image((x[..., :, 1:] - x[..., :, :-1]).abs()),
                "you use only the horizontal differences; add the vertical ones, sqrt(dx**2 + dy**2).",
            ),
            (
                per_image((x[..., 1:, :] - x[..., :-1, :]).abs()),
                "you use only the vertical differences; add the horizontal ones, sqrt(dx**2 + dy**2).",
            ),
            (per_image(dx.abs() + dy.abs()), "combine the differences as sqrt(dx**2 + dy**2), not |dx| + |dy|."),
            (per_image(dx**2 + dy**2), "take the square root: sqrt(dx**2 + dy**2)."),
            ((dx**2 + dy**2).sqrt().flatten(start_dim=1).sum(dim=1), "the mean per image, not the sum."),
        ]
        hint = next(
            (h for p, h in patterns if bool(_close(got, p, SHARPNESS_ATOL, SHARPNESS_RTOL, p.abs()).all())),
            "both differences must be taken on the same (H-1) x (W-1) pixels (the top-left ones: "
            "images[..., :-1, 1:] - images[..., :-1, :-1] and images[..., 1:, :-1] - images[..., :-1, :-1]), "
            "then sqrt(dx**2 + dy**2), then the mean per image.",
        )
        r = _first_bad(ok)[0]
        return run.result(
            False,
            f"for {name}, image {r}: you give {_fmt(got[r].item())}, expected {_fmt(expected[r].item())}. Hint: {hint}",
        )
    return run.result(True, "Your measure matches: sharp edges score high, blur scores low.")


# --------------------------------------------------------------------------- notebook 06


def _iwae_cases() -> list[tuple[str, torch.Tensor]]:
    g = torch.Generator().manual_seed(0)
    top = torch.tensor([-90.0, 20.0, -3000.0])  # each column: one weight, the three others 1e4 below it
    dominant = top - 1e4 + torch.randn(4, 3, generator=g)
    dominant[(0, 2, 3), (0, 1, 2)] = top
    cases = [  # never K == B: a reduction over the wrong dimension shows in the shape
        ("ordinary log weights", -100 + 3 * torch.randn(5, 3, generator=g)),
        ("a single sample", -100 + 3 * torch.randn(1, 4, generator=g)),
        ("very negative log weights, around -1e4", -1e4 + 3 * torch.randn(6, 3, generator=g)),
        ("large log weights, around +1e3", 1e3 + 3 * torch.randn(6, 3, generator=g)),
        ("one weight far above the others", dominant),
    ]
    for seed, (k, b) in zip(CHECK_SEEDS, ((5000, 7), (64, 1), (2, 5))):
        g = torch.Generator().manual_seed(seed)
        # column j spreads over its own slice of [1e-3, 1e3]: seven columns cover every decade
        spread = 10 ** ((torch.arange(b) + torch.rand(b, generator=g)) * 6 / b - 3)
        center = torch.rand(b, generator=g) * 1.1e4 - 1e4  # from -1e4 to +1e3
        cases.append((f"random log weights (seed {seed})", center + spread * torch.randn(k, b, generator=g)))
    return cases


def check_iwae_estimate(fn: Callable[[torch.Tensor], torch.Tensor], *, quiet: bool = False) -> bool:
    """``fn(log_weights)`` must turn log weights ``(K, B)`` into the importance-weighted estimate
    ``log((1/K) sum_k exp(log w_k))`` of each image, ``(B,)``, without overflow or underflow (notebook 06).
    Checked against ``torch.logsumexp(log_weights, 0) - log K`` (in float64) on ordinary log weights (around
    -100), a single sample (K = 1), very negative ones (around -1e4), large ones (around +1e3), columns where
    one weight is 1e4 above the others, and random ones (K up to 5000, B from 1 to 7, spreads from 1e-3 to
    1e3), within ``IWAE_ATOL + IWAE_RTOL * (|expected| + spread)``, the spread being the largest minus the
    smallest of the image's log weights."""
    return _report(_safely(_iwae, fn), quiet)


def _iwae_crash_hint(err: Exception) -> str | None:
    text = str(err)
    if "return_types" in text:
        return (
            "torch.max(log_weights, dim=0) returns a (values, indices) pair: take .values, or use "
            "log_weights.amax(dim=0)."
        )
    if "must match the size of tensor" in text:
        return (
            "the largest log weight of each image, m = log_weights.amax(dim=0), has shape (B,) and lines up with "
            "log_weights (K, B); a max over dim 1 does not."
        )
    return None


_FLOAT32_TINY_LOG = math.log(torch.finfo(torch.float32).tiny)  # -87.3: exp of less is below float32's normal range


def _iwae_matches(value: torch.Tensor, target: torch.Tensor, spread: torch.Tensor) -> bool:
    """``value`` is ``target`` everywhere: within the tolerance, or the same inf, or nan where it is nan."""
    finite = torch.isfinite(target)
    scale = torch.where(finite, target.abs(), torch.zeros_like(target)) + spread
    same = _close(value, target, IWAE_ATOL, IWAE_RTOL, scale) | (~finite & (value == target))
    return bool((same | (target.isnan() & value.isnan())).all())


def _iwae(fn: Any) -> _Result:
    run = _Run()
    for name, lw in _iwae_cases():
        k, b = lw.shape
        expected = torch.logsumexp(lw.double(), 0) - math.log(k)
        got, problem = _call(fn, lw.clone(), hint=_iwae_crash_hint)
        if problem:
            return run.result(False, problem)

        def shape_hint(shape: tuple, k=k, b=b) -> str | None:
            if shape == () and b == 1:
                return "a batch of one image still needs shape (1,): .squeeze() drops that dimension too"
            if shape == (1, b):
                return "keepdim=True keeps a (1, B) row: leave it out to return shape (B,)"
            if shape in ((k,), (), (1,), (k, b)):
                return "one value per image: reduce over dim 0, the K samples"
            return None

        got, problem = _tensor_answer(got, (b,), run, shape_hint)
        if problem:
            return run.result(False, f"for log weights of shape ({k}, {b}): {problem}")
        spread = lw.double().amax(0) - lw.double().amin(0)
        ok = _close(got, expected, IWAE_ATOL, IWAE_RTOL, expected.abs() + spread)
        if bool(ok.all()):
            continue
        value = got.detach().double()
        r = _first_bad(ok)[0]
        shown = [_fmt(x) for x in lw[:3, r].tolist()]
        return run.result(
            False,
            f"for {name}, image {r} (K = {k}: {shown}{'...' if k > 3 else ''}): you give {_fmt(value[r].item())}, "
            f"expected {_fmt(expected[r].item())}. Hint: {_iwae_hint(name, lw, value, r)}",
        )
    return run.result(True, "Your estimate matches torch.logsumexp(log_weights, 0) - log K, even at -1e4 and +1e3.")


def _iwae_hint(name: str, lw: torch.Tensor, value: torch.Tensor, r: int) -> str:
    """The hint for ``value``, wrong at image ``r`` of ``lw``: the first wrong formula it matches on every image."""
    k, b = lw.shape
    d = lw.double()
    expected, spread, m = torch.logsumexp(d, 0) - math.log(k), d.amax(0) - d.amin(0), d.amax(0)
    v, top = value[r].item(), m[r].item()

    def naive(t: torch.Tensor) -> torch.Tensor:
        return torch.log(torch.exp(t).mean(0)).double()

    def shifted_by_min(t: torch.Tensor) -> torch.Tensor:
        low = t.amin(0)
        return (low + torch.log(torch.exp(t - low).mean(0))).double()

    smaller = (
        "take out each image's largest log weight, m = log_weights.amax(dim=0): exp(lw - m) overflows for an m "
        "below it (the smallest or the mean log weight)."
    )
    patterns = [  # each formula in float32 where its float32 rounding is what makes it wrong, and in float64
        (naive(lw), None),  # log(mean(exp(lw))): worded below, from the value
        (naive(d), None),
        (shifted_by_min(lw), smaller),
        (shifted_by_min(d), smaller),
        (expected + math.log(k), "that is log of the sum; subtract log K for the mean."),
        ((expected + math.log(k)) / k, "log(sum / K) is log(sum) - log K: subtract log K, do not divide the log by K."),
        (
            expected + math.log(k) - math.log(b),
            "subtract log K, K = log_weights.shape[0] (the samples), not the log of the number of images.",
        ),
        (d.mean(0), "that is the mean of the logs (the ELBO's estimate), not the log of the mean."),
        (m, "the largest log weight alone is not the estimate; add log(mean(exp(lw - max)))."),
        (expected - m, "you took the largest log weight m out but did not add it back: m + log(mean(exp(lw - m)))."),
    ]
    matched = next((i for i, (p, _) in enumerate(patterns) if _iwae_matches(value, p, spread)), None)
    # an answer near the estimate where exp(lw) is below float32's normal range: the naive formula in another
    # order of operations (log(sum(exp(lw)) / K), ...), rounded differently
    underflow = matched is None and top < _FLOAT32_TINY_LOG and abs(v - expected[r].item()) < 1
    if matched in (0, 1) or underflow:
        stable = (
            "take out the largest log weight first (m = max over K; m + log(mean(exp(lw - m)))) or use torch.logsumexp."
        )
        if v == -math.inf:
            return f"exp(-1e4) is 0 in floating point, and log(0) = -inf: {stable}"
        if not math.isfinite(v):
            return f"exp(1e3) is inf in floating point: {stable}"
        return (
            f"in float32, exp({_fmt(top)}) = {math.exp(top):.2g} lies below the smallest normal number (1.2e-38) "
            f"and keeps only a digit or two (and exp(-1e4) is 0): {stable}"
        )
    if matched is not None:
        return patterns[matched][1]
    if not math.isfinite(v):
        return (
            "inf or nan: exp overflows above 88 (709 in float64) and is 0 below -103 (-745): take out each "
            "image's own largest log weight, m = log_weights.amax(dim=0), then m + log(mean(exp(lw - m)))."
        )
    if name.startswith("ordinary"):
        return (
            "the estimate is log((1/K) sum_k exp(log w_k)) over the K samples (dim 0): "
            "torch.logsumexp(log_weights, dim=0) - log K."
        )
    return (
        "right for ordinary log weights, wrong for these: K is log_weights.shape[0], and m + log(mean(exp(lw - m))), "
        "m = log_weights.amax(dim=0), holds for any K and any log weights (do not clamp or approximate)."
    )


# --------------------------------------------------------------------------- notebook 07


def _moments_of(p: torch.Tensor, centre: str = "mass") -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(mu20, mu02, mu11)`` of images ``p`` ``(B, H, W)`` (float64), x the column and y the row index, centred
    on each image's centre of mass (``centre="mass"``), on the middle of the image (``"middle"``) or not at all
    (``"none"``, raw moments): the formulas of the hints."""
    h, w = p.shape[-2:]
    y = torch.arange(h, dtype=p.dtype)[:, None]
    x = torch.arange(w, dtype=p.dtype)[None, :]
    mass = p.sum(dim=(1, 2))
    if centre == "mass":
        cx, cy = (p * x).sum(dim=(1, 2)) / mass, (p * y).sum(dim=(1, 2)) / mass
    elif centre == "middle":
        cx, cy = torch.full_like(mass, (w - 1) / 2), torch.full_like(mass, (h - 1) / 2)
    else:
        cx, cy = torch.zeros_like(mass), torch.zeros_like(mass)
    dx, dy = x - cx[:, None, None], y - cy[:, None, None]
    return tuple((p * t).sum(dim=(1, 2)) / mass for t in (dx * dx, dy * dy, dx * dy))


@functools.cache
def _slant_images() -> tuple[tuple[str, torch.Tensor], ...]:
    cases = [
        (
            "slanted bars",
            torch.stack(
                [
                    attributes.bar(4.0, 18.0, shear=0.4),
                    attributes.bar(3.0, 16.0, shear=-0.3),
                    attributes.bar(5.0, 14.0, shear=0.15, centre=(10.0, 16.0)),
                    attributes.bar(2.5, 20.0, shear=0.6, centre=(15.0, 12.0)),
                ]
            ),
        ),
        ("a single bar", attributes.bar(3.0, 18.0, shear=-0.5, centre=(12.0, 14.5))[None]),
        ("turned bars", torch.stack([attributes.bar(3.0, 16.0, angle=a) for a in (20.0, -35.0, 70.0)])),
    ]
    for seed, b in zip(CHECK_SEEDS, (5, 2, 7)):  # letter-like strokes: grey edges, any shape, any place
        g = torch.Generator().manual_seed(seed)
        images = []
        for _ in range(b):
            n = int(torch.randint(3, 7, (1,), generator=g))
            points = 4 + 20 * torch.rand(n, 2, generator=g, dtype=torch.float64)
            width = 1.5 + 2 * float(torch.rand(1, generator=g))
            images.append(attributes.draw_strokes(points, width) * (0.6 + 0.4 * float(torch.rand(1, generator=g))))
        cases.append((f"random strokes (seed {seed})", torch.stack(images)))
    return tuple(cases)


def check_slant(fn: Callable[[torch.Tensor], torch.Tensor], *, quiet: bool = False) -> bool:
    """``fn(images)`` must give the slant ``-mu11 / mu02`` of each image's ink, ``(B, 1, 28, 28) -> (B,)``
    (notebook 07): central second moments weighted by the pixels, x the column and y the row index.
    Checked against the moments in float64 on parallelograms of known slant (-0.5 to 0.6, off-centre too,
    and a batch of one), turned bars and random anti-aliased strokes, within
    ``SLANT_ATOL + SLANT_RTOL * |expected|``."""
    return _report(_safely(_slant, fn), quiet)


def _slant_crash_hint(err: Exception) -> str | None:
    if "must match the size of tensor" in str(err):
        return (
            "x, the column index, runs along the last dimension and y, the row index, along the one before: "
            "torch.arange(28)[None, :] and torch.arange(28)[:, None] broadcast against the images (B, 1, 28, 28)."
        )
    return None


def _slant(fn: Any) -> _Result:
    run = _Run()
    for name, images in _slant_images():
        p = images.double()[:, 0]
        _, mu02, mu11 = _moments_of(p)
        expected = -mu11 / mu02
        got, problem = _call(fn, images.clone(), hint=_slant_crash_hint)
        if problem:
            return run.result(False, problem)
        b = len(images)

        def shape_hint(shape: tuple, b=b) -> str | None:
            if shape == () and b == 1:
                return "a batch of one image still needs shape (1,): .squeeze() drops that dimension too"
            if shape in ((), (1,)):
                return "one slant per image: sum over each image's pixels, dim=(-2, -1), not over the whole batch"
            if len(shape) > 1 and shape[0] == b and math.prod(shape) == b:
                return "one number per image, shape (B,): sum over dim=(-3, -2, -1), or .flatten() the result"
            return "sum each image over its rows and columns, dim=(-2, -1), to get one number per image"

        got, problem = _tensor_answer(got, (b,), run, shape_hint)
        if problem:
            return run.result(False, f"for {b} image{'s' * (b != 1)} ({name}): {problem}")
        ok = _close(got, expected, SLANT_ATOL, SLANT_RTOL, expected.abs())
        if bool(ok.all()):
            continue
        value = got.detach().double()
        r = _first_bad(ok)[0]
        return run.result(
            False,
            f"for {name}, image {r}: you give {_fmt(value[r].item())}, expected {_fmt(expected[r].item())}. "
            f"Hint: {_slant_hint(images, value)}",
        )
    return run.result(
        True, "Your slant matches -mu11 / mu02 on every image: positive leaning right, negative leaning left."
    )


def _slant_hint(images: torch.Tensor, value: torch.Tensor) -> str:
    """The hint for ``value``, wrong on ``images``: the first wrong formula it matches on every image."""
    p = images.double()[:, 0]
    mu20, mu02, mu11 = _moments_of(p)
    expected = -mu11 / mu02
    _, raw02, raw11 = _moments_of(p, "none")
    _, mid02, mid11 = _moments_of(p, "middle")
    _, b02, b11 = _moments_of((p > 0.5).double())
    swapped = (
        "divide by mu02, the spread down the rows; x is the column index and y the row index (not the other way round)."
    )
    angle = "the slant is the shear itself, -mu11 / mu02 (pixels right per pixel up), not its angle"
    patterns = [
        (
            -expected,
            "rows count downwards (y is the row index), so a stroke leaning right has mu11 < 0: slant = -mu11 / mu02.",
        ),
        (-mu11 / mu20, swapped),
        (mu11 / mu20, swapped),
        (
            -raw11 / raw02,
            "centre the moments on the ink's centre of mass first: mu11 = sum p (x - cx)(y - cy) / sum p.",
        ),
        (
            -mid11 / mid02,
            "centre on the ink's own centre of mass, cx = sum p x / sum p (and cy alike), not on the middle of the image.",
        ),
        (torch.atan(expected), f"{angle} atan(-mu11 / mu02)."),
        (torch.atan(expected) * 180 / math.pi, f"{angle} in degrees."),
        (
            -mu11 / (mu20 * mu02).sqrt(),
            "that is the correlation of x and y; the slant divides by mu02 alone: -mu11 / mu02.",
        ),
        (-b11 / b02, "weigh each pixel by its grey value, p; do not threshold the image."),
    ]
    hint = next(
        (h for t, h in patterns if bool(_close(value, t, SLANT_ATOL, SLANT_RTOL, t.abs()).all())),
        None,
    )
    if hint:
        return hint
    if len(value) > 1 and bool((value == value[0]).all()) and not bool((expected == expected[0]).all()):
        return "every image gets the same slant: each has its own moments, sums over its own pixels (dim=(-2, -1)), not the whole batch's."
    if not bool(torch.isfinite(value).all()):
        return "inf or nan: divide by the mass and by mu02, both positive for an image with ink; check for a division by a raw coordinate."
    return (
        "slant = -mu11 / mu02, with x the column index, y the row index, the pixels as weights, and the moments "
        "centred on the ink's centre of mass (cx, cy)."
    )


def _direction_cases() -> list[tuple[str, torch.Tensor, torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(0)
    codes = torch.randn(40, 3, generator=g)
    cases = [
        (
            "one digit",
            codes,
            codes @ torch.tensor([1.0, 0.5, 0.0]) + 0.1 * torch.randn(40, generator=g),
            torch.full((40,), 3),
        )
    ]
    # three digits of unequal counts, each shifted along its own direction and with values of its own level:
    # pooled over the digits, the direction points from one digit to another rather than along w
    counts, digits = (40, 12, 5), (1, 4, 7)
    labels = torch.cat([torch.full((n,), d) for n, d in zip(counts, digits)])
    offsets = 4 * torch.randn(3, 4, generator=g)
    base = torch.randn(len(labels), 4, generator=g)
    level = torch.repeat_interleave(torch.tensor([0.0, 5.0, 10.0]), torch.tensor(counts))
    values = base @ torch.tensor([0.0, 1.0, -1.0, 0.5]) + level + 0.2 * torch.randn(len(labels), generator=g)
    shift = torch.repeat_interleave(offsets, torch.tensor(counts), dim=0)
    cases.append(("three digits of 40, 12 and 5 images, each shifted", base + shift, values, labels))
    for seed, (n, d, present) in zip(CHECK_SEEDS, ((500, 16, 10), (61, 2, 5), (2000, 5, 8))):
        g = torch.Generator().manual_seed(seed)
        digits = torch.randperm(10, generator=g)[:present]
        share = torch.rand(present - 1, generator=g) + 0.2  # unequal counts, and one digit with a single image
        labels = torch.cat([digits[torch.multinomial(share, n - 1, replacement=True, generator=g)], digits[-1:]])
        codes = (
            torch.randn(n, d, generator=g) * (0.5 + torch.rand(d, generator=g))
            + 3 * torch.randn(10, d, generator=g)[labels]
        )
        w, w2 = torch.randn(d, generator=g), torch.randn(d, generator=g)
        values = codes @ w + 0.3 * (codes @ w2).pow(2) + 2 * labels.float() + 0.5 * torch.randn(n, generator=g)
        cases.append((f"random codes (seed {seed})", codes, values, labels))
    return cases


def check_attribute_direction(
    fn: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor], *, quiet: bool = False
) -> bool:
    """``fn(codes, values, labels)`` must give the unit vector ``(D,)`` along which ``values`` grows (notebook 07):
    within each digit label, the mean code of the quarter of its images with the largest values minus that of
    the quarter with the smallest (``k = max(1, int(n * 0.25))`` images each), averaged over the labels present
    (each counts once), normalized to length 1. Checked against ``attributes.direction(..., method="means")``
    in float64 on one digit, on three digits of unequal counts shifted apart, and on random codes (N from 61 to
    2000, D from 2 to 16, 5 to 10 digits of unequal counts, one of them a single image), within
    ``DIRECTION_ATOL`` per entry."""
    return _report(_safely(_direction, fn), quiet)


def _direction_crash_hint(err: Exception) -> str | None:
    text = str(err)
    if "must match the size of tensor" in text or "shape mismatch" in text:
        return (
            "select one digit's images with a mask, m = labels == c, then codes[m] (n, D) and values[m] (n,) line up; "
            "sort the values with values[m].argsort() and pick codes by those positions."
        )
    return None


def _group_differences(
    codes: torch.Tensor, values: torch.Tensor, labels: torch.Tensor | None, pick: Callable[[int], tuple[int, int]]
) -> list[tuple[int, torch.Tensor]]:
    """``(n, mean code of the top images - mean code of the bottom images)`` for each label (float64), the numbers
    of top and bottom images given by ``pick(n)``: the reference and the wrong formulas of the hints."""
    out = []
    groups = (
        [torch.arange(len(codes))] if labels is None else [(labels == c).nonzero().flatten() for c in labels.unique()]
    )
    for g in groups:
        order = g[values[g].argsort()]
        top, bottom = pick(len(g))
        out.append((len(g), codes[order[len(g) - top :]].mean(0) - codes[order[:bottom]].mean(0)))
    return out


def _unit(w: torch.Tensor) -> torch.Tensor:
    return w / w.norm()


def _quarters(n: int) -> tuple[int, int]:
    k = max(1, int(n * 0.25))
    return k, k


def _direction(fn: Any) -> _Result:
    run = _Run()
    for name, codes, values, labels in _direction_cases():
        c, v = codes.double(), values.double()
        expected = _unit(torch.stack([d for _, d in _group_differences(c, v, labels, _quarters)]).mean(0))
        got, problem = _call(fn, codes.clone(), values.clone(), labels.clone(), hint=_direction_crash_hint)
        if problem:
            return run.result(False, problem)
        n, d = codes.shape
        present = len(labels.unique())

        def shape_hint(shape: tuple, n=n, d=d, present=present) -> str | None:
            if shape == (1, d):
                return "return the vector itself, shape (D,), not a row (1, D)"
            if len(shape) == 2 and shape[1] == d:
                return f"average the {present} digits' differences into one vector, .mean(dim=0)"
            if shape in ((), (1,)):
                return "return the direction, a vector of D numbers, not its length or a single number"
            return "one entry per latent dimension, shape (D,)"

        got, problem = _tensor_answer(got, (d,), run, shape_hint)
        if problem:
            return run.result(
                False, f"for codes of shape ({n}, {d}) of {present} digit{'s' * (present > 1)}: {problem}"
            )
        ok = _close(got, expected, DIRECTION_ATOL, 0.0, expected.abs())
        if bool(ok.all()):
            continue
        value = got.detach().double()
        i = _first_bad(ok)[0]
        return run.result(
            False,
            f"for {name} (codes of shape ({n}, {d}), {present} digit{'s' * (present > 1)}), entry {i} is "
            f"{_fmt(value[i].item())}, expected {_fmt(expected[i].item())}. Hint: {_direction_hint(c, v, labels, value)}",
        )
    return run.result(
        True,
        "Your direction matches: the top quarter minus the bottom quarter within each digit, averaged, as a unit vector.",
    )


def _direction_hint(codes: torch.Tensor, values: torch.Tensor, labels: torch.Tensor, value: torch.Tensor) -> str:
    """The hint for ``value``, wrong on these inputs: the first wrong formula it matches."""
    quarters = _group_differences(codes, values, labels, _quarters)
    mean = torch.stack([d for _, d in quarters]).mean(0)
    expected = _unit(mean)
    counts = torch.tensor([n for n, _ in quarters], dtype=torch.float64)

    def by(pick: Callable[[int], tuple[int, int]], labels=labels) -> torch.Tensor:
        return _unit(torch.stack([d for _, d in _group_differences(codes, values, labels, pick)]).mean(0))

    quarter = "compare the top quarter of each digit's images with its bottom quarter,"
    patterns = [
        (mean, "normalize the result to length 1: w / w.norm()."),
        (
            -expected,
            "top minus bottom: the mean code of the images with the largest values minus that of the smallest.",
        ),
        (
            by(_quarters, None),
            "work within each digit: the top and bottom quarter of each label's images, one difference per label, "
            "then their mean; pooled over all images, the direction also turns one digit into another.",
        ),
        (
            _unit(torch.stack([_unit(d) if d.norm() > 0 else d for _, d in quarters]).mean(0)),
            "average the digits' differences as they are, then normalize once at the end.",
        ),
        (
            _unit((counts[:, None] * torch.stack([d for _, d in quarters])).sum(0)),
            "average the digits' differences with equal weights: each digit counts once, whatever its number of images.",
        ),
        (
            by(lambda n: (max(1, int(n * 0.25)), max(1, n - max(1, int(n * 0.25))))),
            f"{quarter} not with all the rest (or all the images).",
        ),
        (by(lambda n: (max(1, n // 2), max(1, n // 2))), f"{quarter} not halves (a median split)."),
        (by(lambda n: (max(1, n // 2), max(1, n - n // 2))), f"{quarter} not halves (a median split)."),
        (
            by(lambda n: (max(1, math.ceil(n / 4)),) * 2),
            "k = max(1, int(n * 0.25)) images at each end: int() rounds down.",
        ),
        (by(lambda n: (max(1, round(n / 4)),) * 2), "k = max(1, int(n * 0.25)) images at each end: int() rounds down."),
    ]
    hint = next(
        (h for t, h in patterns if bool(_close(value, t, DIRECTION_ATOL, 0.0, t.abs()).all())),
        None,
    )
    if hint:
        return hint
    if not bool(torch.isfinite(value).all()):
        return (
            "nan: the mean of no codes. A digit with fewer than 4 images has int(n * 0.25) = 0, so take "
            "k = max(1, int(n * 0.25)); and loop over the labels present, labels.unique(), not range(10)."
        )
    return (
        "for each label c present (labels.unique()): sort that digit's values, take the mean code of its k = "
        "max(1, int(n * 0.25)) largest minus that of its k smallest; average these differences, then divide by the norm."
    )


def _style_models() -> dict[int, ConditionalVAE]:
    """Small untrained conditional VAEs, latent 2 and 3, drawn without touching the notebook's random stream."""
    models = {}
    for seed, latent in zip(CHECK_SEEDS, (3, 2)):
        with torch.random.fork_rng(devices=[]):
            torch.default_generator.manual_seed(seed)
            models[latent] = ConditionalVAE(latent_dim=latent, hidden_dims=(16,)).eval()
    return models


def _style_cases() -> list[tuple[str, ConditionalVAE, torch.Tensor, int]]:
    models = _style_models()
    g = torch.Generator().manual_seed(0)
    strokes = attributes.draw_strokes(torch.tensor([[8.0, 6.0], [20.0, 8.0], [10.0, 22.0]]))
    return [
        ("a 3-D model, a bar labelled 7", models[3], attributes.bar(3.0, 18.0, shear=0.3), 7),
        ("a 3-D model, strokes labelled 2", models[3], strokes, 2),
        ("a 2-D model, a random image labelled 0", models[2], torch.rand(1, 28, 28, generator=g), 0),
        ("a 2-D model, a bar labelled 9", models[2], attributes.bar(4.0, 16.0, shear=-0.2), 9),
    ]


def check_style_sheet(fn: Callable[[ConditionalVAE, torch.Tensor, int], torch.Tensor], *, quiet: bool = False) -> bool:
    """``fn(cvae, image, label)`` must write the style of ``image`` ``(1, 28, 28)`` as every digit (notebook 07):
    encode it with its own ``label``, take the mean code ``mu`` (no sample), decode it with each label 0 to 9 in
    order, and return pixel probabilities ``(10, 1, 28, 28)``. Checked against the same steps in float64 on small
    untrained ``ConditionalVAE`` models (latent 2 and 3) and four images (labels 7, 2, 0 and 9), within
    ``STYLE_SHEET_ATOL``; each call gets its own copy of the model, and the random stream is seeded inside
    and restored afterwards."""
    return _report(_safely(_style_sheet_check, fn), quiet)


def _style_sheet_crash_hint(err: Exception) -> str | None:
    text = str(err)
    if "y must be a tensor" in text:
        return "the model takes labels as a tensor, one per image or code: torch.tensor([label]) and torch.arange(10)."
    if "single image" in text or "must be shaped (B" in text:
        return "encode takes a batch: image.reshape(1, -1) (or image[None]) is a batch of one image."
    if "y must hold one label per" in text:
        return "one label per row: encode with torch.tensor([label]) (1 image), decode 10 copies of mu with torch.arange(10)."
    if "expanded size" in text:
        return "mu has shape (1, latent_dim): mu.expand(10, -1) (or mu.repeat(10, 1)) works whatever the model's latent size."
    if "numpy() on Tensor that requires grad" in text:
        return "decode inside `with torch.no_grad():` (or .detach() the result) before turning it into NumPy."
    return None


def _style_sheet_check(fn: Any) -> _Result:
    with torch.random.fork_rng(devices=[]):  # an answer that samples gets the same noise at every check
        torch.default_generator.manual_seed(0)
        return _style_sheet_steps(fn)


def _style_sheet_steps(fn: Any) -> _Result:
    run = _Run()
    for name, model, image, label in _style_cases():
        double = copy.deepcopy(model).double()
        expected = _style_sheet(double, image.double(), label)
        got, problem = _call(fn, copy.deepcopy(model), image.clone(), label, hint=_style_sheet_crash_hint)
        if problem:
            return run.result(False, problem)
        if isinstance(got, tuple) and len(got) == 3:
            return run.result(
                False,
                f"for {name}: you give {_describe(got)}. Hint: cvae(x, y) returns (logits, mu, logvar) and decodes a "
                "sample; call cvae.encode and cvae.decode yourself, and return the one tensor of images.",
            )

        def shape_hint(shape: tuple) -> str | None:
            if shape == (10, 784):
                return "decode already returns images (10, 1, 28, 28): keep that shape, or .view(10, 1, 28, 28)"
            if shape == (10, 28, 28):
                return "keep the channel dimension: (10, 1, 28, 28), as decode returns it"
            if shape in ((1, 1, 28, 28), (1, 28, 28), (1, 784)):
                return "one image per digit: decode the same code with each of the 10 labels, torch.arange(10)"
            if math.prod(shape) == 10 * 784:
                return "return decode's images as they are, (10, 1, 28, 28), one row per digit"
            return None

        got, problem = _tensor_answer(got, (10, 1, 28, 28), run, shape_hint)
        if problem:
            return run.result(False, f"for {name}: {problem}")
        ok = _close(got, expected, STYLE_SHEET_ATOL, 0.0, expected.abs())
        if bool(ok.all()):
            continue
        value = got.detach().double()
        r, _, i, j = _first_bad(ok)
        hint = _style_sheet_hint(double, image.double(), label, value)
        if hint is None:
            again, _ = _call(fn, copy.deepcopy(model), image.clone(), label)
            again, _ = _tensor_answer(again, (10, 1, 28, 28), _Run()) if again is not None else (None, None)
            if again is not None and not torch.equal(again.detach().double(), value):
                hint = (
                    "your sheet changes from call to call: decode the mean code mu itself, not a sample "
                    "(no reparameterize, torch.randn or model(x, y), which samples)."
                )
            elif not bool(((value >= 0) & (value <= 1)).all()):
                hint = "decode returns logits: apply torch.sigmoid to get pixel probabilities in [0, 1]."
            else:
                hint = (
                    "mu, _ = cvae.encode(image.reshape(1, -1), torch.tensor([label])); then "
                    "torch.sigmoid(cvae.decode(mu.expand(10, -1), torch.arange(10)))."
                )
        return run.result(
            False,
            f"for {name}, digit {r}, pixel ({i}, {j}): you give {_fmt(value[r, 0, i, j].item())}, expected "
            f"{_fmt(expected[r, 0, i, j].item())}. Hint: {hint}",
        )
    return run.result(True, "Your style sheet matches: one code, its mean, written as every digit in turn.")


def _style_sheet_hint(cvae: ConditionalVAE, image: torch.Tensor, label: int, value: torch.Tensor) -> str | None:
    """The hint for ``value``, wrong for ``image``: the first wrong formula it matches, else None."""
    digits = torch.arange(cvae.num_classes)
    with torch.no_grad():
        x = image.reshape(1, -1)
        mu = cvae.encode(x, torch.tensor([label]))[0]
        logits = cvae.decode(mu.expand(len(digits), -1), digits)
        with_zero = torch.sigmoid(cvae.decode(cvae.encode(x, torch.tensor([0]))[0].expand(len(digits), -1), digits))
        each = torch.sigmoid(cvae.decode(cvae.encode(x.expand(len(digits), -1), digits)[0], digits))
        own = torch.sigmoid(cvae.decode(mu, torch.tensor([label]))).expand(len(digits), -1, -1, -1)
    sheet = torch.sigmoid(logits)
    patterns = [
        (logits, "decode returns logits: apply torch.sigmoid to get pixel probabilities in [0, 1]."),
        (with_zero, "encode the image with its own label, torch.tensor([label]), not label 0."),
        (
            each,
            "encode once, with the image's own label, and decode that one code with every label: the style "
            "stays, the digit changes.",
        ),
        (sheet.flip(0), "row i must be digit i: decode with torch.arange(10), from 0 to 9."),
        (own, "decode the code with each label 0 to 9 in turn, torch.arange(10), not only with the image's own."),
        (torch.sigmoid(sheet), "apply torch.sigmoid once: decode gives logits, sigmoid turns them into probabilities."),
    ]
    return next((h for t, h in patterns if bool(_close(value, t, STYLE_SHEET_ATOL, 0.0, t.abs()).all())), None)


def _auroc_cases() -> list[tuple[str, torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(0)
    same = torch.randn(8, generator=g)
    cases = [  # the fixed cases first, never two sets of one length but the identical ones
        ("two separated sets", torch.randn(7, generator=g), 10 + torch.randn(5, generator=g)),
        ("two sets the wrong way round", 10 + torch.randn(6, generator=g), torch.randn(9, generator=g)),
        ("identical sets", same, same.clone()),
        (
            "whole-number scores, many ties",
            torch.randint(0, 5, (40,), generator=g).float(),
            torch.randint(1, 6, (60,), generator=g).float(),
        ),
        ("one inside score against 5000 outside", torch.randn(1, generator=g), torch.randn(5000, generator=g)),
    ]
    for seed, (n_in, n_out, shift) in zip(CHECK_SEEDS, ((2000, 3000, 0.5), (300, 50, 1.5), (20, 700, -0.3))):
        g = torch.Generator().manual_seed(seed)
        inside, outside = torch.randn(n_in, generator=g), shift + torch.randn(n_out, generator=g)
        cases.append((f"random normal scores shifted by {shift} (seed {seed})", inside, outside))
    return cases


def check_auroc(fn: Callable[[torch.Tensor, torch.Tensor], float], *, quiet: bool = False) -> bool:
    """``fn(inside, outside)`` must give the area under the ROC curve, one number (notebook 07): the share of
    the pairs (an inside score, an outside score) in which the outside score is larger, ties counted half.
    Checked against a count of every pair in float64 on two separated sets (1), the same the wrong way round (0),
    identical sets (0.5), whole-number scores with many ties, 1 score against 5000, and random normal scores
    (up to 2000 x 3000), within ``AUROC_ATOL``. A Python float, a NumPy number or a 0-d tensor are all fine."""
    return _report(_safely(_auroc, fn), quiet)


def _auroc_crash_hint(err: Exception) -> str | None:
    if "must match the size of tensor" in str(err):
        return (
            "compare every inside score with every outside score: outside[None, :] > inside[:, None] is a "
            "(len(inside), len(outside)) table of all the pairs."
        )
    return None


def _number(value: Any, run: _Run) -> tuple[float | None, str | None]:
    """The answer as a float, or ``(None, a hint)``; a one-element tensor or array of shape (1,) is noted and read."""
    original = value
    if isinstance(value, (torch.Tensor, np.ndarray)):
        if (value.numel() if isinstance(value, torch.Tensor) else value.size) != 1:
            return None, f"you give {_describe(value)}; return one number."
        if value.ndim:
            run.note(f"(your answer was {_describe(value)}; read as one number)")
        value = value.item()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None, f"you give {_describe(original)}; return one number."
    if not math.isfinite(value):
        return None, f"you give {value}. Hint: a share of pairs is a number from 0 to 1; check for a division by 0."
    return float(value), None


def _auroc(fn: Any) -> _Result:
    run = _Run()
    for name, inside, outside in _auroc_cases():
        a, b = inside.double(), outside.double()
        pairs = len(a) * len(b)  # every pair counted (exactly, in int64), then the shares in float64
        greater = int((b[None, :] > a[:, None]).sum()) / pairs
        equal = int((b[None, :] == a[:, None]).sum()) / pairs
        expected = greater + 0.5 * equal
        got, problem = _call(fn, inside.clone(), outside.clone(), hint=_auroc_crash_hint)
        if problem:
            return run.result(False, problem)
        where = f"{len(inside)} inside and {len(outside)} outside scores"
        got, problem = _number(got, run)
        if problem:
            return run.result(False, f"for {where}: {problem}")
        if abs(got - expected) <= AUROC_ATOL:
            continue
        n_in, n_out = len(inside), len(outside)
        ties = "ties count half: the share of pairs with outside > inside, plus half the share with outside == inside."
        share = f"divide the count of pairs by their number, len(inside) * len(outside) = {pairs}"
        patterns = [
            (greater + equal, ties),
            (greater, ties),
            (
                1 - expected,
                "outside scores should be larger: count the pairs with outside > inside, not inside > outside.",
            ),
            (
                1 - greater,
                "outside scores should be larger: count the pairs with outside > inside, not inside > outside.",
            ),
            (expected * pairs, f"that is the number of pairs; {share}."),
            (expected * n_out, f"{share}, not by len(inside)."),
            (expected * n_in, f"{share}, not by len(outside)."),
            (expected * pairs / (n_in + n_out), f"{share}, not by the number of scores."),
        ]
        hint = next(
            (h for p, h in patterns if abs(got - p) <= AUROC_ATOL),
            "count the pairs (an inside score, an outside score) in which the outside score is larger, add half the "
            "ties, and divide by len(inside) * len(outside).",
        )
        return run.result(False, f"for {name} ({where}): you give {_fmt(got)}, expected {_fmt(expected)}. Hint: {hint}")
    return run.result(True, "Your AUROC matches a count of every pair, ties counted half.")


# --------------------------------------------------------------------------- the course's own versions


def _bce_with_logits(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return F.binary_cross_entropy_with_logits(logits, x, reduction="none")


def _interpolate(z0: torch.Tensor, z1: torch.Tensor, steps: int) -> torch.Tensor:
    t = torch.linspace(0, 1, steps, device=z0.device)[:, None]
    return (1 - t) * z0 + t * z1


def _iwae_estimate(log_weights: torch.Tensor) -> torch.Tensor:
    return bounds.log_mean_exp(log_weights, dim=0)


def _attribute_direction(codes: torch.Tensor, values: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    return attributes.direction(codes, values, labels, method="means")


def _style_sheet(cvae: ConditionalVAE, image: torch.Tensor, label: int) -> torch.Tensor:
    with torch.no_grad():
        mu, _ = cvae.encode(image.reshape(1, -1), torch.tensor([int(label)], device=image.device))
        return torch.sigmoid(
            cvae.decode(mu.expand(cvae.num_classes, -1), torch.arange(cvae.num_classes, device=image.device))
        )


# exercise function name -> (the course's version, its check)
REFERENCES: dict[str, tuple[Callable, Callable[[Callable], bool]]] = {
    "bce_with_logits": (_bce_with_logits, check_bce_with_logits),
    "interpolate": (_interpolate, check_interpolate),
    "reparameterize": (MLPVAE.reparameterize, check_reparameterize),
    "kl_divergence": (losses.kl_divergence, check_kl),
    "iwae_estimate": (_iwae_estimate, check_iwae_estimate),
    "slant": (attributes.slant, check_slant),
    "attribute_direction": (_attribute_direction, check_attribute_direction),
    "style_sheet": (_style_sheet, check_style_sheet),
    "auroc": (anomaly.auroc, check_auroc),
}

# what the checks above run, returning a _Result; and for the functions the notebooks train with, small
# inputs to try gradients on (a NumPy answer can be right, yet the training cells could not use it)
_VERDICTS: dict[str, Callable[[Any], _Result]] = {
    "bce_with_logits": _bce,
    "interpolate": _interpolate_check,
    "reparameterize": _reparameterize_check,
    "kl_divergence": _kl,
    "iwae_estimate": _iwae,
    "slant": _slant,
    "attribute_direction": _direction,
    "style_sheet": _style_sheet_check,
    "auroc": _auroc,
}
_NUMBERS = {"auroc"}  # exercise functions that return one number, not a tensor
_TRAINED_WITH = {
    "bce_with_logits": lambda: (torch.tensor([[-2.0, 0.5, 3.0]]), torch.tensor([[0.0, 0.4, 1.0]])),
    "kl_divergence": lambda: (torch.tensor([[-1.0, 0.5, 2.0]]), torch.tensor([[0.3, -1.0, 1.5]])),
}


def reference(name: str) -> Callable:
    """The course's own version of exercise function ``name``."""
    if name not in REFERENCES:
        raise KeyError(f"No exercise function named {name!r}; known: {', '.join(REFERENCES)}.")
    return REFERENCES[name][0]


def _converting(fn: Callable) -> Callable:
    """``fn`` whose answer comes back as a tensor of its first float input's dtype and device."""

    @functools.wraps(fn)
    def converted(*args: Any, **kwargs: Any) -> Any:
        value = fn(*args, **kwargs)
        like = next((a for a in args if isinstance(a, torch.Tensor) and a.is_floating_point()), None)
        tensor, _, problem = _as_float_tensor(value)
        if problem:
            return value
        return tensor.to(like.device, like.dtype) if like is not None else tensor

    return converted


def _as_number(fn: Callable) -> Callable:
    """``fn`` whose one-number answer (a one-element tensor or array) comes back as a Python float."""

    @functools.wraps(fn)
    def converted(*args: Any, **kwargs: Any) -> Any:
        value = fn(*args, **kwargs)
        number, problem = _number(value, _Run())
        return value if problem else number

    return converted


def _passes_gradients(fn: Callable, inputs: tuple[torch.Tensor, ...]) -> bool:
    try:
        leaves = [t.clone().requires_grad_(True) for t in inputs]
        out = fn(*leaves)
        if not isinstance(out, torch.Tensor) or out.grad_fn is None:
            return False
        out.sum().backward()
        return all(t.grad is not None and bool(torch.isfinite(t.grad).all()) for t in leaves)
    except Exception:
        return False


def yours_or_reference(name: str, fn: Callable) -> Callable:
    """The learner's ``fn`` when it passes its check (run quietly, without touching the random state),
    else the course's version, with one printed line saying so; the cells below then work either way.
    An answer that needed converting (float64, NumPy, a list) comes back wrapped so that it returns a tensor
    like its input; one the notebook trains with must also pass gradients. Never raises for any ``fn``
    (a ``name`` that is no exercise is the notebook's error: KeyError). Introduced in notebook 03."""
    ref = reference(name)
    try:
        with (
            torch.random.fork_rng(),
            contextlib.redirect_stdout(io.StringIO()),
            contextlib.redirect_stderr(io.StringIO()),
        ):
            result = _safely(_VERDICTS[name], fn)
            wrap = _as_number if name in _NUMBERS else _converting
            mine = wrap(fn) if result.ok and result.converted else fn
            blocked = result.ok and name in _TRAINED_WITH and not _passes_gradients(mine, _TRAINED_WITH[name]())
    except Exception:  # nothing the learner wrote may stop the notebook here
        result, blocked = _Result(False, ""), False
    if result.ok and not blocked:
        return mine
    if blocked:
        print(
            f"Your `{name}` is right, but gradients cannot flow through it (NumPy, .detach() or .item() inside?), and "
            f"the cells below train with it, so they use the course's version, "
            f"`vae_helpers.exercises.reference({name!r})`. Rewrite it with torch operations any time."
        )
    else:
        print(
            f"Your `{name}` does not pass its check yet (see the exercise above), so the cells below use the "
            f"course's version, `vae_helpers.exercises.reference({name!r})`. Come back to the exercise any time."
        )
    return ref
