"""Reading a packet: the loader behind the gates, and the parsers shared with the writers (loss points, PNG text
chunks, failure cases, timestamps). Every load problem becomes a readable message, never an exception.

Packet files are read through `workbook.evidence.untrusted`: plain files only (never through a link, never a pipe),
size- and depth-capped, so a hostile packet cannot make the grader read its own files or run out of memory."""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from workbook.core.io import sha256_bytes
from workbook.evidence import untrusted
from workbook.evidence.schema import AUTO_MARKER, DEFAULT_LOCKED_TEST

_CASE_HEADING = re.compile(r"^##\s+Case\s+\d+\s*:\s*`?([\w.-]+)`?", re.MULTILINE)


def loss_points(log_rows: Iterable[dict[str, Any]]) -> dict[str, list[list[float]]]:
    """[step, value] pairs of train `loss` and `eval_loss` from trainer log entries (what the curve plots)."""
    points: dict[str, list[list[float]]] = {"loss": [], "eval_loss": []}
    for row in log_rows:
        for key, series in points.items():
            if key in row and "step" in row:
                series.append([int(row["step"]), float(row[key])])
    return points


def points_sha256(points: dict[str, list[list[float]]]) -> str:
    """A stable hash of plotted loss points (values rounded to 6 decimals)."""
    canonical = {key: [[int(s), round(float(v), 6)] for s, v in series] for key, series in sorted(points.items())}
    return sha256_bytes(json.dumps(canonical, sort_keys=True).encode())


def png_text_chunks(data: bytes) -> dict[str, str]:
    """The text chunks of a PNG file, read by Pillow with its decompression limits (ValueError when unreadable)."""
    return untrusted.png_text(data)


def parse_failure_cases(markdown: str) -> list[dict[str, Any]]:
    """Cases in a failure_analysis.md: `id`, `explanation` text, and whether it is still `auto_generated`."""
    matches = list(_CASE_HEADING.finditer(markdown))
    cases = []
    for index, match in enumerate(matches):
        end = matches[index + 1].start() if index + 1 < len(matches) else len(markdown)
        body = markdown[match.end() : end]
        _, has_label, explanation = body.partition("**Explanation:**")
        explanation = explanation.strip() if has_label else ""
        auto = AUTO_MARKER in explanation
        text = explanation.replace(AUTO_MARKER, "").strip()
        cases.append({"id": match.group(1), "explanation": text, "auto_generated": auto})
    return cases


def parse_time(value: Any) -> datetime | None:
    """An aware or naive ISO 8601 timestamp, or None."""
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


class Packet:
    """Loads packet files once; every load problem becomes a readable message instead of an exception."""

    def __init__(self, folder: str | Path, locked_test_path: str | Path | None = None):
        self.folder = Path(folder)
        self.locked_test_path = Path(locked_test_path) if locked_test_path else DEFAULT_LOCKED_TEST
        self._cache: dict[str, tuple[Any, str | None]] = {}

    def is_folder(self) -> bool:
        """The packet is a real folder (a link to one is refused: nothing a student sends is followed)."""
        try:
            return stat.S_ISDIR(os.lstat(self.folder).st_mode)
        except OSError:
            return False

    def related(self, folder: str | Path) -> Packet:
        """The packet of another folder of the same submission (a previous lab's section), loaded once."""
        key = f"__packet__:{folder}"
        if key not in self._cache:
            self._cache[key] = (Packet(folder, self.locked_test_path), None)
        return self._cache[key][0]

    def has(self, name: str) -> bool:
        """`name` is a plain file of the packet (a link, folder or pipe of that name is not)."""
        return untrusted.regular_file(self.folder / name)

    def _load(self, name: str, reader: Callable[[Path], Any]) -> tuple[Any, str | None]:
        key = f"{name}:{reader.__name__}"
        if key not in self._cache:
            path = self.folder / name
            if not os.path.lexists(path):
                self._cache[key] = (None, f"{name} is missing from {self.folder}: re-run the cell that writes it.")
            else:
                try:
                    self._cache[key] = (reader(path), None)
                except untrusted.UntrustedFileError as error:  # already names the file and the reason
                    self._cache[key] = (None, str(error))
                except ValueError as error:
                    self._cache[key] = (None, f"{name} is malformed: {error}")
        return self._cache[key]

    def bytes(self, name: str) -> tuple[bytes | None, str | None]:
        return self._load(name, untrusted.read_bytes)

    def sha256(self, name: str) -> tuple[str | None, str | None]:
        data, error = self.bytes(name)
        return (None, error) if error else (sha256_bytes(data), None)

    def json(self, name: str, kind: type = dict) -> tuple[Any, str | None]:
        data, error = self._load(name, untrusted.read_json)
        if error is None and not isinstance(data, kind):
            return None, f"{name} should hold a JSON {kind.__name__}, found {type(data).__name__}."
        return data, error

    def jsonl(self, name: str) -> tuple[list[dict[str, Any]] | None, str | None]:
        return self._load(name, untrusted.read_jsonl)

    def text(self, name: str) -> tuple[str | None, str | None]:
        return self._load(name, untrusted.read_text)

    def locked(self) -> tuple[dict[str, Any] | None, str | None]:
        """The reference locked test set: its sha256, ids and rows (the instructor's copy when grading)."""
        if "__locked__" not in self._cache:
            path = self.locked_test_path
            try:
                data = untrusted.read_bytes(path)
                rows = untrusted.read_jsonl(path, required=("id",))
            except untrusted.UntrustedFileError as error:
                self._cache["__locked__"] = (None, f"the locked test set {path} cannot be read ({error}).")
            else:
                by_id = {str(row["id"]): row for row in rows}
                locked = {"sha256": sha256_bytes(data), "ids": [str(row["id"]) for row in rows], "rows": by_id}
                self._cache["__locked__"] = (locked, None)
        return self._cache["__locked__"]
