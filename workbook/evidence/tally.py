"""What every lab's gates share: the `Tally` of a gate's named checks, and small readers of untrusted values.

Partial credit is exact: a gate has a fixed tuple of named checks; its score is the share that passed, so one
fault costs exactly 1/len(checks) of the gate however many files or rows it touches.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

from workbook.evidence.schema import GateResult

SHA256 = re.compile(r"\b[0-9a-f]{64}\b")
TOLERANCE = 1e-3


class Tally:
    """Counts a gate's checks as they run; the score is passed / planned, and every planned check must be decided.

    `block(reason)` fails every check not yet decided (a file they all need is unreadable), with one message.
    """

    def __init__(self, name: str, planned: tuple[str, ...]):
        self.name, self.planned = name, planned
        self.outcomes: dict[str, bool] = {}
        self.failures: list[str] = []
        self.notes: list[str] = []

    def check(self, key: str, ok: bool, failure: str | Callable[[], str] = "") -> bool:
        if key not in self.planned or key in self.outcomes:
            raise KeyError(f"gate {self.name}: check {key!r} is not planned, or ran twice")
        self.outcomes[key] = bool(ok)
        if not ok:
            self.failures.append(failure() if callable(failure) else failure)
        return bool(ok)

    def block(self, reason: str, keys: Iterable[str] | None = None) -> None:
        """Fail the given (default: every remaining) checks for one reason, reported once."""
        pending = [k for k in (keys if keys is not None else self.planned) if k not in self.outcomes]
        if pending:
            for key in pending:
                self.outcomes[key] = False
            self.failures.append(reason)

    def result(self) -> GateResult:
        undecided = [k for k in self.planned if k not in self.outcomes]
        if undecided:  # a programming error, not a student's: say so rather than give free marks
            self.block(f"checks not run: {', '.join(undecided)}", undecided)
        score = sum(self.outcomes.values()) / len(self.planned)
        return GateResult(self.name, not self.failures, round(score, 3), self.failures, self.notes)


def missing_keys(data: dict[str, Any], keys: Iterable[str]) -> list[str]:
    return [key for key in keys if key not in data or data[key] in (None, "", [], {})]


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def close(value: Any, expected: float, tolerance: float = TOLERANCE) -> bool:
    """A finite number within `tolerance` of `expected` (packets round to 4 decimals)."""
    return is_number(value) and abs(value - expected) <= tolerance


def is_sha256(value: Any) -> bool:
    return isinstance(value, str) and len(value) == 64 and SHA256.fullmatch(value) is not None


def text(value: Any) -> bool:
    """A non-blank string."""
    return isinstance(value, str) and bool(value.strip())


def utc(moment: datetime) -> datetime:
    """Naive timestamps are read as UTC, so no grader's time zone changes a verdict."""
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


_NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")


def shown_numbers(markdown: str) -> list[tuple[float, float]]:
    """(value, half a unit of its last shown digit) of every number written in a text: "0.41" -> (0.41, 0.005)."""
    found = []
    for token in _NUMBER.findall(markdown):
        try:
            exponent = Decimal(token).as_tuple().exponent
            found.append((float(token), 0.5 * 10.0 ** int(exponent)))
        except (InvalidOperation, OverflowError, TypeError, ValueError):
            continue
    return found


def shows(numbers: list[tuple[float, float]], value: float) -> bool:
    """`value` is written among `numbers`, rounded to the digits shown, as itself or as a percentage (0.412 as
    "0.41" or "41.2%"); a whole number stands only for a whole value or one of at least 10 ("812 ms")."""
    for target in (value, 100 * value):
        for shown, half_unit in numbers:
            if abs(shown - target) <= half_unit + 1e-9 and (half_unit < 0.5 or abs(target) >= 10 or shown == target):
                return True
    return False
