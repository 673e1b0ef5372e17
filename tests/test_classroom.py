"""The teacher's tools: the student copy (no solution left; runs top to bottom with every stub failing
gracefully, with a hint) and the static HTML copy."""

import os
import re

import nbformat
import pytest

from vae_helpers import classroom

NOTEBOOKS = classroom.course_notebooks()


def solution_sources(path):
    nb = nbformat.read(path, as_version=4)
    return [c.source for c in nb.cells if classroom.is_solution(c)]


@pytest.fixture(scope="module")
def student(tmp_path_factory):
    out = tmp_path_factory.mktemp("class") / "student"
    written = classroom.make_student_copy(out)
    return out, written


def test_student_copy_has_no_solution_left(student):
    out, written = student
    assert [p.name for p in written] == [p.name for p in NOTEBOOKS]
    assert (out / "README.md").read_text().startswith("# Student copy")
    total_removed = 0
    for original, copy in zip(NOTEBOOKS, written):
        full, mine = nbformat.read(original, as_version=4), nbformat.read(copy, as_version=4)
        removed = solution_sources(original)
        total_removed += len(removed)
        assert len(mine.cells) == len(full.cells) - len(removed)
        assert not any(classroom.is_solution(c) for c in mine.cells)
        text = "\n".join(c.source for c in mine.cells)
        for source in removed:
            if "<summary>" not in source:  # the code of every worked solution is gone
                body = [line for line in source.splitlines() if line.strip() and not line.startswith("#")]
                assert not all(line in text for line in body), f"{copy.name} still holds a solution:\n{source}"
        assert all(not c.get("outputs") and c.get("execution_count") is None for c in mine.cells if c.cell_type == "code")
        assert "widgets" not in mine.metadata
        # every stub and every check stayed
        assert text.count("passed = check_") == "\n".join(c.source for c in full.cells).count("passed = check_")
    assert total_removed >= 2 * 11  # 11 exercises, each a solution cell and its note


def run_notebook(path, timeout=900):
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    return nb


def text_of(cell):
    parts = []
    for out in cell.get("outputs", []):
        parts.append(out.get("text", "") if out.output_type == "stream" else out.get("data", {}).get("text/plain", ""))
    return "".join(parts)


def test_student_copy_runs_and_every_stub_answers_with_a_hint(student, tmp_path, monkeypatch):
    """Run All on each student notebook (fast mode): no cell fails, every check says "Not yet" with a hint,
    and the cells that need an exercise's function carry on with the course's version."""
    out, written = student
    monkeypatch.setenv("VAE_CHECKPOINT_DIR", str(tmp_path / "checkpoints"))  # the class's own, empty at first
    checks = fallbacks = 0
    for path in written:
        nb = run_notebook(path)
        errors = [f"cell {i}: {o.ename}: {o.evalue}" for i, c in enumerate(nb.cells)
                  for o in c.get("outputs", []) if o.output_type == "error"]
        assert not errors, f"{path.name} fails in the student copy:\n" + "\n".join(errors)
        for cell in nb.cells:
            if cell.cell_type == "code" and re.search(r"^passed = check_", cell.source, re.M):
                checks += 1
                said = text_of(cell)
                assert said.startswith("Not yet. ") and ("Hint" in said or "Not attempted yet" in said), (
                    f"{path.name}: the check of a stub should answer 'Not yet' with a hint, said {said!r}")
            if "= yours_or_reference(" in cell.source:
                fallbacks += 1
                assert "does not pass its check yet" in text_of(cell)
    assert checks == 11 and fallbacks == 4


def test_student_copy_replaces_an_old_one_whole_or_not_at_all(tmp_path, monkeypatch):
    out = tmp_path / "student"
    classroom.make_student_copy(out)
    before = sorted(p.name for p in (out / "notebooks").iterdir())
    real = classroom.student_notebook
    calls = []

    def fails_on_the_third(nb):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt  # as if the teacher pressed Ctrl-C half-way
        return real(nb)

    monkeypatch.setattr(classroom, "student_notebook", fails_on_the_third)
    with pytest.raises(KeyboardInterrupt):
        classroom.make_student_copy(out)
    assert sorted(p.name for p in (out / "notebooks").iterdir()) == before  # the old copy, untouched
    assert [p.name for p in tmp_path.iterdir()] == ["student"]  # no half-built folder left beside it
    with pytest.raises(ValueError, match="Refusing to write into the course's own notebooks folder"):
        classroom.make_student_copy(classroom.notebooks_dir())


def test_html_copy_shows_every_figure_and_each_panel_as_a_picture(tmp_path):
    pages = classroom.export_html(tmp_path / "site", [NOTEBOOKS[0], NOTEBOOKS[4]])
    index = (tmp_path / "site" / "index.html").read_text()
    for page, path in zip(pages, [NOTEBOOKS[0], NOTEBOOKS[4]]):
        assert page.name in index
        html = page.read_text()
        nb = nbformat.read(path, as_version=4)
        pictures = sum("image/png" in o.get("data", {}) for c in nb.cells for o in c.get("outputs", []))
        assert html.count("data:image/png;base64,") >= pictures > 0
        assert nb.cells[0].source.splitlines()[0][2:] in index  # the notebook's title
    # notebook 04's panels show as their pictures; only widgets without one (progress bars) stay widgets
    outputs = [o.get("data", {}) for c in nbformat.read(NOTEBOOKS[4], 4).cells for o in c.get("outputs", [])]
    panels = sum(classroom.WIDGET_VIEW in d and "image/png" in d for d in outputs)
    bars = sum(classroom.WIDGET_VIEW in d and "image/png" not in d for d in outputs)
    assert panels == 4
    assert pages[1].read_text().count('<script type="application/vnd.jupyter.widget-view+json">') == bars


def test_command_line_reports_a_bad_target_without_a_traceback(capsys):
    assert classroom.main(["student", "--out", str(classroom.notebooks_dir())]) == 2
    assert "Refusing to write into the course's own notebooks folder" in capsys.readouterr().err
