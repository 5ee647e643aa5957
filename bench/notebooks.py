"""Time course notebooks headless, in FAST and/or full mode, and write the figures as JSON.

    python bench/notebooks.py chapters/00_setup.ipynb --modes fast full --out bench/results/setup.json

Each run executes the notebook in a fresh kernel with nbclient, as the test suite does. The JSON records the
machine (CPU model, cores, RAM) and the load average before each run, because a busy machine slows every figure.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent


def machine() -> dict:
    """What the figures were measured on."""
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    mem_kb = next(
        int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal")
    )
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "ram_gb": round(mem_kb / 1024**2, 1),
        "gpu": None,
        "python": platform.python_version(),
        "os": platform.platform(),
    }


def run(path: Path, fast: bool) -> dict:
    """Execute one notebook; return its wall time and status."""
    os.environ["WORKBOOK_FAST"] = "1" if fast else "0"
    nb = nbformat.read(path, as_version=4)
    load = os.getloadavg()[0]
    start = time.perf_counter()
    error = None
    try:
        NotebookClient(
            nb, timeout=3600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
        ).execute()
    except Exception as exc:  # a failing notebook is a result to record, not a crash
        error = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"
    return {
        "notebook": path.relative_to(ROOT).as_posix(),
        "mode": "fast" if fast else "full",
        "seconds": round(time.perf_counter() - start, 1),
        "load_average_before": round(load, 2),
        "error": error,
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--modes", nargs="+", choices=["fast", "full"], default=["fast"])
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    results = [run(nb.resolve(), mode == "fast") for mode in args.modes for nb in args.notebooks]
    for r in results:
        print(f"{r['notebook']:<45} {r['mode']:<5} {r['seconds']:>8.1f} s  {r['error'] or 'ok'}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "measured_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(),
        "results": results,
    }
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    return 1 if any(r["error"] for r in results) else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
