"""The teacher's tools: the student copy (no solution left; runs top to bottom with every stub failing
gracefully, with a hint) and the static HTML copy."""

import os
import re

import nbformat
import pytest

from tools import classroom

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


@pytest.mark.slow
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
    with pytest.raises(ValueError, match="inside the course's own notebooks folder"):
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
    err = capsys.readouterr().err
    assert "inside the course's own notebooks folder" in err and len(err.strip().splitlines()) == 1


# --------------------------------------------------------------------------- never delete what it did not make


def tree(folder):
    """Every file and folder below ``folder`` with its bytes: what must stay exactly in place."""
    return {str(p.relative_to(folder)): (p.read_bytes() if p.is_file() else None) for p in sorted(folder.rglob("*"))}


@pytest.fixture
def fake_course(tmp_path, monkeypatch):
    """A throwaway course folder (one small notebook), so that a broken guard could only harm a copy."""
    course = tmp_path / "course"
    (course / "notebooks").mkdir(parents=True)
    (course / ".git").mkdir()
    (course / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (course / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# 01 · Toy"), nbformat.v4.new_code_cell("1 + 1")])
    nbformat.write(nb, course / "notebooks" / "01_toy.ipynb")
    monkeypatch.setattr(classroom, "notebooks_dir", lambda: course / "notebooks")
    return course


@pytest.mark.parametrize("command", ["student", "html"])
@pytest.mark.parametrize("target", ["the course folder", "its parent", "a folder of someone else", "a file",
                                    "the other command's folder"])
def test_a_target_it_did_not_make_is_refused_and_left_byte_for_byte(fake_course, tmp_path, monkeypatch, capsys,
                                                                   command, target):
    other = tmp_path / "mine"
    other.mkdir()
    (other / "thesis.txt").write_text("years of work")
    (tmp_path / "notes.txt").write_text("keep me")
    made_by_other = tmp_path / "made-by-other"
    classroom.main(["html" if command == "student" else "student", "--out", str(made_by_other)])
    out = {"the course folder": fake_course, "its parent": tmp_path, "a folder of someone else": other,
           "a file": tmp_path / "notes.txt", "the other command's folder": made_by_other}[target]
    monkeypatch.chdir(fake_course)
    before = tree(tmp_path)
    capsys.readouterr()
    assert classroom.main([command, "--out", "." if out == fake_course else str(out)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and err.startswith("error: --out")
    assert tree(tmp_path) == before  # every byte left in place, no temporary folder left either


def test_a_previous_output_is_replaced_whole_with_the_users_permissions(fake_course, tmp_path):
    old_umask = os.umask(0o022)
    try:
        out = tmp_path / "student"
        classroom.make_student_copy(out)
        (out / "notebooks" / "stale.ipynb").write_text("{}")  # something the new copy does not have
        classroom.make_student_copy(out)
        assert sorted(p.name for p in (out / "notebooks").iterdir()) == ["01_toy.ipynb"]
        assert sorted(p.name for p in tmp_path.iterdir()) == ["course", "student"]  # no old or half-built folder
        assert (out / classroom.MARKER).read_text().strip() == "student"
        for path in [out, *out.rglob("*")]:
            mode = path.stat().st_mode & 0o777
            assert mode == (0o755 if path.is_dir() else 0o644), f"{path}: {oct(mode)}"
    finally:
        os.umask(old_umask)


def test_a_swap_interrupted_between_its_two_renames_is_repaired(fake_course, tmp_path):
    out = tmp_path / "site"
    classroom.export_html(out)
    os.replace(out, tmp_path / ".site-old")  # as if killed after the first rename
    classroom.export_html(out)
    assert (out / "index.html").is_file() and sorted(p.name for p in tmp_path.iterdir()) == ["course", "site"]
