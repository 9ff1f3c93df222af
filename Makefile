# Bayesian deep learning for particle physics: course build.
#
#   make course   data, student notebooks, every solution executed, a demo class autograded and reported, summary
#   make test     every test (unit, data, notebook consistency, autograding, nbval re-run, browser journey)
#   make grade    autograde every submission in grading/submitted on all cores (A=assignment, WORKERS=n, COURSE_DIR)
#   make report   the instructor report of the gradebook (COURSE_DIR=folder, default this course)
#
# Every target uses the virtual environment $(VENV) and installs what it needs into it.

PYTHON ?= python3
VENV ?= .venv
SCALE ?= ci
# where data come from: auto (download, fall back to the offline generator), download, offline
DATA_SOURCE ?= auto
PYTEST_ARGS ?=
# grading: which assignments (default all), how many parallel kernels (default one per core), which course
A ?= $(ASSIGNMENTS)
WORKERS ?=
COURSE_DIR ?= .
# make lab: which course folder JupyterLab serves, and extra arguments for it
LAB_DIR ?= .
LAB_ARGS ?=

BIN := $(VENV)/bin
PY := $(BIN)/python
STAMP := $(VENV)/.installed
ASSIGNMENTS := $(notdir $(wildcard solutions/[0-9]*))
export PATH := $(abspath $(BIN)):$(PATH)
export PYTHONHASHSEED := 0

.PHONY: help install data notebooks outputs execute demo report grade summary course test browser lab clean

help:
	@echo "make course | test | data | notebooks | outputs | execute | demo | grade | report | summary | lab | clean"
	@echo "variables: SCALE=$(SCALE) (ci|full)  DATA_SOURCE=$(DATA_SOURCE) (auto|download|offline)  VENV=$(VENV)"
	@echo "grading:   A=<assignment> (default: all)  WORKERS=<n> (default: one per core)  COURSE_DIR=$(COURSE_DIR)"
	@echo "lab:       LAB_DIR=$(LAB_DIR)  LAB_ARGS=<extra jupyter lab arguments>"

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
	$(PY) -m course_utils.instructor report --course build/demo-course $(ASSIGNMENTS)

grade: $(STAMP)
	$(PY) -m course_utils.instructor grade --course $(COURSE_DIR) $(if $(WORKERS),--workers $(WORKERS)) $(A)

report: $(STAMP)
	$(PY) -m course_utils.instructor report --course $(COURSE_DIR) $(A)

summary: $(STAMP)
	$(PY) -m course_utils.instructor summary $(ASSIGNMENTS)

course: data notebooks execute demo summary

test: $(STAMP) browser
	$(BIN)/pytest $(PYTEST_ARGS)

# Debian's chromium for the browser test (tests/test_browser.py); installed where we are root on Debian,
# else the test says why it is skipped.
browser:
	@if ! command -v chromium >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && [ -f /etc/debian_version ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian's chromium for the browser test ..."; \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null 2>&1 || \
	    { apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null 2>&1; } || \
	    echo "could not install chromium: tests/test_browser.py will fail"; \
	  else echo "chromium is not installed and needs root on Debian to install: tests/test_browser.py is skipped"; fi; \
	fi

# JupyterLab with the nbgrader extension, on this machine only (127.0.0.1)
lab: $(STAMP)
	cd $(LAB_DIR) && mkdir -p grading/exchange && $(abspath $(BIN))/jupyter lab --allow-root --ip=127.0.0.1 $(LAB_ARGS)

clean:
	rm -rf build grading
