# The two commands a newcomer needs: `make lab` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.workbook-installed

.PHONY: setup lab test lint unit notebooks sync

$(STAMP): requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -r requirements.txt
	$(PY) -m helpers.install local
	touch $(STAMP)

setup: $(STAMP)

lab: setup
	$(VENV)/bin/jupyter lab --notebook-dir=. chapters/00_setup.ipynb

lint: setup
	$(VENV)/bin/ruff check helpers tests tools bench chapters labs

unit: setup
	WORKBOOK_FAST=1 $(PY) -m pytest -m "not notebook"

notebooks: setup
	WORKBOOK_FAST=1 $(PY) -m pytest -m notebook

test: setup lint
	WORKBOOK_FAST=1 $(PY) -m pytest

sync: setup
	$(PY) tools/nbsync.py

# ---- Assessments (assessments/README.md): the nbgrader course, its sandbox and its benchmark.
.PHONY: assess-setup assess-release assess-check assess-test bench-autograde
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# bubblewrap confines student code during autograde; CI machines may lack it, so install it when missing.
assess-setup:
	@command -v bwrap >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq bubblewrap; }
	@bwrap --version

assess-release: setup
	$(PY) -m assessments.cli release

assess-check: setup
	$(PY) -m assessments.cli check

assess-test: setup assess-setup
	WORKBOOK_FAST=1 WORKBOOK_REQUIRE_SANDBOX=1 $(PY) -m pytest tests/test_assessments_*.py

bench-autograde: setup assess-setup
	$(PY) bench/autograde.py
