"""Time course notebooks headless, in FAST and/or full mode, and write the figures as JSON.

    .venv/bin/python -m bench.notebooks                                  # every notebook and solutions, FAST
    .venv/bin/python -m bench.notebooks chapters/04_peft_lora.ipynb --modes fast full

Each run executes the notebook in a fresh kernel, strict, as the test suite does
(workbook.core.notebook_runner.execute). Results
are merged into bench/results/notebooks.json, one entry per notebook and mode, each with the machine and its
load average before the run. The budgets are the issues' limits on the 2-core CPU machine.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import tempfile
from pathlib import Path

from bench.machine import describe
from tools.nbsync import course_notebooks, solution_notebooks
from workbook.core.config import ROOT
from workbook.core.notebook_runner import execute

RESULTS = ROOT / "bench" / "results" / "notebooks.json"
BUDGET_S = {"fast": 180, "full": 1200}  # lab 1: 180 s FAST, 900 s full (bench/lab1.py also checks its scores)
LAB_FULL_BUDGET_S = 900


def run(path: Path, mode: str) -> dict:
    """Execute one notebook; a failure is a result to record, not a crash."""
    machine = describe()
    error, seconds = None, None
    # A fresh checkpoint folder: a lab would otherwise resume a finished earlier run and time almost nothing.
    with tempfile.TemporaryDirectory(prefix="bench-outputs-") as outputs:
        os.environ["LAB1_OUTPUT_ROOT"] = outputs
        try:
            _, seconds = execute(path, fast=mode == "fast", timeout=3600, keep=False)
        except Exception as exc:
            error = f"{type(exc).__name__}: {str(exc).strip().splitlines()[-1][:300] if str(exc).strip() else ''}"
        finally:
            os.environ.pop("LAB1_OUTPUT_ROOT", None)
    budget = LAB_FULL_BUDGET_S if (mode == "full" and path.parent.name == "labs") else BUDGET_S[mode]
    return {
        "seconds": None if seconds is None else round(seconds, 1),
        "budget_s": budget,
        "within_budget": seconds is not None and seconds <= budget,
        "error": error,
        "measured_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine,
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: every chapter, lab and solutions notebook")
    parser.add_argument("--modes", nargs="+", choices=["fast", "full"], default=["fast"])
    args = parser.parse_args(argv)
    paths = [p.resolve() for p in args.notebooks] or [*course_notebooks(), *solution_notebooks()]
    report = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
    failed = False
    for mode in args.modes:
        for path in paths:
            key = path.relative_to(ROOT).as_posix()
            result = run(path, mode)
            report.setdefault(key, {})[mode] = result
            failed |= result["error"] is not None
            print(f"{key:<45} {mode:<5} {result['seconds'] or '-':>8} s  {result['error'] or 'ok'}", flush=True)
            RESULTS.parent.mkdir(parents=True, exist_ok=True)
            RESULTS.write_text(json.dumps(dict(sorted(report.items())), indent=2) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
