"""How quickly do the latent widgets answer? Time from a slider value change to new image bytes.

Each update decodes one code and encodes the PNG the browser shows. Decoders have the course's sizes
(untrained: the arithmetic, and so the time, is the same as a trained one's).

    python benchmarks/bench_widgets.py
"""

from __future__ import annotations

import statistics
import time

import torch

from vae_helpers.models import MLPVAE
from vae_helpers.utils import configure_threads
from vae_helpers.widgets import LatentSliders


def time_updates(panel: LatentSliders, moves: int = 300) -> list[float]:
    g = torch.Generator().manual_seed(0)
    times = []
    for _ in range(moves):
        slider = panel.sliders[int(torch.randint(len(panel.sliders), (1,), generator=g))]
        value = float(torch.empty(1).uniform_(slider.min, slider.max, generator=g))
        start = time.perf_counter()
        slider.value = value  # observe -> decode -> PNG -> Image.value
        times.append(1000 * (time.perf_counter() - start))
    return times


def report(name: str, times: list[float]) -> None:
    times = sorted(times)
    p95 = times[int(0.95 * (len(times) - 1))]
    print(f"{name:<45} median {statistics.median(times):6.2f} ms   95th percentile {p95:6.2f} ms   max {times[-1]:6.2f} ms")


def main() -> None:
    threads = configure_threads()
    print(f"torch {torch.__version__}, {threads} CPU threads, 300 slider moves each\n")
    for latent_dim, hidden in ((2, (512, 256)), (20, (512, 256))):
        torch.manual_seed(0)
        model = MLPVAE(latent_dim=latent_dim, hidden_dims=hidden).eval()
        panel = LatentSliders(model.decode, latent_dim, dims=range(min(latent_dim, 6)), scale=8)
        report(f"LatentSliders, {latent_dim}-D VAE decoder {hidden}", time_updates(panel))


if __name__ == "__main__":
    main()
