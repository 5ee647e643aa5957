"""The preference picker's view (chapter 03): one pair as HTML, and buttons that drive a PreferenceSession."""

from __future__ import annotations

import html
import time
from typing import Any

from workbook.topics.preferences import CandidatePair, NoPairsLeftError, PreferenceFileError, PreferenceSession
from workbook.ui.hints import busy_hint

DOUBLE_CLICK_S = 0.3  # a second pick this soon after one is the same click twice: nobody reads a new pair that fast


def render_pair(pair: CandidatePair | None, progress: tuple[int, int]) -> str:
    """HTML for one pair: progress, prompt and the two answers side by side."""
    done, total = progress
    if pair is None:
        return f"<b>All {total} pairs judged.</b> Undo to change the last pick."
    cell = "flex:1;border:1px solid #bbb;border-radius:6px;padding:8px;margin:4px;white-space:pre-wrap"
    return (
        f"<div><b>Pair {done + 1} of {total}</b> &middot; source: {html.escape(pair.source)}</div>"
        f"<div style='margin:6px 0'><b>Prompt:</b> {html.escape(pair.prompt)}</div>"
        f"<div style='display:flex'><div style='{cell}'><b>A</b><br>{html.escape(pair.response_a)}</div>"
        f"<div style='{cell}'><b>B</b><br>{html.escape(pair.response_b)}</div></div>"
    )


def picker_widget(session: PreferenceSession, clock: Any = time.monotonic) -> Any:
    """A VBox with the pair, buttons A / B / Tie / Skip / Undo last pick, the busy hint and a message line.

    A pick within `DOUBLE_CLICK_S` of the previous one is ignored (a double click would judge the next pair unseen).
    """
    import ipywidgets as widgets

    view = widgets.HTML(render_pair(session.current, session.progress()))
    message = widgets.HTML("")
    buttons = {label: widgets.Button(description=label) for label in ("A", "B", "Tie", "Skip", "Undo last pick")}

    def refresh(note: str) -> None:
        view.value = render_pair(session.current, session.progress())
        message.value = note

    last_pick = [float("-inf")]

    def on_choice(button: Any) -> None:
        choice = button.description if button.description in ("A", "B") else button.description.lower()
        if clock() - last_pick[0] < DOUBLE_CLICK_S:
            message.value = "Ignored a second click straight after a pick (a double click): judge this pair."
            return
        try:
            record = session.pick(choice)
            last_pick[0] = clock()
            refresh(f"Recorded <b>{record['choice']}</b> for {record['pair_id']}.")
        except (NoPairsLeftError, PreferenceFileError) as error:
            refresh(f"<span style='color:#b00'>{error}</span>")

    def on_undo(_: Any) -> None:
        try:
            record = session.undo()
            refresh(f"Undid {record['choice']} on {record['pair_id']}.")
        except ValueError as error:
            refresh(f"<span style='color:#b00'>{error}</span>")

    for label, button in buttons.items():
        button.on_click(on_undo if label == "Undo last pick" else on_choice)
    return widgets.VBox([view, widgets.HBox(list(buttons.values())), busy_hint(), message])
