"""The Colab install cell and the README's Binder/Colab badges (tools.hosted).

The cell is run for real on a simulated Colab: a throwaway virtual environment that sees the course's
installed packages (as Colab has torch and ipywidgets preinstalled) but not vae_helpers, with
``google.colab`` imported, installing from a local git repository of the helper package.
"""

import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat
import pytest

from tools import classroom, hosted

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = classroom.course_notebooks()
REPO = "https://github.com/example-org/vae-course"


def test_every_notebook_opens_with_the_install_cell_and_all_record_the_same_place():
    repository, branch = hosted.recorded(NOTEBOOKS)
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert hosted.is_install_cell(code[0]), path.name
        assert code[0].source == hosted.install_cell_source(repository, branch), f"{path.name}: run `make hosted`"
        assert code[0].outputs == [], f"{path.name}: the install cell printed something off Colab"
        # a learner's first screen is the course: the cell shows one title line, its code is hidden
        assert code[0].source.startswith("# @title Colab only") and code[0].source.splitlines()[0] == hosted.TITLE
        assert code[0].metadata.get("jupyter", {}).get("source_hidden") is True
        assert code[0].metadata.get("cellView") == "form"
        assert "setup(" in code[1].source, f"{path.name}: the setup cell should follow the install cell"


def test_readme_badges_match_the_install_cells():
    repository, branch = hosted.recorded(NOTEBOOKS)
    text = (ROOT / "README.md").read_text()
    assert hosted.badges_markdown(repository, branch, [p.name for p in NOTEBOOKS]) in text


@pytest.mark.parametrize("url", ["https://github.com/a/b", "https://github.com/a/b.git", "https://github.com/a/b/"])
def test_repository_addresses_are_normalized(url):
    assert hosted.check_repository(url) == ("a", "b")
    assert 'COURSE_REPOSITORY = "https://github.com/a/b"' in hosted.install_cell_source(url)


@pytest.mark.parametrize(
    "url",
    [
        "github.com/a/b",
        "https://gitlab.com/a/b",
        "https://github.com/a",
        "https://github.com/a/b/tree/main",
        'https://github.com/a/b"; import os',
    ],
)
def test_other_addresses_are_refused_with_the_expected_form(url):
    with pytest.raises(ValueError, match=re.escape("https://github.com/OWNER/NAME")):
        hosted.install_cell_source(url)


@pytest.mark.parametrize("branch", ["", "-x", "a..b", 'main"'])
def test_bad_branch_names_are_refused(branch):
    with pytest.raises(ValueError, match="--branch"):
        hosted.install_cell_source(REPO, branch)


def test_badges_link_every_notebook_and_none_without_a_repository():
    names = [p.name for p in NOTEBOOKS]
    block = hosted.badges_markdown(REPO, "main", names)
    links = re.findall(r"\]\((https://[^)]+)\)", block)
    colab = "https://colab.research.google.com/github/example-org/vae-course/blob/main/notebooks/"
    assert [u for u in links if u.startswith(colab)] == [colab + names[0]] + [colab + n for n in names]
    assert "https://mybinder.org/v2/gh/example-org/vae-course/main?urlpath=lab/tree/notebooks/" + names[0] in links
    assert "](" not in hosted.badges_markdown("", "main", names)  # no links at all, so none broken


def _course_copy(tmp_path):
    (tmp_path / "notebooks").mkdir()
    for path in NOTEBOOKS:
        shutil.copy(path, tmp_path / "notebooks")
    shutil.copy(ROOT / "README.md", tmp_path)
    return sorted((tmp_path / "notebooks").glob("*.ipynb")), tmp_path / "README.md"


def test_write_hosted_records_the_repository_everywhere_and_can_clear_it(tmp_path):
    notebooks, readme = _course_copy(tmp_path)
    hosted.write_hosted(REPO + ".git", "teaching", notebooks, readme)
    assert hosted.recorded(notebooks) == (REPO, "teaching")
    assert "/vae-course/blob/teaching/notebooks/03_autoencoder.ipynb" in readme.read_text()
    for path in notebooks:  # only the install cell changed
        old, new = nbformat.read(ROOT / "notebooks" / path.name, 4), nbformat.read(path, 4)
        changed = [i for i, (a, b) in enumerate(zip(old.cells, new.cells)) if a != b]
        assert len(old.cells) == len(new.cells) and changed == [[c.cell_type for c in new.cells].index("code")]
    hosted.write_hosted("", "main", notebooks, readme)
    assert hosted.recorded(notebooks) == ("", "main")
    assert hosted.badges_markdown("", "main", [p.name for p in notebooks]) in readme.read_text()


