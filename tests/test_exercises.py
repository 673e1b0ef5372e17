"""The checks must accept right answers in any form, reject plausible wrong ones with a one-line hint, never
raise, and keep their tolerances; yours_or_reference must never hand a wrong answer to the cells below."""

import functools
import math
import os
import re
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from vae_helpers import anomaly, attributes, bounds, exercises, models
from vae_helpers.quality import sharpness

# --------------------------------------------------------------------------- right answers, each in several types


def conv_size(s, k, st, p):
    return (s - 1) * st - 2 * p + k


def conv_params(i, o, k):
    return i * o * k * k + o


def onehot_params(n, c, k):
    return n * c * k * k + c


def one_hot(index, n):
    out = torch.zeros(len(index), n)
    out[torch.arange(len(index)), index] = 1.0
    return out


def bce(logits, x):
    return logits.clamp(min=0) - logits * x + torch.log1p(torch.exp(-logits.abs()))


def bce_numpy(logits, x):
    logits, x = logits.numpy().astype(np.float64), x.numpy().astype(np.float64)
    return np.maximum(logits, 0) - logits * x + np.log1p(np.exp(-np.abs(logits)))


def interpolate(z0, z1, steps):
    t = torch.linspace(0, 1, steps)[:, None]
    return (1 - t) * z0 + t * z1


def interpolate_numpy(z0, z1, steps):
    t = np.linspace(0, 1, steps)[:, None]  # float64
    return (1 - t) * z0.numpy() + t * z1.numpy()


def reparameterize(mu, logvar):
    return mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)


def reparameterize_columns_correlated(mu, logvar):  # every column's noise shares a part with the first column's
    eps = torch.randn_like(mu)
    if mu.ndim == 2:
        eps = torch.cat([eps[:, :1], 0.6 * eps[:, :1] + 0.8 * eps[:, 1:]], dim=1)
    return mu + torch.exp(0.5 * logvar) * eps


def reparameterize_rows(mu, logvar):  # a list of rows, stacked by the check
    return [m + torch.exp(0.5 * lv) * torch.randn_like(m) for m, lv in zip(mu, logvar)]


def kl(mu, logvar):
    return 0.5 * (mu.pow(2) + logvar.exp() - logvar - 1).sum(dim=1)


def kl_numpy(mu, logvar):
    m, lv = mu.numpy().astype(np.float64), logvar.numpy().astype(np.float64)
    return 0.5 * (m**2 + np.exp(lv) - lv - 1).sum(axis=1)


def mean_gradient(images):
    dx = images[..., :-1, 1:] - images[..., :-1, :-1]
    dy = images[..., 1:, :-1] - images[..., :-1, :-1]
    return (dx**2 + dy**2).sqrt().flatten(start_dim=1).mean(dim=1)


def mean_gradient_numpy(images):
    x = images.numpy().astype(np.float64)
    dx, dy = x[..., :-1, 1:] - x[..., :-1, :-1], x[..., 1:, :-1] - x[..., :-1, :-1]
    return np.sqrt(dx**2 + dy**2).reshape(len(x), -1).mean(axis=1)


def iwae_estimate(log_weights):
    return torch.logsumexp(log_weights, dim=0) - math.log(len(log_weights))


def iwae_estimate_numpy(log_weights):
    lw = log_weights.numpy().astype(np.float64)
    m = lw.max(axis=0)
    return m + np.log(np.exp(lw - m).mean(axis=0))


def iwae_estimate_by_hand(log_weights):
    m = log_weights.amax(dim=0)
    return m + torch.log(torch.exp(log_weights - m).mean(dim=0))


def slant(images):
    p = images[:, 0]
    y = torch.arange(p.shape[-2], dtype=p.dtype)[:, None]
    x = torch.arange(p.shape[-1], dtype=p.dtype)[None, :]
    mass = p.sum(dim=(1, 2))
    cx, cy = (p * x).sum(dim=(1, 2)) / mass, (p * y).sum(dim=(1, 2)) / mass
    dx, dy = x - cx[:, None, None], y - cy[:, None, None]
    return -(p * dx * dy).sum(dim=(1, 2)) / (p * dy * dy).sum(dim=(1, 2))


def slant_raw_moments(images):  # E[xy] - cx cy in float32: the cancellation the tolerance allows for
    p = images[:, 0]
    y = torch.arange(28.0)[:, None]
    x = torch.arange(28.0)[None, :]
    mass = p.sum(dim=(1, 2))
    cx, cy = (p * x).sum(dim=(1, 2)) / mass, (p * y).sum(dim=(1, 2)) / mass
    mu11 = (p * x * y).sum(dim=(1, 2)) / mass - cx * cy
    mu02 = (p * y * y).sum(dim=(1, 2)) / mass - cy * cy
    return -mu11 / mu02


def slant_numpy(images):
    p = images[:, 0].numpy().astype(np.float64)
    rows, cols = np.mgrid[0:28, 0:28]
    mass = p.sum(axis=(1, 2))
    cx, cy = (p * cols).sum(axis=(1, 2)) / mass, (p * rows).sum(axis=(1, 2)) / mass
    dx, dy = cols - cx[:, None, None], rows - cy[:, None, None]
    return -(p * dx * dy).sum(axis=(1, 2)) / (p * dy**2).sum(axis=(1, 2))


def slant_loop(images):
    out = []
    for image in images:
        p = image[0]
        ys, xs = torch.meshgrid(torch.arange(28.0), torch.arange(28.0), indexing="ij")
        m = p.sum()
        dx, dy = xs - (p * xs).sum() / m, ys - (p * ys).sum() / m
        out.append(-(p * dx * dy).sum() / (p * dy**2).sum())
    return torch.stack(out)


def slant_by(formula, binary=False):  # a wrong slant from the moments: formula(mu20, mu02, mu11, raw11, raw02)
    def answer(images):
        p = images[:, 0].double()
        p = (p > 0.5).double() if binary else p
        y, x = torch.arange(28.0, dtype=torch.float64)[:, None], torch.arange(28.0, dtype=torch.float64)[None, :]
        m = p.sum(dim=(1, 2))
        cx, cy = (p * x).sum(dim=(1, 2)) / m, (p * y).sum(dim=(1, 2)) / m
        dx, dy = x - cx[:, None, None], y - cy[:, None, None]
        mu20, mu02, mu11 = ((p * t).sum(dim=(1, 2)) / m for t in (dx * dx, dy * dy, dx * dy))
        raw11, raw02 = ((p * t).sum(dim=(1, 2)) / m for t in (x * y, y * y))
        return formula(mu20, mu02, mu11, raw11, raw02)

    return answer


def slant_middle(images):  # centred on the middle of the image, not on the ink
    p = images[:, 0]
    y, x = torch.arange(28.0)[:, None] - 13.5, torch.arange(28.0)[None, :] - 13.5
    return -(p * x * y).sum(dim=(1, 2)) / (p * y * y).sum(dim=(1, 2))


def slant_pooled(images):  # the whole batch as one image
    pooled = images.sum(dim=0, keepdim=True)
    return slant(pooled).expand(len(images))


def direction(codes, values, labels):
    diffs = []
    for c in labels.unique():
        m = labels == c
        k = max(1, int(m.sum() * 0.25))
        order = values[m].argsort()
        diffs.append(codes[m][order[-k:]].mean(0) - codes[m][order[:k]].mean(0))
    w = torch.stack(diffs).mean(0)
    return w / w.norm()


def direction_numpy(codes, values, labels):
    codes, values, labels = codes.numpy().astype(np.float64), values.numpy(), labels.numpy()
    diffs = []
    for c in np.unique(labels):
        cc, vv = codes[labels == c], values[labels == c]
        k = max(1, int(len(vv) * 0.25))
        order = np.argsort(vv)
        diffs.append(cc[order[-k:]].mean(axis=0) - cc[order[:k]].mean(axis=0))
    w = np.mean(diffs, axis=0)
    return w / np.linalg.norm(w)


def direction_topk(codes, values, labels):
    total = torch.zeros(codes.shape[1])
    present = labels.unique()
    for c in present:
        cc, vv = codes[labels == c], values[labels == c]
        k = max(1, int(len(vv) * 0.25))
        top, bottom = vv.topk(k).indices, (-vv).topk(k).indices
        total += cc[top].mean(0) - cc[bottom].mean(0)
    return total / total.norm()  # the sum: the mean's direction


def direction_by(pick, weighted=False, each=False, pooled=False, normalize=True, sign=1.0):
    def answer(codes, values, labels):
        groups = [labels == labels] if pooled else [labels == c for c in range(10)]
        diffs, counts = [], []
        for m in groups:
            n = int(m.sum())
            if n == 0:
                continue
            top, bottom = pick(n)
            order = values[m].argsort()
            d = codes[m][order[n - top :]].mean(0) - codes[m][order[:bottom]].mean(0)
            diffs.append(d / d.norm() if each and d.norm() > 0 else d)
            counts.append(n)
        d = torch.stack(diffs)
        w = (torch.tensor(counts, dtype=d.dtype)[:, None] * d).sum(0) if weighted else d.mean(0)
        return sign * (w / w.norm() if normalize else w)

    return answer


def quarter(n):
    k = max(1, int(n * 0.25))
    return k, k


def direction_top_only(codes, values, labels):  # no bottom quarter subtracted
    w = torch.stack([codes[labels == c][values[labels == c].argsort()[-10:]].mean(0) for c in labels.unique()]).mean(0)
    return w / w.norm()


def direction_range10(codes, values, labels):  # the digits absent from the labels give the mean of no codes
    diffs = []
    for c in range(10):
        m = labels == c
        k = max(1, int(m.sum() * 0.25))
        order = values[m].argsort()
        diffs.append(codes[m][order[-k:]].mean(0) - codes[m][order[:k]].mean(0))
    w = torch.stack(diffs).mean(0)
    return w / w.norm()


def direction_per_label(codes, values, labels):  # the differences, never averaged
    rows = []
    for c in labels.unique():
        m = labels == c
        k = max(1, int(m.sum() * 0.25))
        order = values[m].argsort()
        rows.append(codes[m][order[-k:]].mean(0) - codes[m][order[:k]].mean(0))
    rows = torch.stack(rows)
    return rows / rows.norm(dim=1, keepdim=True).clamp(min=1e-12)


def style_sheet(cvae, image, label):
    with torch.no_grad():
        mu, _ = cvae.encode(image.reshape(1, -1), torch.tensor([label]))
        return torch.sigmoid(cvae.decode(mu.repeat(10, 1), torch.arange(10)))


def style_sheet_loop(cvae, image, label):  # with gradients: the check does not need them off
    mu, _ = cvae.encode(image[None], torch.tensor([label]))
    return torch.cat([torch.sigmoid(cvae.decode(mu, torch.tensor([digit]))) for digit in range(10)])


