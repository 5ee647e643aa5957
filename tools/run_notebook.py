"""Execute a course notebook headless (nbclient) and keep the executed copy.

    .venv/bin/python tools/run_notebook.py labs/lab1_qlora_sft.ipynb [--fast] [--timeout 1800]

The kernel inherits this process's environment; `--fast` sets WORKBOOK_FAST=1. The executed notebook goes to
build/executed/<name>. Exits non-zero, naming the failing cell, when a cell raises.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parent.parent


def run(path: Path, fast: bool, timeout: int) -> float:
    """Execute the notebook in its own folder; returns the wall time in seconds."""
    if fast:
        os.environ["WORKBOOK_FAST"] = "1"
    nb = nbformat.read(path, as_version=4)
    resources = {"metadata": {"path": str(path.parent)}}  # run in the notebook's folder, as Jupyter does
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", resources=resources)
    start = time.perf_counter()
    try:
        client.execute()
    finally:
        executed = ROOT / "build" / "executed"
        executed.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, executed / path.name)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebook", type=Path)
    parser.add_argument("--fast", action="store_true", help="set WORKBOOK_FAST=1 (small sizes)")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds allowed per cell")
    args = parser.parse_args(argv)
    if not args.notebook.is_file():
        print(f"{args.notebook} does not exist.", file=sys.stderr)
        return 2
    try:
        seconds = run(args.notebook.resolve(), args.fast, args.timeout)
    except CellExecutionError as error:
        print(f"{args.notebook} failed:\n{str(error)[-3000:]}", file=sys.stderr)
        return 1
    print(f"{args.notebook}: executed in {seconds:.1f} s -> build/executed/{args.notebook.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
