"""Loss-masking spans as coloured token chips (chapter 02)."""

from __future__ import annotations

import html
from collections.abc import Sequence

MASKED_STYLE = "background:rgba(99,102,241,0.25)"
TRAINED_STYLE = "background:rgba(34,197,94,0.35)"


def spans_html(spans: Sequence[tuple[str, bool]]) -> str:
    """Tokens as coloured chips: blue = label -100 (no loss), green = trained."""
    chips = []
    for text, trained in spans:
        shown = html.escape(text).replace("\n", "\\n")
        style = TRAINED_STYLE if trained else MASKED_STYLE
        chips.append(
            f"<span style='{style};padding:1px 2px;margin:1px;border-radius:3px;"
            f"font-family:monospace;white-space:pre'>{shown}</span>"
        )
    legend = (
        f"<div><span style='{MASKED_STYLE};padding:0 6px'>label = -100 (masked)</span> "
        f"<span style='{TRAINED_STYLE};padding:0 6px'>trained (loss computed)</span></div>"
    )
    return legend + "<div style='line-height:1.9'>" + "".join(chips) + "</div>"
