# The two commands a newcomer needs: `make lab` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.workbook-installed

.PHONY: setup lab test lint unit notebooks sync gguf test-gguf lab1 lab2 lab3 unsloth-cpu colab-widgets book book-setup browser \
	browser-setup

$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -r requirements.txt
	$(PY) -m pip install -q --no-deps -e .
	$(PY) -m workbook.core.install local
	touch $(STAMP)

setup: $(STAMP)

lab: setup
	$(VENV)/bin/jupyter lab --notebook-dir=. chapters/00_setup.ipynb

# Style, the library's import layers (pyproject.toml [tool.importlinter]) and the pins of every import (deptry).
lint: setup
	$(VENV)/bin/ruff check $(wildcard workbook tests tools bench chapters labs assessments)
	$(VENV)/bin/lint-imports
	$(VENV)/bin/deptry .

unit: setup colab-widgets
	WORKBOOK_FAST=1 $(PY) -m pytest -m "not notebook"

notebooks: setup
	WORKBOOK_FAST=1 $(PY) -m pytest -m notebook

# Everything: lint, unit tests, every notebook in FAST mode, the grading pipeline and the GGUF export path.
# Then, in this order: the book from the executed copies those notebook tests left in build/executed/ (nothing runs
# twice), and the real-browser tests (the widgets in JupyterLab, and the built book).
# Two pytest workers (TEST_WORKERS=1 for one), handed one test at a time (xdist otherwise gives the first worker a
# contiguous chunk: every notebook test). Tests that share files are one test each: a chapter's two copies, the three
# labs in order (tests/test_notebooks.py).
TEST_WORKERS ?= 2
test: setup lint gguf unsloth-cpu colab-widgets book-setup
	WORKBOOK_FAST=1 WORKBOOK_REQUIRE_GGUF=1 WORKBOOK_REQUIRE_COLAB_WIDGETS=1 $(PY) -m pytest -n $(TEST_WORKERS) \
		--maxschedchunk 1 --durations=15
	$(MAKE) book
	$(MAKE) browser

# Unsloth, --no-deps, outside the venv: tests/test_colab_paths.py imports it on the CPU (UNSLOTH_ALLOW_CPU=1) to check
# the GPU branch's import order. The course itself installs it on GPUs only.
UNSLOTH_CPU := build/unsloth-cpu
unsloth-cpu: $(UNSLOTH_CPU)/.installed
$(UNSLOTH_CPU)/.installed: requirements.txt | setup
	$(PY) -m pip install -q --no-deps --upgrade --target $(UNSLOTH_CPU) \
		$$($(PY) -c "from workbook.core.install import read_tagged; print(*(p for p in read_tagged('gpu-no-deps') if p.startswith('unsloth')))")
	touch $@

# Colab's kernel-side widget stack (the `# colab-widgets:` pins: ipywidgets 7.7.1, ipykernel 6.17.1, IPython 7.34),
# --no-deps, outside the venv: tests/ui/test_colab_widgets.py starts a kernel with it first on PYTHONPATH.
COLAB_WIDGETS := build/colab-widgets
colab-widgets: $(COLAB_WIDGETS)/.installed
$(COLAB_WIDGETS)/.installed: requirements.txt | setup
	rm -rf $(COLAB_WIDGETS)
	$(PY) -m pip install -q --no-deps --target $(COLAB_WIDGETS) \
		$$($(PY) -c "from workbook.core.install import read_tagged; print(*read_tagged('colab-widgets'))")
	touch $@

sync: setup
	$(PY) -m tools.nbsync

# The GGUF export tools of chapter 06: compiles llama-cpp-python (~5 min on 2 cores; skipped once installed).
gguf: setup
	$(PY) -m workbook.core.gguf_export

# The GGUF export path end to end (fails, rather than skips, when the tools are missing).
test-gguf: gguf
	WORKBOOK_FAST=1 WORKBOOK_REQUIRE_GGUF=1 $(PY) -m pytest tests/test_gguf_export.py -q

# The labs headless on CPU, fully offline, in order: Lab 2 starts from Lab 1's packet and adapter, Lab 3 from Lab 2's.
# Each adds its section to the one packet in labs/evidence/ (Lab 1 the folder itself, then lab2/ and lab3/) and
# checks it. `make lab1 FAST=1` runs the small version.
LAB_NOTEBOOK_lab1 := labs/lab1_qlora_sft.ipynb
LAB_NOTEBOOK_lab2 := labs/lab2_preference_alignment.ipynb
LAB_NOTEBOOK_lab3 := labs/lab3_ship_and_rollback.ipynb
lab3: gguf
lab1 lab2 lab3: setup
	HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1 CUDA_VISIBLE_DEVICES= \
		$(PY) -m workbook.core.notebook_runner $(LAB_NOTEBOOK_$@) $(if $(FAST),--fast,)
	$(PY) -m workbook.evidence labs/evidence --lab $@

# The GPU path measured on any CUDA machine (bench/gpu.py, README "GPU check"); not part of `make test`. It needs no
# model hub (stand-ins) and no venv: GPU_PY defaults to the venv's Python if there is one, else python3.
# WORKBOOK_EMULATE_T4=1 makes the GPU take the T4 branch, WORKBOOK_UNSLOTH=1 adds the Unsloth steps, and
# GPU_CHECK_ARGS adds options (--hub, --steps ...).
.PHONY: gpu-check
GPU_PY ?= $(if $(wildcard $(PY)),$(PY),$(PYTHON))
gpu-check:
	$(GPU_PY) -m bench.gpu $(GPU_CHECK_ARGS)

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
	WORKBOOK_FAST=1 WORKBOOK_REQUIRE_SANDBOX=1 $(PY) -m pytest tests/assessments

bench-autograde: setup assess-setup
	$(PY) -m bench.autograde

# ---- The course book (README "The course book") and the real-browser tests.
# The builder and Selenium are the `# book:` pins of requirements.txt, installed into the venv (not into Colab).
BOOK_STAMP := $(VENV)/.workbook-book-installed
book-setup: $(BOOK_STAMP)
$(BOOK_STAMP): requirements.txt | setup
	$(PY) -m pip install -q -c requirements.txt \
		$$($(PY) -c "from workbook.core.install import read_tagged; print(*read_tagged('book'))")
	touch $@

# build/book/html from the executed copies in build/executed/ (the notebook tests leave them); a notebook that never
# ran is executed once, in FAST mode (FULL=1: full mode, as the published site). Checks the site it built.
book: book-setup
	$(PY) -m tools.book $(if $(FULL),--full,)

# Debian's headless Chromium and its chromedriver (one source package, so their versions always match).
browser-setup:
	@{ command -v chromium && command -v chromedriver; } >/dev/null 2>&1 || \
		{ $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium chromium-driver; }
	@chromium --version

# Every widget in JupyterLab + Chromium (one server, a small notebook per widget, screenshots in build/browser/),
# and the built book in the browser. Run after `make book`.
browser: book-setup browser-setup
	WORKBOOK_FAST=1 WORKBOOK_BROWSER=1 WORKBOOK_REQUIRE_BROWSER=1 $(PY) -m pytest tests/browser --durations=10
