"""The one line every interactive widget shows under its controls.

A widget's Python callback runs in the kernel, so while later cells still run ("Run All") a moved control cannot
answer yet. Core ipywidgets cannot see the kernel's state from the page, so the widget says so up front.
"""

from __future__ import annotations

from typing import Any

BUSY_HINT = (
    "If a control moves but nothing below it changes, the kernel is busy running other cells "
    "(● at the top right); the widget answers as soon as they finish."
)


def busy_hint() -> Any:
    """A small grey HTML line with `BUSY_HINT`."""
    import ipywidgets as widgets

    return widgets.HTML(f"<small style='color:#666'>{BUSY_HINT}</small>")
