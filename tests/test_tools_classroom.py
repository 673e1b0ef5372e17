"""The teacher's tools: the student copy (no solution left, nor text about them; runs top to bottom with every
stub failing gracefully, with a hint) and the static HTML copy (worked solutions folded; maths typeset without
internet: the browser tests open the pages in headless Chromium with every request off this machine refused,
and skip without Chromium or Playwright unless VAE_REQUIRE_BROWSER=1, as in test_browser.py)."""

import os
import re
from pathlib import Path

import nbformat
import pytest

from tools import classroom, nbclean
from vae_helpers.widgets import STATIC_PICTURE_NOTE

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
        course_only = [c for c in full.cells if classroom.is_full_course_only(c) and not classroom.is_solution(c)]
        assert len(mine.cells) == len(full.cells) - len(removed) - len(course_only)
        assert not any(classroom.is_solution(c) for c in mine.cells)
        text = "\n".join(c.source for c in mine.cells)
        for source in removed:
            if "<summary>" not in source:  # the code of every worked solution is gone
                body = [line for line in source.splitlines() if line.strip() and not line.startswith("#")]
                assert not all(line in text for line in body), f"{copy.name} still holds a solution:\n{source}"
        assert all(
            not c.get("outputs") and c.get("execution_count") is None for c in mine.cells if c.cell_type == "code"
        )
        assert "widgets" not in mine.metadata
        # every stub and every check stayed
        assert text.count("passed = check_") == "\n".join(c.source for c in full.cells).count("passed = check_")
    assert total_removed >= 2 * 16  # 16 exercises, each a solution cell and its note


def run_notebook(path, timeout=900):
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        allow_errors=True,
        resources={"metadata": {"path": str(path.parent)}},
    ).execute()
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
    _, written = student
    monkeypatch.setenv("VAE_CHECKPOINT_DIR", str(tmp_path / "checkpoints"))  # the class's own, empty at first
    checks = fallbacks = 0
    for path in written:
        nb = run_notebook(path)
        errors = [
            f"cell {i}: {o.ename}: {o.evalue}"
            for i, c in enumerate(nb.cells)
            for o in c.get("outputs", [])
            if o.output_type == "error"
        ]
        assert not errors, f"{path.name} fails in the student copy:\n" + "\n".join(errors)
        for cell in nb.cells:
            if cell.cell_type == "code" and re.search(r"^passed = check_", cell.source, re.M):
                checks += 1
                said = text_of(cell)
                assert said.startswith("Not yet. ") and ("Hint" in said or "Not attempted yet" in said), (
                    f"{path.name}: the check of a stub should answer 'Not yet' with a hint, said {said!r}"
                )
            if "= yours_or_reference(" in cell.source:
                fallbacks += 1
                assert "does not pass its check yet" in text_of(cell)
    assert checks == 16 and fallbacks == 9


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
    panels = sum("image/png" in d and "".join(d["text/plain"]).endswith(STATIC_PICTURE_NOTE) for d in outputs)
    bars = sum(nbclean.WIDGET_VIEW in d and "image/png" not in d for d in outputs)
    assert panels == 4 and bars > 0
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
    nb = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_markdown_cell("# 01 · Toy"), nbformat.v4.new_code_cell("1 + 1")]
    )
    nbformat.write(nb, course / "notebooks" / "01_toy.ipynb")
    monkeypatch.setattr(classroom, "notebooks_dir", lambda: course / "notebooks")
    return course


@pytest.mark.parametrize("command", ["student", "html"])
@pytest.mark.parametrize(
    "target", ["the course folder", "its parent", "a folder of someone else", "a file", "the other command's folder"]
)
def test_a_target_it_did_not_make_is_refused_and_left_byte_for_byte(
    fake_course, tmp_path, monkeypatch, capsys, command, target
):
    other = tmp_path / "mine"
    other.mkdir()
    (other / "thesis.txt").write_text("years of work")
    (tmp_path / "notes.txt").write_text("keep me")
    made_by_other = tmp_path / "made-by-other"
    classroom.main(["html" if command == "student" else "student", "--out", str(made_by_other)])
    out = {
        "the course folder": fake_course,
        "its parent": tmp_path,
        "a folder of someone else": other,
        "a file": tmp_path / "notes.txt",
        "the other command's folder": made_by_other,
    }[target]
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


# --------------------------------------------------------------------------- text for the full course only


