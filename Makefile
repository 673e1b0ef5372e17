# The course's two promises, one command each:
#   make lab    set up the learner's packages (a virtual environment in .venv) and open the course in JupyterLab
#   make test   set up the learner's and the developer's packages and run all tests: unit tests + every notebook
#               (fast mode) under nbval
# Both call tools/course.py, which also works without make (Windows: py -m tools.course lab). It installs torch
# from PyTorch's CPU index on Linux without an NVIDIA GPU (VAE_TORCH=cpu|default overrides), with the versions
# of constraints.txt (VAE_CONSTRAINTS=0: the newest), and does nothing when .venv is already up to date.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
COURSE := $(PYTHON) -m tools.course

# notebooks run from notebooks/, so a relative data folder must become absolute first
ifneq ($(strip $(VAE_DATA_DIR)),)
export VAE_DATA_DIR := $(abspath $(VAE_DATA_DIR))
endif

.PHONY: setup dev lab test lint constraints test-pythons test-ipywidgets7 notebooks benchmark mutation data models \
	student html hosted

# the learner's set (requirements.txt)
setup:
	@$(COURSE) setup --venv $(VENV)

# the learner's and the developer's sets (requirements-dev.txt: tests, browser, linters, the teacher's tools)
dev:
	@$(COURSE) setup --venv $(VENV) --dev

lab:
	@$(COURSE) lab --venv $(VENV)

test: dev
	VAE_FAST=$${VAE_FAST:-1} $(PY) -m pytest $(PYTEST_FLAGS)

# ruff (settings in ruff.toml) over the package, the tests, the tools, the benchmarks and the notebooks' code;
# the same checks run as git hooks after `pre-commit install` (.pre-commit-config.yaml)
lint: dev
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

# after a green CI run: pin constraints.txt to the versions its virtual environments passed with
constraints:
	$(COURSE) freeze $(wildcard $(VENV) .venv-3.*)

# the unit tests and the notebooks (fast mode) again on the oldest and the newest Python the course
# supports, each in a virtual environment of its own (.venv-3.10, .venv-3.13); a missing one is skipped, loudly.
# 3.10 gets the pinned versions of constraints.txt, 3.13 the newest ones (VAE_CONSTRAINTS=0)
test-pythons:
	bash .ci/test-python 3.10
	VAE_CONSTRAINTS=0 bash .ci/test-python 3.13

# the widget tests again on ipywidgets 7.7, which some hosted notebook services still ship
# (only the Python package is swapped in, in .ipywidgets7/; .venv keeps ipywidgets 8)
test-ipywidgets7: dev
	$(PY) -m pip install --quiet --upgrade --target .ipywidgets7 --no-deps "ipywidgets>=7.7,<7.8" ipython_genutils
	PYTHONPATH=.ipywidgets7 VAE_EXPECT_IPYWIDGETS=7.7 $(PY) -m pytest -q -p no:cacheprovider tests/test_widgets.py

# re-execute every notebook in place, in order, in full mode, as committed: from an empty checkpoint folder
# of their own, so each model is trained where it is first needed and loaded by later notebooks, as a
# learner's first pass does (checkpoints/ is left alone). Then keep each cell's run time in
# tools/run_times.json (the section estimates read it) and strip the timestamps and unshown widget state.
notebooks: dev
	rm -rf .notebooks-run && mkdir .notebooks-run
	VAE_FAST=0 VAE_RETRAIN=0 VAE_CHECKPOINT_DIR="$(CURDIR)/.notebooks-run" $(VENV)/bin/jupyter nbconvert \
		--to notebook --execute --inplace --ExecutePreprocessor.timeout=1800 notebooks/[0-9]*.ipynb
	rm -rf .notebooks-run
	$(PY) -m tools.nbclean --record-times tools/run_times.json notebooks/[0-9]*.ipynb

benchmark: dev
	$(PY) benchmarks/bench_widgets.py
	$(PY) benchmarks/bench_training_loop.py

# mutation testing of losses, models, training, data and the exercise checks with mutmut (settings in
# pyproject.toml, [tool.mutmut]); about half an hour on 2 cores. The table goes to benchmarks/results/mutation.md.
# A mutant is broken code on purpose (one deleted every MNIST file of its data root): the run reads a copy
# of the data and keeps its checkpoints in mutants-sandbox/, never the real ones.
SANDBOX := $(CURDIR)/mutants-sandbox
mutation: dev
	$(PY) -m pip install --quiet "mutmut>=3.2"
	rm -rf mutants "$(SANDBOX)"
	$(PY) -c "import shutil, sys; from vae_helpers.mnist import download_mnist; shutil.copytree(download_mnist(), sys.argv[1])" \
		"$(SANDBOX)/data/MNIST/raw"
	VAE_DATA_DIR="$(SANDBOX)/data" VAE_CHECKPOINT_DIR="$(SANDBOX)/checkpoints" OMP_NUM_THREADS=1 $(VENV)/bin/mutmut run || true
	$(PY) benchmarks/mutation_report.py > benchmarks/results/mutation.md.tmp && mv benchmarks/results/mutation.md.tmp benchmarks/results/mutation.md
	@head -14 benchmarks/results/mutation.md

# for teachers (docs/teachers_guide.md):
# train every model the notebooks use, in full mode, into the checkpoint folder with manifest.json
models: setup
	VAE_FAST=0 $(PY) -m tools.zoo train-all

# the student copy: notebooks without worked solutions or outputs, in student/
student: setup
	$(PY) -m tools.classroom student --out student

# a static HTML copy of the executed course, in site/
html: dev
	$(PY) -m tools.classroom html --out site

# record where the course is published, for Colab's install cells and the README's Binder/Colab badges:
#   make hosted REPO=https://github.com/OWNER/NAME [BRANCH=main]    (without REPO: show what is recorded)
hosted: setup
	$(PY) -m tools.classroom hosted $(if $(REPO),--repo "$(REPO)") $(if $(BRANCH),--branch "$(BRANCH)")

# fetch MNIST into the data root ($VAE_DATA_DIR or data/) ahead of a class without internet
data: setup
	$(PY) -m vae_helpers.mnist download
