# Bayesian deep learning for particle physics: course build.
#
#   make course   data, student notebooks, every solution executed, a demo class autograded and reported, summary
#   make test     every test (unit, data, notebook consistency, autograding, nbval re-run, browser journey)
#   make grade    autograde every submission in grading/submitted on all cores (A=assignment, WORKERS=n, COURSE_DIR),
#                 or with phase 1 on a Dask cluster (SCHEDULER=tcp://host:8786 or CLUSTER=file.yaml); gradebook: COURSE_DB_URL
#   make report   the instructor report of the gradebook (COURSE_DIR=folder, default this course)
#   make hub      the course on a JupyterHub, as root on Linux (accounts for a try-out: make hub-accounts)
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
# grading past one machine: phase 1 on the Dask cluster of SCHEDULER (a running `dask scheduler`) or of the cluster
# file CLUSTER (dask-jobqueue: SLURM, PBS, ...); LOCAL_IF_UNREACHABLE=1 grades here when the scheduler is unreachable.
# The gradebook lives where COURSE_DB_URL says (e.g. postgresql+psycopg://grader@db-host/course), default grading/gradebook.db
SCHEDULER ?=
CLUSTER ?=
LOCAL_IF_UNREACHABLE ?=
# make lab: which folder JupyterLab serves (default: the handouts, what students receive), and extra arguments
HANDOUT_DIR := build/handout
LAB_DIR ?= $(HANDOUT_DIR)
LAB_ARGS ?=
# make hub: the course on a JupyterHub (as root on Linux; docs/instructor-guide.md, "The course on a JupyterHub")
HUB_IP ?= 127.0.0.1
HUB_PORT ?= 8000
HUB_GRADER ?= grader
HUB_STUDENTS ?= student1 student2
HUB_ARGS ?=
# the class's data on the hub: one folder every account reads (make hub-data makes it, make hub checks it)
HUB_DATA ?= data

BIN := $(VENV)/bin
PY := $(BIN)/python
STAMP := $(VENV)/.installed
ASSIGNMENTS := $(notdir $(wildcard solutions/[0-9]*))
export PATH := $(abspath $(BIN)):$(PATH)
export PYTHONHASHSEED := 0
# OpenMP threads sleep instead of spinning while they wait: on a busy machine (a CI runner, parallel grading)
# spinning threads of two processes starve each other (a 2-thread training ran 4.6x slower beside other jobs)
export OMP_WAIT_POLICY ?= PASSIVE

.PHONY: help install data notebooks handout outputs execute demo collect report grade summary course test browser postgresql sandbox lab hub hub-accounts hub-data hub-proxy clean

help:
	@echo "make course | test | install | data | notebooks | handout | outputs | execute | demo | collect | grade | report | summary | lab | clean"
	@echo "     hub-accounts | hub-data | hub | hub-proxy | sandbox | browser | postgresql   (the course on a JupyterHub; what make test installs)"
	@echo "variables: SCALE=$(SCALE) (ci|full)  DATA_SOURCE=$(DATA_SOURCE) (auto|download|offline)  VENV=$(VENV)"
	@echo "grading:   A=<assignment> (default: all)  WORKERS=<n> (default: one per core)  COURSE_DIR=$(COURSE_DIR)"
	@echo "           SCHEDULER=tcp://host:8786 | CLUSTER=<cluster.yaml>  LOCAL_IF_UNREACHABLE=1  (gradebook: COURSE_DB_URL)"
	@echo "hub:       HUB_IP=$(HUB_IP)  HUB_PORT=$(HUB_PORT)  HUB_GRADER=$(HUB_GRADER)  HUB_STUDENTS='$(HUB_STUDENTS)'  HUB_ARGS=<launcher options>"
	@echo "           HUB_DATA=$(HUB_DATA) (make hub-data)"
	@echo "handout:   A=<assignment> DUE='<assignments past their due date>'"
	@echo "lab:       LAB_DIR=$(LAB_DIR)  LAB_ARGS=<extra jupyter lab arguments>"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[test,cluster]'
	touch $@

install: $(STAMP)

data: $(STAMP)
	$(PY) data/get_data.py all data --source $(DATA_SOURCE) --scale $(SCALE)

notebooks: $(STAMP)
	$(PY) -m course_utils.instructor generate $(ASSIGNMENTS)

# what students receive, per assignment (build/handout/<A>/ and <A>.zip); all: in course order, each after the
# ones before are due. One assignment: A=<A> DUE="<assignments past their due date>"
DUE ?=
handout: notebooks
	$(PY) -m course_utils.instructor handout $(if $(filter-out $(A),$(ASSIGNMENTS)),$(A) $(if $(DUE),--due $(DUE)),$(ASSIGNMENTS) --in-order)

# after editing a solution: store its CI-scale outputs (nbval) and regenerate the student version
outputs: $(STAMP)
	$(PY) -m course_utils.instructor outputs $(ASSIGNMENTS)
	$(PY) -m course_utils.instructor generate $(ASSIGNMENTS)

execute: data
	$(PY) -m course_utils.instructor execute --scale $(SCALE) $(ASSIGNMENTS)

demo: data notebooks sandbox
	$(PY) -m course_utils.instructor demo $(ASSIGNMENTS)
	$(PY) -m course_utils.instructor report --course build/demo-course $(ASSIGNMENTS)

# take the students' submissions of A from nbgrader's exchange into COURSE_DIR/grading/submitted, refusing links,
# files of another account, a folder whose owner is not its student, oversized ones (replaces nbgrader collect)
collect: $(STAMP)
	$(PY) -m course_utils.instructor collect --course $(COURSE_DIR) $(A)

