"""Chapter 10 in full mode, once: held-out accuracy before/after the verifiable-reward GRPO run, the reward curve,
steps/s and generated tokens/s, the cost of one GRPO step next to one DPO step, and the machine it ran on.

    .venv/bin/python -m bench.online_rl            # full mode (budget 25 minutes on the 2-core CPU)
    .venv/bin/python -m bench.online_rl --fast     # FAST mode (budget 3 minutes)

The notebook runs strict (its claims are checks, `full_only` ones included in full mode) and writes the figures it
measured to build/online_rl/summary.json; they are merged into bench/results/online_rl.json with the wall time.
A failure (a claim that did not hold, a crash) is recorded, not hidden.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys

from bench.machine import describe
from workbook.core.config import ROOT
from workbook.core.notebook_runner import execute

NOTEBOOK = ROOT / "chapters" / "solutions" / "10_online_rl.ipynb"
SUMMARY = ROOT / "build" / "online_rl" / "summary.json"
RESULTS = ROOT / "bench" / "results" / "online_rl.json"
BUDGET_S = {"fast": 180, "full": 1500}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fast", action="store_true", help="FAST mode instead of full mode")
    mode = "fast" if parser.parse_args(argv).fast else "full"
    machine = describe()
    SUMMARY.unlink(missing_ok=True)
    error, seconds = None, None
    try:
        _, seconds = execute(NOTEBOOK, fast=mode == "fast", timeout=1500)
    except Exception as exc:
        error = f"{type(exc).__name__}: {str(exc).strip().splitlines()[-1][:300] if str(exc).strip() else ''}"
    result = {
        "seconds": None if seconds is None else round(seconds, 1),
        "budget_s": BUDGET_S[mode],
        "within_budget": seconds is not None and seconds <= BUDGET_S[mode],
        "error": error,
        "figures": json.loads(SUMMARY.read_text()) if SUMMARY.is_file() else None,
        "measured_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine,
        "load_average_after": describe()["load_average"],
    }
    report = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
    report[mode] = result
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 1 if error else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
