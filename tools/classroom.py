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
"""

from __future__ import annotations

import argparse
import html
import os
import shutil
import sys
from pathlib import Path
from typing import Callable, Iterable

from vae_helpers.files import staging_folder

from . import hosted

MARKER = ".vae-course-output"  # written into every folder that `student` or `html` makes, naming the command
SOLUTION_TAG = "solution"
SOLUTION_MARKER = "<summary>Worked solution</summary>"  # the collapsed note above each solution cell

STUDENT_README = """# Student copy

These are the course's notebooks with the worked solutions taken out and the outputs cleared: run
each one yourself, in order, from `00_start_here.ipynb`.

Each exercise has a cell to fill in (it holds `...`) and a check cell that tells you what is right
and gives a hint when something is not. Until your version passes, the notebook carries on with the
course's own version, so you are never stuck: come back to an exercise any time.
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
        cell.get("cell_type") == "markdown" and SOLUTION_MARKER in cell.get("source", ""))


def student_notebook(nb):
    """A copy of notebook ``nb`` (nbformat) without solutions, outputs, execution counts or widget state."""
    import copy

    nb = copy.deepcopy(nb)
    nb.cells = [c for c in nb.cells if not is_solution(c)]
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
            raise ValueError(f"--out {out} already exists and was not made by the `{command}` command "
                             f"({'it was made by `' + made_by + '`' if made_by else 'it has no ' + MARKER + ' file'}), "
                             "so it is left alone. Pick a new folder, or remove this one yourself.")


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
            nb = student_notebook(nbformat.read(path, as_version=4))
            left = [i for i, c in enumerate(nb.cells) if is_solution(c)]
            assert not left, f"{path.name}: solution cells left at {left}"
            nbformat.write(nb, tmp / "notebooks" / path.name)
        (tmp / "README.md").write_text(STUDENT_README)

    out = _build_atomically(Path(out), build, "student")
    return [out / "notebooks" / p.name for p in notebooks]


WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def static_widgets(nb):
    """Where a widget output also carries a picture of itself (the course's panels do), keep the
    picture: it shows on any page, offline too. Other widgets (progress bars) keep their saved state,
    which the page renders when it can load the widget library."""
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if WIDGET_VIEW in data and "image/png" in data:
                del data[WIDGET_VIEW]
    return nb


def _title(nb, fallback: str) -> str:
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return fallback


def export_html(out: str | os.PathLike = "site", notebooks: Iterable[Path] | None = None) -> list[Path]:
    """Every course notebook, as committed (executed, with its figures), as HTML in ``out/``, with an
    ``index.html``. Widgets show the static picture they carry for viewers without a widget front end."""
    import nbformat
    from nbconvert import HTMLExporter

    notebooks = list(notebooks) if notebooks is not None else course_notebooks()
    exporter = HTMLExporter(template_name="lab")
    pages: list[tuple[str, str]] = []

    def build(tmp: Path) -> None:
        for path in notebooks:
            nb = static_widgets(nbformat.read(path, as_version=4))
            title = _title(nb, path.stem)
            body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": title}})
            (tmp / f"{path.stem}.html").write_text(body, encoding="utf-8")
            pages.append((f"{path.stem}.html", title))
        items = "\n".join(f'<li><a href="{html.escape(href)}">{html.escape(title)}</a></li>' for href, title in pages)
        (tmp / "index.html").write_text(
            "<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>Variational autoencoders from first principles"
            "</title></head>\n<body style='font-family: sans-serif; max-width: 46em; margin: 2em auto'>\n"
            "<h1>Variational autoencoders from first principles</h1>\n<p>A read-only copy of the executed course. "
            "To run it and move the sliders, open the notebooks in Jupyter.</p>\n"
            f"<ol start='0'>\n{items}\n</ol>\n</body></html>\n", encoding="utf-8")

    out = _build_atomically(Path(out), build, "html")
    return [out / href for href, _ in pages]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.classroom", description="Prepare the course for a class.")
    sub = parser.add_subparsers(dest="command", required=True)
    p_student = sub.add_parser("student", help="write the student copy: solutions removed, outputs cleared")
    p_student.add_argument("--out", default="student", help="folder to write (default: student/)")
    p_html = sub.add_parser("html", help="write every executed notebook as HTML, with an index page")
    p_html.add_argument("--out", default="site", help="folder to write (default: site/)")
    p_hosted = sub.add_parser("hosted", help="record the course's GitHub repository in the Colab install cells "
                              "and the README's Binder/Colab badges; without --repo, show what is recorded")
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
        print(f"Student copy: {len(written)} notebooks in {Path(args.out).resolve() / 'notebooks'} "
              "(solutions removed, outputs cleared). Students run them inside the course folder, "
              "where vae_helpers is installed.")
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
        print("No repository recorded: the README shows no Binder/Colab badges, and on Colab the first cell of "
              "each notebook asks for the address. Record it with: make hosted REPO=https://github.com/OWNER/NAME")
    else:
        print(f"Recorded in the install cells of {len(notebooks)} notebooks and in the README's badges: "
              f"{repository} (branch {branch}).")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
