"""The benchmark is measured by hand (`make benchmark`); this only keeps it from rotting."""

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_training_loop.py"


def test_benchmark_runs_and_prints_its_figures(mnist):
    out = subprocess.run([sys.executable, str(SCRIPT), "--epochs", "1", "--subset", "512"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    for figure in ("samples/s", "peak RSS", "speed-up", "loop overhead", "final test nELBO"):
        assert figure in out.stdout


def test_widget_benchmark_runs_and_reports_every_widget():
    script = SCRIPT.parent / "bench_widgets.py"
    out = subprocess.run([sys.executable, str(script), "--moves", "5"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    for widget in ("LatentSliders", "LatentExplorer", "Interpolation", "ModelSwitcher", "| widget | update | median | p95"):
        assert widget in out.stdout
