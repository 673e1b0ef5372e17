"""How quickly do the latent widgets answer? Time from a value change to the new image bytes.

Each update is what a learner's move costs in the kernel: decode the code(s), encode the PNG(s) and
hand the bytes to the ``ipywidgets.Image`` (the widget's own ``observe`` handler does all of it).
The models have the course's sizes and, when notebooks 03-05 have been run in full mode, their
trained weights (else untrained weights of the same sizes: the arithmetic, so the time, is the same).
The data is the MNIST test set when it is on disk, else random images of the same shape.

    python benchmarks/bench_widgets.py            # about a minute on 2 cores
    python benchmarks/bench_widgets.py --moves 50 # a quick look

Targets (issue 7, 2-core CPU): one digit, median < 15 ms and 95th percentile < 30 ms; a grid < 60 ms.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch

from vae_helpers import zoo
from vae_helpers.checkpoints import CheckpointError, load_checkpoint
from vae_helpers.data import Split, load_split
from vae_helpers.mnist import MNISTNotFoundError
from vae_helpers.utils import configure_threads
from vae_helpers.widgets import (
    AttributeSlider,
    Interpolation,
    LatentExplorer,
    LatentSliders,
    ModelSwitcher,
    StyleExplorer,
    vae_pictures,
)

SINGLE = (15.0, 30.0)  # target median, 95th percentile (ms) for one digit
GRID = (60.0, 60.0)


def course_model(name: str) -> tuple[torch.nn.Module, str]:
    """The course's model ``name`` with the weights of its full-mode checkpoint (whatever code trained it:
    only the speed is measured here), or untrained ones of the same sizes when there is none."""
    model = zoo.recipe(name).build()
    try:
        load_checkpoint(zoo.checkpoint_path(name, fast=False), model)
        return model.eval(), "trained"
    except CheckpointError:
        return model.eval(), "untrained"


def test_split() -> tuple[Split, str]:
    try:
        return load_split("test", download=False), "MNIST test set"
    except (MNISTNotFoundError, OSError):
        g = torch.Generator().manual_seed(0)
        return Split(
            torch.randint(0, 256, (10000, 28, 28), generator=g, dtype=torch.uint8), torch.arange(10000) % 10
        ), "random images"


def percentile(times: list[float], q: float) -> float:
    times = sorted(times)
    return times[round(q * (len(times) - 1))]


def measure(moves: int, move: Callable[[torch.Generator], None], warmup: int = 5) -> list[float]:
    """Call ``move`` (one value change through the widget's traits) ``moves`` times; return the ms of each."""
    g = torch.Generator().manual_seed(0)
    for _ in range(warmup):
        move(g)
    times = []
    for _ in range(moves):
        start = time.perf_counter()
        move(g)
        times.append(1000 * (time.perf_counter() - start))
    return times


def uniform(g: torch.Generator, low: float, high: float) -> float:
    return float(torch.empty(1).uniform_(low, high, generator=g))


def slider_move(sliders):
    def move(g):
        s = sliders[int(torch.randint(len(sliders), (1,), generator=g))]
        s.value = uniform(g, s.min, s.max)  # observe -> decode -> PNG -> Image.value

    return move


def report(rows: list, name: str, kind: str, times: list[float]) -> None:
    median, p95 = statistics.median(times), percentile(times, 0.95)
    target = SINGLE if kind == "digit" else GRID
    ok = median < target[0] and p95 < target[1]
    rows.append((name, kind, median, p95, max(times), ok))
    print(
        f"{name:<58} {kind:<5} median {median:6.2f} ms   p95 {p95:6.2f} ms   max {max(times):6.2f} ms   "
        f"{'ok' if ok else 'ABOVE TARGET'}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--moves", type=int, default=300, help="value changes per widget (default 300)")
    args = parser.parse_args()
    threads = configure_threads()
    split, data_note = test_split()
    models = {name: course_model(name) for name in ("vae_main", "vae_2d", "ae_main", "ae_2d")}
    print(
        f"torch {torch.__version__}, {threads} CPU threads, {args.moves} moves per widget; data: {data_note}; "
        + ", ".join(f"{n} {state}" for n, (_, state) in models.items())
        + "\n"
    )
    vae, vae_2d, ae, ae_2d = (models[n][0] for n in ("vae_main", "vae_2d", "ae_main", "ae_2d"))
    images = split.x()[:16]
    rows: list = []

    panel = LatentSliders.for_model(vae_2d, split, k=2)
    report(rows, "LatentSliders, 2-D VAE (slider move)", "digit", measure(args.moves, slider_move(panel.sliders)))
    panel = LatentSliders.for_model(vae, split, k=6)
    report(
        rows,
        "LatentSliders, 20-D VAE, 6 top-KL sliders (slider move)",
        "digit",
        measure(args.moves, slider_move(panel.sliders)),
    )
    report(
        rows,
        "LatentSliders, 20-D VAE ('random' button)",
        "digit",
        measure(args.moves, lambda g: panel.random_button.click()),
    )
    for name, m in (("autoencoder", ae_2d), ("VAE", vae_2d)):
        explorer = LatentExplorer.for_model(m, split)
        report(
            rows,
            f"LatentExplorer, 2-D {name} (digit + marker on scatter)",
            "digit",
            measure(args.moves, slider_move([explorer.x_slider, explorer.y_slider])),
        )
    interp = Interpolation.for_models({"autoencoder": ae, "VAE": vae}, split)
    report(
        rows,
        "Interpolation, AE + VAE 20-D (t slider: 2 digits)",
        "digit",
        measure(args.moves, slider_move([interp.t_slider])),
    )
    n = len(split)
    report(
        rows,
        "Interpolation, AE + VAE 20-D (new endpoint: 2 strips of 9)",
        "grid",
        measure(
            max(20, args.moves // 5),
            lambda g: setattr(interp.end_index, "value", int(torch.randint(n, (1,), generator=g))),
        ),
    )
    vaes = dict.fromkeys((0.5, 1, 2, 4), vae_2d)  # same model: the switcher's cost does not depend on the weights
    switcher = ModelSwitcher({beta: vae_pictures(m, split[:2000], images) for beta, m in vaes.items()})
    options = list(switcher.slider.options)

    def next_beta(g):  # always a different beta, so every move swaps the pictures
        switcher.slider.value = options[(options.index(switcher.slider.value) + 1) % len(options)]

    report(rows, "ModelSwitcher, 4 betas (slider move: swap 3 PNGs)", "grid", measure(args.moves, next_beta))
    # notebook 07's panels: random unit directions and an untrained judge and conditional VAE of the course's
    # sizes (the arithmetic, so the time, does not depend on the weights)
    from vae_helpers.judge import DigitClassifier
    from vae_helpers.models import ConditionalVAE

    g = torch.Generator().manual_seed(0)
    directions = {name: torch.randn(vae.latent_dim, generator=g) for name in ("ink", "thickness", "slant", "width")}
    judge = DigitClassifier().eval()
    attribute = AttributeSlider(vae, split, directions, classifier=judge)
    report(
        rows,
        "AttributeSlider, 20-D VAE + judge (strength slider move)",
        "digit",
        measure(args.moves, slider_move([attribute.slider])),
    )
    report(
        rows,
        "AttributeSlider, 20-D VAE + judge (new test digit: encode once)",
        "digit",
        measure(args.moves, lambda g: setattr(attribute.index, "value", int(torch.randint(n, (1,), generator=g)))),
    )
    style = StyleExplorer(ConditionalVAE().eval(), split, classifier=judge)
    report(
        rows,
        "StyleExplorer, conditional VAE + judge (new test digit: 10 digits)",
        "grid",
        measure(args.moves, lambda g: setattr(style.index, "value", int(torch.randint(n, (1,), generator=g)))),
    )
    build = measure(5, lambda g: vae_pictures(vae_2d, split, images), warmup=1)
    print(
        f"\n(not interactive) rendering one model's 3 pictures for ModelSwitcher.for_vaes, 10,000 test codes: "
        f"median {statistics.median(build):.0f} ms"
    )
    print("\n| widget | update | median | p95 | target met |\n|---|---|---|---|---|")
    for name, kind, median, p95, _, ok in rows:
        print(f"| {name} | {kind} | {median:.1f} ms | {p95:.1f} ms | {'yes' if ok else 'no'} |")


if __name__ == "__main__":
    main()
