"""The exercises as the notebooks hold them. On Run All a worked solution never replaces the learner's answer
and never prints "Correct!" under an exercise the learner has not done; a prediction is asked for before the
numbers it predicts appear; the course's answers pass their own checks, quietly; and a skipped exercise whose
function the notebook needs is replaced by the course's version with a line that says so."""

import ast
import contextlib
import io

import nbformat
import pytest

from tools.classroom import course_notebooks, is_solution
from vae_helpers import exercises

NOTEBOOKS = course_notebooks()
CHECKS = sorted(name for name in dir(exercises) if name.startswith("check_"))


def cells(path):
    return nbformat.read(path, as_version=4).cells


def bound_names(source):
    """Names a cell binds at its top level: functions, classes and assignment targets."""
    names = set()
    for node in ast.parse(source).body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                names |= {n.id for n in ast.walk(target) if isinstance(n, ast.Name)}
    return names


def check_calls(source):
    return [
        node
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in CHECKS
    ]


def exercises_in(path):
    """(stub cells, solution cell) for every exercise: a solution and the learner's cells above it back to the
    previous solution."""
    found, since = [], []
    for cell in cells(path):
        if cell.cell_type != "code":
            continue
        if is_solution(cell):
            found.append((since, cell))
            since = []
        else:
            since.append(cell)
    return found


ALL = [(p.name, i, stubs, sol) for p in NOTEBOOKS for i, (stubs, sol) in enumerate(exercises_in(p))]


def test_the_course_has_its_sixteen_exercises():
    assert len(ALL) == 16


@pytest.mark.parametrize("notebook, number, stubs, solution", ALL, ids=[f"{a[0][:2]}-ex{a[1] + 1}" for a in ALL])
def test_a_solution_leaves_the_learners_answer_alone(notebook, number, stubs, solution):
    learner = set().union(*(bound_names(c.source) for c in stubs if "..." in c.source))
    assert learner, f"{notebook}: exercise {number + 1} has no stub with `...` above its solution"
    rebound = bound_names(solution.source) & learner
    assert not rebound, f"{notebook}: the solution of exercise {number + 1} replaces the learner's {sorted(rebound)}"


@pytest.mark.parametrize("notebook, number, stubs, solution", ALL, ids=[f"{a[0][:2]}-ex{a[1] + 1}" for a in ALL])
def test_a_solution_checks_itself_quietly_and_prints_nothing(notebook, number, stubs, solution):
    calls = check_calls(solution.source)
    assert calls, f"{notebook}: the solution of exercise {number + 1} does not run its check"
    for call in calls:
        quiet = [k for k in call.keywords if k.arg == "quiet"]
        assert quiet and isinstance(quiet[0].value, ast.Constant) and quiet[0].value.value is True
    printed = "".join(o.get("text", "") for o in solution.get("outputs", []))
    assert "Correct!" not in printed and not printed.strip(), f"{notebook}: the solution prints {printed!r}"


@pytest.mark.parametrize("notebook, number, stubs, solution", ALL, ids=[f"{a[0][:2]}-ex{a[1] + 1}" for a in ALL])
def test_an_unanswered_exercise_says_so_on_run_all(notebook, number, stubs, solution):
    """The committed run is a Run All with every stub left as it is: each exercise's check says
    "Not attempted yet", never "Correct!"."""
    checked = [c for c in stubs if check_calls(c.source)]
    assert checked, f"{notebook}: exercise {number + 1} has no check cell"
    printed = "".join(o.get("text", "") for o in checked[-1].get("outputs", []))
    assert "Not attempted yet" in printed and "Correct!" not in printed, printed


def test_a_skipped_exercise_the_notebook_needs_is_replaced_by_the_courses_version_with_a_line_saying_so():
    """Every function a later cell needs goes through yours_or_reference, and on the committed Run All (stubs
    unanswered) that cell says the course's version is used."""
    said = {}
    for path in NOTEBOOKS:
        for cell in cells(path):
            if cell.cell_type == "code" and "yours_or_reference(" in cell.source:
                for name in exercises.REFERENCES:
                    if f'yours_or_reference("{name}"' in cell.source:
                        said[name] = "".join(o.get("text", "") for o in cell.get("outputs", []))
    assert set(said) == set(exercises.REFERENCES)
    for name, printed in said.items():
        assert f"`{name}` does not pass its check yet" in printed and "course's version" in printed, (name, printed)


@pytest.mark.parametrize("variable, data", [("larger_kl", "history_2d"), ("most_information", "sweep")])
def test_a_prediction_is_asked_for_before_its_numbers_appear(variable, data):
    """The learner writes the prediction in a cell above the one that computes what it predicts; only the check
    comes after."""
    for path in NOTEBOOKS:
        code = [c for c in cells(path) if c.cell_type == "code" and not is_solution(c)]
        asked = [i for i, c in enumerate(code) if variable in bound_names(c.source)]
        if not asked:
            continue
        computed = min(i for i, c in enumerate(code) if data in bound_names(c.source))
        checked = [i for i, c in enumerate(code) if check_calls(c.source) and variable in c.source]
        assert len(asked) == 1 and asked[0] < computed < checked[0], (path.name, asked, computed, checked)
        return
    pytest.fail(f"no notebook asks for {variable}")


MEASURED = {2: {"kl": 6.0, "recon": 140.0}, 20: {"kl": 21.0, "recon": 79.0}}  # made up, in the real order
SWEEP = {0.1: {"kl": 11.0, "recon": 137.0}, 1.0: {"kl": 6.0, "recon": 140.0}, 4.0: {"kl": 4.0, "recon": 147.0}}
UNATTEMPTED = {"check_latent_size_prediction": (..., ..., MEASURED), "check_beta_reading": (..., ..., SWEEP)}


@pytest.mark.parametrize("check", CHECKS)
def test_quiet_prints_nothing_and_keeps_the_verdict(check):
    fn = getattr(exercises, check)
    answer = UNATTEMPTED.get(check, (lambda *args: ...,))
    loud, quiet = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(loud):
        verdict = fn(*answer)
    with contextlib.redirect_stdout(quiet):
        assert fn(*answer, quiet=True) is verdict is False
    assert "Not attempted yet" in loud.getvalue() and quiet.getvalue() == ""


@pytest.mark.parametrize("notebook, number, stubs, solution", ALL, ids=[f"{a[0][:2]}-ex{a[1] + 1}" for a in ALL])
def test_the_courses_answer_passes_its_check_without_a_word(notebook, number, stubs, solution):
    """Run the solution cell on its own (the predictions against made-up measurements that agree with the
    course's answer): its assert holds and it prints nothing."""
    import torch

    space = {"torch": torch, "BETAS": list(SWEEP), "measured": MEASURED, "sweep": SWEEP}
    space.update({name: getattr(exercises, name) for name in CHECKS})
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(solution.source, f"{notebook} solution {number + 1}", "exec"), space)
    assert printed.getvalue() == ""
