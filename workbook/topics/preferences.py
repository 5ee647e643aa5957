"""The preference picker: show a prompt and two answers, record which one is better, keep the picks in JSONL.

`PreferenceSession` is the whole logic behind a plain Python API (tests and headless notebooks drive it);
`workbook.ui.picker.picker_widget(session)` is a thin ipywidgets view over it. Each A/B pick is one JSONL line
with `prompt`, `chosen`, `rejected`, `source`, `annotator`, `timestamp` (plus `pair_id` and `choice`); ties and
skips are recorded too, with `chosen` and `rejected` left empty, so a reopened session does not show them again.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from workbook.core.config import DATA_DIR, ROOT
from workbook.core.io import read_jsonl
from workbook.topics.checkpoints import persistent_root

SHIPPED_PAIRS = DATA_DIR / "preferences" / "pairs.jsonl"
CHOICES = ("A", "B", "tie", "skip")
RECORD_KEYS = ("prompt", "chosen", "rejected", "source", "annotator", "timestamp", "pair_id", "choice")


def picks_folder() -> Path:
    """Where your picks are kept: <persistent_root>/preferences (Drive mounted in Colab), else build/preferences."""
    root = persistent_root()
    return root / "preferences" if root else ROOT / "build" / "preferences"


class NoPairsLeftError(ValueError):
    """Every pair in the session has been judged."""


class PreferenceFileError(OSError):
    """The picks file could not be written; the picks stay in memory."""


@dataclass(frozen=True)
class CandidatePair:
    """A prompt with two candidate answers shown as A and B.

    reference: "A" or "B" when the pair comes with a known better answer (shipped data), else None.
    """

    pair_id: str
    prompt: str
    response_a: str
    response_b: str
    source: str
    reference: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)


def load_shipped_pairs(
    split: str | None = None, path: str | Path = SHIPPED_PAIRS, seed: int = 0
) -> list[CandidatePair]:
    """The shipped pairs as CandidatePairs, the better answer put at A or B at random (seeded).

    split: "train", "test" or None for both.
    """
    rows = read_jsonl(path, required=("id", "prompt", "chosen", "rejected", "split"))
    if split not in (None, "train", "test"):
        raise ValueError(f"split must be 'train', 'test' or None, not {split!r}.")
    rng = random.Random(seed)
    pairs = []
    for row in rows:
        if split is not None and row["split"] != split:
            continue
        better_first = rng.random() < 0.5
        a, b = (row["chosen"], row["rejected"]) if better_first else (row["rejected"], row["chosen"])
        reference = "A" if better_first else "B"
        pairs.append(CandidatePair(row["id"], row["prompt"], a, b, "shipped", reference, {"flaw": row.get("flaw")}))
    return pairs


def live_pairs(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[str],
    temperatures: tuple[float, float] = (0.3, 1.3),
    max_new_tokens: int = 48,
    seed: int = 0,
) -> list[CandidatePair]:
    """Two live answers per prompt from the model, sampled at two temperatures (A = first temperature)."""
    from workbook.core.generation import generate_reply

    pairs = []
    for number, prompt in enumerate(prompts):
        answers = [
            generate_reply(model, tokenizer, prompt, max_new_tokens=max_new_tokens, temperature=t, seed=seed + number)
            for t in temperatures
        ]
        pairs.append(
            CandidatePair(
                f"live-{number + 1:03d}-t{temperatures[0]}-t{temperatures[1]}",
                prompt,
                answers[0],
                answers[1],
                "live",
                meta={"temperature_a": temperatures[0], "temperature_b": temperatures[1]},
            )
        )
    return pairs


class PreferenceSession:
    """A queue of candidate pairs and the picks made on them, mirrored to a JSONL file.

    Opening a session on an existing file reloads its picks (a malformed line is skipped with a warning that
    names it) and hides the pairs already judged.
    """

    def __init__(self, pairs: Iterable[CandidatePair], path: str | Path, annotator: str = "you") -> None:
        self.pairs = list(pairs)
        ids = [p.pair_id for p in self.pairs]
        if len(set(ids)) != len(ids):
            raise ValueError("Two candidate pairs share a pair_id; give each pair its own id.")
        self.path = Path(path)
        self.annotator = annotator
        self.records: list[dict[str, Any]] = []
        self.unsaved: list[dict[str, Any]] = []
        if self.path.is_file():
            self.records = read_jsonl(self.path, required=("pair_id", "choice"), on_error="skip")

    # --- state -------------------------------------------------------------------------------------------
    @property
    def judged_ids(self) -> set[str]:
        return {r["pair_id"] for r in self.records}

    @property
    def remaining(self) -> list[CandidatePair]:
        """Pairs not judged yet, in queue order."""
        done = self.judged_ids
        return [p for p in self.pairs if p.pair_id not in done]

    @property
    def current(self) -> CandidatePair | None:
        """The pair to judge next, or None when all are done."""
        left = self.remaining
        return left[0] if left else None

    def progress(self) -> tuple[int, int]:
        """(pairs of this queue judged, pairs in this queue)."""
        done = self.judged_ids
        return sum(p.pair_id in done for p in self.pairs), len(self.pairs)

    def preference_rows(self) -> list[dict[str, Any]]:
        """The A/B picks as prompt/chosen/rejected rows (ties and skips left out), ready for a trainer."""
        return [{k: r[k] for k in RECORD_KEYS} for r in self.records if r["choice"] in ("A", "B")]

    # --- actions -----------------------------------------------------------------------------------------
    def pick(self, choice: str) -> dict[str, Any]:
        """Judge the current pair: "A", "B", "tie" or "skip". Returns the record written.

        Raises NoPairsLeftError when nothing is left, ValueError for an unknown choice, and
        PreferenceFileError when the file cannot be written (the pick is still kept in memory).
        """
        if choice not in CHOICES:
            raise ValueError(f"Unknown choice {choice!r}: use one of {', '.join(CHOICES)}.")
        pair = self.current
        if pair is None:
            raise NoPairsLeftError(
                f"All {len(self.pairs)} pairs are judged. Undo a pick to change it, or open a session with more pairs."
            )
        chosen, rejected = {
            "A": (pair.response_a, pair.response_b),
            "B": (pair.response_b, pair.response_a),
        }.get(choice, (None, None))
        record = {
            "prompt": pair.prompt,
            "chosen": chosen,
            "rejected": rejected,
            "source": pair.source,
            "annotator": self.annotator,
            "timestamp": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "pair_id": pair.pair_id,
            "choice": choice,
        }
        self.records.append(record)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        except OSError as error:
            self.unsaved.append(record)
            raise PreferenceFileError(
                f"Could not write {self.path} ({error.strerror or error}). Your {len(self.records)} picks are kept "
                "in memory; call session.save_as(another_path) to write them all to a file you can write to."
            ) from error
        return record

    def undo(self) -> dict[str, Any]:
        """Take back the last pick, from memory and from the file. Returns the removed record."""
        if not self.records:
            raise ValueError("There is no pick to undo.")
        record = self.records.pop()
        if record in self.unsaved:
            self.unsaved.remove(record)
            return record
        lines = self.path.read_text(encoding="utf-8").splitlines(keepends=True)
        for index in range(len(lines) - 1, -1, -1):  # the last line holding this record; other lines untouched
            try:
                if json.loads(lines[index]) == record:
                    del lines[index]
                    break
            except ValueError:
                continue
        self.path.write_text("".join(lines), encoding="utf-8")
        return record

    def save_as(self, path: str | Path) -> Path:
        """Write every pick in memory to a new file and keep appending there."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in self.records), encoding="utf-8")
        self.path, self.unsaved = path, []
        return path

    def run_annotator(self, rule: Callable[[CandidatePair], str], limit: int | None = None) -> list[dict[str, Any]]:
        """Let a scripted annotator (a function pair -> choice) judge up to `limit` pairs. Returns the records."""
        made = []
        while self.current is not None and (limit is None or len(made) < limit):
            made.append(self.pick(rule(self.current)))
        return made


def repeated_word_share(text: str) -> float:
    """Share of words that repeat an earlier word (0 = all distinct): a crude sign of rambling or looping."""
    words = [w.strip(".,;:!?'\"()").lower() for w in text.split()]
    words = [w for w in words if w]
    return 1 - len(set(words)) / len(words) if words else 1.0


def scripted_rule(pair: CandidatePair) -> str:
    """The notebook's scripted annotator: the reference answer when the pair has one; otherwise the answer with
    fewer repeated words (a tie when they are within 0.03), skipping a pair where an answer is empty."""
    if pair.reference is not None:
        return pair.reference
    if not pair.response_a.strip() or not pair.response_b.strip():
        return "skip"
    a, b = repeated_word_share(pair.response_a), repeated_word_share(pair.response_b)
    if abs(a - b) < 0.03:
        return "tie"
    return "A" if a < b else "B"
