"""Collecting uploads: one bad upload is refused with its reason and never stops the others; the manifest check
never opens anything but the files unpacked from the upload (findings 2 and 5 of issue 14).

These call the course's extractor plugin directly (no nbgrader run), so they take a second.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from pathlib import Path

import pytest

from assessments.collect import REJECTED, SafeExtractor, UploadError, unpack_upload, verify_manifest


def _zip(path: Path, files: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return path


def _patch(path: Path, offsets: dict[bytes, int], value: bytes) -> Path:
    """Overwrite a field in every local (PK\\3\\4) or central (PK\\1\\2) header: values no tool would write."""
    data = bytearray(path.read_bytes())
    for signature, offset in offsets.items():
        start = 0
        while (start := data.find(signature, start)) >= 0:
            data[start + offset: start + offset + len(value)] = value
            start += 4
    path.write_bytes(bytes(data))
    return path


def _manifest(files: dict[str, str]) -> bytes:
    return json.dumps({"student_id": "x", "files": files}).encode()


BAD_UPLOADS = {
    "files_is_a_list": lambda p: _zip(p, {"q.ipynb": b"{}",
                                          "submission_manifest.json": b'{"files": ["q.ipynb"]}'}),
    "member_named_like_a_folder": lambda p: _zip(p, {"evidence": b"x", "evidence/manifest.json": b"{}"}),
    "over_long_name": lambda p: _zip(p, {"a" * 300 + ".json": b"{}"}),
    "encrypted_member": lambda p: _patch(_zip(p, {"q.ipynb": b"{}"}), {b"PK\x03\x04": 6, b"PK\x01\x02": 8}, b"\x01"),
    "unknown_compression": lambda p: _patch(_zip(p, {"q.ipynb": b"{}"}), {b"PK\x03\x04": 8, b"PK\x01\x02": 10},
                                            b"\x63\x00"),
    "not_a_zip": lambda p: p.write_bytes(b"PK\x03\x04 truncated") and p,
}


@pytest.mark.parametrize("kind", sorted(BAD_UPLOADS))
def test_a_bad_upload_is_an_upload_error_naming_it(tmp_path, kind):
    upload = BAD_UPLOADS[kind](tmp_path / f"ch00_quiz-{kind}.zip")
    problems = []
    try:
        unpack_upload(upload, tmp_path / "out")
        problems = verify_manifest(tmp_path / "out", None)
    except UploadError as error:
        assert upload.name in str(error)
        return
    assert problems, f"{kind}: accepted without a word"  # a broken manifest is at least reported


def test_extractor_refuses_each_bad_upload_and_unpacks_the_good_one(tmp_path):
    archive, extracted = tmp_path / "archive", tmp_path / "extracted"
    archive.mkdir()
    for kind, make in BAD_UPLOADS.items():
        make(archive / f"ch00_quiz-{kind.replace('_', '-')}.zip")
    _zip(archive / "ch00_quiz-good.zip", {"ch00_quiz.ipynb": b"{}"})
    SafeExtractor().extract(str(archive), str(extracted))
    assert (extracted / "ch00_quiz-good.zip" / "ch00_quiz.ipynb").read_bytes() == b"{}"
    rejected = json.loads((tmp_path / REJECTED).read_text())
    for kind in ("member_named_like_a_folder", "over_long_name", "encrypted_member", "unknown_compression",
                 "not_a_zip"):
        assert rejected[f"ch00_quiz-{kind.replace('_', '-')}.zip"], kind


def test_manifest_entries_outside_the_upload_are_never_opened(tmp_path):
    outside = tmp_path / "grader_secret.txt"
    outside.write_text("the grader's own file")
    digest = hashlib.sha256(outside.read_bytes()).hexdigest()
    os.mkfifo(tmp_path / "pipe")
    folder = tmp_path / "upload"
    folder.mkdir()
    (folder / "q.ipynb").write_text("{}")
    listed = {"q.ipynb": hashlib.sha256(b"{}").hexdigest(), str(outside): digest, "../grader_secret.txt": digest,
              "../pipe": "0" * 64}
    (folder / "submission_manifest.json").write_bytes(_manifest(listed))
    problems = verify_manifest(folder, ["q.ipynb", "submission_manifest.json"])  # returns: the FIFO was not opened
    assert sorted(p.split(":")[0] for p in problems) == sorted([str(outside), "../grader_secret.txt", "../pipe"])
    assert all("missing" in p for p in problems)


@pytest.mark.parametrize("content, reason", [
    (b"\xff\xfe not utf-8", "not UTF-8"),
    (b"[" * 100_000 + b"]" * 100_000, "nested"),
    (b'{"files": {"a": 1}}', "no `files` table"),
])
def test_a_malformed_manifest_is_reported_not_raised(tmp_path, content, reason):
    (tmp_path / "submission_manifest.json").write_bytes(content)
    problems = verify_manifest(tmp_path, [])
    assert len(problems) == 1 and reason in problems[0], problems
