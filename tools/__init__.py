"""Teacher and maintainer tools: student copy, HTML export, Colab and Binder cells, training every model.

Run from a checkout of the course, e.g. ``python -m tools.classroom
student``. They use the learner's package ``vae_helpers``; it never imports them."""
