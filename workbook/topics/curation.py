"""The data-curation checklist as code: exact and near-duplicate removal, length and format filters, and a
train/test leakage check. Each step keeps the rows it dropped, with the reason, so nothing is lost silently.

Rows are dicts with an instruction field and a response field (names configurable).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from workbook.topics.text import normalize

_MARKUP = re.compile(r"<\s*/?\s*[a-zA-Z][^>]*>")
_PLACEHOLDERS = ("todo", "tbd", "lorem ipsum", "as an ai language model", "insert answer", "[answer]")


class EmptyDatasetError(ValueError):
    """Filtering removed every row; the message says which step emptied it."""


def shingles(text: str, size: int = 3) -> set[str]:
    """Word n-grams of the normalised text (the whole text when shorter than n words)."""
    words = normalize(text).split()
    if len(words) <= size:
        return {" ".join(words)} if words else set()
    return {" ".join(words[i : i + size]) for i in range(len(words) - size + 1)}


def jaccard(a: set[str], b: set[str]) -> float:
    """|a ∩ b| / |a ∪ b|; 0 for two empty sets."""
    return len(a & b) / len(a | b) if a or b else 0.0


@dataclass
class StepResult:
    name: str
    kept: list[dict[str, Any]]
    removed: list[tuple[dict[str, Any], str]] = field(default_factory=list)


@dataclass
class CurationReport:
    """What each step of `curate` did; `kept` is the final data set."""

    start_count: int
    steps: list[StepResult]

    @property
    def kept(self) -> list[dict[str, Any]]:
        return self.steps[-1].kept if self.steps else []

    def table(self) -> str:
        lines = [f"{'step':<24}{'removed':>8}{'remaining':>10}", f"{'start':<24}{'':>8}{self.start_count:>10}"]
        for step in self.steps:
            lines.append(f"{step.name:<24}{len(step.removed):>8}{len(step.kept):>10}")
        return "\n".join(lines)

    def removed(self) -> list[tuple[str, str, str]]:
        """(step, row id, reason) for every dropped row."""
        return [(s.name, str(row.get("id", "?")), why) for s in self.steps for row, why in s.removed]


class Curator:
    """The checklist, configured once. Each method takes rows and returns a StepResult."""

    def __init__(
        self,
        instruction_key: str = "instruction",
        response_key: str = "response",
        near_threshold: float = 0.7,
        leak_threshold: float = 0.6,
        min_response_words: int = 4,
        max_response_words: int = 120,
    ):
        if not 0 < near_threshold <= 1 or not 0 < leak_threshold <= 1:
            raise ValueError("Similarity thresholds are Jaccard values and must lie in (0, 1].")
        if min_response_words < 0 or max_response_words <= min_response_words:
            raise ValueError(
                f"Need 0 <= min_response_words < max_response_words, got {min_response_words}, {max_response_words}."
            )
        self.ik, self.rk = instruction_key, response_key
        self.near_threshold, self.leak_threshold = near_threshold, leak_threshold
        self.min_words, self.max_words = min_response_words, max_response_words

    def _text(self, row: dict[str, Any]) -> str:
        return f"{row.get(self.ik, '')} {row.get(self.rk, '')}"

    def format_filter(self, rows: Sequence[dict[str, Any]]) -> StepResult:
        """Drop rows with a missing/empty field, HTML markup, or placeholder/boilerplate text."""
        result = StepResult("format filter", [])
        for row in rows:
            instruction, response = row.get(self.ik), row.get(self.rk)
            if not isinstance(instruction, str) or not instruction.strip():
                result.removed.append((row, "empty instruction"))
            elif not isinstance(response, str) or not response.strip():
                result.removed.append((row, "empty response"))
            elif _MARKUP.search(response) or _MARKUP.search(instruction):
                result.removed.append((row, "HTML markup"))
            elif any(p in normalize(response) for p in map(normalize, _PLACEHOLDERS)):
                result.removed.append((row, "placeholder or boilerplate"))
            else:
                result.kept.append(row)
        return result

    def exact_dedup(self, rows: Sequence[dict[str, Any]]) -> StepResult:
        """Keep the first of rows whose normalised instruction + response are identical."""
        result, seen = StepResult("exact duplicates", []), {}
        for row in rows:
            key = normalize(self._text(row))
            if key in seen:
                result.removed.append((row, f"same text as {seen[key]}"))
            else:
                seen[key] = row.get("id", "?")
                result.kept.append(row)
        return result

    def near_dedup(self, rows: Sequence[dict[str, Any]]) -> StepResult:
        """Drop a row whose word-trigram Jaccard similarity with an earlier kept row reaches the threshold."""
        result = StepResult("near duplicates", [])
        kept_shingles: list[tuple[str, set[str]]] = []
        for row in rows:
            mine = shingles(self._text(row))
            match = next(((rid, jaccard(mine, s)) for rid, s in kept_shingles
                          if jaccard(mine, s) >= self.near_threshold), None)
            if match:
                result.removed.append((row, f"{match[1]:.2f} similar to {match[0]}"))
            else:
                kept_shingles.append((row.get("id", "?"), mine))
                result.kept.append(row)
        return result

    def length_filter(self, rows: Sequence[dict[str, Any]]) -> StepResult:
        """Keep responses between min and max words, and drop responses that repeat one sentence."""
        result = StepResult("length filter", [])
        for row in rows:
            words = row[self.rk].split()
            sentences = [s for s in (normalize(x) for x in re.split(r"[.!?]", row[self.rk])) if s]
            if len(words) < self.min_words:
                result.removed.append((row, f"response too short ({len(words)} words)"))
            elif len(words) > self.max_words:
                result.removed.append((row, f"response too long ({len(words)} words)"))
            elif len(sentences) > 2 and len(set(sentences)) <= len(sentences) / 2:
                result.removed.append((row, "repetitive response"))
            else:
                result.kept.append(row)
        return result

    def leakage_filter(self, rows: Sequence[dict[str, Any]], test_rows: Sequence[dict[str, Any]]) -> StepResult:
        """Drop training rows too similar to any test row (decontamination)."""
        result = StepResult("test leakage", [])
        tests = [(t.get("id", "?"), shingles(self._text(t))) for t in test_rows]
        for row in rows:
            mine = shingles(self._text(row))
            best = max(((tid, jaccard(mine, s)) for tid, s in tests), key=lambda x: x[1], default=(None, 0.0))
            if best[1] >= self.leak_threshold:
                result.removed.append((row, f"{best[1]:.2f} similar to test row {best[0]}"))
            else:
                result.kept.append(row)
        return result

    def curate(self, rows: Sequence[dict[str, Any]], test_rows: Sequence[dict[str, Any]] = ()) -> CurationReport:
        """Run format -> exact -> near -> length -> leakage. Raises EmptyDatasetError if a step empties the set."""
        if not rows:
            raise EmptyDatasetError("The data set is empty before curation: load some rows first.")
        steps: list[StepResult] = []
        current = list(rows)
        for run in (self.format_filter, self.exact_dedup, self.near_dedup, self.length_filter,
                    lambda r: self.leakage_filter(r, test_rows)):
            step = run(current)
            steps.append(step)
            if not step.kept:
                reasons = sorted({why.split(" (")[0] for _, why in step.removed})
                raise EmptyDatasetError(
                    f"The '{step.name}' step removed all {len(current)} remaining rows ({', '.join(reasons)}). "
                    "Nothing is left to train on: loosen that step's setting (e.g. the word limits or the "
                    "similarity threshold), or check that the rows use the field names "
                    f"{self.ik!r} and {self.rk!r}."
                )
            current = step.kept
        return CurationReport(len(rows), steps)
