"""Every section tells the learner how long it takes, by one rule (tools/timing.py), and the course's other
statements of time (notebook 00's map, the teacher's guide) are the sums of those estimates."""

import json
import re
from pathlib import Path

import pytest

from tools import timing
from tools.classroom import course_notebooks

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = course_notebooks()


def shown_total(path):
    return sum(s["shown"] for s in timing.sections(path))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name[:2])
def test_every_section_shows_its_time_under_its_heading(path):
    cells = json.loads(path.read_text())["cells"]
    text = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    headings = re.findall(r"^## .+\n(.*\n.*)", text, re.M)
    # each heading, then an empty line, then the estimate
    assert headings and all(not h.split("\n")[0] and timing.ESTIMATE.match(h.split("\n")[1]) for h in headings), (
        headings
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name[:2])
def test_the_time_shown_is_the_rules(path):
    """Run times vary from run to run, so a shown time may be off by a minute or a fifth of itself; more, and
    the content has changed since the estimates were written (python -m tools.timing --write)."""
    for s in timing.sections(path):
        assert s["shown"] is not None, f"{path.name}: section {s['title']!r} shows no time"
        assert abs(s["shown"] - s["estimate"]) <= max(1, 0.2 * s["estimate"]), (
            f"{path.name}, {s['title']!r}: shows {s['shown']} minutes, the rule gives {s['estimate']}"
        )


def test_the_rule_counts_what_a_learner_does():
    """Each term of the rule moves the estimate: an exercise, a prediction, a widget panel, words, run time."""
    by_name = {p.name[:2]: timing.sections(p) for p in NOTEBOOKS}
    exercises = sum(s["exercises"] for rows in by_name.values() for s in rows)
    predictions = sum(s["predictions"] for rows in by_name.values() for s in rows)
    assert (exercises, predictions) == (14, 2)  # the course's 16 exercises, two of them predictions
    assert sum(s["panels"] for s in by_name["04"]) >= 3 and sum(s["panels"] for s in by_name["01"]) == 0
    for rows in by_name.values():
        for s in rows:
            floor = s["words"] / timing.READING_WPM + timing.EXERCISE_MINUTES * s["exercises"]
            assert s["minutes"] >= floor and s["minutes"] >= s["seconds"] / 60


def test_notebook_00s_map_gives_each_notebooks_total():
    cells = json.loads(NOTEBOOKS[0].read_text())["cells"]
    table = next("".join(c["source"]) for c in cells if "| notebook | what you learn |" in "".join(c["source"]))
    for path in NOTEBOOKS:
        row = next(line for line in table.split("\n") if re.match(rf"\| (\*\*)?{path.name[:2]} ·", line))
        assert f"| about {shown_total(path)} min |" in row, row


def test_the_teachers_guide_gives_each_notebooks_total():
    guide = (ROOT / "docs" / "teachers_guide.md").read_text()
    total = 0
    for path in NOTEBOOKS:
        minutes = shown_total(path)
        total += minutes
        assert re.search(rf"\*\*{path.name[:2]} · [^*]+\*\* \(about {minutes} minutes working alone\)", guide), (
            f"the teacher's guide should give {path.name} about {minutes} minutes"
        )
    hours, rest = divmod(10 * round(total / 10), 60)
    assert (f"about {hours} h {rest} min" if rest else f"about {hours} h") + " for the whole course" in guide


def test_the_running_time_is_the_recorded_run_of_each_code_cell():
    """The running minutes come from tools/run_times.json, cell by cell (`make notebooks` records them): for
    each notebook, the sections' seconds add up to the recorded times of its code cells, solutions excluded."""
    import nbformat

    from tools.classroom import is_solution

    recorded = timing.run_times()
    for path in course_notebooks():
        nb = nbformat.read(path, as_version=4)
        times = recorded[path.name]
        wanted = sum(times.get(c.get("id"), 0.0) for c in nb.cells if c.cell_type == "code" and not is_solution(c))
        assert wanted > 0, path.name
        assert sum(s["seconds"] for s in timing.sections(path)) == pytest.approx(wanted), path.name
