# Bayesian deep learning for particle physics: course build.
#
#   make course   data, student notebooks, every solution executed, a demo class autograded, summary
#   make test     every test (unit, data, notebook consistency, autograding, nbval re-run)
#
# Every target uses the virtual environment $(VENV) and installs what it needs into it.

PYTHON ?= python3
VENV ?= .venv
SCALE ?= ci
# where data come from: auto (download, fall back to the offline generator), download, offline
DATA_SOURCE ?= auto
PYTEST_ARGS ?=

BIN := $(VENV)/bin
PY := $(BIN)/python
STAMP := $(VENV)/.installed
ASSIGNMENTS := $(notdir $(wildcard solutions/[0-9]*))
export PATH := $(abspath $(BIN)):$(PATH)
export PYTHONHASHSEED := 0

.PHONY: help install data notebooks outputs execute demo summary course test lab clean

help:
	@echo "make course | test | data | notebooks | outputs | execute | demo | summary | lab | clean"
	@echo "variables: SCALE=$(SCALE) (ci|full)  DATA_SOURCE=$(DATA_SOURCE)  VENV=$(VENV)"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $@

install: $(STAMP)

data: $(STAMP)
	$(PY) data/get_data.py all data --source $(DATA_SOURCE) --scale $(SCALE)

notebooks: $(STAMP)
	$(PY) -m course_utils.instructor generate $(ASSIGNMENTS)

# after editing a solution: store its CI-scale outputs (nbval) and regenerate the student version
outputs: $(STAMP)
	$(PY) -m course_utils.instructor outputs $(ASSIGNMENTS)
	$(PY) -m course_utils.instructor generate $(ASSIGNMENTS)

execute: data
	$(PY) -m course_utils.instructor execute --scale $(SCALE) $(ASSIGNMENTS)

demo: data notebooks
	$(PY) -m course_utils.instructor demo $(ASSIGNMENTS)

summary: $(STAMP)
	$(PY) -m course_utils.instructor summary $(ASSIGNMENTS)

course: data notebooks execute demo summary

test: $(STAMP)
	$(BIN)/pytest $(PYTEST_ARGS)

lab: $(STAMP)
	mkdir -p grading/exchange
	$(BIN)/jupyter lab --allow-root

clean:
	rm -rf build grading
