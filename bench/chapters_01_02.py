"""Time chapters 01 and 02 headless in FAST and full mode; write bench/results/chapters_01_02.json.

Wall time depends on how busy the machine is; kernel CPU seconds (user + system, all threads) do much less,
and bound the idle-machine wall time from above on one core (two cores divide it by up to two).

    .venv/bin/python bench/chapters_01_02.py            # both modes
    .venv/bin/python bench/chapters_01_02.py --fast-only
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ["chapters/01_post_training_overview.ipynb", "chapters/02_fine_tuning_sft.ipynb"]
RESULT = ROOT / "bench" / "results" / "chapters_01_02.json"


def machine() -> dict:
    """CPU count, CPU model, RAM and load, so timings can be compared across machines."""
    cpu_model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                      if line.startswith("model name")), platform.processor())
    mem_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                  if line.startswith("MemTotal"))
    return {"cpu_count": os.cpu_count(), "cpu_model": cpu_model, "ram_gb": round(mem_kb / 1e6, 1),
            "load_average_at_start": os.getloadavg(), "python": sys.version.split()[0],
            "note": "shared development machine: other engineers' jobs ran at the same time, so times are slower "
                    "than on an idle machine"}


def run(path: str, fast: bool, timeout: int) -> dict:
    """Execute one notebook in a fresh kernel; return its wall time or the error."""
    nb = nbformat.read(ROOT / path, as_version=4)
    previous = os.environ.get("WORKBOOK_FAST")
    if fast:
        os.environ["WORKBOOK_FAST"] = "1"
    else:
        os.environ.pop("WORKBOOK_FAST", None)
    start, cpu_start = time.perf_counter(), os.times()
    try:
        NotebookClient(nb, timeout=timeout, kernel_name="python3",
                       resources={"metadata": {"path": str((ROOT / path).parent)}}).execute()
        status = "ok"
    except Exception as error:  # a failed run is a result too: record it and go on
        status = f"{type(error).__name__}: {str(error)[-300:]}"
    finally:
        if previous is None:
            os.environ.pop("WORKBOOK_FAST", None)
        else:
            os.environ["WORKBOOK_FAST"] = previous
    executed = ROOT / "build" / "executed" / f"{'fast' if fast else 'full'}_{Path(path).name}"
    executed.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, executed)  # the executed copy, for reading the outputs
    cpu_end = os.times()  # the kernel is a child process, reaped when the client shuts it down
    kernel_cpu = sum(cpu_end[2:4]) - sum(cpu_start[2:4])  # children_user + children_system
    return {"notebook": path, "mode": "FAST" if fast else "full", "seconds": round(time.perf_counter() - start, 1),
            "kernel_cpu_seconds": round(kernel_cpu, 1), "status": status, "load_average_after": os.getloadavg()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fast-only", action="store_true", help="skip the full-mode runs")
    options = parser.parse_args()
    results = {"machine": machine(), "runs": []}
    modes = [True] if options.fast_only else [True, False]
    for fast in modes:
        for path in NOTEBOOKS:
            result = run(path, fast, timeout=1800 if fast else 3600)
            print(json.dumps(result))
            results["runs"].append(result)
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {RESULT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
