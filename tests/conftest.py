"""Fixtures for the unit tests (the root conftest.py holds what the notebook runs share)."""

import itertools
import linecache

import pytest

_cells = itertools.count()


class Notebook:
    """Code run the way a Jupyter kernel runs a notebook's cells: in one ``__main__`` namespace, each cell
    registered in ``linecache`` under a name of its own, so ``inspect.getsource`` finds what it defined."""

    def __init__(self) -> None:
        self.ns = {"__name__": "__main__", "__builtins__": __builtins__}

    def run(self, source: str) -> dict:
        filename = f"<notebook-cell-{next(_cells)}>"
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        exec(compile(source, filename, "exec"), self.ns)
        return self.ns

    def __getitem__(self, name: str):
        return self.ns[name]


@pytest.fixture
def notebook():
    """A fresh notebook namespace; ``notebook.run(source)`` runs one cell in it."""
    return Notebook()