def test_write_hosted_adds_a_missing_install_cell_before_the_first_code_cell(tmp_path):
    notebooks, readme = _course_copy(tmp_path)
    nb = nbformat.read(notebooks[1], 4)
    nb.cells = [c for c in nb.cells if not hosted.is_install_cell(c)]
    nbformat.write(nb, notebooks[1])
    with pytest.raises(ValueError, match=f"{notebooks[1].name}: its first code cell is not the Colab install cell"):
        hosted.recorded(notebooks)
    hosted.write_hosted(REPO, "main", notebooks, readme)
    cells = nbformat.read(notebooks[1], 4).cells
    first_code = next(c for c in cells if c.cell_type == "code")
    assert hosted.is_install_cell(first_code) and hosted.recorded(notebooks) == (REPO, "main")
    assert sum(hosted.is_install_cell(c) for c in cells) == 1


def test_bad_input_changes_no_file(tmp_path):
    notebooks, readme = _course_copy(tmp_path)
    before = {p: p.read_bytes() for p in [*notebooks, readme]}
    with pytest.raises(ValueError, match="not a GitHub repository"):
        hosted.write_hosted("https://example.com/x", "main", notebooks, readme)
    readme.write_text(readme.read_text().replace(hosted.BADGES_END, ""))
    before[readme] = readme.read_bytes()
    with pytest.raises(ValueError, match="has no badge block"):
        hosted.write_hosted(REPO, "main", notebooks, readme)
    assert {p: p.read_bytes() for p in before} == before
    assert not list(tmp_path.rglob("*.tmp"))


def test_notebooks_that_disagree_are_named(tmp_path):
    notebooks, _ = _course_copy(tmp_path)
    nb = nbformat.read(notebooks[2], 4)
    cell = next(c for c in nb.cells if hosted.is_install_cell(c))
    cell.source = hosted.install_cell_source(REPO, "main")
    nbformat.write(nb, notebooks[2])
    with pytest.raises(ValueError, match=rf"different repositories.*{REPO} \(main\) in {notebooks[2].name}"):
        hosted.recorded(notebooks)


def test_command_line(capsys):
    assert classroom.main(["hosted", "--repo", "https://example.com/x"]) == 2
    assert "not a GitHub repository" in capsys.readouterr().err
    assert classroom.main(["hosted"]) == 0
    repository, _ = hosted.recorded(NOTEBOOKS)
    out = capsys.readouterr().out
    assert (repository in out) if repository else ("No repository recorded" in out and "make hosted REPO=" in out)


def test_the_student_copy_keeps_the_install_cell():
    nb = classroom.student_notebook(nbformat.read(NOTEBOOKS[3], 4))
    assert hosted.is_install_cell(next(c for c in nb.cells if c.cell_type == "code"))


def test_off_colab_the_cell_does_nothing(monkeypatch, capsys):
    """Here vae_helpers is installed and google.colab is not imported: no pip, no output."""

    def no_subprocess(*args, **kwargs):
        raise AssertionError("the install cell ran a command off Colab")

    monkeypatch.setattr(subprocess, "run", no_subprocess)
    assert "google.colab" not in sys.modules
    exec(hosted.install_cell_source(REPO), {})
    assert capsys.readouterr() == ("", "")


# --- the cell, run on a simulated Colab -------------------------------------------------------------

RUN_CELL = textwrap.dedent("""\
    import sys, types
    if sys.argv[1] == "colab":
        sys.modules["google.colab"] = types.ModuleType("google.colab")
    exec(open(sys.argv[2]).read())
    """)
REPORT = textwrap.dedent("""\
    import importlib.util, json
    spec = importlib.util.find_spec("vae_helpers")
    import ipywidgets, torch
    print(json.dumps({"vae_helpers": spec.origin if spec else None, "torch": torch.__file__,
                      "torch_version": torch.__version__, "ipywidgets": ipywidgets.__version__}))
    """)


