"""The course's one place for file I/O: JSON and JSONL (errors name the file and line), sha256, timestamps."""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal


class DataFileError(ValueError):
    """A data file is missing or malformed; the message names the file and line."""


def read_jsonl(
    path: str | Path,
    required: Iterable[str] = (),
    on_error: Literal["raise", "skip"] = "raise",
) -> list[dict[str, Any]]:
    """Rows of a JSONL file. Blank lines are ignored.

    required: keys every row must have. on_error="skip" drops a bad line with a warning naming it
    (for files a user appends to, such as preference picks); "raise" stops with a DataFileError.
    """
    path = Path(path)
    if not path.is_file():
        raise DataFileError(f"{path} does not exist. Check the path, or re-run the cell that writes it.")
    rows, required = [], tuple(required)
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            if not isinstance(row, dict):
                raise ValueError("a line must hold one JSON object")
            missing = [key for key in required if key not in row]
            if missing:
                raise ValueError(f"missing keys {missing}")
        except ValueError as error:  # json.JSONDecodeError is a ValueError
            message = f"{path.name}, line {number}: {error}"
            if on_error == "raise":
                raise DataFileError(message + ". Fix or delete that line.") from error
            warnings.warn(f"Skipped {message}.", stacklevel=2)
            continue
        rows.append(row)
    return rows


def write_jsonl(path: str | Path, rows: Iterable[dict[str, Any]]) -> Path:
    """Write rows as JSONL (UTF-8, one object per line) and return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    return path


def write_json(path: str | Path, data: Any) -> Path:
    """Pretty JSON, UTF-8; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    return path


def sha256_bytes(data: bytes) -> str:
    """Hex sha256 of bytes."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for chunk in iter(lambda: handle.read(2**20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_tree(path: str | Path) -> str:
    """Hex sha256 of a file, or of a folder: its files' relative paths and bytes, in sorted order."""
    path = Path(path)
    if path.is_file():
        return sha256_file(path)
    digest = hashlib.sha256()
    for item in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(item.relative_to(path).as_posix().encode() + b"\0")
        digest.update(item.read_bytes())
    return digest.hexdigest()


def now_iso() -> str:
    """The current UTC time as an ISO 8601 string with microseconds."""
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")
