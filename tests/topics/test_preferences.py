"""The preference picker's logic (no browser)."""

from __future__ import annotations

import json
import os

import pytest

from workbook.core.config import ROOT
from workbook.core.io import read_jsonl
from workbook.topics import checkpoints
from workbook.topics.preferences import (
    CandidatePair,
    NoPairsLeftError,
    PreferenceFileError,
    PreferenceSession,
    load_shipped_pairs,
    picks_folder,
    repeated_word_share,
    scripted_rule,
)


def make_pairs(n: int = 3) -> list[CandidatePair]:
    return [CandidatePair(f"p{i}", f"prompt {i}", f"answer A{i}", f"answer B{i}", "test") for i in range(n)]


def test_pick_writes_one_line_per_pick_with_the_required_fields(tmp_path):
    session = PreferenceSession(make_pairs(), tmp_path / "picks.jsonl", annotator="tester")
    session.pick("A")
    session.pick("B")
    rows = read_jsonl(tmp_path / "picks.jsonl")
    assert [(r["chosen"], r["rejected"]) for r in rows] == [("answer A0", "answer B0"), ("answer B1", "answer A1")]
    assert {"prompt", "chosen", "rejected", "source", "annotator", "timestamp"} <= set(rows[0])
    assert rows[0]["annotator"] == "tester" and rows[0]["source"] == "test"
    assert session.progress() == (2, 3)
    assert session.current.pair_id == "p2"


def test_tie_and_skip_are_recorded_but_not_training_rows(tmp_path):
    session = PreferenceSession(make_pairs(), tmp_path / "picks.jsonl")
    session.pick("tie")
    session.pick("skip")
    session.pick("A")
    assert session.progress() == (3, 3)
    assert [r["pair_id"] for r in session.preference_rows()] == ["p2"]
    assert session.records[0]["chosen"] is None


def test_undo_removes_the_last_pick_from_memory_and_file(tmp_path):
    path = tmp_path / "picks.jsonl"
    session = PreferenceSession(make_pairs(), path)
    session.pick("A")
    session.pick("B")
    removed = session.undo()
    assert removed["pair_id"] == "p1"
    assert session.current.pair_id == "p1"
    assert [r["pair_id"] for r in read_jsonl(path)] == ["p0"]
    session.undo()
    with pytest.raises(ValueError, match="no pick to undo"):
        session.undo()


def test_reopening_reloads_earlier_picks(tmp_path):
    path = tmp_path / "picks.jsonl"
    first = PreferenceSession(make_pairs(), path)
    first.pick("A")
    first.pick("tie")
    again = PreferenceSession(make_pairs(), path)
    assert again.progress() == (2, 3)
    assert again.current.pair_id == "p2"
    assert again.records == first.records


def test_picking_when_no_pair_is_left_is_a_clear_error(tmp_path):
    session = PreferenceSession(make_pairs(1), tmp_path / "picks.jsonl")
    session.pick("A")
    with pytest.raises(NoPairsLeftError, match="All 1 pairs are judged"):
        session.pick("B")
    assert len(session.records) == 1


def test_unknown_choice_and_duplicate_ids_are_rejected(tmp_path):
    session = PreferenceSession(make_pairs(), tmp_path / "picks.jsonl")
    with pytest.raises(ValueError, match="Unknown choice 'C'"):
        session.pick("C")
    with pytest.raises(ValueError, match="share a pair_id"):
        PreferenceSession(make_pairs() + make_pairs(1), tmp_path / "other.jsonl")


def test_malformed_line_is_skipped_with_a_warning_naming_it_and_kept_on_undo(tmp_path):
    path = tmp_path / "picks.jsonl"
    first = PreferenceSession(make_pairs(), path)
    first.pick("A")
    with path.open("a", encoding="utf-8") as handle:
        handle.write("{this is not json\n")
    with pytest.warns(UserWarning, match="picks.jsonl, line 2"):
        again = PreferenceSession(make_pairs(), path)
    assert again.progress() == (1, 3)
    again.pick("B")
    again.undo()
    assert "{this is not json" in path.read_text(encoding="utf-8")  # the user's line is never thrown away


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root can write to read-only files")
def test_unwritable_file_gives_a_clear_error_and_keeps_picks_in_memory_permissions(tmp_path):
    path = tmp_path / "picks.jsonl"
    path.write_text("")
    path.chmod(0o444)
    session = PreferenceSession(make_pairs(), path)
    with pytest.raises(PreferenceFileError, match="kept in memory"):
        session.pick("A")
    assert session.records[0]["pair_id"] == "p0"


def test_unwritable_file_gives_a_clear_error_and_keeps_picks_in_memory(tmp_path):
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("a file where a folder should be")
    session = PreferenceSession(make_pairs(), blocker / "picks.jsonl")
    with pytest.raises(PreferenceFileError, match="kept in memory"):
        session.pick("A")
    with pytest.raises(PreferenceFileError):
        session.pick("B")
    assert [r["pair_id"] for r in session.records] == ["p0", "p1"]
    assert len(session.unsaved) == 2
    session.undo()  # undo works on a pick that never reached the file
    saved = session.save_as(tmp_path / "rescued.jsonl")
    assert [r["pair_id"] for r in read_jsonl(saved)] == ["p0"]
    session.pick("A")
    assert [r["pair_id"] for r in read_jsonl(saved)] == ["p0", "p1"]


def test_shipped_pairs_are_valid_and_split():
    train, test = load_shipped_pairs("train"), load_shipped_pairs("test")
    assert len(train) >= 30 and len(test) >= 10
    assert {p.reference for p in train} == {"A", "B"}  # the better answer is not always in the same slot
    assert not {p.prompt for p in train} & {p.prompt for p in test}
    with pytest.raises(ValueError, match="split must be"):
        load_shipped_pairs("dev")


def test_scripted_annotator_rule():
    assert repeated_word_share("a b c") == 0 and repeated_word_share("go go go go") == 0.75
    loop = CandidatePair("x", "q", "fine answer here", "the the the the the", "live")
    assert scripted_rule(loop) == "A"
    assert scripted_rule(CandidatePair("y", "q", "", "text", "live")) == "skip"
    assert scripted_rule(CandidatePair("z", "q", "one two", "three four", "live")) == "tie"
    assert scripted_rule(CandidatePair("w", "q", "a", "b", "shipped", reference="B")) == "B"


def test_run_annotator_respects_the_limit(tmp_path):
    session = PreferenceSession(make_pairs(), tmp_path / "picks.jsonl")
    made = session.run_annotator(lambda pair: "B", limit=2)
    assert len(made) == 2 and session.progress() == (2, 3)


def test_records_are_plain_json(tmp_path):
    session = PreferenceSession(make_pairs(1), tmp_path / "picks.jsonl")
    record = session.pick("A")
    assert json.loads(json.dumps(record)) == record


def test_picks_go_to_drive_only_when_mounted_in_colab(tmp_path, monkeypatch):
    drive = tmp_path / "MyDrive"
    drive.mkdir()
    monkeypatch.setattr(checkpoints, "DRIVE_ROOT", drive)
    assert picks_folder() == ROOT / "build" / "preferences"  # not Colab: unchanged
    monkeypatch.setattr(checkpoints, "in_colab", lambda: True)
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    assert picks_folder() == drive / checkpoints.COURSE_FOLDER / "preferences"
    session = PreferenceSession(make_pairs(), picks_folder() / "my_picks.jsonl")
    session.pick("A")
    assert PreferenceSession(make_pairs(), picks_folder() / "my_picks.jsonl").progress() == (1, 3)  # reloaded
