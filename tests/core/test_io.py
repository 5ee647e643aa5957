"""The one I/O module: JSONL with clear errors, JSON, sha256 of files and folders, timestamps."""

import hashlib
from datetime import datetime

import pytest

from workbook.core import io


def test_jsonl_round_trip(tmp_path):
    rows = [{"q": "Was ist DSGVO?", "a": "Datenschutz"}, {"q": "2", "a": "3"}]
    path = io.write_jsonl(tmp_path / "x.jsonl", rows)
    assert io.read_jsonl(path, required=("q", "a")) == rows
    assert io.sha256_file(path) == hashlib.sha256(path.read_bytes()).hexdigest() == io.sha256_bytes(path.read_bytes())


def test_malformed_line_is_named(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"q": 1}\n{not json\n')
    with pytest.raises(io.DataFileError, match="bad.jsonl, line 2"):
        io.read_jsonl(path)
    with pytest.warns(UserWarning, match="line 2"):
        assert io.read_jsonl(path, on_error="skip") == [{"q": 1}]


def test_missing_keys_and_missing_file(tmp_path):
    path = io.write_jsonl(tmp_path / "x.jsonl", [{"q": 1}])
    with pytest.raises(io.DataFileError, match=r"missing keys \['a'\]"):
        io.read_jsonl(path, required=("q", "a"))
    with pytest.raises(io.DataFileError, match="does not exist"):
        io.read_jsonl(tmp_path / "nope.jsonl")


def test_tree_hash_covers_names_and_bytes(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.bin").write_bytes(b"1")
    first = io.sha256_tree(tmp_path / "a")
    (tmp_path / "a" / "x.bin").rename(tmp_path / "a" / "y.bin")
    assert io.sha256_tree(tmp_path / "a") != first
    assert io.sha256_tree(tmp_path / "a" / "y.bin") == io.sha256_bytes(b"1")


def test_json_and_timestamps(tmp_path):
    path = io.write_json(tmp_path / "deep" / "x.json", {"é": 1})
    assert path.read_text(encoding="utf-8") == '{\n  "é": 1\n}\n'
    assert datetime.fromisoformat(io.now_iso()).tzinfo is not None
