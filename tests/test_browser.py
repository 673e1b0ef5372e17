"""The widget panels in a real browser: JupyterLab runs notebook 04, headless Chromium looks and drags a slider.

The unit tests check the panels in Python; only a browser shows that the front end is wired up and what
a learner sees: the widgets render, dragging a slider reaches the kernel and the decoded image that comes
back is drawn, and every picture is shown at its own pixel size (a digit square and crisp, not stretched
by its box as ipywidgets 8 stretches a plain ``Image``) on a 1366 x 768 laptop screen at 100 % zoom.

- A private JupyterLab server on a free localhost port, serving a copy of notebook 04 from a temporary
  folder (autosave is off too, so the committed notebook is never touched), with its own settings,
  workspaces, config, data and runtime folders, no token, and fast mode (``VAE_FAST=1``). Four cells are
  added at the end of the copy: a ``ModelSwitcher`` of notebook 04's two VAEs (notebook 05's panel, whose
  beta sweep would take minutes to train), a ``PosteriorExplorer`` of its 2-D VAE (notebook 06's panel), a
  ``StyleExplorer`` of a small untrained ``ConditionalVAE`` (notebook 07's panel; training one is not what
  is checked here) and notebook 00's widget cell, as notebook 00 has it.
- Chromium through Playwright's Python package (the system Chromium, ``/usr/bin/chromium`` or
  ``$VAE_CHROMIUM``; Playwright's own browser downloads are not used), in a 1366 x 768 window, runs all
  cells once for both tests: one drags the first slider of the first ``.vae-latent-sliders`` panel and
  waits for the decoded image to change; the other measures every panel's pictures.
- Screenshots go to ``$VAE_TEST_ARTIFACTS`` or ``test-artifacts/``: each panel (``latent_sliders.png``
  after the drag, ``latent_explorer_1.png``, ``latent_explorer_2.png``, ``interpolation.png``,
  ``model_switcher.png``, ``posterior_explorer.png`` and ``style_explorer.png`` after typing a digit's
  number into their boxes, ``notebook_00_digit.png``), and the page on failure (``browser_failure.png``).

Skips without Chromium or Playwright, unless ``VAE_REQUIRE_BROWSER=1`` (CI), where that is a failure.
"""

from __future__ import annotations

import contextlib
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

from tools import course

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parent.parent
NOTEBOOK = "04_variational_autoencoder.ipynb"
RUN_ALL_TIMEOUT = (
    900  # s; notebook 04 takes about a minute in fast mode, several when it trains its models on 2 busy cores
)
IMAGE_TIMEOUT = 10  # s for the decoded image to follow a slider move
LAPTOP = {"width": 1366, "height": 768}  # the screen the course is checked on, at 100 % zoom
DIGIT = 28  # MNIST pixels per side: a crisp digit is shown at a whole multiple of this

# Added at the end of the copy of notebook 04 (which defines mnist, x_test, vae and vae_2d).
SWITCHER_CELL = """from vae_helpers.widgets import ModelSwitcher

ModelSwitcher.for_vaes({2: vae_2d, 20: vae}, mnist.test, x_test, description="latent_dim")"""
# notebook 06's panel, on notebook 04's 2-D VAE as notebook 06 uses it
POSTERIOR_CELL = """from vae_helpers.widgets import PosteriorExplorer

PosteriorExplorer(vae_2d, mnist.test, index=3)"""
# notebook 07's panel, on a small untrained conditional VAE (fast: the browser checks the wiring, not the model)
STYLE_CELL = """import torch

from vae_helpers.models import ConditionalVAE
from vae_helpers.widgets import StyleExplorer

torch.manual_seed(0)
StyleExplorer(ConditionalVAE(latent_dim=2, hidden_dims=(16,)).eval(), mnist.test, index=3)"""

