"""Self-check questions answered in code and checked on the spot."""

from __future__ import annotations

from typing import Any


def check(label: str, answer: Any, expected: Any, explanation: str = "", tol: float | None = None) -> bool:
    """Print "✓ label" when `answer` matches `expected` (within `tol` for numbers), else what was expected and why.

    Returns whether the answer was right, so a notebook can count a score.
    """
    if tol is not None:
        try:
            correct = abs(float(answer) - float(expected)) <= tol
        except (TypeError, ValueError):
            correct = False
    else:
        correct = answer == expected
    if correct:
        print(f"✓ {label}")
    else:
        why = f" — {explanation}" if explanation else ""
        print(f"✗ {label}: expected {expected!r}, got {answer!r}{why}")
    return correct
