"""For teachers: a student copy of the notebooks, and a static HTML copy of the executed course.

    python -m tools.classroom student [--out student]   # solutions removed, outputs cleared
    python -m tools.classroom html [--out site]         # every notebook as HTML, with an index
    python -m tools.classroom hosted [--repo URL]       # record where the course is published

(``make student``, ``make html`` and ``make hosted REPO=URL`` run these; ``hosted`` is explained in
``tools.hosted``.) ``student`` and ``html`` build the whole result in a temporary folder
beside the target and move it into place at the end, so an interrupted run leaves the previous copy
as it was and never half a new one. They never delete what they did not make: ``--out`` must be a new
folder or one the same command wrote before (it leaves a marker file there), never a file, the course
folder or a folder that contains it.

Worked solutions are code cells tagged ``solution``, each announced by a markdown note
``<details><summary>Worked solution</summary>...</details>`` just above it. The student copy drops both;
the HTML copy folds each solution, with its outputs, under one "Worked solution" bar that opens on a click.

Text that is true of the full course only (where it mentions the worked solutions, say) is marked in the
notebooks, invisibly in JupyterLab and in the HTML copy, and the student copy takes it out:

- a cell tagged ``full-course-only`` is left out of the student copy;
- ``<!-- full-course-only -->...<!-- /full-course-only -->`` around part of a markdown cell: that part is
  left out of the student copy;
- ``<!-- student-copy: TEXT -->`` in a markdown cell: TEXT (markdown) stands in its place in the student copy
  only, with one space on each side.

Put these comments inside a line (``...if not.<!-- full-course-only --> Each has...<!-- /full-course-only -->``)
or alone on lines between blank lines: a line that starts with ``<!--`` and goes on after ``-->`` is raw HTML
to a Markdown renderer, so the rest of it would lose its formatting and maths.

The HTML copy reads without internet: its maths is typeset by the copy of MathJax (from the
``jupyter-server-mathjax`` package) in the ``mathjax/`` folder beside the pages; copy the folder whole.
"""

from __future__ import annotations

import argparse
import html
import importlib.util
import os
import re
import shutil
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

from vae_helpers.files import staging_folder

from . import hosted, nbclean

MARKER = ".vae-course-output"  # written into every folder that `student` or `html` makes, naming the command
SOLUTION_TAG = "solution"
SOLUTION_SUMMARY = "Worked solution"
SOLUTION_MARKER = f"<summary>{SOLUTION_SUMMARY}</summary>"  # the collapsed note above each solution cell
FULL_COURSE_ONLY = "full-course-only"  # a cell tag, and a pair of HTML comments: left out of the student copy
_FULL_COURSE_ONLY_TEXT = re.compile(r"<!--\s*full-course-only\s*-->.*?<!--\s*/full-course-only\s*-->", re.S)
_STUDENT_COPY_TEXT = re.compile(r"<!--\s*student-copy:(.*?)-->", re.S)
_ANY_COPY_MARKER = re.compile(r"full-course-only|student-copy:")
COLLAPSED_KEY = "collapsed_summary"  # cell metadata read by templates/course_html/index.html.j2

STUDENT_README = """# Student copy

These are the course's notebooks with the worked solutions taken out and the outputs cleared: run
each one yourself, in order, from `00_start_here.ipynb`.

Each exercise is a cell to fill in (it holds `...`). Running it checks your answer: it tells you
when it is right and gives a hint when it is not. Where later cells need your answer, they use the
course's own version until yours passes, so you are never stuck: come back to an exercise any time.
"""


def notebooks_dir() -> Path:
    """The course's ``notebooks/`` folder (next to the package in a checkout)."""
    return Path(__file__).resolve().parent.parent / "notebooks"


def course_notebooks(folder: Path | None = None) -> list[Path]:
    folder = Path(folder) if folder else notebooks_dir()
    found = sorted(folder.glob("[0-9][0-9]_*.ipynb"))
    if not found:
        raise FileNotFoundError(f"No course notebooks (NN_name.ipynb) in {folder}.")
    return found


