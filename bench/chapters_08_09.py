"""Time chapters 08 and 09 headless, in FAST mode (default) and optionally full mode.

    .venv/bin/python bench/chapters_08_09.py            # FAST only
    .venv/bin/python bench/chapters_08_09.py --full     # FAST, then full mode

Writes bench/results/chapters_08_09.json with the machine described. Timings are wall-clock on whatever else
the machine is doing; the JSON records the load average so a reader can judge.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ["chapters/08_toolkit_distill_prune_merge.ipynb", "chapters/09_data_and_evaluation.ipynb"]
RESULT = ROOT / "bench" / "results" / "chapters_08_09.json"


def machine() -> dict:
    cpu_model = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
         if line.startswith("model name")),
        platform.processor(),
    )
    mem_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                  if line.startswith("MemTotal"))
    return {
        "cpu_count": os.cpu_count(),
        "cpu_model": cpu_model,
        "ram_gb": round(mem_kb / 1024**2, 1),
        "python": sys.version.split()[0],
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS", "unset (torch uses every core)"),
        "note": "shared development machine: other engineers' jobs ran at the same time, so these timings are "
        "slower than on an idle machine; see load_average_before/after",
    }


def run(path: str, fast: bool) -> dict:
    nb = nbformat.read(ROOT / path, as_version=4)
    os.environ["WORKBOOK_FAST"] = "1" if fast else "0"
    load_before = os.getloadavg()
    start = time.perf_counter()
    error = None
    try:
        NotebookClient(nb, timeout=1800, kernel_name="python3",
                       resources={"metadata": {"path": str((ROOT / path).parent)}}).execute()
    except Exception as exc:  # record the failure in the result instead of losing the other timings
        error = f"{type(exc).__name__}: {str(exc)[-300:]}"
    seconds = round(time.perf_counter() - start, 1)
    executed = ROOT / "build" / "executed"
    executed.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, executed / f"{Path(path).stem}.{'fast' if fast else 'full'}.ipynb")  # outputs, to read
    return {"notebook": path, "mode": "FAST" if fast else "full", "seconds": seconds, "error": error,
            "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in os.getloadavg()]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--full", action="store_true", help="also time full mode (minutes per notebook)")
    args = parser.parse_args()
    runs = [run(path, fast=True) for path in NOTEBOOKS]
    if args.full:
        runs += [run(path, fast=False) for path in NOTEBOOKS]
    result = {"measured_at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": machine(),
              "budget": {"FAST_seconds": 90, "full_seconds": 1200}, "runs": runs}
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps(result, indent=2) + "\n")
    for r in runs:
        print(f"{r['notebook']:<48} {r['mode']:<5} {r['seconds']:>7.1f} s  {r['error'] or 'ok'}")


if __name__ == "__main__":
    main()
