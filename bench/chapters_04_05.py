"""Time chapters 04 and 05 headless, in FAST and/or full mode, and record the machine they ran on.

    python bench/chapters_04_05.py            # FAST mode only
    python bench/chapters_04_05.py --full     # FAST and full mode

Writes bench/results/chapters_04_05.json. Timings on a shared machine are upper bounds: the note says so.
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
NOTEBOOKS = ["chapters/04_peft_lora.ipynb", "chapters/05_qlora.ipynb"]
RESULT = ROOT / "bench" / "results" / "chapters_04_05.json"


def machine() -> dict[str, object]:
    """CPU count, CPU model, RAM and load: enough to compare runs across machines."""
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = next((line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if line.startswith("model name")), "")
    meminfo = Path("/proc/meminfo").read_text() if Path("/proc/meminfo").exists() else ""
    total_kb = next((int(line.split()[1]) for line in meminfo.splitlines() if line.startswith("MemTotal")), 0)
    return {
        "cpu_count": os.cpu_count(),
        "cpu_model": model,
        "ram_gb": round(total_kb / 1e6, 1),
        "python": platform.python_version(),
        "load_average_at_start": list(os.getloadavg()),
    }


def run(path: str, fast: bool) -> dict[str, object]:
    """Execute one notebook in a fresh kernel; return its wall time and whether it finished."""
    notebook = nbformat.read(ROOT / path, as_version=4)
    previous = os.environ.get("WORKBOOK_FAST")
    os.environ["WORKBOOK_FAST"] = "1" if fast else "0"
    start = time.perf_counter()
    error = None
    try:
        NotebookClient(
            notebook,
            timeout=1800,
            kernel_name="python3",
            resources={"metadata": {"path": str(ROOT / path).rsplit("/", 1)[0]}},
        ).execute()
    except Exception as exc:  # record the failure and keep timing the other notebooks
        error = f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}" if str(exc) else type(exc).__name__
    finally:
        if previous is None:
            os.environ.pop("WORKBOOK_FAST", None)
        else:
            os.environ["WORKBOOK_FAST"] = previous
    return {
        "notebook": path,
        "mode": "fast" if fast else "full",
        "seconds": round(time.perf_counter() - start, 1),
        "ok": error is None,
        "error": error,
        "load_average_after": list(os.getloadavg()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="also time full mode (minutes per notebook)")
    args = parser.parse_args()
    info = machine()
    runs = [run(path, fast=True) for path in NOTEBOOKS]
    if args.full:
        runs += [run(path, fast=False) for path in NOTEBOOKS]
    result = {
        "machine": info,
        "note": "Measured on a machine shared with other engineers' jobs; the load averages show how busy it was. "
        "Idle-machine times are lower.",
        "budget_seconds": {"fast": 90, "full": 1200},
        "runs": runs,
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    sys.exit(0 if all(r["ok"] for r in runs) else 1)


if __name__ == "__main__":
    main()
