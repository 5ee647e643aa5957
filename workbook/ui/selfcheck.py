"""On-the-spot self-check questions: compare a learner's answer with the expected one and say why.

    check("Q1", answer, 112, "16 bytes per parameter x 7e9 = 112 GB", tol=1)

Numbers compare within `tol` (absolute); strings compare case- and space-insensitively; anything else with ==.
An answer left as None or ... counts as "not answered yet" and reveals nothing.
"""

from __future__ import annotations

import math
from numbers import Real
from typing import Any


def _is_number(value: Any) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


def _normalise(text: str) -> str:
    return " ".join(text.split()).casefold()


def is_correct(answer: Any, expected: Any, tol: float | None = None) -> bool:
    """True when `answer` matches `expected` (see the module docstring for the rules)."""
    if tol is not None:
        if not _is_number(tol) or math.isnan(tol) or tol < 0:
            raise ValueError(f"tol must be a non-negative number, got {tol!r}.")
        if not _is_number(expected):
            raise ValueError(f"tol only applies to numeric answers; the expected answer is {expected!r}.")
    if _is_number(expected):
        if not _is_number(answer):
            return False
        return abs(float(answer) - float(expected)) <= (tol or 0.0)
    if isinstance(expected, str):
        return isinstance(answer, str) and _normalise(answer) == _normalise(expected)
    return answer == expected


def check(label: str, answer: Any, expected: Any, explanation: str = "", tol: float | None = None) -> bool:
    """Print whether `answer` is correct, with the reason; return True when it is.

    label: the question's id or short title. explanation: why the expected answer is right (shown either way).
    tol: allowed absolute difference for numeric answers.
    """
    if not isinstance(label, str) or not label.strip():
        raise ValueError("label must be a non-empty string naming the question, e.g. 'Q1'.")
    if answer is None or answer is Ellipsis:
        print(f"[ ] {label}: not answered yet. Replace the placeholder with your answer and run the cell again.")
        return False
    correct = is_correct(answer, expected, tol)
    shown = f"{expected!r}" + (f" (within ±{tol:g})" if tol else "")
    if correct:
        print(f"[correct] {label}: {answer!r}." + (f" {explanation}" if explanation else ""))
    else:
        why = f" Why: {explanation}" if explanation else ""
        print(f"[incorrect] {label}: you answered {answer!r}, expected {shown}.{why}")
    return correct