# Each panel: (CSS class of its root box, screenshot names in page order).
PANELS = {
    "latent_explorer": (".vae-latent-explorer", ["latent_explorer_1", "latent_explorer_2"]),
    "latent_sliders": (".vae-latent-sliders", ["latent_sliders"]),
    "interpolation": (".vae-interpolation", ["interpolation"]),
    "model_switcher": (".vae-model-switcher-panel", ["model_switcher"]),
    "posterior_explorer": (".vae-posterior-panel", ["posterior_explorer"]),
    "style_explorer": (".vae-style-panel", ["style_explorer"]),
}


def notebook_00_widget_cell() -> str:
    """The source of notebook 00's widget check (the code cell with an ``IntSlider``), to run as notebook 00 has it."""
    cells = json.loads((REPO / "notebooks" / "00_start_here.ipynb").read_text(encoding="utf-8"))["cells"]
    for cell in cells:
        source = "".join(cell["source"])
        if cell["cell_type"] == "code" and "IntSlider(" in source:
            return source
    raise AssertionError("notebook 00 has no code cell with an IntSlider (its widget check) any more")


def notebook_with_extra_cells(source: Path, target: Path) -> None:
    """Copy notebook ``source`` to ``target`` with ``SWITCHER_CELL``, ``POSTERIOR_CELL``, ``STYLE_CELL`` and notebook
    00's widget cell (last: the checks find it as the last code cell) at the end."""
    nb = json.loads(source.read_text(encoding="utf-8"))
    for k, code in enumerate((SWITCHER_CELL, POSTERIOR_CELL, STYLE_CELL, notebook_00_widget_cell())):
        nb["cells"].append(
            {
                "cell_type": "code",
                "id": f"browser-test-extra-{k}",
                "execution_count": None,
                "metadata": {},
                "outputs": [],
                "source": code.splitlines(True),
            }
        )
    target.write_text(json.dumps(nb, indent=1), encoding="utf-8")


# User settings for the private server (names and values from the JupyterLab 4 schemas in
# .venv/share/jupyter/lab/schemas/@jupyterlab/).
LAB_SETTINGS = {
    # "none": every cell stays in the page, so widgets far down the notebook exist and can be scrolled to
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    # never write the copy of the notebook back (the run is thrown away with the temporary folder)
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
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
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


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


@pytest.fixture(scope="module")
def lab_server(tmp_path_factory):
    """JupyterLab serving a copy of notebook 04 (with the extra cells) from a temporary folder, stopped at
    the end of this module's tests whatever happens."""
    tmp_path = tmp_path_factory.mktemp("lab")
    root = tmp_path / "root"
    root.mkdir()
    notebook_with_extra_cells(REPO / "notebooks" / NOTEBOOK, root / NOTEBOOK)
    folders = {
        name: tmp_path / name for name in ("settings", "workspaces", "runtime", "config", "data", "ipython", "app")
    }
    for folder in folders.values():
        folder.mkdir()
    for name, values in LAB_SETTINGS.items():
        path = folders["settings"] / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))

    env = dict(os.environ)
    env.update(
        {
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
        }
    )
    data = _data_dir()
    if data:
        env["VAE_DATA_DIR"] = data
    # The root conftest sets MPLBACKEND=Agg for nbval; unset, ipykernel picks the inline backend.
    if env.get("MPLBACKEND") != "module://matplotlib_inline.backend_inline":
        env.pop("MPLBACKEND", None)

    port = _free_port()
    log = tmp_path / "jupyter-lab.log"
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",  # this port or none: never one we did not pick
        "--IdentityProvider.token=",  # no token (jupyter_server 2.x; ServerApp.token is deprecated)
        "--PasswordIdentityProvider.hashed_password=",
        f"--ServerApp.root_dir={root}",
        "--LabApp.expose_app_in_browser=True",  # window.jupyterapp, to run commands and read the notebook model
        "--LabApp.extension_manager=readonly",  # no PyPI queries from the extension manager
        # the course's own JupyterLab settings (no news prompt), as `make lab` writes them into .venv
        f"--LabApp.app_settings_dir={course.install_lab_settings(folders['app']).parent}",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")  # CI containers often run as root
    with open(log, "wb") as out:
        process = subprocess.Popen(
            command,
            cwd=root,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
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


def _run_all(page, server: LabServer) -> None:
    """Open the notebook, wait for its kernel, run all cells and wait until every one has finished without an error."""
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
    _log(
        f"kernel idle ({' '.join(kernels[0][:3]) if kernels else 'command line not visible'}); "
        f"running all {state['cells']} code cells"
    )

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


def _drag_a_slider(page, artifacts: Path) -> None:
    """Drag the first slider of the 20-D VAE's panel and check that the kernel decodes the new code and
    the browser shows the new image."""
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
        f"(readout {value_before:+.2f} -> {value_after:+.2f}; tried a drag, arrow keys and the readout)"
    )
    assert value_after != value_before, "the image changed but the slider readout did not"
    assert kernel_value is not None, f"the kernel's status line does not list {name}: {status.inner_text()!r}"
    assert abs(kernel_value - value_after) < 0.006, (
        f"{name} shows {value_after:+.2f} but the kernel's status line says {status.inner_text()!r}"
    )
    if how != "a mouse drag":
        _log(f"warning: only {how} moved the slider; the mouse drag did not")