def is_solution(cell) -> bool:
    """A worked solution: a cell tagged ``solution``, or the collapsed note that announces one."""
    return SOLUTION_TAG in cell.get("metadata", {}).get("tags", []) or (
        cell.get("cell_type") == "markdown" and SOLUTION_MARKER in cell.get("source", "")
    )


def is_full_course_only(cell) -> bool:
    """A cell tagged ``full-course-only``: it is left out of the student copy."""
    return FULL_COURSE_ONLY in cell.get("metadata", {}).get("tags", [])


def student_text(source: str) -> str:
    """The student copy's version of a markdown cell's text: ``<!-- full-course-only -->...<!--
    /full-course-only -->`` taken out, each ``<!-- student-copy: TEXT -->`` replaced by `` TEXT ``. A marker
    left over (misspelt, or an opening without its closing) raises ValueError rather than leaking text."""
    text = _FULL_COURSE_ONLY_TEXT.sub("", source)
    text = _STUDENT_COPY_TEXT.sub(lambda m: f" {m.group(1).strip()} ", text)
    left = _ANY_COPY_MARKER.search(text)
    if left:
        raise ValueError(
            f"an unmatched marker near {text[max(0, left.start() - 20) : left.end() + 20]!r}; write "
            "<!-- full-course-only -->...<!-- /full-course-only --> or <!-- student-copy: TEXT -->"
        )
    return text


def student_notebook(nb):
    """A copy of notebook ``nb`` (nbformat) without solutions, outputs, execution counts, widget state or
    full-course-only text (see the module docstring); ValueError names a cell whose markers do not match."""
    import copy

    nb = copy.deepcopy(nb)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown" and not is_solution(cell) and not is_full_course_only(cell):
            try:
                cell.source = student_text(cell.source)
            except ValueError as err:
                raise ValueError(f"cell {i}: {err}") from None
    nb.cells = [c for c in nb.cells if not is_solution(c) and not is_full_course_only(c)]
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        cell.metadata.pop("execution", None)
    nb.metadata.pop("widgets", None)
    return nb


def _check_out(out: Path, command: str) -> None:
    """Refuse an ``--out`` that this command must not replace: see the module docstring."""
    course = notebooks_dir().parent.resolve()
    if out == course or out in course.parents:
        raise ValueError(f"--out {out} is the course folder or contains it; pick a new folder, e.g. --out {command}.")
    if out == notebooks_dir().resolve() or notebooks_dir().resolve() in out.parents:
        raise ValueError(f"--out {out} is inside the course's own notebooks folder; pick another folder.")
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise ValueError(f"--out {out} is a file, not a folder; pick a folder name that does not exist yet.")
    if out.exists():
        marker = out / MARKER
        made_by = marker.read_text().strip() if marker.is_file() else ""
        if made_by != command:
            raise ValueError(
                f"--out {out} already exists and was not made by the `{command}` command "
                f"({'it was made by `' + made_by + '`' if made_by else 'it has no ' + MARKER + ' file'}), "
                "so it is left alone. Pick a new folder, or remove this one yourself."
            )


