"""The instructor commands: every command names whom it skipped and exits 1 when anyone was (finding 2 of
issue 14); student folders are sanitised with lstat before trusted steps read them (finding 1)."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest

from assessments import cli, export
from assessments.outcome import Outcome
from assessments.preprocessors import describe_repairs, repair_notebook
from assessments.testing.fixtures import ASSESSMENTS, metadata_edits


@pytest.mark.parametrize("command, target, argv", [
    ("collect", cli, ["collect", "ch00_quiz", "uploads"]),
    ("autograde", cli, ["autograde", "ch00_quiz"]),
    ("feedback", cli, ["feedback", "ch00_quiz"]),
    ("export_outcome", export, ["export"]),
])
def test_a_command_that_skipped_anyone_exits_1(monkeypatch, capsys, command, target, argv):
    for skipped, status in (({"victor": "not a notebook"}, 1), ({}, 0)):
        outcome = Outcome(command, done=["alice"], skipped=skipped)
        monkeypatch.setattr(target, command, lambda *a, outcome=outcome, **k: outcome)
        assert cli.main(argv) == status
    assert cli.main(argv) == 0


def test_outcome_report_names_each_skipped_student_and_why(capsys):
    Outcome("autograde lab1", done=["alice"], skipped={"victor": "SchemaTooNewError"}).report()
    out = capsys.readouterr().out
    assert "SKIPPED victor: SchemaTooNewError" in out and "1 done, 1 skipped (victor)" in out


def test_sanitize_folder_removes_links_pipes_and_foreign_notebooks(tmp_path):
    folder = tmp_path / "alice" / "ch00_quiz"
    (folder / "evidence").mkdir(parents=True)
    (folder / "ch00_quiz.ipynb").write_text("{}")
    (folder / "evidence" / "manifest.json").write_text("{}")
    secret = tmp_path / "gradebook.db"
    secret.write_text("grades")
    os.symlink(secret, folder / "evidence" / "environment.json")
    os.symlink(tmp_path, folder / "linked_folder")
    os.mkfifo(folder / "pipe.txt")
    (folder / "extra.ipynb").write_text("{}")
    (folder / "evidence" / "nested.ipynb").write_text("{}")
    removed = cli.sanitize_folder(folder, {"ch00_quiz.ipynb"})
    assert sorted(removed) == ["evidence/environment.json", "evidence/nested.ipynb", "extra.ipynb", "linked_folder",
                               "pipe.txt"]
    left = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))
    assert left == ["ch00_quiz.ipynb", "evidence", "evidence/manifest.json"]
    assert secret.read_text() == "grades" and oct(secret.stat().st_mode)[-3:] != "444"


@pytest.mark.parametrize("release_path", ["ch00_quiz/ch00_quiz.ipynb", "lab1/lab1_qlora_sft.ipynb"])
def test_metadata_edits_are_undone_by_release_content(release_path):
    """An honest notebook whose graded cells were unmarked, renamed, duplicated or invented grades as released."""
    from nbgrader.nbgraderformat import MetadataValidator

    path = ASSESSMENTS / "release" / release_path
    if not path.is_file():
        pytest.skip(f"{release_path} is not in this checkout")
    release = nbformat.read(path, as_version=4)
    nb = nbformat.from_dict(nbformat.reads(nbformat.writes(metadata_edits(nbformat.read(path, as_version=4))),
                                           as_version=4))
    flags = describe_repairs(repair_notebook(nb, release))
    MetadataValidator().validate_nb(nb)  # nbgrader would have refused the schema version before
    graded = {c.metadata.nbgrader.grade_id: c.metadata.nbgrader for c in nb.cells if "nbgrader" in c.metadata}
    released = {c.metadata.nbgrader.grade_id: c.metadata.nbgrader for c in release.cells if "nbgrader" in c.metadata}
    assert graded == released  # every graded cell is back, as released, and nothing else is graded
    assert any("re-marked" in f for f in flags) and any("not in the release" in f for f in flags)


def test_export_flags_survive_a_notebook_of_the_wrong_shape(tmp_path):
    course = tmp_path / "course"
    (course / "release" / "ch00_quiz").mkdir(parents=True)
    (course / "release/ch00_quiz/ch00_quiz.ipynb").write_bytes((ASSESSMENTS / "release/ch00_quiz/ch00_quiz.ipynb")
                                                             .read_bytes())
    folder = course / "submitted" / "victor" / "ch00_quiz"
    folder.mkdir(parents=True)
    for content in (b"\xff\xfe", b"[" * 20_000 + b"]" * 20_000, b'{"cells": [{"metadata": "x"}, 3]}'):
        (folder / "ch00_quiz.ipynb").write_bytes(content)
        flags = export.notebook_flags(course, "victor", "ch00_quiz")
        assert isinstance(flags, list)
    assert Path(folder / "ch00_quiz.ipynb").is_file()


def test_feedback_redacts_output_that_quotes_a_hidden_test():
    from assessments.preprocessors import HideHiddenTestDetails

    source = "assert f(1) == 2\n### BEGIN HIDDEN TESTS\nassert f(123456) == 246912\n### END HIDDEN TESTS"
    cell = nbformat.v4.new_code_cell(source)
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="caller:\nassert f(123456) == 246912\nok\n"),
                    nbformat.v4.new_output("error", ename="ValueError", evalue="assert f(123456) == 246912",
                                           traceback=["long traceback"])]
    cell, _ = HideHiddenTestDetails().preprocess_cell(cell, {}, 0)
    shown = cell.outputs[0].text + cell.outputs[1].evalue + "".join(cell.outputs[1].traceback)
    assert "246912" not in shown and "caller:" in shown and "ok" in shown