grade: $(STAMP) sandbox
	$(PY) -m course_utils.instructor grade --course $(COURSE_DIR) $(if $(WORKERS),--workers $(WORKERS)) \
	  $(if $(SCHEDULER),--scheduler $(SCHEDULER)) $(if $(CLUSTER),--cluster $(CLUSTER)) $(if $(LOCAL_IF_UNREACHABLE),--local-if-unreachable) $(A)

report: $(STAMP)
	$(PY) -m course_utils.instructor report --course $(COURSE_DIR) $(A)

summary: $(STAMP)
	$(PY) -m course_utils.instructor summary $(ASSIGNMENTS)

course: data notebooks execute demo summary

# the in-process tests on every core (pytest-xdist), then those of the services one at a time (tests/conftest.py
# marks them); exit code 5 (no test selected, e.g. by PYTEST_ARGS="-k ...") is no failure
test: $(STAMP) browser hub-proxy postgresql sandbox
	@status=0; \
	$(BIN)/pytest -n auto -m "not services" $(PYTEST_ARGS) || { code=$$?; [ $$code -eq 5 ] || status=$$code; }; \
	$(BIN)/pytest -m services $(PYTEST_ARGS) || { code=$$?; [ $$code -eq 5 ] || status=$$code; }; \
	exit $$status

# Debian's bubblewrap, the sandbox of every grading kernel (make grade; tests/test_kernel_sandbox.py); installed where
# we are root on Debian, else make grade says what it cannot isolate (course_utils/instructor/sandbox/kernel_sandbox.py)
sandbox:
	@if ! command -v bwrap >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && [ -f /etc/debian_version ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian's bubblewrap for the grading kernels' sandbox ..."; \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap >/dev/null 2>&1 || \
	    { apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap >/dev/null 2>&1; } || \
	    echo "could not install bubblewrap: student kernels run unisolated, tests/test_kernel_sandbox.py will fail"; \
	  else echo "bubblewrap (bwrap) is not installed and needs root to install: student kernels run unisolated"; fi; \
	fi

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

# Debian's PostgreSQL server for the gradebook tests on a database server (tests/test_postgres_gradebook.py,
# tests/test_dask_grading.py: each starts its own server in a temporary folder); installed where we are root on
# Debian, else those tests say why they are skipped.
postgresql:
	@if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && [ -f /etc/debian_version ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian's postgresql for the gradebook tests ..."; \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null 2>&1 || \
	    { apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null 2>&1; } || \
	    echo "could not install postgresql: the PostgreSQL gradebook tests will fail"; \
	  else echo "PostgreSQL is not installed and needs root on Debian to install: its gradebook tests are skipped"; fi; \
	fi

# JupyterLab with the nbgrader extension, on this machine only (127.0.0.1); by default it serves the handouts
# (built first, with Validate's cell limits, reading this course's data folder)
lab: $(STAMP)
	@if [ "$(LAB_DIR)" = "$(HANDOUT_DIR)" ]; then \
	  $(MAKE) --no-print-directory handout && cp $(HANDOUT_DIR)/$(firstword $(ASSIGNMENTS))/nbgrader_config.py $(HANDOUT_DIR)/; fi
	cd $(LAB_DIR) && mkdir -p grading/exchange && \
	  $(if $(filter $(HANDOUT_DIR),$(LAB_DIR)),COURSE_DATA_DIR=$(abspath data)) $(abspath $(BIN))/jupyter lab --allow-root --ip=127.0.0.1 $(LAB_ARGS)

# JupyterHub's proxy, configurable-http-proxy, from the npm registry into $(VENV)/node (tests/test_hub.py,
# make hub); where npm is missing, Debian's nodejs and npm are installed when we are root on Debian.
CHP_VERSION := 4.6.3
hub-proxy:
	@if [ ! -x $(VENV)/node/node_modules/.bin/configurable-http-proxy ]; then \
	  if ! command -v npm >/dev/null 2>&1 && [ "$$(id -u)" = 0 ] && [ -f /etc/debian_version ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian's nodejs and npm for JupyterHub's proxy ..."; \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null 2>&1 || \
	    { apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null 2>&1; }; \
	  fi; \
	  if command -v npm >/dev/null 2>&1; then \
	    echo "installing configurable-http-proxy $(CHP_VERSION) into $(VENV)/node ..."; \
	    npm install --prefix $(VENV)/node --no-save --no-audit --no-fund --loglevel=error configurable-http-proxy@$(CHP_VERSION) || \
	    echo "could not install configurable-http-proxy: make hub and tests/test_hub.py need it"; \
	  else echo "npm is missing (root on Debian installs it): make hub and tests/test_hub.py need configurable-http-proxy"; fi; \
	fi

# the course on a JupyterHub at http://$(HUB_IP):$(HUB_PORT)/, as root on Linux; accounts by make hub-accounts
hub: $(STAMP) hub-proxy
	$(PY) -m course_utils.instructor.hub start --ip $(HUB_IP) --port $(HUB_PORT) --grader $(HUB_GRADER) --students $(HUB_STUDENTS) \
	  --data $(abspath $(HUB_DATA)) $(HUB_ARGS)

# the class's data, made once into HUB_DATA (download, else the offline stand-in; SCALE), readable by every account
hub-data: $(STAMP)
	$(PY) data/get_data.py all $(HUB_DATA) --source $(DATA_SOURCE) --scale $(SCALE) --quiet
	chmod -R a+rX $(HUB_DATA)
	@echo "the class's data is in $(abspath $(HUB_DATA)), readable by every account"

# Unix accounts for a try-out of make hub (root): the grader and the students, password $$HUB_PASSWORD or printed
hub-accounts: $(STAMP)
	$(PY) -m course_utils.instructor.hub accounts --grader $(HUB_GRADER) --students $(HUB_STUDENTS) $(HUB_ARGS)

clean:
	rm -rf build grading
