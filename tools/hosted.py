"""Hosted notebooks: Google Colab and Binder.

Colab opens one notebook from GitHub without the rest of the course, so it has no ``vae_helpers``.
The first code cell of every notebook (tagged ``colab-install``) installs it there from the course's
repository with ``pip install --no-deps``: nothing else is installed, upgraded or downgraded, so
Colab's own PyTorch, torchvision and ipywidgets stay as they are. Anywhere else (a laptop, a lab,
Binder, the tests) the cell does nothing and prints nothing.

Where the course is published is written in two places that must agree: the ``COURSE_REPOSITORY``
and ``COURSE_BRANCH`` lines of those cells, and the README's block of Binder and Colab badges. One
command writes both (``make hosted REPO=https://github.com/OWNER/NAME``):

    python -m tools.classroom hosted --repo https://github.com/OWNER/NAME [--branch main]
    python -m tools.classroom hosted            # says what is recorded now, changes nothing

While no repository is recorded the README block is empty (no broken links), and the cell on
Colab stops with a message saying which line to fill in.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from vae_helpers.files import atomic_write_text

INSTALL_TAG = "colab-install"
BADGES_BEGIN = "<!-- hosted-badges: begin (written by `make hosted`; do not edit by hand) -->"
BADGES_END = "<!-- hosted-badges: end -->"
_GITHUB = re.compile(r"^https://github\.com/([A-Za-z0-9_.-]+)/([A-Za-z0-9_.-]+?)(?:\.git)?/?$")
_BRANCH = re.compile(r"^[A-Za-z0-9._/-]+$")

# "# @title" (with the space that ruff format puts after "#"): Colab reads it as the cell's form title too
TITLE = "# @title Colab only: installs the course's helper package there; does nothing anywhere else"
# The cell's code is hidden: JupyterLab collapses it (jupyter.source_hidden) and Colab shows its title as a
# form (cellView), so a learner's first screen is the course; a click shows the code.
HIDDEN = {"jupyter": {"source_hidden": True}, "cellView": "form"}

_CELL = (
    TITLE
    + """
# Colab opens this notebook without the rest of the course, so this cell installs the course's helper
# package, vae_helpers, from the course's repository, and nothing else: Colab's own PyTorch and
# ipywidgets stay as they are. Anywhere else (your laptop, a lab, Binder) it does nothing.
# where the course is published, e.g. "https://github.com/OWNER/NAME", and its branch (written by `make hosted`)
COURSE_REPOSITORY = "{repository}"
COURSE_BRANCH = "{branch}"
import importlib
import importlib.util
import subprocess
import sys

if "google.colab" in sys.modules and importlib.util.find_spec("vae_helpers") is None:
    if not COURSE_REPOSITORY:
        raise RuntimeError(
            "This copy of the course does not record where it is published. Set COURSE_REPOSITORY "
            "above to the GitHub address you opened this notebook from, then run this cell again."
        )
    package = f"vae_helpers @ git+{{COURSE_REPOSITORY}}@{{COURSE_BRANCH}}"
    if subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", package]).returncode:
        raise RuntimeError(
            f"pip could not install {{package}} (its message is above). Check COURSE_REPOSITORY "
            "and COURSE_BRANCH, and that this runtime can reach GitHub."
        )
    importlib.invalidate_caches()
    print(f"Installed vae_helpers from {{COURSE_REPOSITORY}} ({{COURSE_BRANCH}}).")"""
)

_RECORDED = re.compile(
    r"^COURSE_REPOSITORY = (?P<repository>'[^'\n]*'|\"[^\"\n]*\").*\nCOURSE_BRANCH = "
    r"(?P<branch>'[^'\n]*'|\"[^\"\n]*\")$",
    re.M,
)


def check_repository(url: str) -> tuple[str, str]:
    """``(owner, name)`` of a GitHub repository address; anything else is refused with the form expected.
    (Colab opens notebooks from GitHub only, and Binder's badge here is GitHub's.)"""
    match = _GITHUB.match(url.strip())
    if not match:
        raise ValueError(
            f"{url!r} is not a GitHub repository address. Give it as https://github.com/OWNER/NAME "
            "(Colab opens notebooks from GitHub)."
        )
    return match.group(1), match.group(2)


def _normalize(repository: str, branch: str) -> tuple[str, str]:
    if repository:
        owner, name = check_repository(repository)
        repository = f"https://github.com/{owner}/{name}"
    if not _BRANCH.match(branch) or ".." in branch or branch.startswith(("/", "-")):
        raise ValueError(f"{branch!r} is not a branch name. Give the branch that holds the course, e.g. --branch main.")
    return repository, branch


def install_cell_source(repository: str = "", branch: str = "main") -> str:
    """The source of the install cell for a repository address ("" while none is recorded)."""
    repository, branch = _normalize(repository, branch)
    return _CELL.format(repository=repository, branch=branch)


def install_cell(repository: str = "", branch: str = "main"):
    import nbformat

    cell = nbformat.v4.new_code_cell(install_cell_source(repository, branch))
    cell.metadata.update(tags=[INSTALL_TAG], **HIDDEN)
    return cell


def is_install_cell(cell) -> bool:
    return INSTALL_TAG in cell.get("metadata", {}).get("tags", [])


def recorded_in(source: str) -> tuple[str, str]:
    """``(repository, branch)`` written in an install cell's source."""
    import ast

    match = _RECORDED.search(source)
    if not match:
        raise ValueError(
            "The install cell has no COURSE_REPOSITORY / COURSE_BRANCH lines; rewrite it with "
            "`make hosted` (python -m tools.classroom hosted --repo ...)."
        )
    return ast.literal_eval(match["repository"]), ast.literal_eval(match["branch"])


