"""Which tokens of a training example the loss sees, from the labels a trainer actually built."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

IGNORE_INDEX = -100


def _as_list(values: Any) -> list[int]:
    values = values.tolist() if hasattr(values, "tolist") else list(values)
    if values and isinstance(values[0], list):  # a batch of one
        if len(values) != 1:
            raise ValueError(f"Pass one example, not a batch of {len(values)}.")
        values = values[0]
    return [int(v) for v in values]


def label_spans(tokenizer: Any, input_ids: Any, labels: Any) -> list[tuple[str, bool]]:
    """(token text, trained?) per position: trained when the label is not -100.

    labels are aligned with input_ids (the model shifts them internally), as TRL and transformers build them.
    """
    ids, labs = _as_list(input_ids), _as_list(labels)
    if len(ids) != len(labs):
        raise ValueError(f"input_ids has {len(ids)} positions but labels has {len(labs)}: they must align.")
    if any(lab != IGNORE_INDEX and lab != tok for lab, tok in zip(labs, ids, strict=True)):
        raise ValueError("Some labels differ from their input_ids: pass unshifted labels as the collator built them.")
    return [(tokenizer.decode([tok]), lab != IGNORE_INDEX) for tok, lab in zip(ids, labs, strict=True)]


def mask_counts(labels: Any) -> tuple[int, int]:
    """(masked, trained) token counts."""
    labs = _as_list(labels)
    masked = sum(lab == IGNORE_INDEX for lab in labs)
    return masked, len(labs) - masked


def spans_text(spans: Sequence[tuple[str, bool]]) -> str:
    """The spans as plain text: trained tokens in [brackets] (`workbook.ui.masking.spans_html` colours them)."""
    return "".join(f"[{t}]" if trained else t for t, trained in spans)
