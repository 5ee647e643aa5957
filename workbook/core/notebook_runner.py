"""Execute a course notebook headless (nbclient) and keep the executed copy.

    .venv/bin/python -m workbook.core.notebook_runner labs/lab1_qlora_sft.ipynb [--fast] [--timeout 1800]

The kernel inherits this process's environment; `--fast` sets WORKBOOK_FAST=1, and WORKBOOK_STRICT=1 is always set,
so a claim the text makes that does not hold (`workbook.core.checks.expect`) fails the run. The executed notebook
goes to build/executed/<path inside the repository>. Exits non-zero, naming the failing cell, when a cell raises.
The test suite and the notebook benchmark execute notebooks through `execute` below.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from queue import Empty
from typing import Any

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from workbook.core.checks import STRICT_ENV
from workbook.core.config import ROOT

EXECUTED = ROOT / "build" / "executed"
POLL_SLICE_S = 1.0


def _poll_in_slices(channel: Any) -> None:
    """Make `channel.get_msg` wait in short slices instead of one long poll.

    After a burst of widget messages, an asyncio zmq poll can miss the wake-up for a reply that has already
    arrived (jupyter/nbclient#312): the cell then hangs, with the kernel idle, until the cell timeout. A fresh
    poll sees the queued message at once, so re-polling every second bounds that stall to one second.
    """
    wait_for_message = channel.get_msg

    async def get_msg(timeout: float | None = None) -> dict[str, Any]:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = POLL_SLICE_S if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                return await wait_for_message(timeout=min(POLL_SLICE_S, left))
            except Empty:
                if deadline is not None and time.monotonic() >= deadline:
                    raise

    channel.get_msg = get_msg


class SteadyClient(NotebookClient):
    """A NotebookClient whose shell and IOPub channels re-poll every second (see `_poll_in_slices`)."""

    async def async_start_new_kernel_client(self) -> Any:
        client = await super().async_start_new_kernel_client()
        _poll_in_slices(client.shell_channel)
        _poll_in_slices(client.iopub_channel)
        return client


def executed_copy(path: Path) -> Path:
    """Where `execute` keeps the executed copy of a course notebook: build/executed/<path inside the repository>."""
    path = path.resolve()
    return EXECUTED / (path.relative_to(ROOT) if path.is_relative_to(ROOT) else path.name)


def execute(path: Path, *, fast: bool, timeout: int, keep: bool = True) -> tuple[nbformat.NotebookNode, float]:
    """Execute the notebook strict in its own folder, as Jupyter does; returns it and the wall time in seconds.

    WORKBOOK_FAST and WORKBOOK_STRICT are set for the kernel and restored afterwards. With `keep`, the executed
    copy (outputs and widget state included, also after a failure) is written to `executed_copy(path)`.
    """
    nb = nbformat.read(path, as_version=4)
    previous = {name: os.environ.get(name) for name in ("WORKBOOK_FAST", STRICT_ENV)}
    os.environ.update({"WORKBOOK_FAST": "1" if fast else "0", STRICT_ENV: "1"})
    start = time.perf_counter()
    try:
        SteadyClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
                     ).execute()  # fmt: skip
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        if keep:
            copy = executed_copy(path)
            copy.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, copy)
    return nb, time.perf_counter() - start


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
        _, seconds = execute(args.notebook.resolve(), fast=args.fast, timeout=args.timeout)
    except CellExecutionError as error:
        print(f"{args.notebook} failed:\n{str(error)[-3000:]}", file=sys.stderr)
        return 1
    print(f"{args.notebook}: executed in {seconds:.1f} s -> {executed_copy(args.notebook).relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
