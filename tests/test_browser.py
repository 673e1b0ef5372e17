"""The latent-slider widget in a real browser: JupyterLab runs notebook 04, headless Chromium drags a slider.

The unit tests check ``LatentSliders`` in Python; only a browser shows that the front end is wired up:
the widget renders, dragging a slider reaches the kernel, and the decoded image that comes back is drawn.

- A private JupyterLab server on a free localhost port, serving a copy of notebook 04 from a temporary
  folder (autosave is off too, so the committed notebook is never touched), with its own settings,
  workspaces, config, data and runtime folders, no token, and fast mode (``VAE_FAST=1``).
- Chromium through Playwright's Python package (the system Chromium, ``/usr/bin/chromium`` or
  ``$VAE_CHROMIUM``; Playwright's own browser downloads are not used) runs all cells, then drags the first
  slider of the first ``.vae-latent-sliders`` panel and waits for the decoded image to change.
- Screenshots go to ``$VAE_TEST_ARTIFACTS`` or ``test-artifacts/``: the panel after the drag, and the page
  on failure.

Skips without Chromium or Playwright, unless ``VAE_REQUIRE_BROWSER=1`` (CI), where that is a failure.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parent.parent
NOTEBOOK = "04_variational_autoencoder.ipynb"
RUN_ALL_TIMEOUT = 360  # s; notebook 04 takes about a minute in fast mode on 2 busy cores
IMAGE_TIMEOUT = 10  # s for the decoded image to follow a slider move

# User settings for the private server (names and values from the JupyterLab 4 schemas in
# .venv/share/jupyter/lab/schemas/@jupyterlab/).
LAB_SETTINGS = {
    # "none": every cell stays in the page, so widgets far down the notebook exist and can be scrolled to
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    # never write the copy of the notebook back (the run is thrown away with the temporary folder)
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
    # no "fetch Jupyter news?" toast and no update check (no internet here, and no pop-ups over the page)
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false", "checkForUpdates": False},
}


def _chromium() -> str | None:
    """The Chromium to drive: ``$VAE_CHROMIUM``, else Debian's ``/usr/bin/chromium``, else ``chromium`` on PATH."""
    path = os.environ.get("VAE_CHROMIUM", "").strip()
    if path:
        return path if os.access(path, os.X_OK) else None
    if os.access("/usr/bin/chromium", os.X_OK):
        return "/usr/bin/chromium"
    return shutil.which("chromium")


def _skip_or_fail(reason: str) -> None:
    if os.environ.get("VAE_REQUIRE_BROWSER", "").strip() == "1":
        pytest.fail(f"VAE_REQUIRE_BROWSER=1 but {reason}")
    pytest.skip(reason)


