"""Every figure a notebook quotes or checks, measured over seeds, thread counts and processors.

Runs the course notebooks headless, as a learner's Run All does, once per combination of seed
(``VAE_SEED``, which every training cell uses), CPU threads (``VAE_NUM_THREADS``) and instruction
set (``--isa other-cpu`` emulates another processor: PyTorch's kernels use AVX2 at most and MKL's
matrix products their "compatible" code path, so sums round differently),
each time training every model afresh into a temporary checkpoint folder. From each run it reads
the figures the notebooks print (the patterns below), and whether every cell ran. Then it prints,
per figure, min / median / max over the runs, and where a notebook checks a figure, the margin
left to its bound.

    python benchmarks/notebook_spread.py 04                          # notebook 04, 3 seeds x 1, 2 threads
    python benchmarks/notebook_spread.py 01 03 04 05 --isa default other-cpu --out spread.json
    python benchmarks/notebook_spread.py 05 --fast                   # fast mode

Full mode takes the notebooks' full time per run (notebook 04: about 2 minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

from recipe_spread import ISA_ENV  # the emulated processors (this script's folder is on sys.path)

from vae_helpers import zoo

ROOT = Path(__file__).resolve().parent.parent
NUMBER = r"(-?\d+(?:\.\d+)?(?:e[-+]?\d+)?)"
SKIP = r"-?\d+(?:\.\d+)?"  # a number in a table row that is not the figure

# notebook number -> {figure name: (regex with one group over the notebook's printed output, check or None)}
# A check is (">" or "<", bound in full mode, bound in fast mode): the bound the notebook or zoo.trained
# applies to that figure, whose margin the summary reports.
FIGURES: dict[str, dict[str, tuple[str, tuple[str, float, float] | None]]] = {
    "01": {
        "final MSE": (rf"final MSE: {NUMBER}", ("<", 1e-4, 5e-4)),
    },
    "02": {
        "random code to closest stored digit, median MSE": (rf"closest stored digit: median {NUMBER}", None),
        "two stored digits apart / random code to stored": (rf"\({NUMBER}x as far\)", (">", 2.0, 2.0)),
        "random codes decoding to a stored digit, %": (rf"{NUMBER}% of 1,000 random codes decode", None),
        "search: last new digit's improvement, %": (rf"\({NUMBER}% lower\)", None),
    },
    "03": {
        "ae_main test BCE": (rf"test BCE: {NUMBER} nats per image", ("<", *zoo.MAX_TEST_LOSS["ae_main"])),
        "conv AE test BCE": (rf"convolutional {NUMBER} nats", None),
        "denoiser gain at noise 0.25": (rf"noise 0.25: MSE .*\({NUMBER}x closer", (">", 1.0, 1.0)),
        "denoiser gain at noise 0.5": (rf"noise 0.5: MSE .*\({NUMBER}x closer", (">", 1.0, 1.0)),
        "2-D path inner points no digit, %": (
            rf"2-D: of the 1,600 points .* {NUMBER}% are no digit",
            (">", 20.0, 20.0),
        ),
        "20-D path inner points no digit, %": (
            rf"20-D: of the 1,600 points .* {NUMBER}% are no digit",
            (">", 20.0, 20.0),
        ),
        "20-D path inner points a third digit, %": (
            rf"20-D: of the 1,600 points .*, {NUMBER}% a digit of neither",
            (">", 0.0, 0.0),
        ),
    },
    "04": {
        "vae_main test -ELBO": (rf"test negative ELBO: {NUMBER} nats per image", ("<", *zoo.MAX_TEST_LOSS["vae_main"])),
        "vae_main test KL": (rf"\+ KL {NUMBER}\)", (">", 1.0, 1.0)),
        "vae_main training seconds": (rf"epochs and {NUMBER} s of training", None),
        "pixel-mean VAE test KL": (rf"averaged over pixels: test KL\s+{NUMBER}", None),
        "VAE samples confidently a digit, %": (rf"VAE:\s+{NUMBER}% of 1,000 images", None),
        "autoencoder samples confidently a digit, %": (rf"autoencoder:\s+{NUMBER}% of 1,000 images", None),
        "draws from q(z|x) read as their digit, %": (rf"{NUMBER}% of the 64 draws are read", None),
        "2-D grid cells confidently a digit, %": (rf"the 400 cells of the grid: {NUMBER}%", None),
        "grid: neighbouring cells' pixel difference": (rf"between neighbouring cells {NUMBER}", None),
        "grid: random pairs' pixel difference": (rf"between random pairs of cells {NUMBER}", None),
        "VAE path inner points confidently a digit, %": (
            rf"VAE: of the 1,600 points inside 200 paths, {NUMBER}%",
            None,
        ),
        "AE path inner points confidently a digit, %": (
            rf"autoencoder: of the 1,600 points inside 200 paths, {NUMBER}%",
            None,
        ),
    },
    "05": {
        "KL-only model KL": (rf"KL-only model: KL {NUMBER} nats", ("<", 0.05, 0.05)),
        "KL-only model output spread": (rf"16 different digits {NUMBER}", ("<", 0.01, 0.01)),
        "recon-only KL / both KL": (rf"nats, {NUMBER}x that of the model trained on both", (">", 2.0, 2.0)),
        "conv VAE test -ELBO": (rf"Conv VAE test negative ELBO: {NUMBER}", ("<", 120.0, 200.0)),
        "recon-only samples confidently a digit, %": (
            rf"reconstruction only: .*confidently a digit:\s+{NUMBER}%",
            None,
        ),
        "recon-only classes covered": (rf"reconstruction only: .*of {NUMBER} classes", None),
        "both: samples confidently a digit, %": (rf"both \(notebook 04\): .*confidently a digit:\s+{NUMBER}%", None),
        "both: classes covered": (rf"both \(notebook 04\): .*of {NUMBER} classes", None),
        "beta 4 samples confidently a digit, %": (rf"beta  4.0: .*confidently a digit: {NUMBER}%", None),
        "beta 4 reconstruction": (rf"beta  4.0: reconstruction\s+{NUMBER}", None),
        "beta 1 reconstruction": (rf"beta  1.0: reconstruction\s+{NUMBER}", None),
        "dimensions carrying information (of 20)": (rf"{NUMBER} of 20 dimensions carry information", None),
        "channel: largest |KL - log messages|, nats": (rf"log of its message count: {NUMBER} nats", None),
        "sharpness, reconstructions, cross-entropy": (rf"VAE, cross-entropy\s+{NUMBER}", None),
        "sharpness, reconstructions, squared error": (rf"VAE, squared error\s+{NUMBER}", None),
        "MLP VAE samples confidently a digit, %": (
            rf"MLP VAE \(notebook 04\)\s+[\d,]+(?:\s+\S+){{5}}\s+{NUMBER}%",
            None,
        ),
        "conv VAE samples confidently a digit, %": (rf"conv VAE\s+[\d,]+(?:\s+\S+){{5}}\s+{NUMBER}%", None),
        "MLP VAE active dims": (rf"MLP VAE \(notebook 04\)\s+[\d,]+(?:\s+\S+){{4}}\s+{NUMBER}", None),
        "conv VAE active dims": (rf"conv VAE\s+[\d,]+(?:\s+\S+){{4}}\s+{NUMBER}", None),
    },
    "06": {
        "grid [-6, 6]^2 (300 cells) vs the finest, nats": (
            rf"is within {NUMBER} nats of the finest",
            ("<", 0.01, 0.01),
        ),
        "|ELBO + KL - log p(x)|, largest over 100 digits": (
            rf"- log p\(x\)\| is at most {NUMBER} nats",
            ("<", 0.05, 0.05),
        ),
        "2-D: mean gap log p(x) - ELBO, nats": (rf"the bound is {NUMBER} nats short", None),
        "IWAE (K = 2,000) above log p(x), in errors": (rf"in units of its error: {NUMBER}", ("<", 4.0, 4.0)),
        "IWAE smallest rise with K, 2-D, nats": (rf"next: 2-D {NUMBER} nats", (">", 0.0, 0.0)),
        "IWAE smallest rise with K, 20-D, nats": (rf"20-D {NUMBER} nats;", (">", 0.0, 0.0)),
        "2-D: exact minus IWAE K = 500, nats": (rf"exact minus K = 500: {NUMBER} nats", (">", -0.05, -0.05)),
        "amortization share of the gap, %": (rf"amortization {NUMBER}%", None),
        "active units, beta 0.5": (rf"\n\s+0.5 +{NUMBER}/20", None),
        "active units, beta 1": (rf"\n\s+1 +{NUMBER}/20", (">", 2.5, 2.5)),
        "active units, beta 2": (rf"\n\s+2 +{NUMBER}/20", None),
        "active units, beta 4": (rf"\n\s+4 +{NUMBER}/20", None),
        "active units, beta 784": (rf"beta = 784: {NUMBER} active units", ("<", 0.5, 0.5)),
        "binarized MNIST: test NLL (K = 5,000), nats": (rf"test digits\): {NUMBER} ±", None),
        "binarized MNIST: test negative ELBO, nats": (rf"same digits:\s+{NUMBER} nats", None),
    },
    "07": {
        "judge: test accuracy, %": (rf"The judge reads {NUMBER}% of the [\d,]+ test digits", (">", 98.0, 98.0)),
        **{
            f"{name}, regression: label kept, %": (
                rf"\n\s*{name}\s+regression\s+{SKIP}\s+{SKIP}\s+{SKIP}\s+{SKIP}%\s+{NUMBER}%",
                None,
            )
            for name in ("ink", "thickness", "slant", "width")
        },
        "style sheets read as asked, %": (rf"reads {NUMBER}% of the 1,000 written digits", (">", 95.0, 80.0)),
        "AUROC rotated, negative ELBO": (rf"rotated digits\s+{NUMBER}", (">", 0.5, 0.5)),
        "AUROC rotated, autoencoder": (rf"rotated digits\s+{SKIP}\s+{SKIP}\s+{NUMBER}", None),
        "AUROC strokes, negative ELBO": (rf"strokes\s+{NUMBER}", (">", 0.5, 0.5)),
        "AUROC strokes, autoencoder": (rf"strokes\s+{SKIP}\s+{SKIP}\s+{NUMBER}", None),
        "AUROC inverted, negative ELBO": (rf"inverted digits\s+{NUMBER}", (">", 0.5, 0.5)),
        "AUROC noise, negative ELBO": (rf"\n\s+noise\s+{NUMBER}", (">", 0.5, 0.5)),
    },
}


def run_notebook(path: Path, env: dict[str, str], timeout: int) -> tuple[str, list[str], float]:
    """(everything the notebook printed, errors, seconds) for one headless run with ``env`` set."""
    import nbformat
    from nbclient import NotebookClient

    saved = dict(os.environ)
    os.environ.update(env)  # the kernel inherits this process's environment
    try:
        nb = nbformat.read(path, as_version=4)
        start = time.perf_counter()
        NotebookClient(
            nb,
            timeout=timeout,
            kernel_name="python3",
            allow_errors=True,
            resources={"metadata": {"path": str(path.parent)}},
        ).execute()
        seconds = time.perf_counter() - start
    finally:
        os.environ.clear()
        os.environ.update(saved)
    text, errors = [], []
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if out.output_type == "stream":
                text.append(out.text)
            elif out.output_type == "error":
                errors.append(f"cell {i}: {out.ename}: {out.evalue}")
            else:
                text.append(out.get("data", {}).get("text/plain", ""))
    return "\n".join(text), errors, seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="+", choices=sorted(FIGURES), help="notebook numbers")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--isa", nargs="+", default=["default"], choices=sorted(ISA_ENV))
    parser.add_argument("--fast", action="store_true", help="fast mode (VAE_FAST=1)")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds per cell")
    parser.add_argument("--out", help="also write every run's figures to this JSON file")
    args = parser.parse_args(argv)

    runs = []
    for number, isa, threads, seed in itertools.product(args.notebooks, args.isa, args.threads, args.seeds):
        path = next(ROOT.glob(f"notebooks/{number}_*.ipynb"))
        with tempfile.TemporaryDirectory(prefix="spread-checkpoints-") as checkpoints:
            env = {
                **ISA_ENV[isa],
                "VAE_SEED": str(seed),
                "VAE_NUM_THREADS": str(threads),
                "VAE_DEVICE": "cpu",
                "VAE_FAST": "1" if args.fast else "0",
                "VAE_RETRAIN": "1",
                "VAE_CHECKPOINT_DIR": checkpoints,
                "MPLBACKEND": "Agg",
            }
            text, errors, seconds = run_notebook(path, env, args.timeout)
        figures = {}
        for name, (pattern, _) in FIGURES[number].items():
            found = re.findall(pattern, text)
            figures[name] = float(found[-1]) if found else None
        run = {
            "notebook": number,
            "isa": isa,
            "threads": threads,
            "seed": seed,
            "fast": args.fast,
            "seconds": round(seconds, 1),
            "errors": errors,
            "figures": figures,
        }
        runs.append(run)
        shown = "  ".join(f"{k} {v:.4g}" if v is not None else f"{k} MISSING" for k, v in figures.items())
        print(
            f"{path.name} {'fast' if args.fast else 'full'} isa {isa:7s} threads {threads} seed {seed}: "
            f"{'OK' if not errors else 'ERRORS ' + '; '.join(errors)}  {seconds:.0f} s  |  {shown}",
            flush=True,
        )

    print(f"\nover {len(runs)} runs ({'fast' if args.fast else 'full'} mode):")
    failed = 0
    for number in args.notebooks:
        mine = [r for r in runs if r["notebook"] == number]
        bad = [r for r in mine if r["errors"]]
        failed += len(bad)
        print(f"notebook {number}: {len(mine) - len(bad)} of {len(mine)} runs without an error")
        for name, (_, bound) in FIGURES[number].items():
            values = [r["figures"][name] for r in mine if r["figures"][name] is not None]
            if not values:
                print(f"  {name:32s} never printed")
                failed += 1
                continue
            line = f"  {name:32s} min {min(values):10.4g}   median {statistics.median(values):10.4g}   max {max(values):10.4g}"
            if bound:
                op, limit = bound[0], bound[2 if args.fast else 1]
                worst = max(values) if op == "<" else min(values)
                margin = (limit - worst) if op == "<" else (worst - limit)
                line += f"   check: {op} {limit:g}, worst case leaves {margin:.4g}"
            print(line)
    if args.out:
        with open(args.out, "w") as f:
            json.dump(runs, f, indent=1)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
