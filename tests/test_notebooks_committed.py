"""Committed notebooks must carry the outputs of one clean top-to-bottom run (no stale or half-run state).

Re-run them all in place with `make notebooks`.
"""

import json
import os
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks():
    assert NOTEBOOKS, "notebooks/ holds no .ipynb files"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_one_clean_run(path):
    nb = json.loads(path.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code" and "".join(c["source"]).strip()]
    counts = [c.get("execution_count") for c in code]
    assert counts == list(range(1, len(code) + 1)), f"{path.name}: execution counts {counts}; run `make notebooks`"
    errors = [o for c in code for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, f"{path.name} was committed with {len(errors)} error output(s)"
    assert any("image/png" in o.get("data", {}) for c in code for o in c.get("outputs", [])), (
        f"{path.name} shows no figure: commit it with the outputs of a full run"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_reads_fast_mode_in_its_first_cell(path):
    """The first cell after the Colab install cell (tests/test_tools_hosted.py) calls setup()."""
    nb = json.loads(path.read_text())
    first = next(
        c for c in nb["cells"] if c["cell_type"] == "code" and "colab-install" not in c["metadata"].get("tags", [])
    )
    assert "setup(" in "".join(first["source"]), (
        f"{path.name}: the first code cell should call setup() (reads VAE_FAST)"
    )


NBVAL_TAGS = {"nbval-ignore-output", "nbval-check-output", "nbval-skip", "nbval-raises-exception"}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_a_learner_reads_no_plumbing(path):
    """nbval's directives are cell tags, never comments in the code; the Colab install cell is hidden (its
    title line is what shows) and every other cell starts with the course, not with set-up code."""
    nb = json.loads(path.read_text())
    for i, cell in enumerate(nb["cells"]):
        source = "".join(cell["source"])
        assert "NBVAL_" not in source, (
            f"{path.name} cell {i}: an nbval comment; use a cell tag such as nbval-check-output"
        )
        tags = set(cell["metadata"].get("tags", []))
        assert not {t for t in tags if t.startswith("nbval")} - NBVAL_TAGS, (
            f"{path.name} cell {i}: unknown nbval tag {tags}"
        )
        if "colab-install" in tags:
            assert cell["metadata"].get("jupyter", {}).get("source_hidden") is True, (
                f"{path.name}: Colab cell not hidden"
            )
            assert source.startswith("# @title "), f"{path.name}: the hidden Colab cell needs a title line to show"
        elif cell["cell_type"] == "code":
            assert "pip install" not in source and "google.colab" not in source, f"{path.name} cell {i}: set-up code"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_outputs_show_no_absolute_path_of_the_machine_that_ran_them(path):
    """Paths are printed relative to the course folder or the data root (or under ~), as utils.display_path
    does: the committed outputs, text, HTML, errors and the widgets' saved state alike, must read the same on
    every learner's machine. Checked against this machine's folders and against the usual roots of any other
    (the notebooks may have been run on another machine than this test)."""
    import re

    nb = json.loads(path.read_text())
    texts = [json.dumps(nb["metadata"].get("widgets", {}))]
    for cell in nb["cells"]:
        for out in cell.get("outputs", []):
            data = {k: v for k, v in out.get("data", {}).items() if not k.startswith("image/")}
            texts.append(json.dumps([out.get("text", ""), data, out.get("evalue", ""), out.get("traceback", [])]))
    here = [str(path.resolve().parent.parent), str(Path.home())]
    here += [os.environ[name] for name in ("VAE_DATA_DIR", "VAE_CHECKPOINT_DIR") if os.environ.get(name)]
    # a POSIX root folder not inside a longer path or URL, or a drive letter and backslash (JSON doubles it)
    anywhere = re.compile(r"(?<![\w.~/:])/(?:home|root|Users|tmp|work|mnt|srv|opt|var|private)/|\b[A-Z]:\\\\")
    leaks = sorted(
        {m for t in texts for m in here if m in t} | {m.group(0) for t in texts for m in anywhere.finditer(t)}
    )
    assert not leaks, f"{path.name} prints absolute paths: {leaks}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_figure_fits_a_laptops_output_area(path):
    """JupyterLab shrinks a picture wider than its output area (about 930 pixels on a 1366 x 768 screen at
    100 % zoom), and its text with it: every committed figure is at most that wide."""
    import base64
    import struct

    from vae_helpers.plotting import MAX_FIGURE_WIDTH

    nb = json.loads(path.read_text())
    limit = MAX_FIGURE_WIDTH * 100 + 10  # Jupyter's 100 dpi, and a few pixels of tight bounding box
    for i, cell in enumerate(nb["cells"]):
        for out in cell.get("outputs", []):
            png = out.get("data", {}).get("image/png")
            if png:
                width, _height = struct.unpack(">II", base64.b64decode(png)[16:24])
                assert width <= limit, f"{path.name} cell {i}: a figure {width} pixels wide (at most {limit:.0f})"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_figure_is_drawn_and_thrown_away(path):
    """The plotting helpers return their figure and leave pyplot alone, so Jupyter shows it only as a cell's
    last value (or through display()): a helper called as a statement earlier in a cell draws nothing (unless
    it draws into an axes of the cell's own pyplot figure, ax=...)."""
    import ast

    from vae_helpers import plotting

    helpers = {name for name in dir(plotting) if name.startswith(("show_", "plot_"))}
    nb = json.loads(path.read_text())
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code":
            continue
        body = ast.parse("".join(cell["source"])).body
        for statement in body[:-1]:
            call = statement.value if isinstance(statement, ast.Expr) else None
            name = getattr(getattr(call, "func", None), "id", None) or getattr(
                getattr(call, "func", None), "attr", None
            )
            if any(k.arg == "ax" for k in getattr(call, "keywords", [])):
                continue
            assert name not in helpers, (
                f"{path.name} cell {i}: {name}(...) is not the cell's last value, so it shows nothing"
            )
