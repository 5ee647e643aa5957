"""Time chapter 03 (RLHF and DPO) headless in FAST and full mode; write bench/results/chapter_03.json.

.venv/bin/python bench/chapter_03.py            # FAST and full
.venv/bin/python bench/chapter_03.py --modes fast
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
NOTEBOOK = ROOT / "chapters" / "03_rlhf_dpo.ipynb"
RESULT = ROOT / "bench" / "results" / "chapter_03.json"
BUDGET_S = {"fast": 180, "full": 1200}  # the limits on a 2-core CPU


def machine() -> dict:
    """CPU count and model, RAM, load at the start, and the software versions that matter here."""
    cpu_model = (
        next(
            (
                line.split(":", 1)[1].strip()
                for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")
            ),
            platform.processor(),
        )
        if Path("/proc/cpuinfo").exists()
        else platform.processor()
    )
    mem_kb = (
        next(
            (
                int(line.split()[1])
                for line in Path("/proc/meminfo").read_text().splitlines()
                if line.startswith("MemTotal")
            ),
            0,
        )
        if Path("/proc/meminfo").exists()
        else 0
    )
    import torch
    import transformers
    import trl

    return {
        "cpu_count": os.cpu_count(),
        "cpu_model": cpu_model,
        "ram_gb": round(mem_kb / 1024**2, 1),
        "load_average_at_start": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "trl": trl.__version__,
        "note": "The machine was shared with other engineers' jobs while measuring; idle timings are lower.",
    }


def run(mode: str) -> dict:
    """Execute the notebook once in `mode` and return its wall time and the outputs' closing line."""
    nb = nbformat.read(NOTEBOOK, as_version=4)
    env_before = os.environ.get("WORKBOOK_FAST")
    if mode == "fast":
        os.environ["WORKBOOK_FAST"] = "1"
    else:
        os.environ.pop("WORKBOOK_FAST", None)
    start = time.perf_counter()
    try:
        NotebookClient(
            nb, timeout=3600, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOK.parent)}}
        ).execute()
    finally:
        if env_before is None:
            os.environ.pop("WORKBOOK_FAST", None)
        else:
            os.environ["WORKBOOK_FAST"] = env_before
    seconds = time.perf_counter() - start
    closing = "".join(o.get("text", "") for o in nb.cells[-1].get("outputs", [])).strip()
    return {
        "seconds": round(seconds, 1),
        "budget_s": BUDGET_S[mode],
        "within_budget": seconds <= BUDGET_S[mode],
        "closing_note": closing,
        "load_average_at_end": os.getloadavg() if hasattr(os, "getloadavg") else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--modes", nargs="+", choices=["fast", "full"], default=["fast", "full"])
    modes = parser.parse_args().modes
    results = json.loads(RESULT.read_text()) if RESULT.exists() else {}
    results.update({"notebook": NOTEBOOK.relative_to(ROOT).as_posix(), "machine": machine()})
    for mode in modes:
        print(f"running {NOTEBOOK.name} in {mode} mode ...", flush=True)
        results[mode] = run(mode) | {"measured_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        print(f"  {results[mode]['seconds']} s", flush=True)
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {RESULT.relative_to(ROOT)}")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