def _artifact_dir() -> Path:
    folder = Path(os.environ.get("VAE_TEST_ARTIFACTS", "").strip() or REPO / "test-artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _log(message: str) -> None:
    """Progress on stdout: pytest shows it with the failure, or live with ``-s``."""
    print(f"[browser test {time.strftime('%H:%M:%S')}] {message}", flush=True)


def _free_port() -> int:
    """A port that was free a moment ago: the OS picks it for a socket bound to port 0, which is then closed."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _data_dir() -> str | None:
    """``$VAE_DATA_DIR`` (made absolute: the kernel starts in the temporary folder), else ``../shared/data``
    when it exists, else None (the course's default ``data/``)."""
    env = os.environ.get("VAE_DATA_DIR", "").strip()
    if env:
        return str(Path(env).expanduser().resolve())
    shared = REPO.parent / "shared" / "data"
    return str(shared.resolve()) if shared.is_dir() else None


class LabServer:
    """A running JupyterLab: its URL, and its log for failure messages."""

    def __init__(self, url: str, log: Path, process: subprocess.Popen, runtime_dir: Path):
        self.url, self.log, self.process, self.runtime_dir = url, log, process, runtime_dir

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError as err:
            return f"(no server log: {err})"

    def kernel_commands(self) -> list[list[str]]:
        """The command lines of this server's kernels (Linux): those naming a connection file in its runtime folder."""
        return [argv for _, argv in _processes_mentioning(self.runtime_dir)]

    def get_json(self, path: str):
        with urllib.request.urlopen(self.url + path, timeout=5) as response:
            return json.loads(response.read())


def _stop(process: subprocess.Popen, runtime_dir: Path) -> None:
    """Stop the server we started: SIGTERM to its process group (it shuts its kernels down), then SIGKILL
    if it hangs; then any kernel it left behind, found by its connection file in our runtime folder."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        except ProcessLookupError:
            pass
    # Kernels run in sessions of their own, so the process group does not reach them.
    for pid, _ in _processes_mentioning(runtime_dir):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def _processes_mentioning(folder: Path) -> list[tuple[int, list[str]]]:
    """(pid, argv) of the processes whose command line contains ``folder`` (empty where there is no /proc)."""
    marker, found = str(folder).encode(), []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            cmdline = (proc / "cmdline").read_bytes()
        except OSError:
            continue
        if marker in cmdline:
            found.append((int(proc.name), [a.decode(errors="replace") for a in cmdline.split(b"\0") if a]))
    return found


@pytest.fixture
def lab_server(tmp_path):
    """JupyterLab serving a copy of notebook 04 from ``tmp_path``, stopped at the end whatever happens."""
    root = tmp_path / "root"
    root.mkdir()
    shutil.copy(REPO / "notebooks" / NOTEBOOK, root / NOTEBOOK)
    folders = {name: tmp_path / name for name in ("settings", "workspaces", "runtime", "config", "data", "ipython")}
    for folder in folders.values():
        folder.mkdir()
    for name, values in LAB_SETTINGS.items():
        path = folders["settings"] / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))

    env = dict(os.environ)
    env.update({
        "VAE_FAST": "1",
        "JUPYTERLAB_SETTINGS_DIR": str(folders["settings"]),
        "JUPYTERLAB_WORKSPACES_DIR": str(folders["workspaces"]),
        "JUPYTER_RUNTIME_DIR": str(folders["runtime"]),
        # no user config (tokens, passwords, extensions) and no user kernelspecs: the "python3" kernel is
        # then the venv's own, and jupyter_client starts it with this interpreter (sys.executable)
        "JUPYTER_CONFIG_DIR": str(folders["config"]),
        "JUPYTER_DATA_DIR": str(folders["data"]),
        "IPYTHONDIR": str(folders["ipython"]),
        "PYTHONUNBUFFERED": "1",
    })
    data = _data_dir()
    if data:
        env["VAE_DATA_DIR"] = data
    # The root conftest sets MPLBACKEND=Agg for nbval; unset, ipykernel picks the inline backend.
    if env.get("MPLBACKEND") != "module://matplotlib_inline.backend_inline":
        env.pop("MPLBACKEND", None)

    port = _free_port()
    log = tmp_path / "jupyter-lab.log"
    command = [
        sys.executable, "-m", "jupyterlab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",           # this port or none: never one we did not pick
        "--IdentityProvider.token=",            # no token (jupyter_server 2.x; ServerApp.token is deprecated)
        "--PasswordIdentityProvider.hashed_password=",
        f"--ServerApp.root_dir={root}",
        "--LabApp.expose_app_in_browser=True",  # window.jupyterapp, to run commands and read the notebook model
        "--LabApp.extension_manager=readonly",  # no PyPI queries from the extension manager
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")  # CI containers often run as root
    with open(log, "wb") as out:
        process = subprocess.Popen(command, cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
    server = LabServer(f"http://127.0.0.1:{port}", log, process, folders["runtime"])
    try:
        _log(f"waiting for JupyterLab on port {port} (log: {log})")
        deadline = time.time() + 90
        while True:
            if process.poll() is not None:
                pytest.fail(f"JupyterLab exited with code {process.returncode}:\n{server.log_tail()}")
            try:
                server.get_json("/api/status")
                break
            except OSError:
                if time.time() > deadline:
                    pytest.fail(f"JupyterLab did not answer on port {port} within 90 s:\n{server.log_tail()}")
                time.sleep(0.5)
        argv = server.get_json("/api/kernelspecs")["kernelspecs"]["python3"]["spec"]["argv"]
        _log(f"server up; kernelspec python3 runs {argv}")
        yield server
    finally:
        _stop(process, folders["runtime"])


# The notebook panel of NOTEBOOK and a summary of its cells, read from JupyterLab's own model.
NOTEBOOK_STATE_JS = """(name) => {
    const app = window.jupyterapp;
    if (!app) return {ready: false, why: "window.jupyterapp is not there yet"};
    const panel = Array.from(app.shell.widgets("main")).find(w => w.context && w.context.path.endsWith(name));
    if (!panel) return {ready: false, why: "the notebook is not open yet"};
    const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
    const cells = panel.content.widgets.filter(c => c.model.type === "code");
    const errors = [];
    cells.forEach((c, i) => {
        for (const o of c.model.outputs.toJSON()) {
            if (o.output_type === "error") errors.push(`code cell ${i + 1}: ${o.ename}: ${o.evalue}`);
        }
    });
    return {
        ready: !!kernel && panel.context.isReady,
        why: kernel ? "" : "no kernel yet",
        kernel: kernel ? kernel.status : "none",
        cells: cells.length,
        executed: cells.filter(c => c.model.executionCount !== null).length,
        running: cells.filter(c => c.model.executionState === "running").length,
        errors: errors,
        runAll: window.__vaeRunAll === undefined ? null : window.__vaeRunAll,
    };
}"""

START_RUN_ALL_JS = """() => {
    window.__vaeRunAll = null;  // set to the command's result when every cell has run (false after an error)
    window.jupyterapp.commands.execute("notebook:run-all-cells").then(
        ok => { window.__vaeRunAll = {ok: ok}; },
        err => { window.__vaeRunAll = {ok: false, error: String(err)}; });
}"""


def _dismiss_dialogs(page) -> None:
    """Accept any dialog (e.g. "Select Kernel": its default is the notebook's own kernel)."""
    dialog = page.locator(".jp-Dialog")
    if dialog.count():
        _log(f"dismissing a dialog: {dialog.first.inner_text()[:200]!r}")
        page.locator(".jp-Dialog .jp-mod-accept").first.click()


def _image_src(panel) -> str:
    return panel.locator("img.vae-decoded-image").first.get_attribute("src") or ""


def _wait_for_new_src(panel, old: str, timeout: float = IMAGE_TIMEOUT) -> str:
    deadline = time.time() + timeout
    while time.time() < deadline:
        src = _image_src(panel)
        if src and src != old:
            return src
        time.sleep(0.2)
    return old


def _settled_src(panel, quiet: float = 2.0, timeout: float = 30) -> str:
    """The image's ``src`` once it has a value and has kept it for ``quiet`` seconds: slider values that the
    front end echoes back after the notebook's own programmatic moves can still update it after Run All."""
    deadline = time.time() + timeout
    src, since = _image_src(panel), time.time()
    while time.time() < deadline:
        time.sleep(0.2)
        now = _image_src(panel)
        if now != src:
            src, since = now, time.time()
        elif src and time.time() - since >= quiet:
            return src
    pytest.fail(f"the decoded image did not settle within {timeout} s (src {src[:60]!r})")


def _number(text: str) -> float:
    """A readout such as ``−0.05`` (ipywidgets writes a Unicode minus) as a float."""
    return float(text.strip().replace("\u2212", "-"))


def _status_code(status) -> dict[int, float]:
    """The slider coordinates in the panel's status line, written by the kernel
    (``z[10, 19, 14] = (+2.90, +0.00, -1.35)``), as ``{dimension: value}``; {} if the line reads otherwise."""
    try:
        dims, values = status.inner_text().split(" = (", 1)
        dims = [int(d) for d in dims.split("[", 1)[1].rstrip("]").split(",")]
        values = [float(v) for v in values.split(")", 1)[0].split(",")]
        return dict(zip(dims, values))
    except (IndexError, ValueError):
        return {}


def _wait_for_status(status, dim: int, value: float, timeout: float = IMAGE_TIMEOUT) -> float | None:
    """Wait until the status line shows ``value`` for coordinate ``dim``; return what it last showed there,
    or None when the line does not show that coordinate."""
    deadline = time.time() + timeout
    while True:
        shown = _status_code(status).get(dim)
        if shown is None or abs(shown - value) < 0.006 or time.time() > deadline:
            return shown
        time.sleep(0.2)


def _drive_notebook(page, server: LabServer, artifacts: Path) -> None:
    page.goto(f"{server.url}/lab/tree/{NOTEBOOK}?reset", wait_until="domcontentloaded")

    _log("waiting for the notebook and an idle kernel")
    deadline = time.time() + 120
    while True:
        _dismiss_dialogs(page)
        state = page.evaluate(NOTEBOOK_STATE_JS, NOTEBOOK)
        if state["ready"] and state["kernel"] == "idle":
            break
        if time.time() > deadline:
            pytest.fail(f"the notebook or its kernel was not ready within 120 s: {state}")
        time.sleep(0.5)
    # The kernelspec says "python"; jupyter_client runs that as its own interpreter, the venv's.
    kernels = server.kernel_commands()
    if kernels:  # (Linux only: found through /proc)
        assert kernels[0][0] == sys.executable, f"the kernel is not this environment's Python: {kernels}"
    _log(f"kernel idle ({' '.join(kernels[0][:3]) if kernels else 'command line not visible'}); "
         f"running all {state['cells']} code cells")

    page.evaluate(START_RUN_ALL_JS)
    start = last_report = time.time()
    while True:
        _dismiss_dialogs(page)
        state = page.evaluate(NOTEBOOK_STATE_JS, NOTEBOOK)
        if state["errors"]:
            pytest.fail("a cell failed:\n" + "\n".join(state["errors"]))
        if state["runAll"] is not None and state["running"] == 0 and state["kernel"] == "idle":
            if not state["runAll"]["ok"]:
                pytest.fail(f"Run All Cells did not finish cleanly: {state}")
            break
        if time.time() - start > RUN_ALL_TIMEOUT:
            pytest.fail(f"the notebook did not finish within {RUN_ALL_TIMEOUT} s: {state}")
        if time.time() - last_report > 15:
            _log(f"running: {state['executed']}/{state['cells']} cells done, kernel {state['kernel']}")
            last_report = time.time()
        time.sleep(1)
    _log(f"all cells ran in {time.time() - start:.0f} s")

    # The first slider panel: the 20-D VAE's, with sliders for its top-KL dimensions.
    panel = page.locator(".vae-latent-sliders").first
    panel.wait_for(state="visible", timeout=60_000)
    panel.scroll_into_view_if_needed()
    before = _settled_src(panel)
    slider = panel.locator(".vae-latent-slider").first
    handle = slider.locator(".noUi-handle").first
    readout = slider.locator(".widget-readout").first
    status = panel.locator(".vae-status").first
    value_before = _number(readout.inner_text())
    sign = -1 if value_before > 0 else 1  # move towards the far end, so the slider has room to move
    name = slider.locator("label").first.inner_text()  # "z[d]"
    dim = int(name.split("[")[1].split("]")[0])
    _log(f"slider {name} at {value_before:+.2f}; image src {before[:60]}")

    # A real drag: press on the handle, move 80 px in small steps, release.
    handle.scroll_into_view_if_needed()
    box = handle.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + sign * 80, y, steps=12)
    page.mouse.up()
    after, how = _wait_for_new_src(panel, before), "a mouse drag"
    if after == before:  # fallbacks, so that a drag quirk is told apart from a broken widget
        _log("the drag did not change the image; trying the keyboard")
        handle.focus()
        for _ in range(10):
            page.keyboard.press("ArrowRight" if sign > 0 else "ArrowLeft")
        after, how = _wait_for_new_src(panel, before), "arrow keys on the focused handle"
    if after == before:
        _log("the keyboard did not change the image; typing into the readout")
        readout.click()
        page.keyboard.press("Control+A")
        page.keyboard.type(f"{sign * 1.5:.2f}")
        page.keyboard.press("Enter")
        after, how = _wait_for_new_src(panel, before), "typing into the readout"

    value_after = _number(readout.inner_text())
    kernel_value = _wait_for_status(status, dim, value_after)  # the kernel's own record of the code
    shot = artifacts / "latent_sliders.png"
    panel.screenshot(path=str(shot))
    _log(f"slider now at {value_after:+.2f} (moved by {how}); kernel status {status.inner_text()!r}; screenshot {shot}")
    assert after != before, (
        f"the decoded image did not change within {IMAGE_TIMEOUT} s of moving the slider "
        f"(readout {value_before:+.2f} -> {value_after:+.2f}; tried a drag, arrow keys and the readout)")
    assert value_after != value_before, "the image changed but the slider readout did not"
    assert kernel_value is not None, f"the kernel's status line does not list {name}: {status.inner_text()!r}"
    assert abs(kernel_value - value_after) < 0.006, (
        f"{name} shows {value_after:+.2f} but the kernel's status line says {status.inner_text()!r}")
    if how != "a mouse drag":
        _log(f"warning: only {how} moved the slider; the mouse drag did not")


@pytest.fixture
def chromium():
    """The Chromium path and Playwright's ``sync_playwright``, checked before the server starts."""
    path = _chromium()
    if path is None:
        _skip_or_fail("no Chromium: install Debian's `chromium` package (/usr/bin/chromium) or set VAE_CHROMIUM")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _skip_or_fail("the `playwright` Python package is not installed (pip install -r requirements.txt)")
    return path, sync_playwright


def test_latent_slider_updates_the_decoded_image_in_jupyterlab(chromium, lab_server):
    path, sync_playwright = chromium
    artifacts = _artifact_dir()
    failure = None
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=path, args=["--no-sandbox"], headless=True)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            try:
                _drive_notebook(page, lab_server, artifacts)
            except (Exception, pytest.fail.Exception) as err:  # pytest.fail raises a BaseException
                shot = artifacts / "browser_failure.png"
                try:
                    page.screenshot(path=str(shot), full_page=True)
                except Exception as shot_err:  # the page may be gone
                    shot = f"(no screenshot: {shot_err})"
                failure = (f"{type(err).__name__}: {err}\n\nscreenshot: {shot}\n"
                           f"JupyterLab log (last lines):\n{lab_server.log_tail()}")
        finally:
            browser.close()
    if failure:  # outside the except block, so pytest shows one message instead of a chain of two
        pytest.fail(failure, pytrace=False)
