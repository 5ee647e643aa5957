"""data/compliance and workbook.labs.data: well-formed rows, disjoint splits, a manifest that matches the files,
and a loader that refuses changed files."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from workbook.core.io import read_jsonl, sha256_file
from workbook.eval.metrics import key_fact_recall
from workbook.labs.data import COMPLIANCE_DIR as FOLDER
from workbook.labs.data import load_compliance

QA_FIELDS = ("id", "topic", "fact_group", "question", "answer", "key_facts")


def test_manifest_hashes_and_counts_match_the_files():
    manifest = json.loads((FOLDER / "manifest.json").read_text())
    for name, entry in manifest["files"].items():
        assert sha256_file(FOLDER / name) == entry["sha256"], f"{name} changed without regenerating the manifest"
        assert len(read_jsonl(FOLDER / name)) == entry["n"]
    locked = manifest["locked_test"]
    assert locked["sha256"] == manifest["files"][locked["file"]]["sha256"]
    assert [row["id"] for row in read_jsonl(FOLDER / locked["file"])] == locked["ids"]


def test_qa_rows_are_complete_and_their_answers_contain_their_key_facts():
    for name in ("train.jsonl", "validation.jsonl", "locked_test.jsonl"):
        for row in read_jsonl(FOLDER / name, required=QA_FIELDS):
            assert row["key_facts"], f"{row['id']} has no key facts"
            assert key_fact_recall(row["answer"], row["key_facts"]) == 1.0, row["id"]


def test_splits_are_disjoint_and_sized_for_the_lab():
    splits = {name: read_jsonl(FOLDER / f"{name}.jsonl") for name in ("train", "validation", "locked_test")}
    ids = [row["id"] for rows in splits.values() for row in rows]
    questions = [row["question"].lower() for rows in splits.values() for row in rows]
    assert len(ids) == len(set(ids)) and len(questions) == len(set(questions))
    assert 150 <= len(ids) <= 300
    unseen = [row for row in splits["locked_test"] if row["coverage"] == "unseen"]
    train_groups = {row["fact_group"] for row in splits["train"]}
    assert unseen and not any(row["fact_group"] in train_groups for row in unseen)


def test_regression_sets():
    general = read_jsonl(FOLDER / "general.jsonl", required=("id", "question", "answer", "key_facts"))
    assert all(key_fact_recall(row["answer"], row["key_facts"]) == 1.0 for row in general)
    refusal = read_jsonl(FOLDER / "refusal.jsonl", required=("id", "question", "expect"))
    assert {row["expect"] for row in refusal} == {"refuse", "answer"}


def test_load_compliance_refuses_a_changed_split(tmp_path):
    folder = shutil.copytree(FOLDER, tmp_path / "compliance")
    with (folder / "locked_test.jsonl").open("a") as handle:
        handle.write('{"id": "sneaky", "question": "q", "answer": "a", "key_facts": []}\n')
    with pytest.raises(ValueError, match="locked_test.jsonl"):
        load_compliance(folder)


def test_importing_the_data_module_loads_no_ml_library():
    """Grading and the self-check import it in a fresh kernel: no transformers, torch or datasets."""
    code = "import sys, workbook.labs.data\nprint(sorted({'torch', 'transformers', 'datasets'} & set(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