def _build_atomically(out: Path, build: Callable[[Path], None], command: str) -> Path:
    """Run ``build(tmp)`` on a fresh folder beside ``out``, then put it in place of ``out``: a previous
    output of the same command is swapped out and deleted, anything else is refused (:func:`_check_out`)."""
    out = Path(out).expanduser().absolute()
    out = out.parent.resolve() / out.name
    old = out.with_name(f".{out.name}-old")
    if not out.exists() and (old / MARKER).is_file():  # a swap that was interrupted between its two renames
        os.replace(old, out)
    _check_out(out, command)
    tmp = staging_folder(out.parent, f".{out.name}-new")
    try:
        build(tmp)
        (tmp / MARKER).write_text(command + "\n")
        if out.exists():
            shutil.rmtree(old, ignore_errors=True)
            os.replace(out, old)
            os.replace(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def make_student_copy(out: str | os.PathLike = "student", source: Path | None = None) -> list[Path]:
    """Write the student copy of every course notebook to ``out/notebooks/``; returns the notebooks written."""
    import nbformat

    notebooks = course_notebooks(source)

    def build(tmp: Path) -> None:
        (tmp / "notebooks").mkdir()
        for path in notebooks:
            try:
                nb = student_notebook(nbformat.read(path, as_version=4))
            except ValueError as err:
                raise ValueError(f"{path.name}: {err}") from None
            left = [i for i, c in enumerate(nb.cells) if is_solution(c)]
            assert not left, f"{path.name}: solution cells left at {left}"
            nbformat.write(nb, tmp / "notebooks" / path.name)
        (tmp / "README.md").write_text(STUDENT_README)

    out = _build_atomically(Path(out), build, "student")
    return [out / "notebooks" / p.name for p in notebooks]


def static_widgets(nb):
    """Where a widget output also carries a picture of itself (the course's panels do), keep the
    picture: it shows on any page, offline too. Other widgets (progress bars) keep their saved state,
    which the page renders when it can load the widget library. (tools.nbclean does this, and drops the
    timestamps; the committed notebooks are clean already, a freshly executed one may not be.)"""
    return nbclean.clean(nb)


def html_notebook(nb):
    """The notebook as the HTML copy shows it: each worked solution (a code cell tagged ``solution``) gets
    ``metadata.collapsed_summary``, which the course's template turns into a collapsed ``<details>`` around
    the cell and its outputs, and the note that announces it (the markdown cell just above) is dropped, so
    that one "Worked solution" bar opens one solution. Its text ("collapsed below", "click the bar on its
    left") is about JupyterLab, where the solution cell's source is hidden (``jupyter.source_hidden``)."""
    cells = []
    for cell in nb.cells:
        if cell.cell_type == "code" and SOLUTION_TAG in cell.metadata.get("tags", []):
            if cells and cells[-1].cell_type == "markdown" and SOLUTION_MARKER in cells[-1].source:
                cells.pop()
            cell.metadata[COLLAPSED_KEY] = SOLUTION_SUMMARY
        cells.append(cell)
    nb.cells = cells
    return nb


MATHJAX_CONFIG = "TeX-AMS-MML_HTMLorMML-full"  # the combined configuration jupyter-server-mathjax ships
MATHJAX_URL = f"mathjax/MathJax.js?config={MATHJAX_CONFIG},Safe"  # relative: the pages sit beside mathjax/


def mathjax_folder() -> Path:
    """MathJax 2.7 (the version nbconvert's template configures), as the ``jupyter-server-mathjax`` package
    installs it; FileNotFoundError, saying what to install, when it is missing."""
    spec = importlib.util.find_spec("jupyter_server_mathjax")  # its folder, without loading its server extension
    folder = Path(next(iter(spec.submodule_search_locations))) / "static" if spec else None
    if not folder or not all((folder / name).is_file() for name in ["MathJax.js", f"config/{MATHJAX_CONFIG}.js"]):
        raise FileNotFoundError(
            "the HTML copy carries its own MathJax, so that the maths shows without internet, "
            "and takes it from the jupyter-server-mathjax package, which is not installed here: "
            "run make setup, or pip install jupyter-server-mathjax"
        )
    return folder


TEMPLATES = Path(__file__).resolve().parent / "templates"


def _title(nb, fallback: str) -> str:
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return fallback


def export_html(out: str | os.PathLike = "site", notebooks: Iterable[Path] | None = None) -> list[Path]:
    """Every course notebook, as committed (executed, with its figures), as HTML in ``out/``, with an
    ``index.html``. Widgets show the static picture they carry for viewers without a widget front end;
    worked solutions are collapsed (:func:`html_notebook`); the maths is typeset by the copy of MathJax in
    ``out/mathjax/``, so the pages need no internet."""
    import nbformat
    from nbconvert import HTMLExporter

    notebooks = list(notebooks) if notebooks is not None else course_notebooks()
    mathjax = mathjax_folder()  # before building anything: a missing package is a one-line error
    exporter = HTMLExporter(
        template_name="course_html", extra_template_basedirs=[str(TEMPLATES)], mathjax_url=MATHJAX_URL
    )
    pages: list[tuple[str, str]] = []

    def build(tmp: Path) -> None:
        shutil.copytree(mathjax, tmp / "mathjax", copy_function=shutil.copyfile)  # with the user's permissions
        for path in notebooks:
            nb = html_notebook(static_widgets(nbformat.read(path, as_version=4)))
            title = _title(nb, path.stem)
            body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": title}})
            (tmp / f"{path.stem}.html").write_text(body, encoding="utf-8")
            pages.append((f"{path.stem}.html", title))
        items = "\n".join(f'<li><a href="{html.escape(href)}">{html.escape(title)}</a></li>' for href, title in pages)
        (tmp / "index.html").write_text(
            "<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>Variational autoencoders from first principles"
            "</title></head>\n<body style='font-family: sans-serif; max-width: 46em; margin: 2em auto'>\n"
            "<h1>Variational autoencoders from first principles</h1>\n<p>A read-only copy of the executed course. "
            "To run it and move the sliders, open the notebooks in Jupyter. Each worked solution is folded under a "
            "<i>Worked solution</i> bar: try the exercise first, then click the bar to open it.</p>\n"
            f"<ol start='0'>\n{items}\n</ol>\n</body></html>\n",
            encoding="utf-8",
        )

    out = _build_atomically(Path(out), build, "html")
    return [out / href for href, _ in pages]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.classroom", description="Prepare the course for a class.")
    sub = parser.add_subparsers(dest="command", required=True)
    p_student = sub.add_parser("student", help="write the student copy: solutions removed, outputs cleared")
    p_student.add_argument("--out", default="student", help="folder to write (default: student/)")
    p_html = sub.add_parser("html", help="write every executed notebook as HTML, with an index page")
    p_html.add_argument("--out", default="site", help="folder to write (default: site/)")
    p_hosted = sub.add_parser(
        "hosted",
        help="record the course's GitHub repository in the Colab install cells "
        "and the README's Binder/Colab badges; without --repo, show what is recorded",
    )
    p_hosted.add_argument("--repo", help='https://github.com/OWNER/NAME ("" records none)')
    p_hosted.add_argument("--branch", default="main", help="the branch Colab and Binder open (default: main)")
    args = parser.parse_args(argv)
    try:
        return _run(args)
    except (ValueError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


def _run(args) -> int:
    if args.command == "student":
        written = make_student_copy(args.out)
        print(
            f"Student copy: {len(written)} notebooks in {Path(args.out).resolve() / 'notebooks'} "
            "(solutions removed, outputs cleared). Students run them inside the course folder, "
            "where vae_helpers is installed."
        )
    elif args.command == "html":
        written = export_html(args.out)
        print(f"HTML copy: {len(written)} notebooks and index.html in {Path(args.out).resolve()}")
    else:
        return _hosted(args.repo, args.branch)
    return 0


def _hosted(repo: str | None, branch: str) -> int:
    notebooks, readme = course_notebooks(), notebooks_dir().parent / "README.md"
    if repo is not None:
        hosted.write_hosted(repo, branch, notebooks, readme)
    repository, branch = hosted.recorded(notebooks)
    if not repository:
        print(
            "No repository recorded: the README shows no Binder/Colab badges, and on Colab the first cell of "
            "each notebook asks for the address. Record it with: make hosted REPO=https://github.com/OWNER/NAME"
        )
    else:
        print(
            f"Recorded in the install cells of {len(notebooks)} notebooks and in the README's badges: "
            f"{repository} (branch {branch})."
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
