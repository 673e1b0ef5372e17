"""The set-up (tools.course): which PyTorch build and index, the fallback when PyTorch's CPU index is out of
reach, the requirement files and constraints, and the course's JupyterLab settings.

Nothing here downloads: the package indexes are local servers (one that answers, one that never does) and the
installing commands are recorded instead of run.
"""

import http.server
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tools import course

ROOT = Path(__file__).resolve().parent.parent
PINS = ["-c", str(course.CONSTRAINTS)]


@pytest.mark.parametrize(
    ("environ", "platform", "smi", "build"),
    [
        ({}, "linux", None, "cpu"),  # a laptop without an NVIDIA GPU
        ({}, "linux", "/usr/bin/nvidia-smi", "default"),  # a machine with one
        ({}, "darwin", None, "default"),  # macOS: PyPI's build is the small one (CPU + Apple GPU)
        ({}, "win32", None, "default"),  # Windows: PyPI's build is CPU-only
        ({"VAE_TORCH": "cpu"}, "linux", "/usr/bin/nvidia-smi", "cpu"),  # the variable overrides both ways
        ({"VAE_TORCH": "default"}, "linux", None, "default"),
        ({"VAE_TORCH": " CPU "}, "win32", None, "cpu"),
        ({"VAE_TORCH": "auto"}, "linux", None, "cpu"),
        ({"VAE_TORCH": ""}, "linux", None, "cpu"),
    ],
)
def test_the_torch_build_follows_the_gpu_and_the_override(environ, platform, smi, build):
    chosen, why = course.torch_build(environ, platform, smi)
    assert chosen == build
    assert why


def test_an_unknown_torch_choice_names_the_choices():
    with pytest.raises(course.SetupError, match=r"VAE_TORCH='gpu'.*cpu, default, or auto"):
        course.torch_build({"VAE_TORCH": "gpu"}, "linux", None)


def _reachable(url):
    return None


def _plan(environ, torch_now=None, smi=None, probe=_reachable, dev=False):
    return course.plan(Path("/v"), dev, environ, "linux", smi, torch_now, probe)


def _python():
    return str(course.venv_python(Path("/v")))


def test_a_cpu_laptop_takes_torch_and_torchvision_from_the_cpu_index_and_the_rest_from_pypi():
    lines, torch_steps, rest = _plan({})
    assert torch_steps == [
        [
            _python(),
            "-m",
            "pip",
            "install",
            "--no-deps",
            "--index-url",
            course.CPU_INDEX,
            *course.PIP_NETWORK,
            "torch",
            "torchvision",
            *PINS,
        ]
    ]
    assert rest == [[_python(), "-m", "pip", "install", "-r", str(course.LEARNER), *PINS]]
    assert "CPU build" in lines[0] and "constraints.txt" in lines[0]
    assert not any(line.startswith("!!") for line in lines)


def test_a_gpu_machine_installs_everything_from_pypi():
    lines, torch_steps, rest = _plan({}, smi="/usr/bin/nvidia-smi")
    assert torch_steps == []
    assert rest == [[_python(), "-m", "pip", "install", "-r", str(course.LEARNER), *PINS]]
    assert "default build" in lines[0] and "nvidia-smi" in lines[0]


def test_the_developer_set_and_the_newest_versions():
    _, torch_steps, rest = _plan({"VAE_CONSTRAINTS": "0"}, dev=True)
    assert rest == [[_python(), "-m", "pip", "install", "-r", str(course.DEVELOPER)]]
    assert "-c" not in torch_steps[0]
    with pytest.raises(course.SetupError, match="VAE_CONSTRAINTS='maybe'"):
        _plan({"VAE_CONSTRAINTS": "maybe"})


def test_switching_builds_reinstalls_torch_and_an_installed_cpu_build_is_kept():
    probed = []

    def probe(url):
        probed.append(url)

    _, torch_steps, _ = _plan({}, torch_now="2.15.0+cu132", probe=probe)  # CUDA build there, CPU wanted
    assert "--force-reinstall" in torch_steps[0] and "--index-url" in torch_steps[0]
    _, torch_steps, _ = _plan({}, torch_now="2.15.0+cpu", probe=probe)  # nothing to change
    assert torch_steps == [] and len(probed) == 1  # and no need to ask the index
    _, torch_steps, _ = _plan({"VAE_TORCH": "default"}, torch_now="2.15.0+cpu")  # CPU build there, default wanted
    assert torch_steps == [
        [_python(), "-m", "pip", "install", "--no-deps", "--force-reinstall", "torch", "torchvision", *PINS]
    ]


