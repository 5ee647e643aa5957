"""Reading and writing the course's JSONL files, with errors that name the file and line."""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Iterable
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


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file's bytes."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
