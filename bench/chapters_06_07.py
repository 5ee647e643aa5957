"""Time chapters 06 and 07 headless, FAST and (with --full) full mode, and the one-off llama.cpp build.

    .venv/bin/python bench/chapters_06_07.py            # FAST mode only
    .venv/bin/python bench/chapters_06_07.py --full     # FAST and full mode
    .venv/bin/python bench/chapters_06_07.py --build    # also time a cold llama-cpp-python build (no pip cache)

Writes bench/results/chapters_06_07.json with the machine described.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
NOTEBOOKS = ["chapters/06_quantization_gguf.ipynb", "chapters/07_checkpoints_adapters.ipynb"]
RESULT = ROOT / "bench" / "results" / "chapters_06_07.json"


def machine() -> dict:
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = next((line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if line.startswith("model name")), "")
    meminfo = Path("/proc/meminfo").read_text().split() if Path("/proc/meminfo").exists() else ["", "0"]
    return {
        "cpu_count": os.cpu_count(),
        "cpu_model": model,
        "ram_gb": round(int(meminfo[1]) / 1e6, 1),
        "python": platform.python_version(),
        "load_average_at_start": os.getloadavg(),
        "note": "shared machine: several engineers ran notebooks and builds at the same time; times are pessimistic",
    }


def run_notebook(path: str, fast: bool) -> float:
    nb = nbformat.read(ROOT / path, as_version=4)
    previous = os.environ.get("WORKBOOK_FAST")
    os.environ["WORKBOOK_FAST"] = "1" if fast else "0"
    try:
        start = time.perf_counter()
        NotebookClient(nb, timeout=1800, kernel_name="python3",
                       resources={"metadata": {"path": str((ROOT / path).parent)}}).execute()  # fmt: skip
        return round(time.perf_counter() - start, 1)
    finally:
        if previous is None:
            os.environ.pop("WORKBOOK_FAST", None)
        else:
            os.environ["WORKBOOK_FAST"] = previous


def time_cold_build() -> dict:
    """Build the llama-cpp-python wheel from source with pip's cache disabled (what a first `make gguf` costs)."""
    from helpers.gguf_export import LLAMA_CPP_PYTHON

    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-cache-dir", "-q", "-w", tmp, LLAMA_CPP_PYTHON],
            capture_output=True, text=True,
        )  # fmt: skip
        return {"package": LLAMA_CPP_PYTHON, "seconds": round(time.perf_counter() - start, 1),
                "ok": result.returncode == 0, "load_average_after": os.getloadavg()}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="also run full mode")
    parser.add_argument("--build", action="store_true", help="also time a cold llama-cpp-python build")
    args = parser.parse_args()
    report = json.loads(RESULT.read_text()) if RESULT.exists() else {}
    report["machine"] = machine()
    from helpers.gguf_export import status

    report["gguf_export_ready"] = status()["ready"]
    for mode, fast in [("fast", True), ("full", False)]:
        if mode == "full" and not args.full:
            continue
        report[mode] = {path: run_notebook(path, fast) for path in NOTEBOOKS}
        print(mode, report[mode])
    if args.build:
        report["llama_cpp_python_cold_build"] = time_cold_build()
        print(report["llama_cpp_python_cold_build"])
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps(report, indent=2) + "\n")
    print("wrote", RESULT.relative_to(ROOT))


if __name__ == "__main__":
    main()