def style_sheet_by(code_label=None, decode_labels=None, sample=False, sigmoid=True):
    def answer(cvae, image, label):
        with torch.no_grad():
            x = image.reshape(1, -1)
            if code_label == "each":
                mu, logvar = cvae.encode(x.expand(10, -1), torch.arange(10))
            else:
                mu, logvar = cvae.encode(x, torch.tensor([label if code_label is None else code_label]))
                mu, logvar = mu.expand(10, -1), logvar.expand(10, -1)
            z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu) if sample else mu
            y = torch.arange(10) if decode_labels is None else decode_labels(label)
            logits = cvae.decode(z, y)
            return torch.sigmoid(logits) if sigmoid else logits

    return answer


def style_sheet_latent_2(cvae, image, label):  # the notebook's model has 2 latent dimensions; the check's need not
    with torch.no_grad():
        mu, _ = cvae.encode(image.reshape(1, -1), torch.tensor([label]))
        return torch.sigmoid(cvae.decode(mu.expand(10, 2), torch.arange(10)))


def style_sheet_2d_only(cvae, image, label):  # wrong only where the 3-D model's cases are
    return (
        style_sheet(cvae, image, label) if cvae.latent_dim == 2 else style_sheet_by(sigmoid=False)(cvae, image, label)
    )


def auroc_shared_values(inside, outside):  # ties: one per value the sets share, not one per tied pair
    greater = (outside[None, :] > inside[:, None]).double().mean().item()
    shared = len(set(inside.tolist()) & set(outside.tolist()))
    return greater + 0.5 * shared / (len(inside) * len(outside))


def auroc_pairs(inside, outside):
    greater = (outside[None, :] > inside[:, None]).float().mean()
    ties = (outside[None, :] == inside[:, None]).float().mean()
    return greater + 0.5 * ties


def auroc_loop(inside, outside):
    wins = 0.0
    for s in inside.tolist():
        wins += float((outside > s).sum()) + 0.5 * float((outside == s).sum())
    return wins / (len(inside) * len(outside))


def auroc_ranks_float32(inside, outside):  # Mann-Whitney from average ranks, all in float32
    both = torch.cat([inside, outside])
    _, where, counts = torch.unique(both, return_inverse=True, return_counts=True)
    rank = (counts.cumsum(0).float() - (counts.float() - 1) / 2)[where]
    n_out = len(outside)
    return (rank[len(inside) :].sum() - n_out * (n_out + 1) / 2) / (len(inside) * n_out)


def auroc_numpy(inside, outside):
    a, b = inside.numpy().astype(np.float64), outside.numpy().astype(np.float64)
    return np.mean(b[None, :] > a[:, None]) + 0.5 * np.mean(b[None, :] == a[:, None])


def auroc_by(ties=0.5, flip=False, scale=lambda n_in, n_out: 1.0):
    def answer(inside, outside):
        a, b = (outside, inside) if flip else (inside, outside)
        share = (b[None, :] > a[:, None]).double().mean() + ties * (b[None, :] == a[:, None]).double().mean()
        return share.item() * scale(len(inside), len(outside))

    return answer


def auroc_zip(inside, outside):  # one pair per position: needs two sets of one length
    return ((outside > inside).float() + 0.5 * (outside == inside).float()).mean()


RIGHT = {
    "check_transposed_conv_size": [
        ("int", conv_size),
        ("numpy int64", lambda *a: np.int64(conv_size(*a))),
        ("whole float", lambda *a: float(conv_size(*a))),
        ("0-d tensor", lambda *a: torch.tensor(conv_size(*a))),
    ],
    "check_conv_transpose_params": [
        ("int", conv_params),
        ("numpy int64", lambda *a: np.int64(conv_params(*a))),
        ("whole float", lambda i, o, k: i * o * k**2.0 + o),
    ],
    "check_onehot_input_params": [
        ("int", onehot_params),
        ("numpy int64", lambda *a: np.prod(a[:2]) * a[2] ** 2 + a[1]),
        ("whole float", lambda n, c, k: n * c * math.pow(k, 2) + c),
    ],
    "check_one_hot": [
        ("float32", one_hot),
        ("float64", lambda index, n: F.one_hot(index, n).double()),
        ("numpy", lambda index, n: np.eye(n)[index.numpy()]),
        ("list", lambda index, n: [[1.0 if j == i else 0.0 for j in range(n)] for i in index.tolist()]),
    ],
    "check_bce_with_logits": [
        ("float32", bce),
        ("float64", lambda logits, x: bce(logits.double(), x.double())),
        ("numpy", bce_numpy),
        ("logsigmoid", lambda logits, x: -(x * F.logsigmoid(logits) + (1 - x) * F.logsigmoid(-logits))),
        ("softplus", lambda logits, x: F.softplus(logits) - logits * x),
    ],
    "check_interpolate": [
        ("float32", interpolate),
        ("float64", lambda z0, z1, n: torch.from_numpy(interpolate_numpy(z0, z1, n))),
        ("numpy", interpolate_numpy),
        ("list of tensors", lambda z0, z1, n: [z0 + (z1 - z0) * t for t in np.linspace(0, 1, n)]),
        ("nested list", lambda z0, z1, n: interpolate(z0, z1, n).tolist()),
    ],
    "check_reparameterize": [  # a NumPy answer cannot pass: it carries no gradient (see WRONG)
        ("float32", reparameterize),
        (
            "float64",
            lambda mu, lv: mu.double() + torch.exp(0.5 * lv.double()) * torch.randn_like(mu, dtype=torch.float64),
        ),
        ("list of rows", reparameterize_rows),
        ("rsample", lambda mu, lv: torch.distributions.Normal(mu, torch.exp(0.5 * lv)).rsample()),
    ],
    "check_kl": [
        ("float32", kl),
        ("float64", lambda mu, lv: kl(mu.double(), lv.double())),
        ("numpy", kl_numpy),
        ("list", lambda mu, lv: kl(mu, lv).tolist()),
        ("paper's form", lambda mu, lv: -0.5 * torch.sum(1 + lv - mu**2 - lv.exp(), dim=1)),
    ],
    "check_sharpness": [
        ("float32", mean_gradient),
        ("float64", lambda x: mean_gradient(x.double())),
        ("numpy", mean_gradient_numpy),
        ("package", sharpness),
    ],
    "check_iwae_estimate": [
        ("float32", iwae_estimate),
        ("float64", lambda lw: iwae_estimate(lw.double())),
        ("numpy", iwae_estimate_numpy),
        ("max shift by hand", iwae_estimate_by_hand),
        ("package", lambda lw: bounds.log_mean_exp(lw, dim=0)),
    ],
    "check_slant": [
        ("float32", slant),
        ("float64", lambda x: slant(x.double())),
        ("numpy", slant_numpy),
        ("loop over images", slant_loop),
        ("raw moments in float32", slant_raw_moments),
        ("package", attributes.slant),
    ],
    "check_attribute_direction": [
        ("float32", direction),
        ("float64", lambda c, v, lab: direction(c.double(), v.double(), lab)),
        ("numpy", direction_numpy),
        ("topk, summed", direction_topk),
        ("list", lambda *a: direction(*a).tolist()),
        ("package", lambda c, v, lab: attributes.direction(c, v, lab, method="means")),
    ],
    "check_style_sheet": [
        ("float32", style_sheet),
        ("float64", lambda cvae, image, label: style_sheet(cvae.double(), image.double(), label)),
        ("numpy", lambda *a: style_sheet(*a).numpy().astype(np.float64)),
        ("loop with gradients", style_sheet_loop),
        ("list of tensors", lambda *a: list(style_sheet(*a))),
    ],
    "check_auroc": [
        ("pairs, float32 0-d tensor", auroc_pairs),
        ("loop, Python float", auroc_loop),
        ("ranks in float32", auroc_ranks_float32),
        ("NumPy number", auroc_numpy),
        ("one-element tensor", lambda a, b: auroc_pairs(a, b).reshape(1)),
        ("package", anomaly.auroc),
    ],
}

# --------------------------------------------------------------------------- wrong answers learners write


def bce_naive_sigmoid(logits, x):
    p = torch.sigmoid(logits)
    return -(x * torch.log(p) + (1 - x) * torch.log(1 - p))


def bce_torch_max(logits, x):  # a learner's: torch.max(t, 0) is a reduction returning (values, indices)
    return torch.max(logits, 0) - logits * x + torch.log1p(torch.exp(-logits.abs()))


def bce_python_max(logits, x):
    return max(logits, 0) - logits * x + torch.log1p(torch.exp(-logits.abs()))


def sharpness_uncropped(images):  # a learner's: dx (H, W-1) and dy (H-1, W) do not fit together
    dx = images[..., :, 1:] - images[..., :, :-1]
    dy = images[..., 1:, :] - images[..., :-1, :]
    return torch.sqrt(dx**2 + dy**2).flatten(start_dim=1).mean(dim=1)


def sharpness_other_corner(images):
    dx = images[..., 1:, 1:] - images[..., 1:, :-1]
    dy = images[..., 1:, :-1] - images[..., :-1, :-1]
    return (dx**2 + dy**2).sqrt().flatten(start_dim=1).mean(dim=1)


def iwae_naive(log_weights):  # exp(-1e4) is 0, exp(1e3) is inf
    return torch.log(torch.exp(log_weights).mean(dim=0))


def iwae_shifted_by(shift):  # a learner's: any m but the largest leaves exp(lw - m) free to overflow
    def answer(log_weights):
        m = shift(log_weights)
        return m + torch.log(torch.exp(log_weights - m).mean(dim=0))

    return answer


def one_hot_columns(index, n):
    out = torch.zeros(len(index), n)
    out[:, index] = 1.0
    return out


def reparameterize_seeded(mu, logvar):
    torch.manual_seed(0)
    return reparameterize(mu, logvar)


def laplace(mu, logvar):  # unit variance, not normal
    eps = torch.distributions.Laplace(0.0, 1 / math.sqrt(2)).sample(mu.shape)
    return mu + torch.exp(0.5 * logvar) * eps


def two_numbers(*args):
    return np.array([28, 28])


CLASSIC_SIZES = {
    (1, 7, 1, 0): 7,
    (7, 4, 2, 1): 14,
    (14, 4, 2, 1): 28,
    (5, 3, 1, 1): 5,
    (4, 3, 2, 0): 9,
    (10, 5, 3, 2): 28,
}
CLASSIC_PARAMS = {(8, 32, 7): 12576, (32, 16, 4): 8208, (16, 1, 4): 257, (1, 64, 7): 3200, (3, 5, 2): 65}


def memorized(table, formula):  # right on the layers a notebook shows, wrong elsewhere: only random cases catch it
    return lambda *a: table.get(a, formula(*a))


