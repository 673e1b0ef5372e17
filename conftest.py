"""Test settings shared by the unit tests and the notebook (nbval) runs (at the root, so `pytest notebooks/...` gets them too).

- Notebooks run in fast mode unless the caller set ``VAE_FAST`` (``.ci/run`` sets ``VAE_FAST=0`` for
  its full-mode pass). Kernels inherit this process's environment, so setting it here reaches them.
- A relative ``VAE_DATA_DIR`` is made absolute, because notebook kernels start in ``notebooks/``.
"""

import os
from pathlib import Path

import pytest

os.environ.setdefault("VAE_FAST", "1")
os.environ.setdefault("MPLBACKEND", "Agg")
if os.environ.get("VAE_DATA_DIR"):
    os.environ["VAE_DATA_DIR"] = str(Path(os.environ["VAE_DATA_DIR"]).expanduser().resolve())


@pytest.fixture(scope="session")
def mnist():
    """The real MNIST splits (downloaded into the data root if missing)."""
    from vae_helpers.data import load_mnist

    return load_mnist()


def pytest_collection_modifyitems(items):
    """Notebook cells (nbval) and the browser test are slow: ``pytest -m "not slow"`` leaves them out for a
    quick edit-and-test loop; ``make test`` runs everything.

    nbval waits only 5 s (hard-coded) for a cell's output messages after the cell has finished; on a
    busy 2-core machine the kernel can take longer to flush a training cell's progress-bar messages."""
    for item in items:
        if hasattr(item, "output_timeout"):
            item.output_timeout = 60
        if hasattr(item, "output_timeout") or item.get_closest_marker("browser"):
            item.add_marker(pytest.mark.slow)