def test_an_unreachable_cpu_index_gives_one_line_then_the_default_index():
    lines, torch_steps, rest = _plan({}, probe=lambda url: "no answer within 10 s")
    assert torch_steps == []
    assert [line for line in lines if line.startswith("!!")] == [
        f"!! PyTorch's CPU index {course.CPU_INDEX} cannot be reached (no answer within 10 s): installing the "
        "default build from PyPI instead (about 3 GB more)."
    ]
    assert all("--index-url" not in command for command in rest)


def test_the_cpu_index_can_be_pointed_elsewhere():
    _, torch_steps, _ = _plan({"VAE_TORCH_CPU_INDEX": "http://mirror.example/cpu"})
    assert torch_steps[0][torch_steps[0].index("--index-url") + 1] == "http://mirror.example/cpu"


@pytest.fixture
def silent_server():
    """A TCP port that accepts connections and never answers (a firewall that swallows packets, a proxy that
    hangs)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/whl/cpu"
    listener.close()


@pytest.fixture
def index_server(tmp_path):
    """A package index that answers: a folder with torch/ in it, served over HTTP."""
    (tmp_path / "torch").mkdir()
    (tmp_path / "torch" / "index.html").write_text("<a href='torch-0-py3-none-any.whl'>torch</a>")

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(tmp_path), **kwargs)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_the_probe_gives_up_on_a_silent_index_in_time(silent_server):
    start = time.monotonic()
    reason = course.index_unreachable(silent_server, timeout=1.0)
    assert time.monotonic() - start < 3.0
    assert reason and ("1 s" in reason or "timed out" in reason)


def test_the_probe_gives_up_even_when_the_name_lookup_hangs(monkeypatch):
    """urllib's timeout does not cover looking the host name up (a broken DNS can take minutes): the probe's
    own deadline does."""

    def hang(*args, **kwargs):
        time.sleep(30)

    monkeypatch.setattr(course.urllib.request, "urlopen", hang)
    start = time.monotonic()
    assert course.index_unreachable(course.CPU_INDEX, timeout=0.5) == "no answer within 0.5 s"
    assert time.monotonic() - start < 2.0


def test_the_probe_sees_a_refused_connection_and_an_index_that_answers(index_server):
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nobody listens there now
    assert "refused" in course.index_unreachable(f"http://127.0.0.1:{port}/cpu", timeout=5).lower()
    assert course.index_unreachable(index_server, timeout=5) is None
    assert course.index_unreachable(index_server + "/elsewhere", timeout=5)  # no torch/ there: 404


@pytest.mark.slow
def test_the_set_up_never_hangs_on_an_index_that_never_answers(silent_server, tmp_path):
    """The whole command, as `make lab` runs it (dry run: the plan is printed, nothing installed)."""
    env = {"VAE_TORCH": "cpu", "VAE_TORCH_CPU_INDEX": silent_server, "PATH": "/usr/bin:/bin"}
    start = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "tools.course", "setup", "--dry-run", "--venv", str(tmp_path / "v")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    elapsed = time.monotonic() - start
    assert done.returncode == 0, done.stderr
    assert elapsed < course.PROBE_SECONDS + 10
    warnings = [line for line in done.stdout.splitlines() if line.startswith("!!")]
    assert len(warnings) == 1 and "cannot be reached" in warnings[0] and "no answer within" in warnings[0]
    installs = [line for line in done.stdout.splitlines() if " pip install " in line]
    assert installs and not any("--index-url" in line for line in installs)


def _fake_venv(tmp_path):
    venv = tmp_path / "v"
    python = course.venv_python(venv)
    python.parent.mkdir(parents=True)
    python.write_text("")
    return venv


def test_a_failing_cpu_install_falls_back_to_the_default_build_and_records_the_set_up(tmp_path, monkeypatch, capsys):
    venv = _fake_venv(tmp_path)
    ran = []

    def run(command, **kwargs):
        ran.append(command)
        failed = "--index-url" in command  # the CPU index answered the probe, then the download broke
        return subprocess.CompletedProcess(command, 1 if failed else 0)

    monkeypatch.setattr(course.subprocess, "run", run)
    monkeypatch.setattr(course, "installed_torch", lambda python: None)
    monkeypatch.setattr(course, "index_unreachable", lambda url: None)
    monkeypatch.setattr(course.shutil, "which", lambda name: None)
    monkeypatch.setattr(course, "lab_settings_dir", lambda venv: tmp_path / "settings")
    course.setup(venv, dev=False, environ={"VAE_TORCH": "auto"})
    out = capsys.readouterr().out
    assert [line for line in out.splitlines() if line.startswith("!!")] == [
        "!! Installing PyTorch's CPU build failed: installing the default build from PyPI instead."
    ]
    assert ran[-1][4:6] == ["-r", str(course.LEARNER)] and "--index-url" not in ran[-1]  # from PyPI, last
    assert json.loads((venv / ".course-installed.json").read_text())["dev"] is False
    # a second set-up finds the stamp and installs nothing; a developer's set-up is not covered by it
    ran.clear()
    course.setup(venv, dev=False, environ={"VAE_TORCH": "auto"})
    assert ran == []
    course.setup(venv, dev=True, environ={"VAE_TORCH": "auto"})
    assert ran and ran[-1][4:6] == ["-r", str(course.DEVELOPER)]
    ran.clear()
    course.setup(venv, dev=False, environ={"VAE_TORCH": "auto"})  # the developer's set holds the learner's
    assert ran == []


def test_a_failing_requirements_install_stops_with_the_step_named(tmp_path, monkeypatch):
    venv = _fake_venv(tmp_path)
    monkeypatch.setattr(course.subprocess, "run", lambda command, **kw: subprocess.CompletedProcess(command, 1))
    monkeypatch.setattr(course, "installed_torch", lambda python: None)
    with pytest.raises(course.SetupError, match="Upgrading pip failed"):
        course.setup(venv, dev=False, environ={"VAE_TORCH": "default"})
    assert not (venv / ".course-installed.json").exists()


def _names(path):
    names = {}
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line and not line.startswith("-"):
            requirement = Requirement(line)
            names[canonicalize_name(requirement.name)] = requirement
    return names


def test_the_learner_set_is_what_the_notebooks_need_and_the_developer_set_adds_the_tools():
    assert set(_names(course.LEARNER)) == {
        "torch",
        "torchvision",
        "jupyterlab",
        "matplotlib",
        "ipywidgets",
        "tqdm",
        "nbval",
    }
    assert "-e ." in course.LEARNER.read_text().splitlines()
    developer = course.DEVELOPER.read_text().splitlines()
    assert "-r requirements.txt" in developer
    assert {"pytest", "playwright", "ruff", "pre-commit"} <= set(_names(course.DEVELOPER))
    assert not {"pytest", "playwright", "ruff"} & set(_names(course.LEARNER))


def test_the_constraints_pin_every_requirement_within_its_bounds():
    """constraints.txt: one exact pin per package (per Python version), each inside the requirement files'
    bounds, for every package they name."""
    pins: dict[str, list[Requirement]] = {}
    for line in course.CONSTRAINTS.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            requirement = Requirement(line)
            assert str(requirement.specifier).startswith("=="), line
            pins.setdefault(canonicalize_name(requirement.name), []).append(requirement)
            assert requirement.name == canonicalize_name(requirement.name), line
    wanted = {**_names(course.LEARNER), **_names(course.DEVELOPER)}
    for name, requirement in wanted.items():
        assert name in pins, f"{name} is not pinned in constraints.txt: run `make constraints` after a green CI"
        for pin in pins[name]:
            version = str(pin.specifier).removeprefix("==")
            assert requirement.specifier.contains(version), f"{pin} is outside {requirement}"
    # for this Python exactly one pin applies to each package
    for name, found in pins.items():
        assert sum(pin.marker is None or pin.marker.evaluate() for pin in found) == 1, name


def test_freeze_pins_each_version_with_the_pythons_it_was_installed_on(monkeypatch):
    listed = {
        "/a": ("3 10", [("numpy", "2.2.6"), ("torch", "2.15.0+cu132"), ("tomli", "2.0"), ("pip", "25")]),
        "/b": ("3 11", [("numpy", "2.4.6"), ("torch", "2.15.0+cu132")]),
        "/c": ("3 13", [("numpy", "2.4.6"), ("torch", "2.15.0+cpu")]),
    }

    def run(command, **kwargs):
        venv = str(Path(command[0]).parent.parent)
        version, packages = listed[venv]
        out = version if "-c" in command else json.dumps([{"name": n, "version": v} for n, v in packages])
        return subprocess.CompletedProcess(command, 0, stdout=out)

    monkeypatch.setattr(course.subprocess, "run", run)
    text = course.freeze([Path("/c"), Path("/a"), Path("/b")])
    assert [line for line in text.splitlines() if not line.startswith("#")] == [
        'numpy==2.2.6; python_version < "3.11"',
        'numpy==2.4.6; python_version >= "3.11"',
        "tomli==2.0",
        "torch==2.15.0",  # the build's label is left out: the CPU and the CUDA build both match
    ]


def test_the_course_lab_settings_turn_the_news_prompt_off(tmp_path):
    """Written where JupyterLab looks (LabApp's application settings folder), read back by JupyterLab's own
    settings loader, and merged with settings already there."""
    from jupyterlab.labapp import LabApp
    from jupyterlab_server.settings_utils import _get_overrides

    assert Path(LabApp().app_settings_dir).resolve() == course.lab_settings_dir(Path(sys.prefix)).resolve()
    settings = tmp_path / "share" / "jupyter" / "lab" / "settings"
    settings.mkdir(parents=True)
    (settings / "overrides.json").write_text(json.dumps({"@jupyterlab/apputils-extension:themes": {"theme": "x"}}))
    course.install_lab_settings(settings)
    overrides, error = _get_overrides(str(settings))
    assert not error
    assert overrides["@jupyterlab/apputils-extension:notification"] == {"fetchNews": "false", "checkForUpdates": False}
    assert overrides["@jupyterlab/apputils-extension:themes"] == {"theme": "x"}
    assert not list(settings.glob("*.tmp"))


@pytest.mark.parametrize("version", ["3.9", "3.6", "2.7"])
def test_an_old_python_is_told_which_one_to_use(version):
    """Before any of the set-up's code is read (tools/__init__.py), in syntax Python 2.7 reads too."""
    import glob

    found = sorted(glob.glob(str(Path.home() / ".pyenv" / "versions" / f"{version}.*" / "bin" / "python")))
    on_path = shutil.which(f"python{version}")
    python = found[-1] if found else (on_path if on_path and "shims" not in on_path else None)  # pyenv's shims
    if not python:
        pytest.skip(f"no Python {version} here")
    done = subprocess.run([python, "-m", "tools.course", "lab"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stderr.startswith("!! The course needs Python 3.10 or newer; this is " + version)
    assert "make lab PYTHON=python3.12" in done.stderr


def test_the_git_hooks_run_the_pinned_ruff():
    """.pre-commit-config.yaml installs ruff from PyPI for its hooks: the version CI lints with."""
    import yaml

    hooks = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())["repos"][0]["hooks"]
    pinned = next(line for line in course.CONSTRAINTS.read_text().splitlines() if line.startswith("ruff=="))
    for hook in hooks:
        if hook["entry"].startswith("ruff "):
            assert hook["additional_dependencies"] == [pinned], hook["id"]
    assert {hook["id"] for hook in hooks} == {"ruff-check", "ruff-format", "notebook-metadata"}


def test_the_environment_s_interpreter_on_windows_and_elsewhere(monkeypatch):
    from pathlib import PurePosixPath

    assert course.venv_python(PurePosixPath("v")) == PurePosixPath("v/bin/python")
    monkeypatch.setattr(course.os, "name", "nt")  # pure paths: no Windows path object is made on this system
    assert course.venv_python(PurePosixPath("v")) == PurePosixPath("v/Scripts/python.exe")


def test_a_cpu_step_that_brings_another_build_says_so(tmp_path, monkeypatch, capsys):
    """pip's own configuration can add indexes beside --index-url; then the build it installed is named."""
    venv = _fake_venv(tmp_path)
    monkeypatch.setattr(course.subprocess, "run", lambda command, **kw: subprocess.CompletedProcess(command, 0))
    monkeypatch.setattr(course, "installed_torch", lambda python: "2.15.0" if python.exists() else None)
    monkeypatch.setattr(course, "index_unreachable", lambda url: None)
    monkeypatch.setattr(course.shutil, "which", lambda name: None)
    monkeypatch.setattr(course, "lab_settings_dir", lambda venv: tmp_path / "settings")
    course.setup(venv, dev=False, environ={})
    warnings = [line for line in capsys.readouterr().out.splitlines() if line.startswith("!!")]
    assert warnings == ["!! pip installed torch 2.15.0, not the CPU build: see `pip config list` for other indexes."]


def test_the_test_command_hands_pytest_what_it_does_not_know(monkeypatch):
    ran = []
    monkeypatch.setattr(course, "setup", lambda venv, dev, dry_run=False: Path(venv) / "bin" / "python")
    monkeypatch.setattr(
        course.subprocess, "run", lambda command, **kw: ran.append((command, kw)) or subprocess.CompletedProcess([], 0)
    )
    assert course.main(["test", "-q", "-m", "not slow", "tests/test_course.py"]) == 0
    command, kwargs = ran[-1]
    assert command[1:] == ["-m", "pytest", "-q", "-m", "not slow", "tests/test_course.py"]
    assert kwargs["env"]["VAE_FAST"] in ("1", os.environ.get("VAE_FAST"))
    with pytest.raises(SystemExit):
        course.main(["lab", "-q"])  # only `test` passes arguments on