def toy_notebook():
    """A small course notebook: maths, two exercises with their worked solutions (the first announced by the
    usual note), and text marked for the full course only, each piece with a word to look for."""
    md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell

    def solution(source, printed):
        cell = code(source, metadata={"tags": [classroom.SOLUTION_TAG], "jupyter": {"source_hidden": True}})
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=printed)]
        return cell

    return nbformat.v4.new_notebook(
        cells=[
            md(
                "# 07 · Toy\n\nThe prior is $\\mathcal N(0, I)$, and `$HOME` is not maths:\n\n"
                "$$ \\mathrm{KL}\\big(q \\,\\|\\, p\\big) = \\frac12 \\sum_{j=1}^{D} \\left( \\mu_j^2 - 1 \\right) . $$"
            ),
            code("answer = ...  # exercise 1"),
            md(f"<details>{classroom.SOLUTION_MARKER}Collapsed below: click the bar on its left.</details>"),
            solution("answer = 'SOLUTION-ONE'", "OUTPUT-ONE\n"),
            md(
                "- **Exercises** come with a check, and a\n  hint if not.<!-- full-course-only --> Each has a *worked "
                "solution*\n  in FULL-ONLY-TEXT.<!-- /full-course-only --><!-- student-copy: Ask your STUDENT-TEXT. -->\n"
                "- Second item, with $z = \\mu + \\sigma \\odot \\epsilon$."
            ),
            solution("answer = 'SOLUTION-TWO'", "OUTPUT-TWO\n"),  # no note above it: folded all the same
            md("FULL-ONLY-CELL", metadata={"tags": [classroom.FULL_COURSE_ONLY]}),
            md("The end."),
        ]
    )


def test_student_copy_leaves_out_text_for_the_full_course_only():
    mine = classroom.student_notebook(toy_notebook())
    assert [c.source for c in mine.cells if c.cell_type == "code"] == ["answer = ...  # exercise 1"]
    text = "\n".join(c.source for c in mine.cells)
    assert "FULL-ONLY" not in text and "worked" not in text and "<!--" not in text
    assert "  hint if not. Ask your STUDENT-TEXT. \n- Second item" in text  # one space each side of the student text
    assert mine.cells[-1].source == "The end."


