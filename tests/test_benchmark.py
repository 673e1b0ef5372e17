"""The benchmark is measured by hand (`make benchmark`); this only keeps it from rotting."""

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_training_loop.py"


@pytest.mark.slow
def test_benchmark_runs_and_prints_its_figures(mnist):
    out = subprocess.run(
        [sys.executable, str(SCRIPT), "--epochs", "1", "--subset", "512"], capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr[-2000:]
    for figure in ("samples/s", "peak RSS", "speed-up", "loop overhead", "final test nELBO"):
        assert figure in out.stdout


@pytest.mark.slow
def test_widget_benchmark_runs_and_reports_every_widget():
    script = SCRIPT.parent / "bench_widgets.py"
    out = subprocess.run([sys.executable, str(script), "--moves", "5"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    for widget in (
        "LatentSliders",
        "LatentExplorer",
        "Interpolation",
        "ModelSwitcher",
        "| widget | update | median | p95",
    ):
        assert widget in out.stdout


def test_mutation_report_counts_per_module_and_sets_equivalent_survivors_apart():
    sys.path.insert(0, str(SCRIPT.parent))
    try:
        import mutation_report
    finally:
        sys.path.pop(0)
    text = """
    vae_helpers.losses.x_bce_recon__mutmut_1: killed
    vae_helpers.losses.x_bce_recon__mutmut_2: survived
    vae_helpers.losses.x_bce_recon__mutmut_3: survived
    vae_helpers.models.x_mlp__mutmut_1: timeout
    vae_helpers.models.x_mlp__mutmut_2: no tests
    """
    table = mutation_report.report(
        mutation_report.read_results(text), {"vae_helpers.losses.x_bce_recon__mutmut_3": "same result"}
    )
    assert "| losses | 3 | 1 | 0 | 1 | 1 | 0 | 50.0 % |" in table
    assert "| models | 2 | 0 | 1 | 0 | 0 | 1 | 50.0 % |" in table
    assert "| **all** | 5 | 1 | 1 | 1 | 1 | 1 | 50.0 % |" in table
    assert "`vae_helpers.losses.x_bce_recon__mutmut_3`: same result" in table
    assert "`vae_helpers.losses.x_bce_recon__mutmut_2` (survived)" in table