@pytest.fixture(scope="module")
def fake_colab(tmp_path_factory):
    """A venv that sees this environment's packages through a .pth file but has no vae_helpers, and a
    git repository holding the helper package, as GitHub would."""
    if not shutil.which("git"):
        pytest.skip("git is not installed")
    tmp = tmp_path_factory.mktemp("colab")
    venv = tmp / "venv"
    subprocess.run([getattr(sys, "_base_executable", sys.executable), "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    import torch

    preinstalled = Path(torch.__file__).resolve().parent.parent
    (Path(purelib) / "preinstalled.pth").write_text(f"{preinstalled}\n")

    source = tmp / "repository"
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        if (ROOT / name).exists():
            shutil.copy(ROOT / name, source)
    shutil.copytree(ROOT / "vae_helpers", source / "vae_helpers", ignore=shutil.ignore_patterns("__pycache__"))
    git = ["git", "-C", str(source), "-c", "user.name=test", "-c", "user.email=test@example.org"]
    for args in (["init", "-q", "-b", "main"], ["add", "."], ["commit", "-q", "-m", "helper package"]):
        subprocess.run(git + args, check=True)
    return python, Path(purelib), source, tmp


def _python(python, tmp, *args):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run([str(python), *args], cwd=tmp, env=env, capture_output=True, text=True, timeout=600)


def _run_cell(python, tmp, where, cell_source):
    """Run an install cell's source in the fake-Colab venv, with google.colab imported when where == "colab"."""
    (tmp / "cell.py").write_text(cell_source)
    (tmp / "run_cell.py").write_text(RUN_CELL)
    return _python(python, tmp, "run_cell.py", where, "cell.py")


def _report(python, tmp):
    import json

    (tmp / "report.py").write_text(REPORT)
    result = _python(python, tmp, "report.py")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.slow
def test_on_colab_the_cell_installs_only_the_helper_package(fake_colab):
    python, purelib, source, tmp = fake_colab
    before = _report(python, tmp)
    assert before["vae_helpers"] is None  # like a fresh Colab runtime

    def listed():
        return subprocess.run(
            [str(python), "-m", "pip", "list", "--format=freeze", "--path", str(purelib)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.split()

    installed_before = listed()

    # the same cell, pointed at the local repository (file://localhost/...: pip before 23.3 refuses
    # git+file:/// addresses without a host)
    cell = hosted.install_cell_source(REPO).replace(f'"{REPO}"', f'"file://localhost{source}"')
    off = _run_cell(python, tmp, "laptop", cell)  # google.colab not imported: nothing happens
    assert (off.returncode, off.stdout, off.stderr) == (0, "", "")
    assert _report(python, tmp)["vae_helpers"] is None

    unrecorded = _run_cell(python, tmp, "colab", hosted.install_cell_source(""))
    assert unrecorded.returncode != 0 and "Set COURSE_REPOSITORY" in unrecorded.stderr

    wrong = _run_cell(python, tmp, "colab", cell.replace(str(source), f"{tmp}/no-such-repository"))
    assert wrong.returncode != 0
    assert "pip could not install" in wrong.stderr and "Check COURSE_REPOSITORY" in wrong.stderr
    assert listed() == installed_before

    first = _run_cell(python, tmp, "colab", cell)
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == f"Installed vae_helpers from file://localhost{source} (main)."
    after = _report(python, tmp)
    assert Path(after["vae_helpers"]).is_relative_to(purelib)
    assert {k: after[k] for k in ("torch", "torch_version", "ipywidgets")} == {
        k: before[k] for k in ("torch", "torch_version", "ipywidgets")
    }
    added = sorted(set(listed()) - set(installed_before))
    assert [a.split("==")[0].replace("-", "_") for a in added] == ["vae_helpers"], added

    again = _run_cell(python, tmp, "colab", cell)  # already there: no second install
    assert (again.returncode, again.stdout) == (0, "")

    works = _python(python, tmp, "-c", "from vae_helpers import losses, utils; print(utils.repo_root())")
    assert works.returncode == 0 and works.stdout.strip() == "None", works.stderr  # data and models go to ~/.cache


def _requirement(line):
    match = re.match(r"^([A-Za-z0-9_.-]+)\s*(.*)$", line.strip())
    return match.group(1).lower(), match.group(2).replace(" ", "")


def test_binder_environment_matches_the_requirements():
    """Binder builds from environment.yml: the same packages with the same lower bounds as requirements.txt
    (conda-forge calls torch "pytorch"), and the helper package installed from the repository itself."""
    yaml = pytest.importorskip("yaml")
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert env["channels"] == ["conda-forge"]
    conda = dict(_requirement(d) for d in env["dependencies"] if isinstance(d, str))
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert pip == ["-e ."]
    wanted = dict(
        _requirement(line)
        for line in (ROOT / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith(("#", "-e"))
    )
    wanted = {("pytorch" if name == "torch" else name): bound for name, bound in wanted.items()}
    assert {name: conda.get(name) for name in wanted} == wanted
    assert "python" in conda and "pip" in conda
