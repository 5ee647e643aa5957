"""Packet files are read bounded: plain files only, size and nesting caps, Pillow's limits for PNG text
(issue 14: deliver 2, findings 1 and 5). A hostile packet gets a clear failure, never the grader's files, a
hang, or an exhausted memory.
"""

from __future__ import annotations

import json
import os
import signal
import struct
import tracemalloc
import zlib

import pytest

from workbook.core.io import sha256_file, write_json
from workbook.evidence import untrusted
from workbook.evidence.gates import check_gate, validate_packet
from workbook.evidence.packet import png_text_chunks


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def zlib_bomb_png(mib: int) -> bytes:
    """A 10 x 10 PNG whose compressed iTXt chunk inflates to `mib` MiB (a few hundred KiB on disk)."""
    packer, parts = zlib.compressobj(9), []
    block = b"0" * 2**20
    parts += [packer.compress(block) for _ in range(mib)]
    parts.append(packer.flush())
    header = struct.pack(">IIBBBBB", 10, 10, 8, 2, 0, 0, 0)
    text = b"workbook:loss_points\0\x01\x00\0\0" + b"".join(parts)
    pixels = zlib.compress(b"".join(b"\0" + b"\0" * 30 for _ in range(10)))
    return (untrusted.PNG_SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"iTXt", text) + _chunk(b"IDAT", pixels)
            + _chunk(b"IEND", b""))


@pytest.fixture
def no_hang():
    """Fail instead of hanging forever (a FIFO opened for reading blocks until a writer comes)."""
    def alarm(*_):
        raise TimeoutError("blocked reading a packet file")
    previous = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(20)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def test_png_text_of_a_zlib_bomb_is_refused_within_a_small_memory_budget(packet):
    bomb = zlib_bomb_png(200)
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match="too large"):
            png_text_chunks(bomb)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 32 * 2**20, f"reading the text chunks peaked at {peak / 2**20:.0f} MiB"
    (packet / "loss_curve.png").write_bytes(bomb)
    result = check_gate("reproducibility", packet)
    assert any("loss_curve.png is not a readable PNG" in f for f in result.failures), result.failures


def test_a_link_in_the_packet_is_never_followed(packet, tmp_path):
    secret = tmp_path / "grader_only.json"
    write_json(secret, {"platform": "x"})
    (packet / "environment.json").unlink()
    os.symlink(secret, packet / "environment.json")
    result = check_gate("environment", packet)
    assert result.score == 0 and "cannot be opened as a plain file" in result.failures[0], result.failures


def test_a_fifo_in_the_packet_fails_its_gate_without_blocking(packet, no_hang):
    (packet / "baseline.jsonl").unlink()
    os.mkfifo(packet / "baseline.jsonl")
    result = check_gate("baseline", packet)
    assert result.score == 0 and "plain file" in result.failures[0], result.failures


def test_a_linked_evidence_folder_is_not_a_packet(packet, tmp_path):
    link = tmp_path / "linked_evidence"
    os.symlink(packet, link)
    assert check_gate("environment", link).score == 0


def test_oversized_and_deeply_nested_files_get_clear_messages(packet):
    with open(packet / "eval_results.json", "wb") as fh:
        fh.truncate(untrusted.MAX_FILE_BYTES + 1)  # sparse: costs no disk
    assert "over the 20 MiB limit" in check_gate("evaluation", packet).failures[0]
    (packet / "environment.json").write_text("[" * 50_000 + "]" * 50_000)
    assert "nested" in check_gate("environment", packet).failures[0]
    (packet / "environment.json").write_bytes(b"\xff\xfe{}")
    assert "not UTF-8" in check_gate("environment", packet).failures[0]


def test_manifest_file_table_names_only_packet_files(packet, tmp_path):
    outside = tmp_path / "outside.txt"
    outside.write_text("a grader file the packet names")
    manifest = json.loads((packet / "manifest.json").read_text())
    manifest["files"]["../../outside.txt"] = sha256_file(outside)
    manifest["files"][str(outside)] = sha256_file(outside)
    write_json(packet / "manifest.json", manifest)
    failures = " ".join(check_gate("reproducibility", packet).failures)
    assert "which are not packet files" in failures and "outside.txt" in failures


def test_graders_never_hash_an_adapter_path_the_packet_names(packet, monkeypatch):
    from workbook.evidence import gates

    manifest = json.loads((packet / "manifest.json").read_text())
    for adapter in manifest["adapters"]:
        adapter["path"] = "/etc"  # a grader's folder: it must not be read (it was, whole, before issue 14)
    write_json(packet / "manifest.json", manifest)
    opened = []
    monkeypatch.setattr(gates, "sha256_tree", lambda path: opened.append(path) or "0" * 64)
    assert check_gate("rollback", packet).passed and opened == []
    # the student's own self-check still re-hashes the folders it lists
    assert not validate_packet(packet)["rollback"].passed and opened
