"""Keep only what a notebook's reader needs from a run: no execution timestamps, no widget state nobody shows.

    python -m tools.nbclean notebooks/[0-9]*.ipynb                                # clean in place
    python -m tools.nbclean --record-times tools/run_times.json notebooks/*.ipynb # first keep each cell's run time
    python -m tools.nbclean --check notebooks/*.ipynb                             # fail if one needs cleaning

`make notebooks` runs it after executing the notebooks, and the pre-commit hook checks it. What it removes:
- each cell's ``execution`` metadata (when it ran: it changes on every run and says nothing to a reader); the
  run times that tools.timing needs are first recorded, per cell id, in ``tools/run_times.json``;
- the widget view of an output that also carries its picture (the latent-space panels): the committed
  notebook shows the picture (as GitHub and nbviewer do), the learner's run shows the live panel;
- widget state that no remaining output refers to (the panels' sliders, images and layouts), which would
  otherwise store every panel's picture a second time.
Progress bars keep their widget state, so they show finished, not as an error, when the notebook is opened.
Only the standard library: it runs in a bare pre-commit environment.
"""

from __future__ import annotations

import argparse
import datetime
import json
import re
import sys
from pathlib import Path

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
VOLATILE_CELL_KEYS = ("execution", "ExecuteTime")  # nbclient's timestamps; the old ExecuteTime extension's
MODEL_REFERENCE = re.compile(r"IPY_MODEL_([0-9a-f]+)")


def cell_seconds(cell: dict) -> float | None:
    """How long a code cell ran, from nbclient's timestamps (None if it has none)."""
    times = cell.get("metadata", {}).get("execution", {})
    try:
        start = datetime.datetime.fromisoformat(times["iopub.execute_input"].replace("Z", "+00:00"))
        end = datetime.datetime.fromisoformat(times["shell.execute_reply"].replace("Z", "+00:00"))
    except (KeyError, ValueError):
        return None
    return max(0.0, (end - start).total_seconds())


def run_times(nb: dict) -> dict[str, float]:
    """Each timed code cell's run time in seconds, by cell id."""
    found = {}
    for cell in nb["cells"]:
        seconds = cell_seconds(cell)
        if cell["cell_type"] == "code" and seconds is not None:
            found[cell["id"]] = round(seconds, 2)
    return found


def _used_models(nb: dict, state: dict) -> set[str]:
    """The widget models the outputs show, with every model they refer to (children, layouts, styles)."""
    wanted = [
        o["data"][WIDGET_VIEW]["model_id"]
        for cell in nb["cells"]
        for o in cell.get("outputs", [])
        if WIDGET_VIEW in o.get("data", {})
    ]
    used: set[str] = set()
    while wanted:
        model = wanted.pop()
        if model in used or model not in state:
            continue
        used.add(model)
        wanted += MODEL_REFERENCE.findall(json.dumps(state[model]))
    return used


def clean(nb: dict) -> dict:
    """``nb`` (a notebook as JSON) without volatile metadata and unshown widget state; changed in place."""
    for cell in nb["cells"]:
        for key in VOLATILE_CELL_KEYS:
            cell.get("metadata", {}).pop(key, None)
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if WIDGET_VIEW in data and "image/png" in data:
                del data[WIDGET_VIEW]
    widgets = nb.get("metadata", {}).get("widgets", {}).get(WIDGET_STATE)
    if widgets is not None:
        used = _used_models(nb, widgets.get("state", {}))
        widgets["state"] = {k: v for k, v in widgets.get("state", {}).items() if k in used}
        if not widgets["state"]:
            del nb["metadata"]["widgets"]
    return nb


def _dump(nb: dict) -> str:
    # as Jupyter writes notebooks: one-space indent, non-ASCII kept, a final newline
    return json.dumps(nb, indent=1, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.nbclean", description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", type=Path, nargs="+")
    parser.add_argument("--check", action="store_true", help="change nothing; fail if a notebook needs cleaning")
    parser.add_argument("--record-times", type=Path, help="first record each cell's run time in this JSON file")
    args = parser.parse_args(argv)
    times = {}
    if args.record_times and args.record_times.exists():
        times = json.loads(args.record_times.read_text(encoding="utf-8"))
    dirty = []
    for path in args.notebooks:
        text = path.read_text(encoding="utf-8")
        nb = json.loads(text)
        if args.record_times and run_times(nb):
            times[path.name] = run_times(nb)
        cleaned = _dump(clean(nb))
        if json.loads(cleaned) == json.loads(text):
            continue
        dirty.append(path)
        if not args.check:
            temporary = path.with_name(path.name + ".tmp")
            temporary.write_text(cleaned, encoding="utf-8")
            temporary.replace(path)
    if args.record_times and not args.check:
        temporary = args.record_times.with_name(args.record_times.name + ".tmp")
        temporary.write_text(json.dumps(dict(sorted(times.items())), indent=1) + "\n", encoding="utf-8")
        temporary.replace(args.record_times)
    if args.check and dirty:
        print("These notebooks carry volatile metadata or unshown widget state; run python -m tools.nbclean on them:")
        print("\n".join(f"  {path}" for path in dirty))
        return 1
    for path in dirty:
        print(f"cleaned {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
