"""The preference picker's buttons drive a PreferenceSession; the pair renders as escaped HTML."""

from __future__ import annotations

import pytest

from workbook.topics.preferences import CandidatePair, PreferenceSession
from workbook.ui.picker import picker_widget, render_pair


def make_pairs(n: int = 3) -> list[CandidatePair]:
    return [CandidatePair(f"p{i}", f"prompt {i}", f"answer A{i}", f"answer B{i}", "test") for i in range(n)]


def test_widget_buttons_drive_the_session(tmp_path):
    pytest.importorskip("ipywidgets")
    session = PreferenceSession(make_pairs(2), tmp_path / "picks.jsonl")
    now = iter(range(0, 1000, 10)).__next__  # ten seconds between clicks: no click is a double click
    box = picker_widget(session, clock=now)
    view, buttons, hint, message = box.children
    assert "busy" in hint.value
    by_name = {b.description: b for b in buttons.children}
    by_name["B"].click()
    assert session.records[-1]["choice"] == "B" and "Pair 2 of 2" in view.value
    by_name["Undo last pick"].click()
    assert not session.records and "Undid" in message.value
    by_name["Tie"].click()
    by_name["Skip"].click()
    by_name["A"].click()
    assert "All 2 pairs are judged" in message.value


def test_a_double_click_records_one_pick(tmp_path):
    pytest.importorskip("ipywidgets")
    session = PreferenceSession(make_pairs(3), tmp_path / "picks.jsonl")
    times = iter([100.0, 100.0, 100.1, 103.0, 103.0])  # a click reads the clock, a recorded pick reads it again
    box = picker_widget(session, clock=times.__next__)
    view, buttons, hint, message = box.children
    a = next(b for b in buttons.children if b.description == "A")
    a.click()
    a.click()  # 0.1 s later: the second click of a double click
    assert len(session.records) == 1 and "Pair 2 of 3" in view.value and "double click" in message.value
    a.click()  # three seconds later: a real pick
    assert len(session.records) == 2


def test_render_pair_escapes_and_reports_progress():
    page = render_pair(CandidatePair("p", "<b>?</b>", "A & B", "no", "test"), (1, 3))
    assert "Pair 2 of 3" in page and "&lt;b&gt;" in page and "A &amp; B" in page
    assert "All 3 pairs judged" in render_pair(None, (3, 3))
