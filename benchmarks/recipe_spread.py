"""How much does a trained model's figure depend on the seed and the machine? Train a course recipe
several times and print the spread of its test figures.

Each run trains the recipe exactly as the notebooks do (``zoo.train_recipe``: same code, same data,
same settings), with another seed, another number of CPU threads, or, emulated, another processor:
``--isa other-cpu`` limits PyTorch's kernels to AVX2 and puts MKL's matrix products on their
"compatible" code path, so that floating-point sums round as on another processor. Each run is a process
of its own (the thread count and instruction set are fixed when torch loads).

    python benchmarks/recipe_spread.py --recipe vae_main                     # 3 seeds x 1, 2 threads: ~8 min
    python benchmarks/recipe_spread.py --recipe vae_main --isa default other-cpu  # and on AVX2: ~16 min
    python benchmarks/recipe_spread.py --recipe ae_main --fast               # fast mode
    python benchmarks/recipe_spread.py --set activation=relu --set kl_warmup_epochs=0   # an ablation

It prints one line per run and then min / median / max of each figure; ``--out FILE`` also writes
every run as JSON. The bounds and figures that notebooks quote come from these runs.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import time

# another processor, emulated: PyTorch's own kernels limited to AVX2 (no AVX-512), and MKL's matrix products
# on its "compatible" code path, so that floating-point sums round as they would on different hardware
ISA_ENV = {
    "default": {},
    "other-cpu": {"ATEN_CPU_CAPABILITY": "avx2", "MKL_CBWR": "COMPATIBLE"},
}


def overridden(recipe, settings: list[str]):
    """The recipe with ``field=value`` settings changed (values read as Python literals: 2e-3, (0.9, 0.999), 'relu')."""
    import ast
    import dataclasses

    changes = {}
    for item in settings:
        key, _, value = item.partition("=")
        try:
            changes[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            changes[key] = value  # a bare word, e.g. relu
    return dataclasses.replace(recipe, **changes)


def one_run(recipe_name: str, seed: int, fast: bool, settings: list[str]) -> dict:
    """Train once in this process and return the last epoch's figures."""
    import torch

    from vae_helpers import zoo
    from vae_helpers.data import course_mnist
    from vae_helpers.utils import configure_threads, seed_everything

    threads = configure_threads()
    recipe = overridden(zoo.recipe(recipe_name), settings)
    mnist = course_mnist(fast)
    seed_everything(seed)
    model = recipe.build()
    start = time.perf_counter()
    history = zoo.train_recipe(model, recipe, mnist, fast, seed=seed)
    last = history.epochs[-1]
    return {
        "recipe": recipe_name,
        "settings": settings,
        "seed": seed,
        "threads": threads,
        "fast": fast,
        "isa": os.environ.get("ATEN_CPU_CAPABILITY", "default"),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "epochs": len(history),
        "train_seconds": round(sum(history["train_seconds"]), 1),
        "wall_seconds": round(time.perf_counter() - start, 1),
        **{k: round(v, 3) for k, v in last.items() if k.startswith("test_")},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipe", default="vae_main", help="a name of zoo.RECIPES (default vae_main)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--isa", nargs="+", default=["default"], choices=sorted(ISA_ENV))
    parser.add_argument("--fast", action="store_true", help="fast mode (5,000 training images)")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="change a field of the recipe, e.g. --set activation=relu --set 'betas=(0.9, 0.999)'",
    )
    parser.add_argument("--out", help="also write every run to this JSON file")
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)  # a single run, in this process
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(one_run(args.recipe, args.seeds[0], args.fast, args.set)))
        return 0

    runs = []
    for isa, threads, seed in itertools.product(args.isa, args.threads, args.seeds):
        env = {**os.environ, **ISA_ENV[isa], "VAE_NUM_THREADS": str(threads), "VAE_DEVICE": "cpu"}
        cmd = [sys.executable, __file__, "--one", "--recipe", args.recipe, "--seeds", str(seed)] + (
            ["--fast"] if args.fast else []
        )
        cmd += [f"--set={item}" for item in args.set]
        out = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if out.returncode:
            print(out.stderr, file=sys.stderr)
            return out.returncode
        run = json.loads(out.stdout.strip().splitlines()[-1])
        runs.append(run)
        shown = "  ".join(f"{k} {v:.2f}" for k, v in run.items() if k.startswith("test_"))
        print(
            f"{args.recipe} {'fast' if args.fast else 'full'}  isa {isa:7s} (torch: {run['cpu_capability']:6s})  "
            f"threads {threads}  seed {seed}:  {shown}  ({run['train_seconds']:.0f} s training)",
            flush=True,
        )
    print(f"\nover {len(runs)} runs{' with ' + ', '.join(args.set) if args.set else ''}:")
    for key in [k for k in runs[0] if k.startswith("test_")] + ["train_seconds"]:
        values = [r[key] for r in runs]
        print(f"  {key:14s} min {min(values):8.2f}   median {statistics.median(values):8.2f}   max {max(values):8.2f}")
    if args.out:
        with open(args.out, "w") as f:
            json.dump(runs, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
