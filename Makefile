# MedFusionNet: every target sets up .venv by itself on a fresh machine (Python >= 3.10 as $(PYTHON)).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
LAB_ROOT := $(shell [ "$$(id -u)" = 0 ] && echo --allow-root)

.PHONY: setup demo test docs readme lab export clean

$(STAMP): pyproject.toml requirements-torch.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-torch.txt -e '.[dev]'
	@touch $(STAMP)

setup: $(STAMP)           ## create .venv and install everything

demo: $(STAMP)            ## the main job on the default data
	$(VENV)/bin/medfusionnet demo

test: $(STAMP)            ## all tests: export check, notebooks, command line, README, docs
	$(PY) -m pytest tests

export: $(STAMP)          ## notebooks -> medfusionnet/, then clean the notebooks
	$(VENV)/bin/nbdev-export && $(VENV)/bin/nbdev-clean

readme: $(STAMP)          ## README.md from nbs/index.ipynb (executed)
	$(PY) tools/nbtools.py readme

docs: $(STAMP)            ## the docs site into _docs/
	$(PY) tools/nbtools.py docs

lab: $(STAMP)             ## JupyterLab on the notebooks
	$(VENV)/bin/jupyter lab --notebook-dir=nbs $(LAB_ROOT)

clean:
	rm -rf _build _proc _docs .pytest_cache
