"""Set the course up and open it, on Linux, macOS and Windows alike, with only the standard library.

    python -m tools.course lab      # set up .venv with the learner's packages, open the course in JupyterLab
    python -m tools.course test [PYTEST ARGS]   # set up the learner's and the developer's packages, run the tests
    python -m tools.course setup [--dev] [--venv DIR] [--dry-run]   # only the set-up (--dry-run: print the plan)
    python -m tools.course freeze --out constraints.txt VENV...      # the exact versions in VENVs, as constraints

`make lab`, `make test` and `make setup` call this module; on Windows, where there is no `make`, call it directly
(`py -m tools.course lab`). An older Python than 3.10 is told so by tools/__init__.py before this file is read.

PyTorch: on Linux without an NVIDIA GPU (no `nvidia-smi` on the PATH) torch and torchvision come from PyTorch's
CPU wheel index (about 0.3 GB to download instead of 3.1 GB, 1.4 GB on disk instead of 6.1 GB); otherwise, and
on macOS and Windows (where the default build from PyPI is already CPU-only, with Apple's GPU on macOS), from
PyPI. `VAE_TORCH=cpu` or `VAE_TORCH=default` overrides the choice. When the CPU index cannot be reached within
PROBE_SECONDS, or installing from it fails, one line says so and the default build is installed instead.

Versions: `constraints.txt` pins every package to the version the last passing CI run installed;
`VAE_CONSTRAINTS=0` ignores it and installs the newest versions the requirements allow.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LEARNER = ROOT / "requirements.txt"
DEVELOPER = ROOT / "requirements-dev.txt"
CONSTRAINTS = ROOT / "constraints.txt"
LAB_OVERRIDES = ROOT / "tools" / "lab" / "overrides.json"
FIRST_NOTEBOOK = "notebooks/00_start_here.ipynb"
CPU_INDEX = "https://download.pytorch.org/whl/cpu"
PROBE_SECONDS = 10.0
# pip's own network settings for the CPU index: a slow or dying index fails in about a minute, never hangs
PIP_NETWORK = ["--timeout", "20", "--retries", "2"]


class SetupError(RuntimeError):
    """A set-up step failed; the message names the step and what to do."""


def venv_python(venv: Path) -> Path:
    """The interpreter inside virtual environment ``venv`` (Scripts\\python.exe on Windows)."""
    if os.name == "nt":
        return venv / "Scripts" / "python.exe"
    return venv / "bin" / "python"


def torch_build(environ: dict, platform: str, nvidia_smi: str | None) -> tuple[str, str]:
    """Which PyTorch build to install, ``"cpu"`` or ``"default"``, and why.

    ``environ``: the environment (``VAE_TORCH`` = auto, cpu or default); ``platform``: ``sys.platform``;
    ``nvidia_smi``: the path of ``nvidia-smi`` if it is on the PATH, else None."""
    choice = environ.get("VAE_TORCH", "auto").strip().lower() or "auto"
    if choice == "cpu":
        return "cpu", "VAE_TORCH=cpu"
    if choice == "default":
        return "default", "VAE_TORCH=default"
    if choice != "auto":
        raise SetupError(f"VAE_TORCH={choice!r} is not a choice: use cpu, default, or auto (the default).")
    if not platform.startswith("linux"):
        return "default", f"on {platform} the default build has no CUDA libraries to skip"
    if nvidia_smi:
        return "default", f"an NVIDIA driver is here ({nvidia_smi})"
    return "cpu", "no NVIDIA GPU is here (no nvidia-smi on the PATH)"


def index_unreachable(url: str, timeout: float = PROBE_SECONDS) -> str | None:
    """None when the package index at ``url`` answers within ``timeout`` seconds, else why it does not.

    The probe runs in a thread that is abandoned after ``timeout``: a name lookup that hangs (urllib's timeout
    does not cover it) cannot hang the set-up."""
    outcome: dict[str, str] = {}

    def probe() -> None:
        try:
            request = urllib.request.Request(url.rstrip("/") + "/torch/", method="HEAD")
            with urllib.request.urlopen(request, timeout=timeout):
                outcome["ok"] = ""
        except Exception as err:  # any failure means: use the default index
            outcome["error"] = f"{type(err).__name__}: {err}"

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        return f"no answer within {timeout:g} s"
    return outcome.get("error")


def requirement_files(dev: bool) -> list[Path]:
    return [DEVELOPER] if dev else [LEARNER]


def use_constraints(environ: dict) -> bool:
    value = environ.get("VAE_CONSTRAINTS", "1").strip().lower()
    if value not in ("0", "1", "no", "yes", "false", "true", ""):
        raise SetupError(f"VAE_CONSTRAINTS={value!r}: use 1 (the pinned versions, the default) or 0 (the newest).")
    return value in ("1", "yes", "true", "") and CONSTRAINTS.exists()


def stamp_key(dev: bool, build: str, constrained: bool) -> str:
    """What the set-up installed from: the requirement files, the constraints, the torch build. A change to any
    of them makes the next set-up install again."""
    digest = hashlib.sha256()
    for path in [LEARNER, ROOT / "pyproject.toml", *requirement_files(dev)] + ([CONSTRAINTS] if constrained else []):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    digest.update(f"{build} {constrained}".encode())
    return digest.hexdigest()


def installed_torch(python: Path) -> str | None:
    """The installed torch version in the environment of ``python`` (e.g. ``2.15.0+cpu``), None if none."""
    if not python.exists():
        return None
    found = subprocess.run(
        [str(python), "-c", "import importlib.metadata as m; print(m.version('torch'))"],
        capture_output=True,
        text=True,
        check=False,
    )
    return (found.stdout.strip() or None) if found.returncode == 0 else None


def plan(
    venv: Path,
    dev: bool,
    environ: dict,
    platform: str = sys.platform,
    nvidia_smi: str | None = None,
    torch_now: str | None = None,
    probe=index_unreachable,
) -> tuple[list[str], list[list[str]], list[list[str]]]:
    """The set-up as commands: (lines to print, torch commands from the CPU index, the other commands).

    ``torch_now``: the torch version installed now (None: none). The torch commands are empty unless the CPU
    build is chosen, its index answers, and the CPU build is not installed already."""
    python = str(venv_python(venv))
    build, why = torch_build(environ, platform, nvidia_smi)
    constrained = use_constraints(environ)
    pins = ["-c", str(CONSTRAINTS)] if constrained else []
    index = environ.get("VAE_TORCH_CPU_INDEX", CPU_INDEX)
    lines = [
        f"PyTorch: the {'CPU' if build == 'cpu' else 'default'} build, as {why}; "
        + ("pinned versions (constraints.txt)" if constrained else "newest versions (VAE_CONSTRAINTS=0)")
    ]
    torch_steps: list[list[str]] = []
    if build == "cpu" and not (torch_now or "").endswith("+cpu"):
        reason = probe(index)
        if reason:
            lines.append(
                f"!! PyTorch's CPU index {index} cannot be reached ({reason}): installing the default build "
                "from PyPI instead (about 3 GB more)."
            )
        else:
            # only torch and torchvision from the CPU index (--no-deps); their dependencies come from PyPI below,
            # which keeps the installed torch because it already satisfies the requirements
            torch_steps.append(
                [python, "-m", "pip", "install", "--no-deps", "--index-url", index, *PIP_NETWORK]
                + (["--force-reinstall"] if torch_now else [])
                + ["torch", "torchvision", *pins]
            )
    elif build == "default" and (torch_now or "").endswith("+cpu"):
        torch_steps.append(
            [python, "-m", "pip", "install", "--no-deps", "--force-reinstall", "torch", "torchvision", *pins]
        )
    rest = [[python, "-m", "pip", "install", "-r", str(path), *pins] for path in requirement_files(dev)]
    return lines, torch_steps, rest


def _run(command: list[str], what: str) -> None:
    print("+", " ".join(command), flush=True)
    # from the course folder: requirements.txt's `-e .` is the course's own package
    if subprocess.run(command, cwd=ROOT, check=False).returncode != 0:
        raise SetupError(f"{what} failed (the command is above).")


def install_lab_settings(settings_dir: Path) -> Path:
    """Write the course's JupyterLab settings (no news prompt, no update check) into the ``overrides.json`` of
    ``settings_dir`` (JupyterLab's application settings folder), keeping any other settings already there."""
    target = settings_dir / "overrides.json"
    settings = json.loads(target.read_text(encoding="utf-8")) if target.exists() else {}
    for plugin, values in json.loads(LAB_OVERRIDES.read_text(encoding="utf-8")).items():
        settings.setdefault(plugin, {}).update(values)
    settings_dir.mkdir(parents=True, exist_ok=True)
    temporary = target.with_suffix(".json.tmp")
    temporary.write_text(json.dumps(settings, indent=2) + "\n", encoding="utf-8")
    temporary.replace(target)
    return target


def lab_settings_dir(venv: Path) -> Path:
    """JupyterLab's application settings folder in ``venv`` (``LabApp.app_settings_dir``'s default)."""
    return venv / "share" / "jupyter" / "lab" / "settings"


def setup(venv: Path, dev: bool, dry_run: bool = False, environ: dict | None = None) -> Path:
    """Create ``venv`` if needed and install the learner's (or also the developer's) packages into it, unless its
    stamp says this was done already. Returns the environment's interpreter."""
    environ = dict(os.environ if environ is None else environ)
    python = venv_python(venv)
    stamp = venv / ".course-installed.json"
    build, _ = torch_build(environ, sys.platform, shutil.which("nvidia-smi"))
    constrained = use_constraints(environ)
    wanted = {"key": stamp_key(dev, build, constrained), "dev": dev}
    done = json.loads(stamp.read_text(encoding="utf-8")) if stamp.exists() else {}
    # a developer's set-up contains the learner's: `lab` after `test` needs nothing new
    enough = {wanted["key"], stamp_key(True, build, constrained)}
    if python.exists() and done.get("key") in enough:
        if dry_run:
            print(f"{venv} is up to date: nothing to install")
        else:
            install_lab_settings(lab_settings_dir(venv))
        return python
    if not python.exists():
        command = [sys.executable, "-m", "venv", str(venv)]
        if dry_run:
            print("+", " ".join(command))
        else:
            print(f"== creating the virtual environment {venv}", flush=True)
            if subprocess.run(command, check=False).returncode != 0:
                raise SetupError(
                    f"Could not create {venv}. On Debian/Ubuntu: sudo apt install python3-venv; then run this again."
                )
    upgrade_pip = [str(python), "-m", "pip", "install", "--quiet", "--upgrade", "pip"]
    lines, torch_steps, rest = plan(
        venv, dev, environ, sys.platform, shutil.which("nvidia-smi"), installed_torch(python), index_unreachable
    )
    for line in lines:
        print(line, flush=True)
    if dry_run:
        for command in [upgrade_pip, *torch_steps, *rest]:
            print("+", " ".join(command))
        return python
    # an old bundled pip can sit in its resolver for many minutes
    _run(upgrade_pip, "Upgrading pip")
    for command in torch_steps:
        if "--index-url" not in command:  # back from the CPU build to the default one: no fallback to offer
            _run(command, "Reinstalling PyTorch's default build")
            continue
        print("+", " ".join(command), flush=True)
        if subprocess.run(command, cwd=ROOT, check=False).returncode != 0:
            print(
                "!! Installing PyTorch's CPU build failed: installing the default build from PyPI instead.", flush=True
            )
            continue
        got = installed_torch(python) or ""
        if not got.endswith("+cpu"):  # pip's own configuration (extra-index-url, find-links) offered another build
            print(f"!! pip installed torch {got}, not the CPU build: see `pip config list` for other indexes.")
    for command in rest:
        _run(command, f"Installing {Path(command[5]).name}")
    install_lab_settings(lab_settings_dir(venv))
    stamp.write_text(json.dumps(wanted) + "\n", encoding="utf-8")
    return python


def freeze(venvs: list[Path]) -> str:
    """Constraints that pin every package installed in ``venvs`` (one per Python version) to its version there;
    where the versions differ between Pythons, one pin per Python version range."""
    found: dict[tuple[int, int], dict[str, str]] = {}
    for venv in venvs:
        python = str(venv_python(venv))
        version = subprocess.run(
            [python, "-c", "import sys; print(*sys.version_info[:2])"], capture_output=True, text=True, check=True
        ).stdout.split()
        listed = subprocess.run(
            [python, "-m", "pip", "list", "--format=json", "--exclude-editable"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        # names as PEP 503 writes them (pre_commit and pre-commit are one package), without the build's label
        pins = {re.sub(r"[-_.]+", "-", p["name"]).lower(): p["version"].split("+")[0] for p in json.loads(listed)}
        for tool in ("pip", "setuptools", "wheel"):
            pins.pop(tool, None)
        found[(int(version[0]), int(version[1]))] = pins
    pythons = sorted(found)

    def marker(first: int, last: int) -> str:
        """The marker of Pythons pythons[first] to pythons[last], reaching down (and up) beyond the ends."""
        low = f'python_version >= "{pythons[first][0]}.{pythons[first][1]}"' if first else ""
        high = f'python_version < "{pythons[last + 1][0]}.{pythons[last + 1][1]}"' if last + 1 < len(pythons) else ""
        return " and ".join(part for part in (low, high) if part)

    lines = []
    for name in sorted(set().union(*found.values())):
        versions = [found[p].get(name) for p in pythons]
        if len(set(versions) - {None}) == 1:
            lines.append(f"{name}=={next(v for v in versions if v)}")
            continue
        first = 0
        for k in range(len(pythons)):  # one pin per run of neighbouring Pythons with the same version
            if k + 1 == len(pythons) or versions[k + 1] != versions[k]:
                if versions[k]:
                    lines.append(f"{name}=={versions[k]}; {marker(first, k)}")
                first = k + 1
    names = ", ".join(f"{a}.{b}" for a, b in pythons)
    header = [
        "# The exact versions of the last passing CI run (Linux; Python " + names + "): `make` and",
        "# `python -m tools.course` install these; VAE_CONSTRAINTS=0 ignores them. Written by `make constraints`",
        "# from the CI's virtual environments; torch's local label (+cpu, +cu128) is left out, so either build matches.",
    ]
    return "\n".join(header + lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.course", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name, text in [
        ("setup", "only set up the virtual environment"),
        ("lab", "set up (learner) and open the course in JupyterLab"),
        ("test", "set up (learner + developer) and run every test"),
    ]:
        one = sub.add_parser(name, help=text)
        one.add_argument("--venv", type=Path, default=ROOT / ".venv", help="the virtual environment (default .venv)")
        one.add_argument("--dry-run", action="store_true", help="print what would be installed, install nothing")
        if name == "setup":
            one.add_argument("--dev", action="store_true", help="also the developer's packages (tests, linters)")
    one = sub.add_parser("freeze", help="write constraints from virtual environments (one per Python version)")
    one.add_argument("venvs", type=Path, nargs="+")
    one.add_argument("--out", type=Path, default=CONSTRAINTS)
    args, pytest_args = parser.parse_known_args(argv)  # what `test` does not know is for pytest
    if pytest_args and args.command != "test":
        parser.error(f"unrecognized arguments: {' '.join(pytest_args)}")
    try:
        if args.command == "freeze":
            text = freeze(args.venvs)
            temporary = args.out.with_name(args.out.name + ".tmp")
            temporary.write_text(text, encoding="utf-8")
            temporary.replace(args.out)
            print(f"wrote {args.out} ({text.count(chr(10)) - 3} pins)")
            return 0
        python = setup(args.venv, dev=getattr(args, "dev", False) or args.command == "test", dry_run=args.dry_run)
    except SetupError as err:
        print(f"!! {err}", file=sys.stderr)
        return 1
    if args.dry_run or args.command == "setup":
        return 0
    os.chdir(ROOT)
    if args.command == "lab":
        # containers (Docker, many lab images) run as root, which JupyterLab refuses without this flag
        as_root = ["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []
        return subprocess.run([str(python), "-m", "jupyterlab", *as_root, FIRST_NOTEBOOK], check=False).returncode
    env = dict(os.environ)
    env.setdefault("VAE_FAST", "1")
    pytest_args = [a for a in pytest_args if a != "--"]
    return subprocess.run([str(python), "-m", "pytest", *pytest_args], env=env, check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
