# The two commands a newcomer needs: `make lab` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.workbook-installed

.PHONY: setup lab test lint unit notebooks sync lab1

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

# Lab 1 headless on CPU, fully offline: trains, evaluates and leaves the evidence packet in labs/evidence/.
# `make lab1 FAST=1` runs the small version.
lab1: setup
	HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1 CUDA_VISIBLE_DEVICES= \
		$(PY) tools/run_notebook.py labs/lab1_qlora_sft.ipynb $(if $(FAST),--fast,)
	$(PY) -m helpers.evidence labs/evidence
