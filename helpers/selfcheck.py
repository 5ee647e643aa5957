"""End-of-chapter self-checks: compare an answer with the expected one and say why."""

from __future__ import annotations

import math
from typing import Any


def _matches(answer: Any, expected: Any, tol: float | None) -> bool:
    if tol is not None:
        try:
            return math.isclose(float(answer), float(expected), rel_tol=0.0, abs_tol=tol)
        except (TypeError, ValueError):
            return False
    if isinstance(answer, str) and isinstance(expected, str):
        return answer.strip().lower() == expected.strip().lower()
    return answer == expected


def check(label: str, answer: Any, expected: Any, explanation: str = "", tol: float | None = None) -> bool:
    """Print "✓ label" when `answer` matches `expected` (within `tol` for numbers), else what was expected and why."""
    ok = _matches(answer, expected, tol)
    if ok:
        print(f"✓ {label}")
    else:
        print(f"✗ {label}: expected {expected!r}, got {answer!r} — {explanation}")
    return ok