def badges_markdown(repository: str = "", branch: str = "main", notebooks: Iterable[str] = ()) -> str:
    """The README's block: Binder and Colab badges for the course, and a Colab link per notebook.
    Only the two marker lines while no repository is recorded."""
    repository, branch = _normalize(repository, branch)
    if not repository:
        return f"{BADGES_BEGIN}\n{BADGES_END}"
    owner, name = check_repository(repository)
    notebooks = list(notebooks)
    first = notebooks[0] if notebooks else "00_start_here.ipynb"
    colab = f"https://colab.research.google.com/github/{owner}/{name}/blob/{branch}/notebooks"
    binder = f"https://mybinder.org/v2/gh/{owner}/{name}/{branch}?urlpath=lab/tree/notebooks/{first}"
    lines = [
        BADGES_BEGIN,
        f"[![Binder](https://mybinder.org/badge_logo.svg)]({binder}) "
        f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({colab}/{first})",
    ]
    if notebooks:
        links = " · ".join(f"[{nb[:2]}]({colab}/{nb})" for nb in notebooks)
        lines += ["", f"Each notebook in Colab: {links}. Its first cell installs the helper package there."]
    lines.append(BADGES_END)
    return "\n".join(lines)


def _badges_span(readme_text: str, readme: Path) -> tuple[int, int]:
    begin, end = readme_text.find(BADGES_BEGIN), readme_text.find(BADGES_END)
    if begin < 0 or end < begin:
        raise ValueError(
            f"{readme} has no badge block: put the two lines\n{BADGES_BEGIN}\n{BADGES_END}\n"
            "where the badges belong, then run this again."
        )
    return begin, end + len(BADGES_END)


def recorded(notebooks: Iterable[Path]) -> tuple[str, str]:
    """The repository and branch every notebook's install cell records; an error names any notebook that
    lacks the cell, has it below another code cell, or disagrees with the others."""
    import nbformat

    found: dict[tuple[str, str], list[str]] = {}
    for path in notebooks:
        nb = nbformat.read(path, as_version=4)
        code = [c for c in nb.cells if c.cell_type == "code"]
        if not code or not is_install_cell(code[0]):
            raise ValueError(
                f"{path.name}: its first code cell is not the Colab install cell (tag {INSTALL_TAG!r}). "
                "`make hosted` puts it back."
            )
        found.setdefault(recorded_in(code[0].source), []).append(path.name)
    if len(found) != 1:
        raise ValueError(
            "The notebooks record different repositories: "
            + "; ".join(f"{r or 'none'} ({b}) in {', '.join(n)}" for (r, b), n in found.items())
            + ". `make hosted REPO=...` writes one into all of them."
        )
    return next(iter(found))


def write_hosted(repository: str, branch: str, notebooks: list[Path], readme: Path) -> None:
    """Record the repository in every notebook's install cell (adding the cell where it is missing, before
    the first code cell) and in the README's badge block. Every file is checked before any is written,
    and each is replaced in one step, so a bad argument or an interruption leaves no file half-written."""
    import nbformat

    repository, branch = _normalize(repository, branch)
    text = readme.read_text()
    begin, end = _badges_span(text, readme)
    new_readme = text[:begin] + badges_markdown(repository, branch, [p.name for p in notebooks]) + text[end:]
    new_notebooks = []
    for path in notebooks:
        nb = nbformat.read(path, as_version=4)
        first_code = next((i for i, c in enumerate(nb.cells) if c.cell_type == "code"), len(nb.cells))
        if first_code < len(nb.cells) and is_install_cell(nb.cells[first_code]):
            nb.cells[first_code].source = install_cell_source(repository, branch)
            nb.cells[first_code].metadata.update(HIDDEN)
        else:
            nb.cells.insert(first_code, install_cell(repository, branch))
        new_notebooks.append((path, nbformat.writes(nb) + "\n"))
    for path, content in new_notebooks:
        atomic_write_text(path, content)
    atomic_write_text(readme, new_readme)