# Every <img> of a panel (or cell output): its box on screen, its PNG's own size and its CSS classes.
IMAGES_JS = """(root) => Array.from(root.querySelectorAll("img")).map(img => {
    const box = img.getBoundingClientRect();
    return {classes: img.className, width: box.width, height: box.height,
            natural_width: img.naturalWidth, natural_height: img.naturalHeight,
            object_fit: getComputedStyle(img).objectFit, loaded: img.complete && img.naturalWidth > 0};
})"""

# Every dropdown of a panel: the label it shows (ipywidgets 8 shows an empty box when its value is None).
DROPDOWNS_JS = """(root) => Array.from(root.querySelectorAll("select")).map(select =>
    select.selectedIndex < 0 ? "" : select.options[select.selectedIndex].textContent.trim())"""


def _images(element, timeout: float = 30) -> list[dict]:
    """The element's images once every one has loaded its PNG."""
    deadline = time.time() + timeout
    while True:
        images = element.evaluate(IMAGES_JS)
        if (images and all(i["loaded"] for i in images)) or time.time() > deadline:
            return images
        time.sleep(0.2)


def _picture_problems(
    name: str, images: list[dict], digits: int, digit_class: str | None = "vae-decoded-image"
) -> list[str]:
    """What is wrong with a panel's pictures: none may be stretched or squeezed (each shown at its PNG's own
    size, so nearest-neighbour pixels stay crisp), and ``digits`` of them, those of CSS class ``digit_class``
    (None: all), are digits: square, a whole multiple of 28 pixels a side."""
    problems = []
    if not images:
        return [f"{name}: no picture at all"]
    for i in images:
        shown = f"{name}: <img class={i['classes']!r}> is shown at {i['width']:.1f} x {i['height']:.1f} px"
        if not i["loaded"]:
            problems.append(f"{shown} but its PNG never loaded")
        elif abs(i["width"] - i["natural_width"]) > 1 or abs(i["height"] - i["natural_height"]) > 1:
            problems.append(
                f"{shown} but its PNG is {i['natural_width']} x {i['natural_height']} px (stretched: "
                f"blurred, and a digit no longer square)"
            )
        if "vae-pixel-image" in i["classes"].split() and i["object_fit"] != "contain":
            problems.append(f"{shown} with object-fit {i['object_fit']!r}: pixel_image's layout did not reach the page")
    squares = [i for i in images if digit_class is None or digit_class in i["classes"].split()]
    if len(squares) != digits:
        problems.append(f"{name}: {len(squares)} digit pictures, expected {digits}: {[i['classes'] for i in images]}")
    for i in squares:
        side = round(i["width"])
        if abs(i["width"] - i["height"]) > 1 or side % DIGIT or side == 0:
            problems.append(
                f"{name}: the digit <img class={i['classes']!r}> is {i['width']:.1f} x {i['height']:.1f} px, "
                f"not a square whose side is a whole multiple of {DIGIT} px"
            )
    return problems


