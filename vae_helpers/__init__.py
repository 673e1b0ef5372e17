"""What the notebooks of the VAE course import: data, models, losses, training, plotting, widgets.

Nothing happens on import: no seeding, no downloads, no matplotlib styling.
Import the submodules you need, e.g. ``from vae_helpers import data, training``.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
