"""-m workbook.core.notebook_runner: the notebook executor behind the test suite, `make lab1` and bench/notebooks.py."""

from __future__ import annotations

import asyncio
from queue import Empty

import pytest

from workbook.core import notebook_runner as run_notebook


class QuietChannel:
    """A channel whose long polls never see the message (a missed wake-up); a short poll finds it on try 3."""

    def __init__(self) -> None:
        self.calls: list[float | None] = []

    async def get_msg(self, timeout: float | None = None) -> dict:
        self.calls.append(timeout)
        if timeout is None or timeout > run_notebook.POLL_SLICE_S or len(self.calls) < 3:
            await asyncio.sleep(0)
            raise Empty
        return {"msg": "reply"}


def test_a_reply_missed_by_a_long_poll_is_found_by_the_next_slice(monkeypatch):
    monkeypatch.setattr(run_notebook, "POLL_SLICE_S", 0.01)
    channel = QuietChannel()
    run_notebook._poll_in_slices(channel)
    assert asyncio.run(channel.get_msg(timeout=None)) == {"msg": "reply"}
    assert len(channel.calls) == 3 and all(t <= 0.01 for t in channel.calls)


def test_the_overall_timeout_still_holds(monkeypatch):
    monkeypatch.setattr(run_notebook, "POLL_SLICE_S", 0.01)

    class Silent:
        async def get_msg(self, timeout=None):
            await asyncio.sleep(timeout or 0)
            raise Empty

    channel = Silent()
    run_notebook._poll_in_slices(channel)
    with pytest.raises(Empty):
        asyncio.run(channel.get_msg(timeout=0.05))
