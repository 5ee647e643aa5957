"""workbook.ui.hints: the busy line the interactive widgets carry."""

from workbook.ui.hints import BUSY_HINT, busy_hint


def test_the_busy_hint_says_why_a_widget_may_not_answer():
    assert "busy" in BUSY_HINT and BUSY_HINT in busy_hint().value
