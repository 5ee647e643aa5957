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
	$(VENV)/bin/ruff check $(wildcard helpers tests tools bench chapters labs assessments)

unit: setup
	WORKBOOK_FAST=1 $(PY) -m pytest -m "not notebook"

notebooks: setup
	WORKBOOK_FAST=1 $(PY) -m pytest -m notebook

test: setup lint
	WORKBOOK_FAST=1 $(PY) -m pytest

sync: setup
	$(PY) tools/nbsync.py
