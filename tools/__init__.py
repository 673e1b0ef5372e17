"""Teacher and maintainer tools: student copy, HTML export, Colab and Binder cells, training every model.

Run from a checkout of the course, e.g. ``python -m tools.classroom
student``. They use the learner's package ``vae_helpers``; it never imports them."""

import sys

# checked before any tool's code is read, in syntax every Python understands, so that `python -m tools.course`
# on an old Python says what to do instead of failing on syntax it does not know
if sys.version_info < (3, 10):
    sys.exit(
        "!! The course needs Python 3.10 or newer; this is %s. Run this with another one, e.g.: "
        "python3.12 -m tools.course lab   (with make: make lab PYTHON=python3.12)" % sys.version.split()[0]
    )
