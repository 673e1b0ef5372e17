"""tools.nbclean: what a run leaves in a notebook that no reader needs, and the committed notebooks without it."""

import json
from pathlib import Path

import pytest

from tools import nbclean

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9]*.ipynb"))
MAX_NOTEBOOK_BYTES = 2 * 1024 * 1024


def _notebook():
    """Two cells: a progress bar (a widget without a picture) and a panel (a widget with its picture)."""
    timing = {"iopub.execute_input": "2026-11-22T10:00:00.000Z", "shell.execute_reply": "2026-11-22T10:00:02.500Z"}
    bar, panel, orphan = "a" * 32, "b" * 32, "c" * 32
    state = {
        bar: {
            "model_name": "HBoxModel",
            "state": {"children": [f"IPY_MODEL_{'d' * 32}"], "layout": "IPY_MODEL_" + "e" * 32},
        },
        "d" * 32: {"model_name": "FloatProgressModel", "state": {"value": 1}},
        "e" * 32: {"model_name": "LayoutModel", "state": {}},
        panel: {"model_name": "VBoxModel", "state": {"children": [f"IPY_MODEL_{'f' * 32}"]}},
        "f" * 32: {"model_name": "ImageModel", "state": {"value": "PNG bytes, a second time"}},
        orphan: {"model_name": "LayoutModel", "state": {}},
    }
    view = nbclean.WIDGET_VIEW
    return {
        "cells": [
            {"cell_type": "markdown", "id": "m1", "metadata": {"tags": ["keep"]}, "source": "# Title"},
            {"cell_type": "code", "id": "c1", "metadata": {"execution": timing, "tags": ["nbval-ignore-output"]},
             "execution_count": 1, "source": "train()",
             "outputs": [{"output_type": "display_data", "metadata": {},
                          "data": {view: {"model_id": bar}, "text/plain": "training: 100%"}}]},
            {"cell_type": "code", "id": "c2", "metadata": {"ExecuteTime": {"end_time": "x"}},
             "execution_count": 2, "source": "panel",
             "outputs": [{"output_type": "execute_result", "metadata": {}, "execution_count": 2,
                          "data": {view: {"model_id": panel}, "image/png": "iVBOR", "text/plain": "Panel"}}]},
        ],
        "metadata": {"kernelspec": {"name": "python3"},
                     "widgets": {nbclean.WIDGET_STATE: {"state": state, "version_major": 2, "version_minor": 0}}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }  # fmt: skip


def test_clean_drops_timestamps_and_the_panels_widget_state_and_keeps_the_rest():
    nb = nbclean.clean(_notebook())
    assert [c["metadata"] for c in nb["cells"]] == [{"tags": ["keep"]}, {"tags": ["nbval-ignore-output"]}, {}]
    bar_data, panel_data = (c["outputs"][0]["data"] for c in nb["cells"][1:])
    assert nbclean.WIDGET_VIEW in bar_data  # a progress bar keeps its view: it shows finished when opened
    assert set(panel_data) == {"image/png", "text/plain"}  # a panel shows its picture
    kept = nb["metadata"]["widgets"][nbclean.WIDGET_STATE]["state"]
    assert set(kept) == {"a" * 32, "d" * 32, "e" * 32}  # the bar and what it refers to, nothing else
    assert nb["metadata"]["widgets"][nbclean.WIDGET_STATE]["version_major"] == 2
    assert nbclean.clean(json.loads(json.dumps(nb))) == nb  # a second cleaning changes nothing


def test_no_widget_left_means_no_widget_metadata():
    nb = _notebook()
    del nb["cells"][1]
    assert "widgets" not in nbclean.clean(nb)["metadata"]


def test_run_times_are_read_before_the_timestamps_go():
    assert nbclean.run_times(_notebook()) == {"c1": 2.5}
    assert nbclean.run_times(nbclean.clean(_notebook())) == {}


def test_the_command_checks_cleans_and_records(tmp_path, capsys):
    path = tmp_path / "01_x.ipynb"
    path.write_text(json.dumps(_notebook()))
    before = path.read_text()
    assert nbclean.main(["--check", str(path)]) == 1
    assert path.read_text() == before  # --check changes nothing
    assert "01_x.ipynb" in capsys.readouterr().out
    times = tmp_path / "run_times.json"
    times.write_text(json.dumps({"00_other.ipynb": {"z": 1.0}}))
    assert nbclean.main(["--record-times", str(times), str(path)]) == 0
    assert json.loads(times.read_text()) == {"00_other.ipynb": {"z": 1.0}, "01_x.ipynb": {"c1": 2.5}}
    assert nbclean.main(["--check", str(path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["01_x.ipynb", "run_times.json"]  # no temporary files
    # recording from an already cleaned notebook keeps the times recorded before
    assert nbclean.main(["--record-times", str(times), str(path)]) == 0
    assert json.loads(times.read_text())["01_x.ipynb"] == {"c1": 2.5}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_notebooks_carry_no_volatile_metadata(path):
    """No execution timestamps and no widget state that no output shows (`make notebooks` strips them)."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    assert nbclean.clean(json.loads(json.dumps(nb))) == nb, f"run `python -m tools.nbclean {path.relative_to(ROOT)}`"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_notebooks_stay_small_enough_to_browse(path):
    """GitHub stops rendering large notebooks and every clone carries them: at most 2 MiB each."""
    size = path.stat().st_size
    assert size <= MAX_NOTEBOOK_BYTES, f"{path.name} is {size / 2**20:.1f} MiB; shrink its figures"


def test_the_recorded_run_times_are_those_of_the_committed_cells():
    """tools/run_times.json (written by `make notebooks`) has a time for every code cell of every notebook:
    the section estimates (tools.timing) read it."""
    times = json.loads((ROOT / "tools" / "run_times.json").read_text())
    for path in NOTEBOOKS:
        nb = json.loads(path.read_text(encoding="utf-8"))
        code = {c["id"] for c in nb["cells"] if c["cell_type"] == "code" and "".join(c["source"]).strip()}
        assert code <= set(times.get(path.name, {})), f"{path.name}: run `make notebooks` to record its run times"