def _type_a_start_index(page, index: int = 123) -> None:
    """Type a test image's index into the interpolation's "from test image #" box (its dropdown then says
    "by index", unless that image is the first of its digit) and wait for the kernel's status line."""
    panel = page.locator(".vae-interpolation").first
    panel.scroll_into_view_if_needed()
    box = panel.locator(".vae-interpolation-endpoint input").first
    box.fill(str(index))
    box.press("Enter")
    status = panel.locator(".vae-status").first
    deadline = time.time() + IMAGE_TIMEOUT
    while f"#{index} " not in status.inner_text():
        if time.time() > deadline:
            pytest.fail(
                f"typing {index} as the interpolation's start did not reach the kernel: {status.inner_text()!r}"
            )
        time.sleep(0.2)


def _pick_a_posterior_digit(page, index: int = 17) -> None:
    """Type a test digit's number into the posterior panel's box and wait until the kernel has drawn that
    digit's posterior: a new picture and a status line for it."""
    panel = page.locator(".vae-posterior-panel").first
    panel.scroll_into_view_if_needed()
    image = panel.locator("img.vae-posterior-image").first
    status = panel.locator(".widget-html").last
    before, status_before = image.get_attribute("src"), status.inner_text()
    box = panel.locator(".vae-posterior-index input").first
    box.fill(str(index))
    box.press("Enter")
    deadline = time.time() + IMAGE_TIMEOUT
    while image.get_attribute("src") == before or status.inner_text() == status_before:
        if time.time() > deadline:
            pytest.fail(f"typing {index} into the posterior panel's box did not draw a new posterior")
        time.sleep(0.2)
    _log(f"posterior panel: digit #{index} drawn; {status.inner_text()}")


def _pick_a_style_digit(page, index: int = 17) -> None:
    """Type a test digit's number into the style panel's box and wait until the kernel has written that
    digit's style as 0-9: a new ``vae-style-image`` picture and a status line naming the digit."""
    panel = page.locator(".vae-style-panel").first
    panel.scroll_into_view_if_needed()
    image = panel.locator("img.vae-style-image").first
    status = panel.locator(".vae-status").first
    before = image.get_attribute("src")
    box = panel.locator(".vae-style-index input").first
    box.fill(str(index))
    box.press("Enter")
    deadline = time.time() + IMAGE_TIMEOUT
    while image.get_attribute("src") == before or f"#{index} " not in status.inner_text():
        if time.time() > deadline:
            pytest.fail(
                f"typing {index} into the style panel's box did not draw a new picture: {status.inner_text()!r}"
            )
        time.sleep(0.2)
    _log(f"style panel: digit #{index} drawn; {status.inner_text()}")


def _look_at_every_panel(page, artifacts: Path) -> None:
    """Screenshot each panel and notebook 00's widget at laptop size; check every picture's size on screen
    and that every dropdown shows a label."""
    assert page.evaluate("window.devicePixelRatio") == 1, "the check assumes 100 % zoom: one CSS pixel per screen pixel"
    width = page.evaluate("() => document.querySelector('.jp-OutputArea-output').getBoundingClientRect().width")
    _log(f"window {LAPTOP['width']} x {LAPTOP['height']}; a cell's output area is {width:.0f} px wide")
    _type_a_start_index(page)  # so the interpolation's dropdowns show both kinds of label: "by index" and "first 0"
    _pick_a_posterior_digit(page)  # so the posterior panel shows a digit picked in the browser
    _pick_a_style_digit(page)  # and the style panel too
    problems, digits_in = (
        [],
        {
            "latent_explorer": 1,
            "latent_sliders": 1,
            "interpolation": 2,
            "model_switcher": 0,
            "posterior_explorer": 0,
            "style_explorer": 0,
        },
    )
    for kind, (selector, shots) in PANELS.items():
        panels = page.locator(selector)
        if panels.count() != len(shots):
            problems.append(f"{kind}: {panels.count()} panels of class {selector}, expected {len(shots)}")
            continue
        for index, shot in enumerate(shots):
            panel = panels.nth(index)
            panel.scroll_into_view_if_needed()
            images = _images(panel)
            panel.screenshot(path=str(artifacts / f"{shot}.png"))
            box = panel.bounding_box()
            _log(
                f"{shot}: {box['width']:.0f} x {box['height']:.0f} px, pictures "
                + ", ".join(f"{i['width']:.0f}x{i['height']:.0f}" for i in images)
            )
            problems += _picture_problems(shot, images, digits_in[kind])
            labels = panel.evaluate(DROPDOWNS_JS)
            if labels:
                _log(f"{shot}: the dropdowns show {labels}")
            problems += [f"{shot}: a dropdown shows no label" for label in labels if not label]
    # notebook 00's widget check: the last cell of the copy
    output = page.locator(".jp-CodeCell").last.locator(".jp-OutputArea-output").first
    output.scroll_into_view_if_needed()
    images = _images(output)
    output.screenshot(path=str(artifacts / "notebook_00_digit.png"))
    problems += _picture_problems("notebook 00's widget", images, 1, digit_class=None)
    assert not problems, "pictures shown wrongly:\n" + "\n".join(problems)