@pytest.mark.parametrize(
    "source",
    [
        "a <!-- full-course-only --> b",  # no closing marker
        "a <!-- /full-course-only --> b",
        "a <!-- full-course-only --> b <!-- /full-course-only -- c",
        "a <!-- student-copy: b",
    ],
)
def test_an_unmatched_marker_stops_the_student_copy_naming_the_notebook_and_cell(fake_course, tmp_path, capsys, source):
    nb = toy_notebook()
    nb.cells.insert(2, nbformat.v4.new_markdown_cell(source))
    with pytest.raises(ValueError, match="cell 2: an unmatched marker"):
        classroom.student_notebook(nb)
    nbformat.write(nb, fake_course / "notebooks" / "02_toy.ipynb")
    assert classroom.main(["student", "--out", str(tmp_path / "student")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: 02_toy.ipynb: cell 2: an unmatched marker") and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "student").exists()


def test_student_copy_never_mentions_the_solutions_it_left_out(student):
    """The course's notebooks mark what is true of the full course only (see tools.classroom), so the student
    copy never promises a worked solution or a collapsed cell that it does not have."""
    _, written = student
    said = []
    for path in written:
        for i, cell in enumerate(nbformat.read(path, as_version=4).cells):
            if cell.cell_type == "markdown":
                said += [
                    f"{path.name}, cell {i}: {line.strip()}"
                    for line in cell.source.splitlines()
                    if re.search(r"worked solution|collapsed cell", line, re.I)
                ]
    assert not said, "the student copy has no worked solutions, yet says:\n" + "\n".join(said)


# --------------------------------------------------------------------------- the HTML copy: solutions, maths


def soup_of(page):
    from bs4 import BeautifulSoup  # nbconvert's own dependency

    return BeautifulSoup(page.read_text(encoding="utf-8"), "html.parser")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The HTML copy of every course notebook and of the toy one: (folder, {notebook: page}), each notebook
    a copy made for it (the tests compare a page with the very notebook it was made from)."""
    import shutil

    folder = tmp_path_factory.mktemp("html")
    (folder / "notebooks").mkdir()
    notebooks = [Path(shutil.copy(path, folder / "notebooks")) for path in NOTEBOOKS]
    notebooks.append(folder / "notebooks" / "07_toy.ipynb")
    nbformat.write(toy_notebook(), notebooks[-1])
    pages = classroom.export_html(folder / "site", notebooks)
    return folder / "site", dict(zip(notebooks, pages))


def test_html_folds_each_solution_with_its_outputs_under_one_closed_bar(site):
    _, pages = site
    for path, page in pages.items():
        soup, nb = soup_of(page), nbformat.read(path, as_version=4)
        solutions = [
            c for c in nb.cells if c.cell_type == "code" and classroom.SOLUTION_TAG in c.metadata.get("tags", [])
        ]
        notes = [c for c in nb.cells if c.cell_type == "markdown" and classroom.is_solution(c)]
        assert len(soup.select(".jp-Notebook-cell")) == len(nb.cells) - len(notes)  # only the notes are left out
        folded = soup.find_all("details")
        assert len(folded) == len(solutions), f"{page.name}: {len(folded)} <details> for {len(solutions)} solutions"
        for details, cell in zip(folded, solutions):
            assert "open" not in details.attrs
            assert details.find("summary").get_text(strip=True) == "Worked solution"
            assert len(details.select(".jp-CodeCell")) == 1 and details.select(".jp-CodeCell.celltag_solution")
            inside = details.get_text()
            assert all(line in inside for line in cell.source.splitlines() if line.strip())  # its code
            printed = [o.text.strip() for o in cell.outputs if o.output_type == "stream"]
            assert all(text in inside for text in printed)  # and what it printed
        assert all(c.find_parent("details") for c in soup.select(".celltag_solution"))
        assert "Collapsed below" not in soup.get_text()  # the note about JupyterLab's collapsed cell is gone
    toy = soup_of(pages[next(p for p in pages if p.name == "07_toy.ipynb")])
    first, second = toy.find_all("details")
    assert "OUTPUT-ONE" in first.get_text() and "OUTPUT-TWO" in second.get_text()


def test_html_loads_mathjax_from_its_own_folder(site):
    folder, pages = site
    for page in pages.values():
        sources = [s["src"] for s in soup_of(page).find_all("script", src=True)]
        mathjax = [src for src in sources if "mathjax" in src.lower()]
        assert mathjax == [classroom.MATHJAX_URL], f"{page.name} loads MathJax from {mathjax}"
        assert (folder / mathjax[0].split("?")[0]).is_file()
    config = classroom.MATHJAX_URL.split("config=")[1].split(",")
    assert all((folder / "mathjax" / "config" / f"{name}.js").is_file() for name in config)


def test_html_without_mathjax_installed_is_a_one_line_error(fake_course, tmp_path, monkeypatch, capsys):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *args: None if name == "jupyter_server_mathjax" else real(name, *args)
    )
    assert classroom.main(["html", "--out", str(tmp_path / "site")]) == 2
    err = capsys.readouterr().err
    assert "pip install jupyter-server-mathjax" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "site").exists()


# --------------------------------------------------------------------------- the HTML copy in a browser, offline


def formulas(markdown):
    """The TeX of every $...$ and $$...$$ in a markdown cell (not in code), with its spaces collapsed."""
    prose = re.sub(r"```.*?```|`[^`\n]*`", "", markdown, flags=re.S)
    found = re.findall(r"\$\$(.+?)\$\$|\$(.+?)\$", prose, re.S)
    return [" ".join((display or inline).split()) for display, inline in found]


# Before MathJax loads: record every TeX error and undefined command it meets while it typesets the page.
RECORD_MATHJAX_ERRORS = """
window.texErrors = [];
window.MathJax = {AuthorInit: function () {
  MathJax.Hub.Register.MessageHook("TeX Jax - parse error", function (m) {
    window.texErrors.push(m[1] + ": " + m[2]);
  });
  MathJax.Hub.Register.MessageHook("TeX Jax - undefined control sequence", function (m) {
    window.texErrors.push("undefined " + m[1]);
  });
}};
"""
# The hidden MathML copy of each formula (for screen readers) asks for MathJax's TeX fonts, which
# jupyter-server-mathjax does not ship; what is shown uses its STIX-Web fonts.
UNSHIPPED_FONTS = "/mathjax/fonts/HTML-CSS/TeX/otf/"


def _chromium():
    """As in test_browser.py: ``$VAE_CHROMIUM``, else Debian's ``/usr/bin/chromium``, else ``chromium`` on PATH."""
    import shutil

    path = os.environ.get("VAE_CHROMIUM", "").strip()
    if path:
        return path if os.access(path, os.X_OK) else None
    return "/usr/bin/chromium" if os.access("/usr/bin/chromium", os.X_OK) else shutil.which("chromium")


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium through Playwright; skips without them, unless VAE_REQUIRE_BROWSER=1 (CI)."""

    def skip_or_fail(reason):
        if os.environ.get("VAE_REQUIRE_BROWSER", "").strip() == "1":
            pytest.fail(f"VAE_REQUIRE_BROWSER=1 but {reason}")
        pytest.skip(reason)

    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        skip_or_fail("Playwright's Python package is not installed")
    chromium = _chromium()
    if not chromium:
        skip_or_fail("no Chromium (apt install chromium, or set VAE_CHROMIUM)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        yield browser
        browser.close()


def open_offline(browser, page_path):
    """``page_path`` in a new tab with every request off this machine refused, once MathJax has typeset it.
    Returns the tab and the local files it failed to load."""
    tab = browser.new_page(viewport={"width": 1366, "height": 768})
    failed = []
    tab.route("**/*", lambda route: route.continue_() if route.request.url.startswith("file:") else route.abort())
    tab.on("requestfailed", lambda r: failed.append(r.url) if r.url.startswith("file:") else None)
    tab.add_init_script(RECORD_MATHJAX_ERRORS)
    tab.goto(page_path.as_uri())
    try:
        tab.wait_for_function("() => window.MathJax && MathJax.isReady === true", timeout=30_000)
    except Exception:
        pytest.fail(
            f"{page_path.name}: MathJax did not start within 30 s without network; "
            f"scripts: {tab.evaluate('[...document.scripts].map(s => s.src).filter(Boolean)')}"
        )
    tab.evaluate("() => new Promise(done => MathJax.Hub.Queue(done))")  # after every typesetting queued so far
    return tab, [url for url in failed if UNSHIPPED_FONTS not in url]


def typeset(tab):
    """The TeX of every formula MathJax typeset in ``tab`` (spaces collapsed), and the errors it met."""
    tex = tab.evaluate("MathJax.Hub.getAllJax().map(jax => jax.originalText)")
    errors = tab.evaluate(
        "window.texErrors.concat(MathJax.Hub.getAllJax().filter(jax => jax.texError).map(jax => jax.originalText))"
    )
    return [" ".join(t.split()) for t in tex], errors


@pytest.mark.slow
@pytest.mark.browser
def test_toy_page_offline_folds_its_solutions_and_typesets_its_maths(site, browser):
    _, pages = site
    toy_path = next(p for p in pages if p.name == "07_toy.ipynb")
    tab, failed = open_offline(browser, pages[toy_path])
    try:
        assert not failed, f"files the page could not load: {failed}"
        tex, errors = typeset(tab)
        assert not errors
        written = [f for c in toy_notebook().cells if c.cell_type == "markdown" for f in formulas(c.source)]
        assert sorted(tex) == sorted(written) and len(written) == 3
        assert tab.locator(".MathJax_Display").count() == 1 and tab.locator("span.MathJax").count() == 3
        shown = tab.inner_text("body")
        assert "$" not in shown.replace("$HOME", "") and "\\mathcal" not in shown and "\\frac" not in shown
        assert "FULL-ONLY-TEXT" in shown and "STUDENT-TEXT" not in shown and "-->" not in shown
        # each solution, code and output, stays hidden until its own bar is clicked
        bars = tab.locator("details > summary")
        assert bars.count() == 2
        for text in ["SOLUTION-ONE", "OUTPUT-ONE", "SOLUTION-TWO", "OUTPUT-TWO"]:
            assert not tab.get_by_text(text).is_visible(), f"{text} shows before a click"
        bars.nth(0).click()
        assert tab.get_by_text("SOLUTION-ONE").is_visible() and tab.get_by_text("OUTPUT-ONE").is_visible()
        assert not tab.get_by_text("SOLUTION-TWO").is_visible() and not tab.get_by_text("OUTPUT-TWO").is_visible()
        bars.nth(1).click()
        assert tab.get_by_text("OUTPUT-TWO").is_visible()
    finally:
        tab.close()


@pytest.mark.slow
@pytest.mark.browser
def test_course_pages_offline_typeset_every_formula_and_fold_every_solution(site, browser):
    folder, pages = site
    formula_count = solution_count = 0
    for path in [p for p in pages if p.name != "07_toy.ipynb"]:
        tab, failed = open_offline(browser, pages[path])
        try:
            assert not failed, f"{path.name}: files the page could not load: {failed}"
            tex, errors = typeset(tab)
            assert not errors, f"{path.name}: MathJax could not typeset {errors}"
            cells = nbformat.read(path, as_version=4).cells
            written = [
                f
                for c in cells
                if c.cell_type == "markdown" and not classroom.is_solution(c)
                for f in formulas(c.source)
            ]
            assert sorted(tex) == sorted(written), f"{path.name}: typeset {len(tex)} formulas of {len(written)}"
            formula_count += len(written)
            shown = tab.inner_text("body")
            assert "$$" not in shown and not re.search(r"\\(mathcal|frac|mathrm|sigma|mu)\b", shown)
            solutions = tab.locator("details .celltag_solution")
            solution_count += solutions.count()
            for i in range(solutions.count()):
                assert not solutions.nth(i).is_visible(), f"{path.name}: solution {i} shows before a click"
                tab.locator("details > summary").nth(i).click()
                assert solutions.nth(i).is_visible(), f"{path.name}: solution {i} does not open on a click"
        finally:
            tab.close()
    assert formula_count > 150 and solution_count == 16  # the course's formulas and exercises, all of them
    assert (folder / "index.html").read_text().count("<li>") == len(NOTEBOOKS) + 1
