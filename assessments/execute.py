"""nbgrader's Execute with per-submission limits the sandbox cannot set (finding 6 of issue 14).

- Output: a notebook's outputs may total `max_output_bytes` (WORKBOOK_OUTPUT_MB, default 16 MiB); past that, output
  messages are dropped in the grader (they are never accumulated in its memory) and the cell gets one note. One
  message can never be large: the kernel client refuses any frame over 4 MiB (`sandbox.message_limits`, ZeroMQ's
  MAXMSGSIZE, checked from the frame's header before its body is read) and queues at most 64 messages per
  channel. ZeroMQ then drops that connection; it is re-made before the next cell, which gets the note.
- Wall time: a submission may run `submission_timeout` seconds in all (WORKBOOK_SUBMISSION_TIMEOUT, default ten
  cell timeouts); later cells are not run and fail with a message saying so.
- A kernel that ignores the interrupt at a cell timeout (e.g. a cell that ignores SIGINT) is detected: the
  interrupted cell's reply does not come within `grace` seconds. Later cells are then not sent to it (each would
  wait its full timeout); they fail with a message saying why. The rest of the class is graded as usual.

Each limit hit is one clear error output in the affected cells (which therefore score 0), so the feedback says it.
"""

from __future__ import annotations

import asyncio
import json
import os
import time

import zmq
from jupyter_core.utils import run_sync
from nbformat.v4 import new_output
from nbgrader.preprocessors import Execute
from traitlets import Integer
from zmq.utils.monitor import recv_monitor_message

from assessments.isolation import MARK


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    return int(value) if value.isdigit() and int(value) > 0 else default


class LimitedExecute(Execute):
    """Execute with an output budget, a wall-time budget, and no waiting on a kernel that ignored an interrupt."""

    max_output_bytes = Integer(16 * 2**20).tag(config=True)
    submission_timeout = Integer(0, help="seconds for the whole notebook (0: ten cell timeouts)").tag(config=True)
    grace = Integer(5, help="seconds an interrupted kernel has to answer again").tag(config=True)

    async def async_start_new_kernel_client(self):
        """The client, with a watch on its channels: ZeroMQ closes a connection that brought a frame over the
        client's size limit (sandbox.message_limits) and does not re-make it; `_reconnect_lost` does."""
        kc = await super().async_start_new_kernel_client()
        self._watches = {}
        for channel in ("iopub", "shell"):
            socket = getattr(kc, f"{channel}_channel").socket
            monitor = socket.get_monitor_socket(zmq.EVENT_DISCONNECTED)
            self._watches[channel] = (socket, zmq.Socket.shadow(monitor.underlying), monitor)
        return kc

    start_new_kernel_client = run_sync(async_start_new_kernel_client)

    def _reconnect_lost(self) -> None:
        """Re-make each channel connection ZeroMQ dropped (an oversized message), before the next cell."""
        repaired = False
        for channel, (socket, events, _) in getattr(self, "_watches", {}).items():
            lost = False
            while True:
                try:
                    lost |= recv_monitor_message(events, zmq.NOBLOCK)["event"] == zmq.EVENT_DISCONNECTED
                except zmq.Again:
                    break
            if lost:
                url = self.kc._make_url(channel)
                try:
                    socket.disconnect(url)
                except zmq.ZMQError:
                    pass
                socket.connect(url)
                self.log.warning("Kernel sent a message over the size limit on %s: it was dropped", channel)
                repaired = True
                if getattr(self, "_last_cell", None) is not None:
                    self._last_cell.outputs.append(new_output("stream", name="stdout", text=(
                        "[a message of this cell over the grader's size limit was dropped]\n")))
        if repaired:  # wait until the kernel's messages reach us again (a re-made subscription takes a moment)
            try:
                run_sync(self.kc.wait_for_ready)(timeout=self.startup_timeout)
            except RuntimeError as error:
                self.log.warning("Kernel channels not back after a dropped message: %s", error)

    def preprocess(self, nb, resources=None, km=None):
        self._output_bytes, self._started, self._stopped = 0, None, None
        self._max_output = _env_int("WORKBOOK_OUTPUT_MB", 0) * 2**20 or self.max_output_bytes
        budget = _env_int("WORKBOOK_SUBMISSION_TIMEOUT", 0) or self.submission_timeout
        self._budget = budget or 10 * (self.timeout or 60)
        return super().preprocess(nb, resources, km=km)

    def _fail(self, cell, ename: str, evalue: str):
        cell.outputs = [new_output("error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"])]
        cell.execution_count = None
        return cell

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code" or not cell.source.strip():
            return super().preprocess_cell(cell, resources, index)
        self._reconnect_lost()
        self._started = self._started or time.monotonic()
        if self._stopped:
            return self._fail(cell, "SubmissionStopped", self._stopped), resources
        if time.monotonic() - self._started > self._budget:
            self._stopped = (f"the submission used its {self._budget} s of grading time; this cell and the ones "
                             "after it were not run")
            return self._fail(cell, "SubmissionTimeLimit", self._stopped), resources
        self._last_cell = cell
        return super().preprocess_cell(cell, resources, index)

    async def _async_poll_for_reply(self, msg_id, *args, **kwargs):
        self._pending = msg_id  # the execute request a timeout would interrupt
        return await super()._async_poll_for_reply(msg_id, *args, **kwargs)

    async def _async_handle_timeout(self, timeout, cell=None):
        reply = await super()._async_handle_timeout(timeout, cell)
        if self.interrupt_on_timeout and not await self._interrupted(getattr(self, "_pending", None)):
            self._stopped = (f"the kernel ignored the interrupt after a cell ran past its {timeout} s (does the code "
                             "ignore SIGINT?); later cells were not run")
            self.log.warning("Kernel ignored the interrupt: %s", self._stopped)
        return reply

    async def _interrupted(self, msg_id) -> bool:
        """Did the interrupted cell finish (its execute_reply arrived) within `grace` seconds of the interrupt?"""
        deadline = time.monotonic() + self.grace
        try:
            while time.monotonic() < deadline:
                msg = await asyncio.wait_for(self.kc.get_shell_msg(), timeout=max(deadline - time.monotonic(), 0.1))
                if msg.get("parent_header", {}).get("msg_id") == msg_id:
                    return True
        except Exception:  # noqa: BLE001 - no reply in time, or a broken channel: the interrupt did not take
            return False
        return False

    def output(self, outs, msg, display_id, cell_index):
        size = len(json.dumps(msg.get("content", {}), default=str))
        self._output_bytes += size
        recorded = MARK in str(msg.get("content", {}).get("text", "")) and size < 4096  # a hidden test's value
        if self._output_bytes > self._max_output and not recorded:
            if not getattr(self, "_noted", None) == cell_index:
                self._noted = cell_index
                note = new_output("stream", name="stdout",
                                  text=f"[output beyond {self._max_output // 2**20} MiB for this submission dropped]\n")
                outs.append(note)
                return note
            return None
        return super().output(outs, msg, display_id, cell_index)
