"""Test settings shared by the unit tests and the notebook (nbval) runs.

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
