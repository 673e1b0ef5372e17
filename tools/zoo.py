"""Every model of the course: train them all ahead of a class, and list what is saved.

    python -m tools.zoo train-all          # (make models) run every notebook headless: trains and saves all
    python -m tools.zoo train-all --keep   # keep the models whose key matches; train only the others
    python -m tools.zoo list               # what is saved, with its test figures (manifest.json)

``train-all --keep --fail-if-trained`` checks a prepared folder: it fails if any notebook had to train
a model (CI runs it, from a folder of ready-trained models with the network blocked).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from pathlib import Path

from vae_helpers.checkpoints import CheckpointError, checkpoint_dir, read_manifest
from vae_helpers.utils import display_path

from .classroom import course_notebooks


def _printed(nb) -> str:
    """Everything an executed notebook's code cells printed."""
    return "\n".join(
        o.get("text", "")
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
        if o.get("output_type") == "stream"
    )


def training_lines(nb) -> tuple[list[str], list[str]]:
    """Names of the models an executed notebook trained and loaded, from the lines ``zoo.trained`` prints."""
    text = _printed(nb)
    trained_here = re.findall(r"^Training '([^']+)'", text, re.M)
    loaded = re.findall(r"^Loaded '([^']+)'", text, re.M)
    sweep = re.search(r"capacity sweep: (\d+) models trained here and saved, (\d+) loaded", text)
    if sweep:
        trained_here += [f"capacity sweep model {i + 1}" for i in range(int(sweep[1]))]
        loaded += [f"capacity sweep model {i + 1}" for i in range(int(sweep[2]))]
    return trained_here, loaded


def training_reasons(nb) -> list[tuple[str, str]]:
    """``(model, why it was trained)`` for every model an executed notebook trained, from ``zoo.trained``'s line."""
    return re.findall(r"^Training '([^']+)' \((.*)\)\.$", _printed(nb), re.M)


def train_all(retrain: bool = True, notebooks: list[Path] | None = None, timeout: int = 3600) -> list[str]:
    """Run every course notebook headless, top to bottom, so every model it trains is trained and saved
    (outputs are thrown away; the committed notebooks are not touched). Prints, per notebook, the
    models it trained and those it loaded. Returns the names of the models trained."""
    import nbformat
    from nbclient import NotebookClient

    notebooks = notebooks or course_notebooks()
    trained_names: list[str] = []
    previous = os.environ.get("VAE_RETRAIN")
    os.environ["VAE_RETRAIN"] = "1" if retrain else "0"  # the kernels inherit it
    try:
        for path in notebooks:
            start = time.perf_counter()
            print(f"{path.name}: running ...", flush=True)
            nb = nbformat.read(path, as_version=4)
            NotebookClient(
                nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
            ).execute()
            trained_here, loaded = training_lines(nb)
            trained_names += trained_here
            print(
                f"{path.name}: done in {time.perf_counter() - start:.0f} s; trained {len(trained_here)}"
                f"{' (' + ', '.join(trained_here) + ')' if trained_here else ''}, loaded {len(loaded)}",
                flush=True,
            )
            if not retrain:  # every model was meant to be loaded: say why each trained one was not
                for name, reason in training_reasons(nb):
                    print(f"    '{name}' was trained: {reason}", flush=True)
    finally:
        if previous is None:
            os.environ.pop("VAE_RETRAIN", None)
        else:
            os.environ["VAE_RETRAIN"] = previous
    return trained_names


def describe_manifest(models: dict[str, dict]) -> str:
    lines = [f"{'checkpoint':<28} {'model':<16} {'parameters':>10} {'epochs':>6} {'test loss':>10}  saved"]
    for file, entry in models.items():
        metrics = entry.get("metrics", {})
        test = metrics.get("test_loss")
        lines.append(
            f"{file:<28} {entry.get('model_class', '?'):<16} {entry.get('parameters', 0):>10,d} "
            f"{int(metrics.get('epochs', 0)) or '':>6} {'' if test is None else f'{test:.2f}':>10}  {entry.get('saved', '')}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.zoo", description="The course's trained models.")
    sub = parser.add_subparsers(dest="command", required=True)
    p_all = sub.add_parser("train-all", help="run every notebook headless so that all its models are trained and saved")
    p_all.add_argument("--keep", action="store_true", help="keep checkpoints whose key matches (train only the others)")
    p_all.add_argument(
        "--fail-if-trained",
        action="store_true",
        help="exit with status 3 if any model had to be trained (with --keep: every model was expected saved)",
    )
    sub.add_parser("list", help="list the saved models and their test figures (manifest.json)")
    args = parser.parse_args(argv)
    trained_names: list[str] = []
    try:
        if args.command == "train-all":
            trained_names = train_all(retrain=not args.keep)
            models = read_manifest()
            print(
                f"\n{len(trained_names)} models trained; {len(models)} checkpoints in {display_path(checkpoint_dir())} "
                "(manifest.json lists their keys):"
            )
        else:
            models = read_manifest()
            print(f"{len(models)} checkpoints in {display_path(checkpoint_dir())}:")
    except (CheckpointError, OSError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(describe_manifest(models))
    if args.command == "train-all" and args.fail_if_trained and trained_names:
        print(
            f"error: {len(trained_names)} models were trained although every one should have been loaded: "
            f"{', '.join(trained_names)}",
            file=sys.stderr,
        )
        return 3
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
