"""Side-by-side tables of model outputs (base vs chat, base vs fine-tuned) as HTML and plain text."""

from __future__ import annotations

import html
import textwrap
from collections.abc import Sequence


def _check(rows: Sequence[Sequence[str]], headers: Sequence[str]) -> None:
    if not headers:
        raise ValueError("Give at least one column header.")
    bad = [i for i, row in enumerate(rows) if len(row) != len(headers)]
    if bad:
        raise ValueError(f"Rows {bad} do not have {len(headers)} cells (one per header {list(headers)}).")


def side_by_side_html(rows: Sequence[Sequence[str]], headers: Sequence[str]) -> str:
    """An HTML table, one row per prompt; newlines inside cells are kept."""
    _check(rows, headers)
    head = "".join(f"<th style='text-align:left'>{html.escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(
            f"<td style='text-align:left;vertical-align:top;white-space:pre-wrap'>{html.escape(str(c))}</td>"
            for c in row
        ) + "</tr>"
        for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def side_by_side_text(rows: Sequence[Sequence[str]], headers: Sequence[str], width: int = 38) -> str:
    """The same as wrapped plain-text columns (for logs and terminals)."""
    _check(rows, headers)
    if width < 8:
        raise ValueError(f"width must be at least 8 characters, got {width}.")
    lines = [" | ".join(h[:width].ljust(width) for h in headers), "-+-".join("-" * width for _ in headers)]
    for row in rows:
        cells = [textwrap.wrap(str(c).replace("\n", " / "), width) or [""] for c in row]
        for i in range(max(len(c) for c in cells)):
            lines.append(" | ".join((c[i] if i < len(c) else "").ljust(width) for c in cells))
        lines.append("")
    return "\n".join(lines)
