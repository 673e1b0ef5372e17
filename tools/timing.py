"""How long each section of each notebook takes a learner, by one rule: the estimates under its headings.

The notebooks show these estimates under their section headings, and notebook 00's map and the teacher's
guide give each notebook's total.

    python -m tools.timing            # the table: each section's reading, running, exercises and panels
    python -m tools.timing --write    # put each estimate under its heading ("*About N minutes.*")

A section's time is the sum of
- reading: its words at READING_WPM (prose with maths and code is read slower than a novel);
- running: its code cells' run time in the last full-mode run of `make notebooks` (tools/run_times.json, which
  tools.nbclean records from the execution timestamps before it strips them from the notebooks), as a learner
  without ready-trained models waits for it;
- each exercise: EXERCISE_MINUTES for one that asks for code, PREDICTION_MINUTES for a prediction;
- each widget panel (an output with the panel's picture and text): PANEL_MINUTES to play with it.
The time shown is rounded (to the minute below 10 minutes, to 5 minutes above); tests/test_section_times.py
checks that every heading shows the time this rule gives, and that the teacher's guide agrees.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import nbformat

from tools.classroom import course_notebooks, is_solution
from vae_helpers.widgets import STATIC_PICTURE_NOTE

READING_WPM = 100
EXERCISE_MINUTES = 8
PREDICTION_MINUTES = 3
PANEL_MINUTES = 3
ESTIMATE = re.compile(r"^\*About (\d+) minutes?\.\*$", re.M)
HEADING = re.compile(r"^## (.+)$", re.M)
RUN_TIMES = Path(__file__).with_name("run_times.json")


def run_times() -> dict[str, dict[str, float]]:
    """Each code cell's run time in seconds, by notebook file name and cell id (tools/run_times.json)."""
    return json.loads(RUN_TIMES.read_text(encoding="utf-8")) if RUN_TIMES.exists() else {}


def _is_panel(output) -> bool:
    data = output.get("data", {})
    return "image/png" in data and "".join(data.get("text/plain", "")).endswith(STATIC_PICTURE_NOTE)


def _words(text: str) -> int:
    return len(re.findall(r"[A-Za-z0-9]+", ESTIMATE.sub("", text)))


def rounded(minutes: float) -> int:
    """The time as shown: whole minutes below 10, multiples of 5 from there, never under 1."""
    return max(1, round(minutes)) if minutes < 9.5 else 5 * round(minutes / 5)


def sections(path: Path) -> list[dict]:
    """Each ``## `` section of notebook ``path`` (the text above the first one counts with it), with its
    reading, running, exercise and panel minutes and the estimate it shows (None if none)."""
    nb = nbformat.read(path, as_version=4)
    seconds = run_times().get(Path(path).name, {})
    found: list[dict] = []

    def new(title: str) -> dict:
        found.append(
            {"title": title, "words": 0, "seconds": 0.0, "exercises": 0, "predictions": 0, "panels": 0, "shown": None}
        )
        return found[-1]

    current = None
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            if is_solution(cell):
                continue
            parts = HEADING.split(cell.source)
            for k, part in enumerate(parts):
                if k % 2 == 1:  # a heading
                    current = new(part.strip())
                    continue
                if current is None:
                    current = new("")  # the title and introduction, before any section
                current["words"] += _words(part)
                shown = ESTIMATE.search(part)
                if shown and k > 0:
                    current["shown"] = int(shown.group(1))
                exercise = re.search(r"^### Exercise \d+ · (.+)$", part, re.M)
                if exercise:
                    kind = "predictions" if re.match(r"(Predict|What does)", exercise.group(1)) else "exercises"
                    current[kind] += 1
            continue
        if current is None:
            current = new("")
        if is_solution(cell):
            continue
        current["words"] += _words(cell.source) // 2  # code is read, not studied, except in exercises
        current["seconds"] += seconds.get(cell.get("id"), 0.0)
        if any(_is_panel(o) for o in cell.get("outputs", [])):
            current["panels"] += 1
    # the introduction is read with the first section
    if len(found) > 1 and found[0]["title"] == "":
        intro = found.pop(0)
        for key in ("words", "seconds", "exercises", "predictions", "panels"):
            found[0][key] += intro[key]
    for s in found:
        s["minutes"] = (
            s["words"] / READING_WPM
            + s["seconds"] / 60
            + EXERCISE_MINUTES * s["exercises"]
            + PREDICTION_MINUTES * s["predictions"]
            + PANEL_MINUTES * s["panels"]
        )
        s["estimate"] = rounded(s["minutes"])
    return found


def write(path: Path) -> None:
    """Put each section's estimate on the line under its heading, replacing an older one."""
    estimates = {s["title"]: s["estimate"] for s in sections(path)}
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue

        def put(match: re.Match) -> str:
            title = match.group(1).strip()
            return f"## {title}\n\n*About {estimates[title]} minute{'s' * (estimates[title] != 1)}.*"

        text = re.sub(r"^## (.+)\n\n\*About \d+ minutes?\.\*$", lambda m: f"## {m.group(1)}", cell.source, flags=re.M)
        cell.source = re.sub(r"^## (.+)$", put, text, flags=re.M)
    nbformat.write(nb, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", action="store_true", help="write each estimate under its heading")
    args = parser.parse_args(argv)
    for path in course_notebooks():
        if args.write:
            write(path)
        rows = sections(path)
        total = sum(s["estimate"] for s in rows)
        print(f"{path.name}: about {total} minutes")
        for s in rows:
            print(
                f"  {s['estimate']:3d} min  {s['words']:5d} words  {s['seconds']:6.0f} s run  "
                f"{s['exercises']} ex  {s['predictions']} pred  {s['panels']} panels  {s['title'][:60]}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
