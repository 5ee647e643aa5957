"""Reading files a student sent, with bounds: regular files only (never through a link, never a FIFO or a device),
a size cap, a nesting cap for JSON, and Pillow's own decompression limits for PNG text chunks.

Every problem is an `UntrustedFileError` (a ValueError) whose message names the file and says what is wrong, so a
gate can report it instead of crashing or exhausting the grader's memory.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import stat
from pathlib import Path
from typing import Any

MAX_FILE_BYTES = 20 * 2**20  # any one evidence or manifest file
MAX_DEPTH = 32  # JSON nesting (packets need 5)
MAX_PNG_PIXELS = 4096 * 4096  # a loss curve is 600 x 350
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class UntrustedFileError(ValueError):
    """A file a student sent cannot be read safely; the message names it and the reason."""


def regular_file(path: str | Path) -> bool:
    """True only for a regular file that is not a link (lstat: nothing is followed)."""
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def read_bytes(path: str | Path, limit: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of a regular file of at most `limit` bytes, opened without following a link or blocking on a FIFO."""
    name = Path(path).name
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError as error:
        raise UntrustedFileError(f"{name} does not exist.") from error
    except OSError as error:  # ELOOP: a link; ENXIO: a FIFO with no writer; EACCES ...
        raise UntrustedFileError(f"{name} cannot be opened as a plain file ({error.strerror}).") from error
    with os.fdopen(fd, "rb") as fh:
        info = os.fstat(fh.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise UntrustedFileError(f"{name} is not a plain file (a folder, link, pipe or device).")
        if info.st_size > limit:
            size, cap = info.st_size / 2**20, limit / 2**20
            raise UntrustedFileError(f"{name} is {size:.1f} MiB, over the {cap:.0f} MiB limit.")
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise UntrustedFileError(f"{name} grew past the {limit / 2**20:.0f} MiB limit while being read.")
    return data


def sha256(path: str | Path, limit: int = MAX_FILE_BYTES) -> str:
    return hashlib.sha256(read_bytes(path, limit)).hexdigest()


def depth(value: Any) -> int:
    """Nesting depth of a parsed JSON value (iterative: no recursion to exhaust)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, level)
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, level + 1) for child in children)
    return deepest


def parse_json(data: bytes | str, name: str, max_depth: int = MAX_DEPTH) -> Any:
    """A JSON document, refused with a clear message when it is not UTF-8, not JSON, or nested too deeply."""
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
    except UnicodeDecodeError as error:
        raise UntrustedFileError(f"{name} is not UTF-8 text (byte {error.start}).") from error
    try:
        value = json.loads(text)
    except RecursionError as error:
        raise UntrustedFileError(f"{name} is nested too deeply to read (more than {max_depth} levels).") from error
    except ValueError as error:
        raise UntrustedFileError(f"{name} is not valid JSON ({error}).") from error
    if depth(value) > max_depth:
        raise UntrustedFileError(f"{name} is nested {depth(value)} levels deep; at most {max_depth} are accepted.")
    return value


def read_json(path: str | Path, limit: int = MAX_FILE_BYTES, max_depth: int = MAX_DEPTH) -> Any:
    return parse_json(read_bytes(path, limit), Path(path).name, max_depth)


def read_text(path: str | Path, limit: int = MAX_FILE_BYTES) -> str:
    try:
        return read_bytes(path, limit).decode("utf-8")
    except UnicodeDecodeError as error:
        raise UntrustedFileError(f"{Path(path).name} is not UTF-8 text (byte {error.start}).") from error


def read_jsonl(path: str | Path, limit: int = MAX_FILE_BYTES, max_depth: int = MAX_DEPTH,
               required: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """Rows of a JSONL file (blank lines skipped); a bad line is an error naming the file and the line."""
    name = Path(path).name
    rows = []
    for number, line in enumerate(read_text(path, limit).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = parse_json(line, f"{name}, line {number}", max_depth)
        except UntrustedFileError as error:
            raise UntrustedFileError(f"{error} Fix or delete that line.") from error
        if not isinstance(row, dict):
            raise UntrustedFileError(f"{name}, line {number}: a line must hold one JSON object.")
        missing = [key for key in required if key not in row]
        if missing:
            raise UntrustedFileError(f"{name}, line {number}: missing keys {missing}.")
        rows.append(row)
    return rows


def png_text(data: bytes, max_pixels: int = MAX_PNG_PIXELS) -> dict[str, str]:
    """The text chunks (tEXt, zTXt, iTXt) before the image data of a PNG, read by Pillow.

    Pillow caps each decompressed text chunk (PngImagePlugin.MAX_TEXT_CHUNK, 1 MiB) and all of them together
    (MAX_TEXT_MEMORY, 64 MiB); the pixels are never decoded. Raises ValueError for anything that is not a
    small, readable PNG.
    """
    from PIL import Image, UnidentifiedImageError

    if data[:8] != PNG_SIGNATURE:
        raise ValueError("not a PNG file (bad signature)")
    try:
        with Image.open(io.BytesIO(data), formats=["PNG"]) as image:
            width, height = image.size
            if width * height > max_pixels:
                raise ValueError(f"{width} x {height} pixels is larger than a loss curve can be")
            return {str(k): str(v) for k, v in image.info.items() if isinstance(v, str)}
    except (UnidentifiedImageError, OSError, SyntaxError, Image.DecompressionBombError) as error:
        raise ValueError(str(error) or type(error).__name__) from error