@pytest.fixture(scope="module")
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


class Browser:
    """The page after Run All, and :meth:`check`, which runs a check and turns any failure into one message
    with a screenshot of the whole page and the server's log."""

    def __init__(self, page, server: LabServer, artifacts: Path):
        self.page, self.server, self.artifacts = page, server, artifacts
        self.failure: str | None = None

    def check(self, step) -> None:
        if self.failure:
            pytest.fail(f"the notebook did not run, so nothing could be checked:\n{self.failure}", pytrace=False)
        failure = None
        try:
            step(self.page, self.artifacts)
        except (Exception, pytest.fail.Exception) as err:  # pytest.fail raises a BaseException
            failure = self.describe(err)
        if failure:  # outside the except block, so pytest shows one message instead of a chain of two
            pytest.fail(failure, pytrace=False)

    def describe(self, err: BaseException) -> str:
        shot = self.artifacts / "browser_failure.png"
        try:
            self.page.screenshot(path=str(shot), full_page=True)
        except Exception as shot_err:  # the page may be gone
            shot = f"(no screenshot: {shot_err})"
        return (
            f"{type(err).__name__}: {err}\n\nscreenshot: {shot}\nJupyterLab log (last lines):\n{self.server.log_tail()}"
        )


@pytest.fixture(scope="module")
def notebook_page(chromium, lab_server):
    """Chromium in a laptop-sized window, with the copy of notebook 04 open and all its cells run (once for
    this module's tests)."""
    path, sync_playwright = chromium
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=path, args=["--no-sandbox"], headless=True)
        try:
            page = browser.new_page(viewport=LAPTOP, device_scale_factor=1)
            session = Browser(page, lab_server, _artifact_dir())
            try:
                _run_all(page, lab_server)
            except (Exception, pytest.fail.Exception) as err:
                session.failure = session.describe(err)
            yield session
        finally:
            browser.close()


def test_latent_slider_updates_the_decoded_image_in_jupyterlab(notebook_page):
    notebook_page.check(_drag_a_slider)


def test_every_panel_shows_its_pictures_unstretched_and_its_digits_square(notebook_page):
    notebook_page.check(_look_at_every_panel)


def _no_news_prompt(page, artifacts) -> None:
    """The course's JupyterLab settings (tools/lab/overrides.json) are in force: the server hands them out as
    the defaults, and "Would you like to get notified about official Jupyter news?" never covered the notebook
    while it ran."""
    base = page.url.split("/lab/", 1)[0]
    answer = page.request.get(f"{base}/lab/api/settings/@jupyterlab/apputils-extension:notification").json()
    defaults = {name: spec.get("default") for name, spec in answer["schema"]["properties"].items()}
    assert defaults["fetchNews"] == "false" and defaults["checkForUpdates"] is False, defaults
    assert page.get_by_text("official Jupyter news").count() == 0
    assert page.locator(".jp-Notification-Toast").count() == 0, page.locator(".jp-Notification-Toast").all_inner_texts()


def test_jupyterlab_opens_to_the_course_without_a_news_prompt(notebook_page):
    notebook_page.check(_no_news_prompt)