WRONG = {  # check -> [(label, answer, a phrase its hint must contain)]
    "check_transposed_conv_size": [
        ("ordinary convolution", lambda s, k, st, p: (s + 2 * p - k) // st + 1, "ordinary convolution"),
        ("no padding", lambda s, k, st, p: (s - 1) * st + k, "both borders"),
        ("padding once", lambda s, k, st, p: (s - 1) * st - p + k, "subtract 2 * padding"),
        ("padding added", lambda s, k, st, p: (s - 1) * st + 2 * p + k, "not added"),
        ("size * stride", lambda s, k, st, p: s * st - 2 * p + k, "gaps *between*"),
        ("hard-coded", lambda s, k, st, p: 7, "(size - 1) * stride"),
        ("(height, width) tuple", lambda *a: (conv_size(*a), conv_size(*a)), "one whole number"),
        ("2-element tensor", lambda *a: torch.tensor([conv_size(*a)] * 2), "one whole number"),
        ("true division", lambda s, k, st, p: (s - 1) * st - 2 * p + k + p / 2, "not a whole number"),
        ("+1 of the ordinary convolution", lambda s, k, st, p: (s - 1) * st - 2 * p + k + 1, "the + 1 belongs"),
        ("memorized the classic layers", memorized(CLASSIC_SIZES, lambda s, k, st, p: s * st), "(size - 1) * stride"),
        ("undefined name", lambda s, k, st, p: (s - 1) * st - 2 * p + k + output_padding, "not defined"),  # noqa: F821
        ("size * stride alone", lambda s, k, st, p: s * st, "gaps *between*"),
    ],
    "check_conv_transpose_params": [
        ("weights only", lambda i, o, k: i * o * k * k, "bias"),
        ("kernel not squared", lambda i, o, k: i * o * k + o, "square it"),
        ("bias per input channel", lambda i, o, k: i * o * k * k + i, "output channels"),
        ("bias per pair", lambda i, o, k: i * o * (k * k + 1), "not one per (input, output) pair"),
        ("no input channels", lambda i, o, k: o * k * k + o, "its own k x k kernel"),
        ("no output channels", lambda i, o, k: i * k * k + o, "its own k x k kernel"),
        ("kernel not squared, no bias", lambda i, o, k: i * o * k, "square it, and add one bias"),
        ("2-element array", two_numbers, "one whole number"),
        ("stub", lambda i, o, k: ..., "Not attempted"),
        (
            "memorized the classic layers",
            memorized(CLASSIC_PARAMS, lambda i, o, k: i * o * k * k),
            "its own k x k kernel",
        ),
    ],
    "check_onehot_input_params": [
        ("no kernel", lambda n, c, k: n * c + c, "kernel x kernel"),
        ("weights only", lambda n, c, k: n * c * k * k, "bias"),
        ("kernel hard-coded", lambda n, c, k: n * c * 49 + c, "not 7 * 7"),
        ("kernel not squared", lambda n, c, k: n * c * k + c, "square it"),
        ("bias per image", lambda n, c, k: n * c * k * k + n, "output channels"),
        ("2-element tensor", lambda n, c, k: torch.tensor([n * c * k * k, c]), "one whole number"),
        ("sizes added", lambda n, c, k: n + c + k, "each is an input channel"),
    ],
    "check_one_hot": [
        ("int64", lambda index, n: F.one_hot(index, n), "floats"),
        ("bool", lambda index, n: F.one_hot(index, n) == 1, "floats"),
        ("transposed", lambda index, n: one_hot(index, n).T, "transposed"),
        ("n from the data", lambda index, n: F.one_hot(index).float(), "index.max() + 1"),
        ("columns in every row", one_hot_columns, "every row"),
        ("off by one", lambda index, n: one_hot(index - 1, n), "off by one"),
        ("index ignored", lambda index, n: torch.eye(n)[: len(index)], "single 1.0"),
        ("almost 1", lambda index, n: one_hot(index, n) * 0.999, "exactly 1.0"),
        ("(rows, n) tuple", lambda index, n: (one_hot(index, n), n), "tuple"),
        ("int list", lambda index, n: F.one_hot(index, n).tolist(), "floats"),
        (
            "wrong for six indices only",
            lambda index, n: one_hot(index, n) * (len(index) != 6),
            "index=[0, 1, 2, 3, 4, 5]",
        ),
        ("one column too many", lambda index, n: F.one_hot(index, n + 1).float(), "expected one tensor of shape"),
    ],
    "check_bce_with_logits": [
        ("log(sigmoid)", bce_naive_sigmoid, "exp(l) overflows"),
        ("log(1 + exp(l))", lambda logits, x: torch.log(1 + torch.exp(logits)) - logits * x, "inf or nan"),
        (
            "softplus by hand, logits clamped to +-80",
            lambda logits, x: torch.log1p(torch.exp(logits.clamp(-80, 80))) - logits.clamp(-80, 80) * x,
            "do not clamp",
        ),
        ("torch.max(logits, 0)", bce_torch_max, "(values, indices)"),
        ("Python max(logits, 0)", bce_python_max, "Python's max"),
        (
            "torch.max(logits, 0)[0]",
            lambda logits, x: torch.max(logits, 0)[0] - logits * x + torch.log1p(torch.exp(-logits.abs())),
            "largest logit of each column",
        ),
        ("log1p term missing", lambda logits, x: logits.clamp(min=0) - logits * x, "is missing"),
        (
            "sign of l * x",
            lambda logits, x: logits.clamp(min=0) + logits * x + torch.log1p(torch.exp(-logits.abs())),
            "sign",
        ),
        ("summed", lambda logits, x: bce(logits, x).sum(), "one loss per pixel"),
        ("returns (loss, mean) tuple", lambda logits, x: (bce(logits, x), bce(logits, x).mean()), "tuple"),
    ],
    "check_interpolate": [
        (
            "arange(n) / n",
            lambda z0, z1, n: torch.stack([z0 + (z1 - z0) * t for t in torch.arange(n) / n]),
            "stops short",
        ),
        ("reversed", lambda z0, z1, n: interpolate(z1, z0, n), "from z1 to z0"),
        (
            "t not a column",
            lambda z0, z1, n: (1 - torch.linspace(0, 1, n)) * z0 + torch.linspace(0, 1, n) * z1,
            "t[:, None]",
        ),
        ("transposed", lambda z0, z1, n: interpolate(z0, z1, n).T, "transposed"),
        ("steps + 1 points", lambda z0, z1, n: interpolate(z0, z1, n + 1), "both ends"),
        ("endpoints only", lambda z0, z1, n: torch.stack([z0, z1]), "shape (5, 3)"),
        ("squeezed", lambda z0, z1, n: interpolate(z0, z1, n).squeeze(), "even when D = 1"),
        ("minus missing", lambda z0, z1, n: z0 + torch.linspace(0, 1, n)[:, None] * z1, "last row must be z1"),
        ("t squared", lambda z0, z1, n: z0 + (z1 - z0) * torch.linspace(0, 1, n)[:, None] ** 2, "evenly spaced"),
    ],
    "check_reparameterize": [
        (
            "exp(logvar) as std",
            lambda mu, lv: mu + torch.exp(lv) * torch.randn_like(mu),
            "exp(logvar) as the standard deviation",
        ),
        ("sqrt(sigma)", lambda mu, lv: mu + torch.exp(0.25 * lv) * torch.randn_like(mu), "your spread is sqrt(sigma)"),
        ("sign of the exponent", lambda mu, lv: mu + torch.exp(-0.5 * lv) * torch.randn_like(mu), "the sign"),
        ("sqrt(logvar)", lambda mu, lv: mu + torch.sqrt(lv) * torch.randn_like(mu), "inf or nan"),
        ("no noise", lambda mu, lv: mu + 0 * lv, "z equals mu"),
        ("noise shifted", lambda mu, lv: mu + torch.exp(0.5 * lv) * (torch.randn_like(mu) + 0.2), "sigma away from mu"),
        ("columns correlated", reparameterize_columns_correlated, "is correlated"),
        (
            "spread off",
            lambda mu, lv: mu + 1.5 * torch.exp(0.5 * lv) * torch.randn_like(mu),
            "with eps from a standard normal",
        ),
        ("logvar as std", lambda mu, lv: mu + lv * torch.randn_like(mu), "not the standard deviation"),
        ("sigma forgotten", lambda mu, lv: mu + torch.randn_like(mu), "eps is not scaled"),
        (
            "logvar clamped to +-4",
            lambda mu, lv: mu + torch.exp(0.5 * lv.clamp(-4, 4)) * torch.randn_like(mu),
            "do not clamp",
        ),
        ("uniform [0, 1)", lambda mu, lv: mu + torch.exp(0.5 * lv) * torch.rand_like(mu), "never negative"),
        (
            "uniform, unit variance",
            lambda mu, lv: mu + torch.exp(0.5 * lv) * (torch.rand_like(mu) - 0.5) * math.sqrt(12),
            "not normally distributed",
        ),
        (
            "+-1 noise",
            lambda mu, lv: mu + torch.exp(0.5 * lv) * (torch.randint_like(mu, 2) * 2 - 1),
            "only a few values",
        ),
        ("Laplace, unit variance", laplace, "not normally distributed"),
        ("torch.normal", lambda mu, lv: torch.normal(mu, torch.exp(0.5 * lv)), "torch.normal"),
        (
            "torch.normal, detached",
            lambda mu, lv: torch.normal(mu.detach(), torch.exp(0.5 * lv.detach())),
            "not connected",
        ),
        (
            "NumPy",
            lambda mu, lv: mu.detach().numpy() + np.exp(0.5 * lv.detach().numpy()) * np.random.randn(*mu.shape),
            "not connected",
        ),
        ("sigma detached", lambda mu, lv: mu + torch.exp(0.5 * lv).detach() * torch.randn_like(mu), "logvar"),
        (
            "same eps for every row",
            lambda mu, lv: mu + torch.exp(0.5 * lv) * torch.randn(mu.shape[-1]),
            "every example",
        ),
        (
            "same eps for every dimension",
            lambda mu, lv: mu + torch.exp(0.5 * lv) * torch.randn(*mu.shape[:-1], 1),
            "same noise",
        ),
        (
            "2-D shape hard-coded",
            lambda mu, lv: mu + torch.exp(0.5 * lv) * torch.randn(mu.shape[0], mu.shape[1]),
            "randn_like",
        ),
        ("seeded inside", reparameterize_seeded, "two calls"),
        ("returns (z, eps)", lambda mu, lv: (reparameterize(mu, lv), torch.randn_like(mu)), "tuple"),
    ],
    "check_kl": [
        ("-1 missing", lambda mu, lv: 0.5 * (mu**2 + lv.exp() - lv).sum(dim=1), "-1 inside the sum"),
        ("factor 1/2 missing", lambda mu, lv: (mu**2 + lv.exp() - lv - 1).sum(dim=1), "factor 1/2"),
        ("mean over dimensions", lambda mu, lv: 0.5 * (mu**2 + lv.exp() - lv - 1).mean(dim=1), "use sum"),
        ("logvar clamped to +-4", lambda mu, lv: kl(mu, lv.clamp(-4, 4)), "do not clamp"),
        ("mu clamped to +-5", lambda mu, lv: kl(mu.clamp(-5, 5), lv), "do not clamp"),
        ("no sum", lambda mu, lv: 0.5 * (mu**2 + lv.exp() - lv - 1), ".sum(dim=1)"),
        ("sum over the batch", lambda mu, lv: 0.5 * (mu**2 + lv.exp() - lv - 1).sum(dim=0), "summed over the batch"),
        ("sum over everything", lambda mu, lv: 0.5 * (mu**2 + lv.exp() - lv - 1).sum(), "not .sum() over everything"),
        ("sign", lambda mu, lv: -kl(mu, lv), "never negative"),
        (
            "sigma for the variance",
            lambda mu, lv: 0.5 * (mu**2 + (0.5 * lv).exp() - lv - 1).sum(dim=1),
            "KL = 0.5 * sum",
        ),
    ],
    "check_sharpness": [
        ("dx and dy not cropped", sharpness_uncropped, "crop both"),
        ("horizontal only", lambda x: (x[..., :, 1:] - x[..., :, :-1]).abs().flatten(1).mean(1), "only the horizontal"),
        (
            "|dx| + |dy|",
            lambda x: (
                ((x[..., :-1, 1:] - x[..., :-1, :-1]).abs() + (x[..., 1:, :-1] - x[..., :-1, :-1]).abs())
                .flatten(1)
                .mean(1)
            ),
            "not |dx| + |dy|",
        ),
        (
            "no square root",
            lambda x: (
                ((x[..., :-1, 1:] - x[..., :-1, :-1]) ** 2 + (x[..., 1:, :-1] - x[..., :-1, :-1]) ** 2)
                .flatten(1)
                .mean(1)
            ),
            "square root",
        ),
        ("sum per image", lambda x: mean_gradient(x) * (x.shape[-1] - 1) * (x.shape[-2] - 1), "not the sum"),
        ("mean over the batch", lambda x: mean_gradient(x).mean(), "one number per image"),
        ("(B, 1) kept", lambda x: mean_gradient(x)[:, None], "flatten each image"),
        ("squeezed", lambda x: mean_gradient(x)[:, None].squeeze(), "batch of one image"),
        ("other corner", sharpness_other_corner, "same (H-1) x (W-1) pixels"),
        (
            "central differences",
            lambda x: torch.stack(torch.gradient(x, dim=(-2, -1))).pow(2).sum(0).sqrt().flatten(1).mean(1),
            "same (H-1) x (W-1) pixels",
        ),
        ("returns (dx, dy)", lambda x: (x[..., :, 1:] - x[..., :, :-1], x[..., 1:, :] - x[..., :-1, :]), "tuple"),
    ],
    "check_iwae_estimate": [
        ("exp, mean, log", iwae_naive, "below the smallest normal number"),
        ("exp, sum / K, log", lambda lw: torch.log(torch.exp(lw).sum(0) / len(lw)), "below the smallest normal number"),
        ("exp, mean, log in float64", lambda lw: iwae_naive(lw.double()), "exp(-1e4) is 0 in floating point"),
        ("logsumexp only", lambda lw: torch.logsumexp(lw, 0), "that is log of the sum; subtract log K"),
        ("logsumexp / K", lambda lw: torch.logsumexp(lw, 0) / len(lw), "do not divide the log by K"),
        (
            "log of the number of images",
            lambda lw: torch.logsumexp(lw, 0) - math.log(lw.shape[1]),
            "not the log of the number of images",
        ),
        ("mean of the log weights", lambda lw: lw.mean(0), "the mean of the logs (the ELBO's estimate)"),
        ("max only", lambda lw: lw.amax(0), "the largest log weight alone is not the estimate"),
        ("max not added back", lambda lw: torch.log(torch.exp(lw - lw.amax(0)).mean(0)), "did not add it back"),
        ("shifted by the min", iwae_shifted_by(lambda lw: lw.amin(0)), "overflows for an m below it"),
        ("shifted by the mean", iwae_shifted_by(lambda lw: lw.mean(0)), "overflows for an m below it"),
        ("shifted by the first sample", iwae_shifted_by(lambda lw: lw[0]), "inf or nan"),
        ("one max for the whole batch", iwae_shifted_by(lambda lw: lw.max()), "each image's own largest log weight"),
        ("over dim 1", lambda lw: torch.logsumexp(lw, 1) - math.log(len(lw)), "reduce over dim 0, the K samples"),
        ("over everything", lambda lw: torch.logsumexp(lw.flatten(), 0) - math.log(len(lw)), "reduce over dim 0"),
        ("keepdim", lambda lw: torch.logsumexp(lw, 0, keepdim=True) - math.log(len(lw)), "keepdim=True"),
        ("squeezed", lambda lw: iwae_estimate(lw).squeeze(), "a batch of one image"),
        ("K hard-coded", lambda lw: torch.logsumexp(lw, 0) - math.log(5), "right for ordinary log weights"),
        (
            "log weights clamped",
            lambda lw: iwae_naive(lw.clamp(-80, 80)),
            "torch.logsumexp(log_weights, dim=0) - log K",
        ),
        ("torch.max(lw, 0)", lambda lw: torch.max(lw, 0), "take .values"),
    ],
    "check_slant": [
        ("sign flipped", slant_by(lambda m20, m02, m11, r11, r02: m11 / m02), "rows count downwards"),
        ("mu20 in the denominator", slant_by(lambda m20, m02, m11, r11, r02: -m11 / m20), "divide by mu02"),
        ("x and y exchanged", lambda x: slant(x.transpose(-1, -2)), "x is the column index"),
        ("raw moments", slant_by(lambda m20, m02, m11, r11, r02: -r11 / r02), "centre the moments"),
        ("centred on the middle", slant_middle, "not on the middle of the image"),
        ("whole batch pooled", slant_pooled, "every image gets the same slant"),
        ("atan", lambda x: torch.atan(slant(x)), "not its angle"),
        ("degrees", lambda x: torch.rad2deg(torch.atan(slant(x))), "in degrees"),
        ("thresholded", slant_by(lambda m20, m02, m11, r11, r02: -m11 / m02, binary=True), "do not threshold"),
        ("correlation", slant_by(lambda m20, m02, m11, r11, r02: -m11 / (m20 * m02).sqrt()), "the correlation"),
        ("(B, 1) kept", lambda x: slant(x)[:, None], "one number per image, shape (B,)"),
        ("mean over the batch", lambda x: slant(x).mean(), "one slant per image"),
        ("squeezed", lambda x: slant(x)[:, None].squeeze(), "a batch of one image"),
        ("returns (mu11, mu02)", lambda x: (slant(x), slant(x)), "tuple"),
    ],
    "check_attribute_direction": [
        ("not normalized", direction_by(quarter, normalize=False), "normalize the result to length 1"),
        ("bottom minus top", direction_by(quarter, sign=-1.0), "top minus bottom"),
        ("labels ignored", direction_by(quarter, pooled=True), "work within each digit"),
        ("each difference normalized", direction_by(quarter, each=True), "normalize once at the end"),
        ("weighted by the counts", direction_by(quarter, weighted=True), "each digit counts once"),
        (
            "top quarter against the rest",
            direction_by(lambda n: (max(1, int(n * 0.25)), max(1, n - max(1, int(n * 0.25))))),
            "not with all the rest",
        ),
        ("halves", direction_by(lambda n: (max(1, n // 2),) * 2), "not halves"),
        ("k rounded up", direction_by(lambda n: (math.ceil(n / 4),) * 2), "int() rounds down"),
        ("k without max(1, ...)", direction_by(lambda n: (int(n * 0.25),) * 2), "take k = max(1, int(n * 0.25))"),
        ("range(10)", direction_range10, "labels.unique(), not range(10)"),
        ("a (1, D) row", lambda *a: direction(*a)[None], "not a row (1, D)"),
        ("mean code of the top quarter", direction_top_only, "for each label c present"),
        ("one direction per digit", direction_per_label, "shape (D,)"),
        (
            "top quarter against the mean",
            lambda c, v, lab: direction_by(lambda n: (max(1, int(n * 0.25)), n))(c, v, lab),
            "not with all the rest (or all the images)",
        ),
    ],
    "check_style_sheet": [
        ("logits", style_sheet_by(sigmoid=False), "apply torch.sigmoid"),
        ("a sampled code", style_sheet_by(sample=True), "changes from call to call"),
        ("encoded with label 0", style_sheet_by(code_label=0), "not label 0"),
        ("encoded with each target label", style_sheet_by(code_label="each"), "encode once"),
        (
            "digits reversed",
            style_sheet_by(decode_labels=lambda label: torch.arange(9, -1, -1)),
            "row i must be digit i",
        ),
        ("own label only", style_sheet_by(decode_labels=lambda label: torch.full((10,), label)), "in turn"),
        ("sigmoid twice", lambda *a: torch.sigmoid(style_sheet(*a)), "apply torch.sigmoid once"),
        ("flat (10, 784)", lambda *a: style_sheet(*a).reshape(10, -1), "keep that shape"),
        ("channel dropped", lambda *a: style_sheet(*a)[:, 0], "keep the channel dimension"),
        (
            "one image",
            lambda cvae, image, label: style_sheet(cvae, image, label)[label : label + 1],
            "one image per digit",
        ),
        ("model(x, y)", lambda cvae, image, label: cvae(image[None], torch.tensor([label])), "tuple"),
        (
            "image not batched",
            lambda cvae, image, label: cvae.encode(image, torch.tensor([label])),
            "image.reshape(1, -1) (or image[None]) is a batch of one image",
        ),
        ("label as an int", lambda cvae, image, label: cvae.encode(image[None], label), "torch.tensor([label])"),
        ("latent size 2 hard-coded", style_sheet_latent_2, "whatever the model's latent size"),
        ("right for 2-D models only", style_sheet_2d_only, "for a 3-D model, a bar labelled 7"),
    ],
    "check_auroc": [
        (">= (ties count 1)", auroc_by(ties=1.0), "ties count half"),
        ("> only (ties count 0)", auroc_by(ties=0.0), "ties count half"),
        ("inside > outside", auroc_by(flip=True), "outside scores should be larger"),
        ("1 - auc", lambda a, b: 1 - auroc_pairs(a, b), "outside scores should be larger"),
        ("number of pairs", auroc_by(scale=lambda n_in, n_out: n_in * n_out), "that is the number of pairs"),
        ("divided by len(inside)", auroc_by(scale=lambda n_in, n_out: n_out), "not by len(inside)"),
        ("divided by len(outside)", auroc_by(scale=lambda n_in, n_out: n_in), "not by len(outside)"),
        ("zip of positions", auroc_zip, "every inside score with every outside score"),
        ("the whole table", lambda a, b: (b[None, :] > a[:, None]).float(), "return one number"),
        ("difference of means", lambda a, b: (b.mean() - a.mean()).item(), "count the pairs"),
        ("(auc, n) tuple", lambda a, b: (auroc_pairs(a, b), len(a)), "return one number"),
        ("shared values as ties", auroc_shared_values, "for whole-number scores, many ties"),
    ],
}

CASES_RIGHT = [(check, label, fn) for check, answers in RIGHT.items() for label, fn in answers]
CASES_WRONG = [(check, label, fn, phrase) for check, answers in WRONG.items() for label, fn, phrase in answers]


def run_check(check_name, fn, capsys):
    result = getattr(exercises, check_name)(fn)
    out = capsys.readouterr()
    return result, out.out, out.err


def test_every_check_has_at_least_5_wrong_and_3_right_answers():
    checks = {
        name
        for name in dir(exercises)
        if name.startswith("check_") and name not in ("check_latent_size_prediction", "check_beta_reading")
    }
    assert set(WRONG) == set(RIGHT) == checks
    assert all(len(WRONG[c]) >= 5 and len(RIGHT[c]) >= 3 for c in checks)


@pytest.mark.parametrize("check_name, label, fn", CASES_RIGHT, ids=[f"{c}-{label}" for c, label, _ in CASES_RIGHT])
def test_a_right_answer_passes_in_any_type(check_name, label, fn, capsys):
    ok, out, err = run_check(check_name, fn, capsys)
    assert ok is True, out
    assert out.startswith("Correct!") and out.count("\n") == 1 and not err, out
    if label in ("float64", "numpy", "numpy int64", "whole float", "0-d tensor", "list", "nested list"):
        assert "converted to a float32 tensor" in out or "read as whole numbers" in out, out
    assert out.count("(your answer") <= 1, out  # a conversion is noted once, not once per case
    if label == "numpy":
        assert "NumPy float64 array; converted to a float32 tensor" in out, out
    if label in ("list of tensors", "list of rows"):
        assert "stacked into one float32 tensor" in out, out
    if label == "one-element tensor":
        assert "(your answer was a float32 tensor of shape (1,); read as one number)" in out, out
    if label in ("float32", "int", "package"):
        assert "converted" not in out and "read as" not in out, out


@pytest.mark.parametrize(
    "check_name, label, fn, phrase", CASES_WRONG, ids=[f"{c}-{label}" for c, label, _, _ in CASES_WRONG]
)
def test_a_wrong_answer_is_rejected_with_a_one_line_hint(check_name, label, fn, phrase, capsys):
    ok, out, err = run_check(check_name, fn, capsys)
    assert ok is False, out
    assert out.startswith("Not yet. ") and out.count("\n") == 1, out
    assert phrase in out, out
    assert "Traceback" not in out + err


# --------------------------------------------------------------------------- answers no learner should write, still no traceback


class Weird:
    def __eq__(self, other):
        raise RuntimeError("no comparing me")

    __hash__ = object.__hash__


HOSTILE = [
    ("string", lambda *a: "abc"),
    ("dict", lambda *a: {}),
    ("object", lambda *a: Weird()),
    ("nan", lambda *a: float("nan")),
    ("generator", lambda *a: (i for i in range(3))),
    ("complex tensor", lambda *a: torch.zeros(3, dtype=torch.complex64)),
    ("ragged list", lambda *a: [[1.0], [1.0, 2.0]]),
    ("list of odd tensors", lambda *a: [torch.zeros(2), torch.zeros(3)]),
    ("raises KeyError", lambda *a: {}["x"]),
    ("not a function", ...),
    ("None", lambda *a: None),
]
FUNCTION_CHECKS = sorted(RIGHT)


@pytest.mark.parametrize("check_name", FUNCTION_CHECKS)
@pytest.mark.parametrize("label, fn", HOSTILE, ids=[label for label, _ in HOSTILE])
def test_no_answer_makes_a_check_raise(check_name, label, fn, capsys):
    ok, out, err = run_check(check_name, fn, capsys)
    assert ok is False and out.startswith("Not yet. ") and out.count("\n") == 1, out
    assert "Traceback" not in out + err


def test_unfinished_answers_say_not_attempted(capsys):
    def stub(*args):
        return ...

    def broken(*args):
        raise NotImplementedError

    for check_name in FUNCTION_CHECKS:
        for fn in (stub, broken):
            ok, out, _ = run_check(check_name, fn, capsys)
            assert not ok and "Not attempted yet" in out, (check_name, out)


def test_the_two_crashes_learners_met_name_the_mistake(capsys):
    assert not exercises.check_bce_with_logits(bce_torch_max)
    out = capsys.readouterr().out
    assert (
        "TypeError" in out and "torch.max(logits, 0) is not the element-wise max(l, 0)" in out and "clamp(min=0)" in out
    )
    assert not exercises.check_sharpness(sharpness_uncropped)
    out = capsys.readouterr().out
    assert "RuntimeError" in out and "dx is (H, W-1) and dy is (H-1, W)" in out and out.count("\n") == 1


# --------------------------------------------------------------------------- the two reading exercises

MEASURED = {2: {"kl": 6.0, "recon": 140.0}, 20: {"kl": 25.0, "recon": 75.0}}
SWEEP = {0.5: {"kl": 7.0, "recon": 140.0}, 1.0: {"kl": 6.0, "recon": 145.0}, 4.0: {"kl": 3.0, "recon": 170.0}}
# the same readings on measurements that came out the other way round: the checks read the figures, not a fixed answer
MEASURED_SWAPPED = {2: {"kl": 30.0, "recon": 70.0}, 20: {"kl": 5.0, "recon": 150.0}}
SWEEP_SWAPPED = {0.5: {"kl": 3.0, "recon": 170.0}, 1.0: {"kl": 6.0, "recon": 145.0}, 4.0: {"kl": 7.0, "recon": 140.0}}
READINGS_RIGHT = [
    ("check_latent_size_prediction", ("20", "20"), MEASURED),
    ("check_latent_size_prediction", (20, 20), MEASURED),
    ("check_latent_size_prediction", (np.int64(20), torch.tensor(20)), MEASURED),
    ("check_latent_size_prediction", (20.0, " 20"), MEASURED),
    ("check_latent_size_prediction", ("20.0", "2e1"), MEASURED),
    ("check_latent_size_prediction", ("2", 2), MEASURED_SWAPPED),
    ("check_beta_reading", (4, "4.0"), SWEEP_SWAPPED),
    ("check_beta_reading", (0.5, 0.5), SWEEP),
    ("check_beta_reading", (np.float64(0.5), np.float32(0.5)), SWEEP),
    ("check_beta_reading", (torch.tensor(0.5), "0.5"), SWEEP),
    ("check_beta_reading", (min(SWEEP), 1 / 2), SWEEP),
]
READINGS_WRONG = [
    ("check_latent_size_prediction", ("20", "2"), MEASURED_SWAPPED, "costs KL"),
    ("check_latent_size_prediction", ("2", "20"), MEASURED_SWAPPED, "reconstruction term falls"),
    ("check_beta_reading", (0.5, 4.0), SWEEP_SWAPPED, "price"),
    ("check_beta_reading", (4.0, 0.5), SWEEP_SWAPPED, "afford"),
    ("check_latent_size_prediction", ("twenty", "20"), MEASURED, "one of ['2', '20']"),
    ("check_latent_size_prediction", ("2", "20"), MEASURED, "costs KL"),
    ("check_latent_size_prediction", ("20", "2"), MEASURED, "reconstruction term falls"),
    ("check_latent_size_prediction", (("2", "20"), "20"), MEASURED, "you set a tuple"),
    ("check_latent_size_prediction", (np.array([2, 20]), "20"), MEASURED, "NumPy"),
    ("check_latent_size_prediction", ("10", "20"), MEASURED, "one of ['2', '20']"),
    ("check_latent_size_prediction", (..., ...), MEASURED, "Not attempted"),
    ("check_latent_size_prediction", (None, "20"), MEASURED, "one of"),
    ("check_beta_reading", (4.0, 0.5), SWEEP, "price"),
    ("check_beta_reading", (0.5, 4.0), SWEEP, "afford"),
    ("check_beta_reading", ((0.5, 1.0), 0.5), SWEEP, "you set a tuple"),
    ("check_beta_reading", (np.array([0.5, 1.0]), 0.5), SWEEP, "NumPy"),
    ("check_beta_reading", (torch.tensor([0.5, 1.0]), 0.5), SWEEP, "tensor"),
    ("check_beta_reading", (2.0, 0.5), SWEEP, "one of the betas"),
    ("check_beta_reading", (..., 0.5), SWEEP, "Not attempted"),
    ("check_beta_reading", (True, 0.5), SWEEP, "one of the betas"),
]


@pytest.mark.parametrize("check_name, answers, data", READINGS_RIGHT)
def test_a_right_reading_passes_in_any_type(check_name, answers, data, capsys):
    assert getattr(exercises, check_name)(*answers, data) is True
    assert capsys.readouterr().out.startswith("Correct!")


@pytest.mark.parametrize("check_name, answers, data, phrase", READINGS_WRONG)
def test_a_wrong_reading_is_rejected_with_a_hint(check_name, answers, data, phrase, capsys):
    assert getattr(exercises, check_name)(*answers, data) is False
    out = capsys.readouterr().out
    assert out.startswith("Not yet. ") and phrase in out and out.count("\n") == 1, out


# --------------------------------------------------------------------------- tolerances, pinned


def test_the_tolerances_are_the_documented_ones():
    assert (exercises.BCE_ATOL, exercises.BCE_RTOL) == (1e-5, 1e-5)
    assert (exercises.INTERPOLATE_ATOL, exercises.INTERPOLATE_RTOL) == (1e-6, 1e-5)
    assert (exercises.KL_ATOL, exercises.KL_RTOL) == (1e-4, 1e-5)
    assert (exercises.SHARPNESS_ATOL, exercises.SHARPNESS_RTOL) == (1e-5, 1e-5)
    assert (exercises.IWAE_ATOL, exercises.IWAE_RTOL) == (1e-5, 1e-6)
    assert (exercises.SLANT_ATOL, exercises.SLANT_RTOL) == (1e-5, 1e-4)
    assert exercises.DIRECTION_ATOL == 1e-5 and exercises.STYLE_SHEET_ATOL == 1e-5 and exercises.AUROC_ATOL == 1e-5
    assert (exercises.REPARAM_KS_LIMIT, exercises.REPARAM_SCALE_LIMIT, exercises.REPARAM_CORR_LIMIT) == (3.0, 6.0, 6.0)
    assert (exercises.REPARAM_GRAD_ATOL, exercises.REPARAM_GRAD_RTOL) == (1e-5, 1e-5)
    assert exercises.REPARAM_ROWS == 4096 and len(exercises.REPARAM_LOGVAR) == 8
    assert min(exercises.REPARAM_LOGVAR) <= -12 and max(exercises.REPARAM_LOGVAR) >= 12
    assert len(exercises.CHECK_SEEDS) >= 3


# The tolerances are written out here rather than read from the module: loosening one there must fail a test.
# Each answer is off by `c` times the allowed error: c = 0.5 must pass, c = 2 must fail.
def bce_off_by(c):
    def answer(logits, x):
        logits, x = logits.double(), x.double()
        expected = F.binary_cross_entropy_with_logits(logits, x, reduction="none")
        return expected + c * (1e-5 + 1e-5 * (expected.abs() + logits.abs()))

    return answer


def interpolate_off_by(c):
    def answer(z0, z1, steps):
        a, b = z0.double(), z1.double()
        t = torch.arange(steps, dtype=torch.float64)[:, None] / (steps - 1)
        return (1 - t) * a + t * b + c * (1e-6 + 1e-5 * (a.abs() + b.abs()))

    return answer


def kl_off_by(c):
    def answer(mu, logvar):
        expected = kl(mu.double(), logvar.double())
        return expected + c * (1e-4 + 1e-5 * expected.abs())

    return answer


def sharpness_off_by(c):
    def answer(images):
        expected = sharpness(images.double())
        return expected + c * (1e-5 + 1e-5 * expected.abs())

    return answer


def iwae_off_by(c):
    def answer(log_weights):
        lw = log_weights.double()
        expected = torch.logsumexp(lw, 0) - math.log(len(lw))
        return expected + c * (1e-5 + 1e-6 * (expected.abs() + lw.amax(0) - lw.amin(0)))

    return answer


def slant_off_by(c):
    def answer(images):
        expected = torch.from_numpy(slant_numpy(images))
        return expected + c * (1e-5 + 1e-4 * expected.abs())

    return answer


def direction_off_by(c):  # every entry off by c times the allowed error (the length then is not exactly 1)
    return lambda *a: torch.from_numpy(direction_numpy(*a)) + c * 1e-5


def style_sheet_off_by(c):
    def answer(cvae, image, label):
        expected = exercises._style_sheet(cvae.double(), image.double(), label)
        return expected + c * 1e-5 * torch.where(expected > 0.5, -1.0, 1.0)  # inward: a probability stays in [0, 1]

    return answer


def auroc_off_by(c):
    return lambda inside, outside: float(auroc_numpy(inside, outside)) + c * 1e-5


def reparameterize_scaled(c):  # the spread of one column off by c times the allowed 6 / sqrt(2 * 4096)
    def answer(mu, lv):
        eps = torch.randn_like(mu)
        if mu.ndim == 2:  # one column only: too little for the Kolmogorov-Smirnov tests to notice
            eps[:, 0] *= 1 + c * 6 / math.sqrt(2 * 4096)
        return mu + torch.exp(0.5 * lv) * eps

    return answer


def reparameterize_shifted(c):  # pooled KS distance ~ 0.4 * shift, about c times the allowed 3 / sqrt(4096 * 8)
    shift = c * 3 / math.sqrt(4096 * 8) / 0.3989
    return lambda mu, lv: mu + torch.exp(0.5 * lv) * (torch.randn_like(mu) + shift)


def reparameterize_correlated(c):  # columns correlated by c times the allowed 6 / sqrt(4096)
    weight = math.sqrt(c * 6 / math.sqrt(4096))

    def answer(mu, lv):
        eps = torch.randn_like(mu)
        if mu.ndim == 2:
            eps = math.sqrt(1 - weight**2) * eps + weight * torch.randn(len(mu), 1)
        return mu + torch.exp(0.5 * lv) * eps

    return answer


def reparameterize_bad_gradient(c):  # the same z, dz/dlogvar off by c times the allowed error
    def answer(mu, lv):
        z = reparameterize(mu, lv)
        allowed = (1e-5 + 1e-5 * (z.abs() + mu.abs())).detach()
        return z + c * allowed * (lv - lv.detach())

    return answer


TOLERANCE_CASES = [
    ("check_bce_with_logits", bce_off_by),
    ("check_interpolate", interpolate_off_by),
    ("check_kl", kl_off_by),
    ("check_sharpness", sharpness_off_by),
    ("check_iwae_estimate", iwae_off_by),
    ("check_slant", slant_off_by),
    ("check_attribute_direction", direction_off_by),
    ("check_style_sheet", style_sheet_off_by),
    ("check_auroc", auroc_off_by),
    ("check_reparameterize", reparameterize_scaled),
    ("check_reparameterize", reparameterize_shifted),
    ("check_reparameterize", reparameterize_correlated),
    ("check_reparameterize", reparameterize_bad_gradient),
    # exact: c = 0 must pass, c = 2 (off by the least possible: one ulp below 1.0, or one) must fail
    ("check_one_hot", lambda c: lambda index, n: one_hot(index, n) * (1 - c * 2.0**-24)),
    ("check_transposed_conv_size", lambda c: lambda *a: conv_size(*a) + c // 2),
    ("check_conv_transpose_params", lambda c: lambda *a: np.int64(conv_params(*a) - c // 2)),
    ("check_onehot_input_params", lambda c: lambda *a: float(onehot_params(*a) + c // 2)),
]


@pytest.mark.parametrize("check_name, off_by", TOLERANCE_CASES, ids=[f"{c}-{f.__name__}" for c, f in TOLERANCE_CASES])
def test_just_inside_the_tolerance_passes_and_just_outside_fails(check_name, off_by, capsys):
    exact = ("check_one_hot", "check_transposed_conv_size", "check_conv_transpose_params", "check_onehot_input_params")
    inside = 0 if check_name in exact else 0.5
    assert getattr(exercises, check_name)(off_by(inside)), capsys.readouterr().out
    assert not getattr(exercises, check_name)(off_by(2)), capsys.readouterr().out


def test_a_whole_number_check_tells_a_fraction_from_a_whole_float(capsys):
    assert exercises.check_transposed_conv_size(lambda *a: float(conv_size(*a)))
    assert capsys.readouterr().out.endswith(" (your answers were floats; read as whole numbers)\n")
    assert exercises.check_conv_transpose_params(lambda *a: np.int64(conv_params(*a)))
    assert capsys.readouterr().out.endswith(" (your answers were NumPy int64 numbers; read as whole numbers)\n")
    assert exercises.check_onehot_input_params(lambda *a: torch.tensor(onehot_params(*a)))
    assert capsys.readouterr().out.endswith(" (your answers were tensors; read as whole numbers)\n")
    assert not exercises.check_transposed_conv_size(lambda *a: conv_size(*a) + 0.5)
    assert "not a whole number" in capsys.readouterr().out


# --------------------------------------------------------------------------- reparameterize: the statistics


@pytest.mark.parametrize("first_seed", range(0, 200, 25))
def test_a_right_reparameterize_passes_for_any_seed(first_seed):
    """200 seeds in all: the limits allow a false failure with probability under 1e-6 per run."""
    for seed in range(first_seed, first_seed + 25):
        result = exercises._safely(exercises._reparameterize_check, reparameterize, seed)
        assert result.ok, (seed, result.message)


@pytest.mark.parametrize("label", ["uniform, unit variance", "+-1 noise", "Laplace, unit variance"])
def test_wrong_noise_fails_for_every_seed(label):
    fn = next(fn for name, fn, _ in WRONG["check_reparameterize"] if name == label)
    for seed in range(10):
        assert not exercises._safely(exercises._reparameterize_check, fn, seed).ok, seed


def test_the_reparameterize_check_leaves_the_random_stream_alone(capsys):
    state = torch.get_rng_state()
    assert exercises.check_reparameterize(reparameterize)
    assert torch.equal(torch.get_rng_state(), state)


# --------------------------------------------------------------------------- yours_or_reference

REFERENCE_CHECKS = {
    "bce_with_logits": "check_bce_with_logits",
    "interpolate": "check_interpolate",
    "reparameterize": "check_reparameterize",
    "kl_divergence": "check_kl",
    "iwae_estimate": "check_iwae_estimate",
    "slant": "check_slant",
    "attribute_direction": "check_attribute_direction",
    "style_sheet": "check_style_sheet",
    "auroc": "check_auroc",
}
REFERENCE_WRONG = [(name, label, fn) for name, check in REFERENCE_CHECKS.items() for label, fn, _ in WRONG[check]]
REFERENCE_RIGHT = [(name, label, fn) for name, check in REFERENCE_CHECKS.items() for label, fn in RIGHT[check]]


@pytest.mark.parametrize("name", list(REFERENCE_CHECKS))
def test_every_reference_passes_its_own_check(name, capsys):
    assert exercises.REFERENCES[name][1](exercises.reference(name))
    assert "Correct!" in capsys.readouterr().out


@pytest.mark.parametrize("name, label, fn", REFERENCE_WRONG, ids=[f"{n}-{label}" for n, label, _ in REFERENCE_WRONG])
def test_yours_or_reference_never_keeps_a_wrong_answer(name, label, fn, capsys):
    state = torch.get_rng_state()
    assert exercises.yours_or_reference(name, fn) is exercises.reference(name)
    out = capsys.readouterr().out
    assert (
        out.count("\n") == 1 and f"Your `{name}` does not pass its check yet" in out and f"reference({name!r})" in out
    )
    assert torch.equal(torch.get_rng_state(), state)


@functools.cache
def two_bars():
    return torch.stack([attributes.bar(3.0, 15.0, shear=0.2), attributes.bar(4.0, 12.0, angle=30.0)])


def sample_inputs(name):
    g = torch.Generator().manual_seed(5)
    if name == "interpolate":
        return torch.randn(4, generator=g), torch.randn(4, generator=g), 6
    if name == "bce_with_logits":
        return torch.randn(3, 5, generator=g) * 10, torch.rand(3, 5, generator=g)
    if name == "iwae_estimate":
        return (-100 + 3 * torch.randn(6, 4, generator=g),)
    if name == "slant":
        return (two_bars().clone(),)
    if name == "attribute_direction":
        codes = torch.randn(80, 4, generator=g)
        return codes, codes @ torch.tensor([1.0, -1.0, 0.0, 2.0]), torch.randint(0, 3, (80,), generator=g)
    if name == "style_sheet":
        with torch.random.fork_rng(devices=[]):  # a fresh model at every call: an answer may convert it in place
            torch.manual_seed(5)
            cvae = models.ConditionalVAE(latent_dim=2, hidden_dims=(8,))
        return cvae, torch.rand(1, 28, 28, generator=g), 4
    if name == "auroc":
        return torch.randn(30, generator=g), torch.randn(20, generator=g) + 1
    return torch.randn(3, 5, generator=g), torch.randn(3, 5, generator=g)


@pytest.mark.parametrize("name, label, fn", REFERENCE_RIGHT, ids=[f"{n}-{label}" for n, label, _ in REFERENCE_RIGHT])
def test_yours_or_reference_keeps_a_right_answer(name, label, fn, capsys):
    state = torch.get_rng_state()
    mine = exercises.yours_or_reference(name, fn)
    out = capsys.readouterr().out
    assert torch.equal(torch.get_rng_state(), state)  # the quiet check leaves the notebook's random stream alone
    # right, but training needs gradients
    if label in ("numpy", "list") and name in ("bce_with_logits", "kl_divergence"):
        assert mine is exercises.reference(name) and "gradients cannot flow through it" in out, out
        return
    assert out == ""
    kept = ("float32", "logsigmoid", "softplus", "paper's form", "rsample", "max shift by hand", "package")
    kept += ("loop over images", "raw moments in float32", "topk, summed", "loop with gradients")
    kept += ("pairs, float32 0-d tensor", "loop, Python float", "ranks in float32", "NumPy number")
    if label in kept:
        assert mine is fn
    else:
        assert mine is not fn and mine.__wrapped__ is fn  # wrapped to hand back a float32 tensor (or a float)
    got, want = mine(*sample_inputs(name)), exercises.reference(name)(*sample_inputs(name))
    if name == "auroc":  # one number: a float, or a 0-d tensor as the learner wrote it
        assert isinstance(got, (float, torch.Tensor)) and math.isclose(float(got), want, abs_tol=1e-6)
        assert isinstance(got, float) or label != "one-element tensor"
        return
    assert isinstance(got, torch.Tensor) and got.dtype == torch.float32 and got.shape == want.shape
    if name != "reparameterize":
        assert torch.allclose(got, want, atol=1e-5, rtol=1e-5)


def test_yours_or_reference_keeps_a_passing_function_quietly(capsys):
    state = torch.get_rng_state()
    assert exercises.yours_or_reference("interpolate", interpolate) is interpolate
    assert capsys.readouterr().out == ""
    assert torch.equal(torch.get_rng_state(), state)


@pytest.mark.parametrize("label, fn", HOSTILE, ids=[label for label, _ in HOSTILE])
def test_yours_or_reference_never_raises(label, fn, capsys):
    for name in REFERENCE_CHECKS:
        assert exercises.yours_or_reference(name, fn) is exercises.reference(name)
        assert "does not pass its check yet" in capsys.readouterr().out


def test_yours_or_reference_falls_back_and_says_so(capsys):
    def stub(mu, logvar):
        return ...

    state = torch.get_rng_state()
    assert exercises.yours_or_reference("reparameterize", stub) is exercises.reference("reparameterize")
    out = capsys.readouterr().out
    assert "Your `reparameterize` does not pass its check yet" in out and "reference('reparameterize')" in out
    assert torch.equal(torch.get_rng_state(), state)
    with pytest.raises(KeyError, match="No exercise function named 'nope'"):  # the notebook's error, not the learner's
        exercises.yours_or_reference("nope", stub)


# --------------------------------------------------------------------------- the errors learners meet most


def crash_with_name_error(mu, logvar):
    raise NameError("raised by hand, without a name")  # err.name is None: the hint cannot name it


CRASHES = [  # (check, a crashing answer, a phrase of the hint it must get)
    ("check_kl", lambda mu, lv: 0.5 * (mu**2 + lv.exp() - lv - one).sum(1), "one is not defined here"),  # noqa: F821
    ("check_kl", lambda mu, lv: mu + ..., "still a `...` in your code"),
    ("check_kl", lambda mu, lv: lv + torch.max(mu, 0), "return a (values, indices) pair"),
    ("check_kl", lambda mu, lv: max(mu, 0), "look at a whole tensor at once"),
    ("check_kl", lambda mu, lv: torch.as_tensor(max(mu.detach().numpy(), 0)), "look at a whole tensor at once"),
    ("check_reparameterize", lambda mu, lv: torch.as_tensor(np.exp(mu.numpy())), "NumPy cannot carry gradients"),
    ("check_reparameterize", lambda mu, lv: mu.add_(1), "do not change the inputs in place"),
    ("check_kl", lambda mu, lv: mu @ torch.ones(mu.shape[1], 1, dtype=torch.float64), "float64 (NumPy's default)"),
    ("check_kl", lambda mu, lv: mu + lv[:, :1].T, "print their .shape"),
    (
        "check_kl",
        lambda mu, lv: mu.new_zeros(mu.shape).index_add_(0, torch.arange(len(mu)), mu.double()).sum(1),
        "float64 (NumPy's default)",
    ),
    (
        "check_reparameterize",
        lambda mu, lv: mu + torch.exp(0.5 * lv) * torch.randn(mu.shape[0], mu.shape[-1] + 1),
        "eps must have exactly the shape of mu",
    ),
    (
        "check_reparameterize",
        lambda mu, lv: mu + torch.exp(0.5 * lv) * torch.randn(mu.shape).view(-1, 4097),
        "eps must have exactly the shape of mu",
    ),
    ("check_kl", crash_with_name_error, "a name is not defined here"),
    (
        "check_iwae_estimate",
        lambda lw: lw.max(0) + torch.log(torch.exp(lw - lw.max(0)).mean(0)),
        "torch.max(log_weights, dim=0) returns a (values, indices) pair: take .values",
    ),
    (
        "check_iwae_estimate",
        lambda lw: lw.amax(1) + torch.log(torch.exp(lw - lw.amax(1)).mean(0)),
        "m = log_weights.amax(dim=0), has shape (B,)",
    ),
]


@pytest.mark.parametrize("check_name, fn, phrase", CRASHES, ids=[p for _, _, p in CRASHES])
def test_a_crash_learners_meet_often_gets_its_hint(check_name, fn, phrase, capsys):
    ok, out, err = run_check(check_name, fn, capsys)
    assert ok is False and out.startswith("Not yet. ") and "your function raised " in out and out.count("\n") == 1, out
    assert f"Hint: {phrase}" in out or phrase in out.split("Hint: ", 1)[-1], out
    assert "Traceback" not in out + err


def test_an_unknown_crash_gets_no_made_up_hint(capsys):
    ok, out, _ = run_check("check_kl", lambda mu, lv: mu.view(-1, 7), capsys)
    assert ok is False and out.startswith("Not yet. your function raised RuntimeError") and "Hint" not in out, out


# --------------------------------------------------------------------------- every message, as reviewed

MESSAGES = Path(__file__).with_name("exercise_messages.txt")


def normalized(message):
    """A check's message without what may change between machines and versions: torch's own wording of an
    error (the check adds its hint after it) and the digits of fractional numbers (whole numbers, such as
    sizes, indices and counts, are kept: the checks' inputs are seeded)."""
    message = re.sub(r"raised (\w+)(: .*?)?(\. Hint: |\.$)", r"raised \1\3", message.strip())
    return re.sub(r"\d+\.\d*(e[-+]?\d+)?|\d+e[-+]?\d+", "#", message)


def every_message(capsys):
    lines = []
    for check_name, label, fn in CASES_RIGHT:
        lines.append(f"{check_name} | right: {label} | {normalized(run_check(check_name, fn, capsys)[1])}")
    for check_name, label, fn, _ in CASES_WRONG:
        lines.append(f"{check_name} | wrong: {label} | {normalized(run_check(check_name, fn, capsys)[1])}")
    for check_name, fn, phrase in CRASHES:
        lines.append(f"{check_name} | crash: {phrase} | {normalized(run_check(check_name, fn, capsys)[1])}")
    for i, (check_name, answers, data, *_) in enumerate(READINGS_RIGHT + READINGS_WRONG):
        getattr(exercises, check_name)(*answers, data)  # numbered: reprs of NumPy values differ between versions
        lines.append(f"{check_name} | reading {i} | {normalized(capsys.readouterr().out)}")
    return lines


def test_every_message_is_the_reviewed_one(capsys):
    """The hints are what the learner reads: each is pinned in tests/exercise_messages.txt, so that a change
    of wording is a reviewed change. After changing a message on purpose, rewrite the file with
    UPDATE_EXERCISE_MESSAGES=1 pytest tests/test_exercises.py -k reviewed, and read its diff."""
    got = "\n".join(every_message(capsys)) + "\n"
    if os.environ.get("UPDATE_EXERCISE_MESSAGES"):
        MESSAGES.write_text(got, encoding="utf-8")
    expected = MESSAGES.read_text(encoding="utf-8").splitlines()
    changed = [f"  now: {new}\n  was: {old}" for new, old in zip(got.splitlines(), expected) if new != old]
    assert len(got.splitlines()) == len(expected) and not changed, (
        "messages differ from tests/exercise_messages.txt (rewrite it with UPDATE_EXERCISE_MESSAGES=1 if the "
        "change is meant):\n" + "\n".join(changed[:10])
    )


def test_a_check_gives_the_same_message_at_every_call(capsys):
    """The checks' inputs are seeded: a wrong answer meets the same case, and the same message, every time."""
    for check_name, label, fn, _ in CASES_WRONG:
        if check_name == "check_reparameterize":
            continue  # the learner's own noise differs between calls
        first, second = run_check(check_name, fn, capsys)[1], run_check(check_name, fn, capsys)[1]
        assert first == second, (label, first, second)


def crash_with(message):
    def answer(mu, logvar):
        raise ValueError(message)

    return answer


@pytest.mark.parametrize(
    "message, shown",
    [
        ("\n   the first line  \nthe second line", ": the first line."),
        ("x" * 160, ": " + "x" * 160 + "."),
        ("y" * 161, ": " + "y" * 157 + "...."),
        ("", "."),
        ("  \n ", "."),
    ],
)
def test_a_crash_is_quoted_in_one_short_line(message, shown, capsys):
    ok, out, _ = run_check("check_kl", crash_with(message), capsys)
    assert ok is False and out == f"Not yet. your function raised ValueError{shown}\n", out


def test_yours_or_reference_refuses_a_right_kl_that_blocks_gradients(capsys):
    def kl_logvar_detached(mu, logvar):  # right values, but training could not move logvar
        lv = logvar.detach()
        return 0.5 * (mu**2 + lv.exp() - lv - 1).sum(dim=1)

    assert exercises.yours_or_reference("kl_divergence", kl_logvar_detached) is exercises.reference("kl_divergence")
    assert "gradients cannot flow through it" in capsys.readouterr().out
    assert exercises.yours_or_reference("kl_divergence", kl) is kl


# --------------------------------------------------------------------------- the checks test what they promise


def test_the_bce_check_tries_the_logits_and_targets_its_docstring_promises():
    cases = exercises._bce_cases()
    extreme = next(logits for name, logits, _ in cases if name == "extreme").flatten().tolist()
    for size in (1000.0, 100.0, 89.0, 20.0, 1e-30):  # each extreme logit with both signs (as float32)
        size = torch.tensor(size).item()
        assert size in extreme and -size in extreme, size
    assert 0.0 in extreme and torch.tensor(1e-8).item() in extreme
    targets = torch.cat([x.flatten() for _, _, x in cases])
    assert targets.min() == 0 and targets.max() == 1 and ((targets > 0) & (targets < 1)).any()
    random_logits = torch.cat([logits.flatten() for name, logits, _ in cases if name.startswith("random")]).abs()
    assert len([n for n, _, _ in cases if n.startswith("random")]) >= 3
    assert random_logits.min() < 1e-7 and random_logits.min() >= 1e-8 and 1e2 < random_logits.max() <= 1e3
    assert random_logits.numel() >= 3 * 48 and (random_logits.log10().floor().unique().numel() >= 10)  # every decade
    ordinary = next(logits for name, logits, _ in cases if name == "ordinary")
    assert ordinary.shape == (4, 6) and 1 < ordinary.abs().max() < 20


def test_the_kl_check_tries_the_inputs_its_docstring_promises():
    cases = exercises._kl_cases()
    assert [name for name, _, _ in cases[:2]] == ["ordinary", "tiny"] and cases[0][1].shape == (5, 4)
    tiny_mu, tiny_lv = cases[1][1], cases[1][2]
    assert tiny_mu.abs().max() <= 1e-3 and tiny_lv.abs().max() <= 1e-3 and (tiny_mu == 0).any() and (tiny_mu != 0).any()
    randoms = [(mu, lv) for name, mu, lv in cases if name.startswith("random")]
    assert len(randoms) >= 3 and all(mu.shape[0] != mu.shape[1] for mu, _ in randoms)  # never B == D
    assert {mu.shape[1] for mu, _ in randoms} >= {1}  # one latent dimension too
    mu, lv = torch.cat([m.flatten() for m, _ in randoms]), torch.cat([v.flatten() for _, v in randoms])
    assert 15 < mu.abs().max() <= 20 and mu.min() < 0 < mu.max()  # mu up to +-20
    assert lv.min() < -10 and lv.max() > 10 and lv.abs().max() <= 12  # logvar from -12 to 12


def test_the_interpolate_check_tries_the_inputs_its_docstring_promises():
    cases = exercises._interpolate_cases()
    assert [(name, steps) for name, _, _, steps in cases[:2]] == [("ordinary", 2), ("ordinary", 5)]
    randoms = [(z0, z1, steps) for name, z0, z1, steps in cases if name.startswith("random")]
    assert len(randoms) == 3 and all(len(z0) != steps for z0, _, steps in randoms)  # never D == steps
    assert min(len(z0) for z0, _, _ in randoms) == 1 and max(len(z0) for z0, _, _ in randoms) == 32
    values = torch.cat([torch.cat([z0, z1]) for z0, z1, _ in randoms]).abs()
    assert values.min() < 1e-2 and values.max() > 1e2 and values.max() < 1e4  # sizes from 1e-3 to 1e3
    assert {steps for _, _, steps in randoms} >= {2}  # the shortest path: its two ends


def test_the_sharpness_check_tries_the_images_its_docstring_promises():
    cases = exercises._sharpness_cases()
    assert cases[0][0] == "random" and cases[1][0] == "a single image" and cases[1][1].shape[:2] == (1, 1)
    sizes = [tuple(images.shape[-2:]) for _, images in cases]
    assert all(h != w for h, w in sizes)  # never square: a transposed answer shows
    assert all(images.shape[1] == 1 for _, images in cases)  # one channel, as the course's images
    assert (2, 9) in sizes and (31, 24) in sizes
    for _, images in cases[2:]:  # noise, binary, smooth and faint images of each size
        b = len(images) // 4
        noise, binary, smooth, faint = images[:b], images[b : 2 * b], images[2 * b : 3 * b], images[3 * b :]
        assert set(binary.unique().tolist()) <= {0.0, 1.0} and faint.max() <= 1e-3 and noise.std() > 0
        assert torch.allclose(faint, noise * 1e-3) and (smooth.diff(dim=-1) >= 0).all()


def test_the_iwae_check_tries_the_inputs_its_docstring_promises():
    cases = exercises._iwae_cases()
    names = [name for name, _ in cases]
    assert names[:5] == [
        "ordinary log weights",
        "a single sample",
        "very negative log weights, around -1e4",
        "large log weights, around +1e3",
        "one weight far above the others",
    ]  # the fixed cases first: a failure there gets the most specific hint
    fixed = dict(cases[:5])
    assert all(lw.dtype == torch.float32 for _, lw in cases)
    assert all(lw.shape[0] != lw.shape[1] for _, lw in cases)  # never K == B: the wrong dimension shows
    assert fixed["ordinary log weights"].shape == (5, 3) and (fixed["ordinary log weights"] + 100).abs().max() < 15
    assert fixed["a single sample"].shape[0] == 1  # K = 1: the estimate is the log weight itself
    very_negative, large = fixed["very negative log weights, around -1e4"], fixed["large log weights, around +1e3"]
    assert very_negative.min() > -1.1e4 and very_negative.max() < -9e3
    assert large.min() > 900 and large.max() < 1100
    assert (iwae_naive(very_negative) == -math.inf).all() and (iwae_naive(large) == math.inf).all()
    top2 = fixed["one weight far above the others"].topk(2, dim=0).values
    assert (top2[0] - top2[1] > 1e4 - 10).all()  # every image: one weight, the others 1e4 below it
    randoms = [lw for name, lw in cases[5:] if name.startswith("random")]
    assert len(randoms) == len(cases) - 5 >= 3 and len(randoms) >= len(exercises.CHECK_SEEDS)
    assert max(len(lw) for lw in randoms) == 5000 and max(lw.shape[1] for lw in randoms) == 7
    assert min(lw.shape[1] for lw in randoms) == 1 and min(len(lw) for lw in randoms) <= 2
    spreads = torch.cat([lw.double().std(dim=0) for lw in randoms if len(lw) > 50])
    assert spreads.min() < 1e-2 and spreads.max() > 1e2 and spreads.max() < 2e3  # spreads from 1e-3 to 1e3
    values = torch.cat([lw.flatten() for lw in randoms])
    assert values.min() < -8e3 and values.max() > -1e3  # centres drawn from -1e4 to +1e3


def test_the_naive_iwae_estimate_fails_at_minus_1e4_with_the_stability_hint(capsys):
    assert not exercises.check_iwae_estimate(lambda lw: iwae_naive(lw.double()))  # right for ordinary log weights
    out = capsys.readouterr().out
    assert out.startswith("Not yet. for very negative log weights, around -1e4") and "you give -inf" in out, out
    assert "Hint: exp(-1e4) is 0 in floating point" in out and "m + log(mean(exp(lw - m)))" in out, out
    assert "torch.logsumexp" in out, out
    assert not exercises.check_iwae_estimate(iwae_naive)  # in float32, exp(-100) is already below the normal range
    out = capsys.readouterr().out
    assert out.startswith("Not yet. for ordinary log weights") and "take out the largest log weight first" in out, out
    name, large = exercises._iwae_cases()[3]  # overflow: no wrong answer of the list gets this far
    assert "exp(1e3) is inf in floating point" in exercises._iwae_hint(name, large, iwae_naive(large).double(), 0)


def test_the_slant_check_tries_the_images_its_docstring_promises():
    cases = dict(exercises._slant_images())
    slants = torch.cat([attributes.slant(images) for images in cases.values()])
    assert slants.min() <= -0.45 and slants.max() >= 0.55  # parallelograms from -0.5 to 0.6
    assert len(cases["a single bar"]) == 1 and len(cases["turned bars"]) == 3
    assert torch.allclose(attributes.slant(cases["slanted bars"]), torch.tensor([0.4, -0.3, 0.15, 0.6]), atol=0.02)
    randoms = [images for name, images in cases.items() if name.startswith("random strokes")]
    assert len(randoms) == len(exercises.CHECK_SEEDS) and all(len(x) not in (1, 28) for x in randoms)
    images = torch.cat(list(cases.values()))
    assert images.shape[1:] == (1, 28, 28) and images.min() >= 0 and images.max() <= 1
    assert ((images > 0) & (images < 1)).any()  # grey edges: the pixels are weights, not a mask


def test_the_direction_check_tries_the_codes_its_docstring_promises():
    cases = exercises._direction_cases()
    assert cases[0][0] == "one digit" and len(cases[0][3].unique()) == 1
    counts = sorted(torch.unique(cases[1][3], return_counts=True)[1].tolist())
    assert counts == [5, 12, 40]
    randoms = [(c, v, lab) for name, c, v, lab in cases if name.startswith("random")]
    assert len(randoms) == 3 and {c.shape[1] for c, _, _ in randoms} == {2, 5, 16}
    assert min(len(c) for c, _, _ in randoms) == 61 and max(len(c) for c, _, _ in randoms) == 2000
    for _, _, lab in randoms:
        n = torch.unique(lab, return_counts=True)[1]
        assert n.min() == 1 and n.max() > 2 * n.min() and 5 <= len(n) <= 10  # unequal, and one digit alone
    for _, _, values, labels in cases:  # no ties: the quarters are the same whichever way they are sorted
        for c in labels.unique():
            assert len(values[labels == c].unique()) == int((labels == c).sum())
    # the wrong answers that the hints name differ from the right one on some case, by far more than the tolerance
    for wrong in (direction_by(quarter, pooled=True), direction_by(quarter, weighted=True)):
        assert max((wrong(c, v, lab) - direction(c, v, lab)).abs().max() for _, c, v, lab in cases) > 0.05


def test_the_style_sheet_check_tries_the_models_its_docstring_promises():
    cases = exercises._style_cases()
    assert {cvae.latent_dim for _, cvae, _, _ in cases} == {2, 3} and [label for *_, label in cases] == [7, 2, 0, 9]
    for _, cvae, image, label in cases:
        x = image.reshape(1, -1)
        _, logvar = cvae.encode(x, torch.tensor([label]))
        assert (logvar.exp().sqrt() > 0.3).all()  # a sample lies far from the mean: sampling shows
        sheet = exercises._style_sheet(cvae, image, label)
        assert (sheet[1:] - sheet[:-1]).abs().amax(dim=(1, 2, 3)).min() > 1e-3  # every digit differs from the next
    state = torch.get_rng_state()
    exercises.check_style_sheet(style_sheet_by(sample=True), quiet=True)
    assert torch.equal(torch.get_rng_state(), state)


def test_the_auroc_check_tries_the_scores_its_docstring_promises():
    cases = exercises._auroc_cases()
    shares = [float(auroc_numpy(a, b)) for _, a, b in cases]
    assert shares[:3] == [1.0, 0.0, 0.5]
    _, a, b = cases[3]
    assert float(auroc_by(ties=1.0)(a, b)) - shares[3] > 0.05  # many ties
    assert any(len(a) == 1 and len(b) == 5000 for _, a, b in cases)
    assert max(len(a) * len(b) for _, a, b in cases) == 2000 * 3000
    assert all(len(a) != len(b) for name, a, b in cases if name != "identical sets")
    assert all(a.ndim == b.ndim == 1 for _, a, b in cases)
