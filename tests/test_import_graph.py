"""The package's imports point one way: notebook helpers -> core -> base, and tools -> the package, never back.

Every internal import of every module is read from its source (also imports inside functions, which
are not allowed at all) and checked against the layers below and the few imports allowed within a layer.
"""

import ast
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE, TOOLS = ROOT / "vae_helpers", ROOT / "tools"

# the layers of vae_helpers, lowest first: a module may import any module of a lower layer
LAYERS = {
    "base": {"checks", "files", "utils"},  # argument checks, atomic files, run settings
    "core": {
        "mnist",
        "data",
        "models",
        "losses",
        "training",
        "plotting",
        "checkpoints",
        "fingerprint",
        "quality",
        "bounds",
        "attributes",
    },
    # what one or a few notebooks call
    "helpers": {"zoo", "memorize", "widgets", "exercises", "channel", "judge", "anomaly"},
}
# imports within a layer, each for a reason; anything else within a layer is an error
WITHIN_LAYER = {
    ("utils", "checks"),  # run settings check their arguments
    ("data", "mnist"),  # in-memory splits are read from the files
    ("plotting", "training"),  # plot_history draws a training History
    ("plotting", "bounds"),  # plot_posterior draws the contours of a bounds.Posterior
    ("memorize", "zoo"),  # notebook 02's capacity sweep caches its models like every other training cell
    ("judge", "zoo"),  # the digit classifier that scores samples is cached like every other course model
    ("widgets", "judge"),  # notebook 07's panels say what the digit judge reads in the pictures they draw
    ("exercises", "anomaly"),  # notebook 07's AUROC exercise falls back on the course's own anomaly.auroc
}


def layer_of(module: str) -> int:
    for rank, modules in enumerate(LAYERS.values()):
        if module in modules:
            return rank
    raise AssertionError(f"vae_helpers.{module} is in no layer of tests/test_import_graph.py: add it to LAYERS")


def internal_imports(path: Path, package: str) -> list[tuple[str, str, int, bool]]:
    """``(importer, imported, line, inside a function)`` for every import of a module of ``vae_helpers`` or ``tools``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    inside = {
        id(node)
        for fn in ast.walk(tree)
        if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef))
        for node in ast.walk(fn)
    }
    found = []
    for node in ast.walk(tree):
        targets = []
        if isinstance(node, ast.ImportFrom):
            base = package if node.level else (node.module or "")
            module = (node.module or "") if not node.level else ".".join(filter(None, [package, node.module]))
            if module in ("vae_helpers", "tools") or (node.level and not node.module):
                targets = [f"{base}.{alias.name}" for alias in node.names]  # from . import checks
            else:
                targets = [module]
        elif isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        for target in targets:
            parts = target.split(".")
            if parts[0] in ("vae_helpers", "tools") and len(parts) > 1:
                found.append((path.stem, f"{parts[0]}.{parts[1]}", node.lineno, id(node) in inside))
    return found


def modules(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*.py") if p.name != "__init__.py")


def package_edges() -> list[tuple[str, str, int, bool]]:
    return [edge for path in modules(PACKAGE) for edge in internal_imports(path, "vae_helpers")]


def test_every_module_is_in_a_layer():
    assert {p.stem for p in modules(PACKAGE)} == set().union(*LAYERS.values())


def test_no_internal_import_hides_inside_a_function():
    hidden = [
        f"{a}.py:{line} imports {b}"
        for path in [*modules(PACKAGE), *modules(TOOLS)]
        for a, b, line, inside in internal_imports(path, path.parent.name)
        if inside
    ]
    assert not hidden, hidden


def test_the_package_imports_point_down_the_layers():
    wrong = []
    for importer, imported, line, _ in package_edges():
        package, name = imported.split(".")
        if package == "tools":
            wrong.append(f"vae_helpers/{importer}.py:{line} imports {imported}: the package never imports the tools")
            continue
        if name == importer:
            continue
        up, down = layer_of(importer), layer_of(name)
        if down > up or (down == up and (importer, name) not in WITHIN_LAYER):
            wrong.append(f"vae_helpers/{importer}.py:{line} imports {imported}, which is not below it")
    assert not wrong, "\n".join(wrong)


def test_there_is_no_import_cycle():
    graph: dict[str, set[str]] = {}
    for importer, imported, _, _ in package_edges():
        graph.setdefault(importer, set()).add(imported.split(".")[1])

    def visit(node: str, path: tuple[str, ...]) -> None:
        if node in path:
            raise AssertionError("import cycle: " + " -> ".join((*path[path.index(node) :], node)))
        for nxt in graph.get(node, ()):
            visit(nxt, (*path, node))

    for start in graph:
        visit(start, ())


def test_the_tools_import_the_package_and_nothing_imports_the_tools():
    for path in modules(TOOLS):
        for _, imported, line, _ in internal_imports(path, "tools"):
            assert imported.split(".")[0] in ("vae_helpers", "tools"), (path, line)
    for nb in sorted((ROOT / "notebooks").glob("*.ipynb")):  # a notebook on Colab has the package, not the tools
        code = "\n".join(
            "".join(c["source"])
            for c in json.loads(nb.read_text(encoding="utf-8"))["cells"]
            if c["cell_type"] == "code"
        )
        assert not re.search(r"^\s*(from|import)\s+tools\b|(?<![\w.])tools\.", code, re.M), nb.name


@pytest.mark.parametrize(
    "source, message",
    [
        ("from .widgets import LatentSliders\n", "not below it"),  # core -> helpers
        ("from .zoo import trained\n", "not below it"),  # core -> helpers
        ("from tools import classroom\n", "never imports the tools"),
        ("def f():\n    from .data import Split\n", "inside"),
    ],
)
def test_the_checks_catch_a_wrong_import(tmp_path, source, message):
    """Mutation check: an upward, a tool or a hidden import added to models.py fails the tests above."""
    fake = tmp_path / "vae_helpers"
    fake.mkdir()
    for path in modules(PACKAGE):
        text = path.read_text(encoding="utf-8")
        (fake / path.name).write_text(text + "\n" + source if path.stem == "models" else text, encoding="utf-8")
    real, globals()["PACKAGE"] = PACKAGE, fake
    try:
        check = (
            test_no_internal_import_hides_inside_a_function
            if message == "inside"
            else test_the_package_imports_point_down_the_layers
        )
        with pytest.raises(AssertionError) as err:
            check()
        assert "models.py" in str(err.value) and (message == "inside" or message in str(err.value))
    finally:
        globals()["PACKAGE"] = real


@pytest.mark.parametrize(
    "path",
    [*modules(PACKAGE), *modules(TOOLS), PACKAGE / "__init__.py", TOOLS / "__init__.py"],
    ids=lambda p: f"{p.parent.name}/{p.name}",
)
def test_every_module_opens_with_its_job_in_one_line(path):
    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")), clean=False)
    assert doc, f"{path.name} has no docstring"
    first = doc.split("\n\n")[0]
    assert len(first.splitlines()) == 1 and len(first) <= 120, (
        f"{path.name}: the first paragraph is not one line: {first!r}"
    )
