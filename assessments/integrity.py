"""Checks that need more than one submission, or that must not trust the student's kernel.

- Student id: the id a packet's manifest records must be the submitting student's (a copied packet fails the
  lab's student-id gate, e.g. reproducibility). The lab's gate cells carry the source of these two functions (the
  sandboxed kernel cannot import assessments), so the kernel and the trusted re-check apply one rule.
- Copied packets: two students whose timestamped evidence files have the same sha256 (a packet records one
  run; two runs never log identical timestamps); and near-copies, whose runs have the same rhythm: the intervals
  between consecutive timestamps (Lab 1: baseline answers, then training-log entries; Lab 2: picks, then
  training-log entries), to the millisecond, or Lab 3's measured load-test latencies. A copy with the student id
  changed and every time shifted keeps that rhythm; two real runs never share it. And copies by
  content: packets whose failure-analysis explanations (the student's own writing; the model's answers of
  seeded runs legitimately coincide) are near-identical once student ids are removed, a few words reworded or not.
- Kernel tampering: code that hooks IPython or the tracer can rewrite or skip later cells (the hidden tests run
  in the same kernel). Such submissions are flagged for a human; lab gates are also re-checked outside the
  sandbox by export.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from difflib import SequenceMatcher
from pathlib import Path

from workbook.evidence import untrusted
from workbook.evidence.packet import parse_failure_cases, parse_time
from workbook.evidence.writers import AUTO_DIAGNOSIS_STARTS

# Evidence files stamped with wall-clock times (or measured latencies), so no two runs write them identically, per
# lab section. (Seeded CPU runs are deterministic: two honest students may well produce identical eval_results.json
# and loss_curve.png.)
RUN_FILES = ("baseline.jsonl", "training_log.jsonl")
LAB_RUN_FILES = {"lab1": RUN_FILES, "lab2": ("picks.jsonl", "training_log.jsonl"),
                 "lab3": ("server.json", "rollback_drill.json")}
# Where a section's run rhythm is read: (file, timestamp key) rows in order; Lab 3's is its measured latencies.
RHYTHM_SOURCES = {"lab1": (("baseline.jsonl", "timestamp"), ("training_log.jsonl", "logged_at")),
                  "lab2": (("picks.jsonl", "timestamp"), ("training_log.jsonl", "logged_at"))}
SUSPICIOUS = re.compile(
    r"input_transformers|ast_transformers|events\.register|set_custom_exc|sys\.settrace|sys\.setprofile"
    r"|register_magic_function|get_ipython\(\)\.(run_cell|ex|ev)\b|__builtins__|builtins\.(open|print)\s*="
)


MIN_INTERVALS = 5  # a rhythm shorter than this says too little to flag anyone


def packet_fingerprint(evidence_dir: Path, lab: str = "lab1") -> dict[str, str]:
    """sha256 of each run-specific evidence file of the lab's section present (plain files only, size-capped)."""
    found = {}
    for name in LAB_RUN_FILES.get(lab, RUN_FILES):
        try:
            found[name] = untrusted.sha256(Path(evidence_dir) / name)
        except untrusted.UntrustedFileError:
            continue
    return found


def _latencies(evidence_dir: Path) -> tuple[int, ...] | None:
    """Lab 3's rhythm: the load test's latencies in tenths of a millisecond, as measured."""
    try:
        load = untrusted.read_json(Path(evidence_dir) / "server.json").get("load_test", {})
        found = tuple(round(float(ms) * 10) for ms in load.get("latencies_ms", []))
    except (untrusted.UntrustedFileError, AttributeError, TypeError, ValueError, OverflowError):
        return None
    return found if len(found) > MIN_INTERVALS and any(found) else None


def run_rhythm(evidence_dir: Path, lab: str = "lab1") -> tuple[int, ...] | None:
    """Milliseconds between consecutive timestamps of the run (Lab 1: baseline rows, then training-log entries;
    Lab 2: picks, then training-log entries); Lab 3: the load test's measured latencies."""
    if lab == "lab3":
        return _latencies(evidence_dir)
    stamps = []
    for name, key in RHYTHM_SOURCES.get(lab, RHYTHM_SOURCES["lab1"]):
        try:
            rows = untrusted.read_jsonl(Path(evidence_dir) / name)
        except untrusted.UntrustedFileError:
            return None
        stamps += [parse_time(row.get(key)) for row in rows]
    if any(s is None for s in stamps) or len(stamps) <= MIN_INTERVALS:
        return None
    try:
        intervals = tuple(round((b - a).total_seconds() * 1000) for a, b in zip(stamps, stamps[1:], strict=False))
    except TypeError:  # naive and aware times mixed
        return None
    return intervals if any(intervals) else None


def manifest_student(evidence_dir: Path) -> str | None:
    """The student_id recorded in the packet's manifest.json, or None when absent or unreadable."""
    try:
        value = json.loads((Path(evidence_dir) / "manifest.json").read_text(encoding="utf-8")).get("student_id")
    except (OSError, ValueError, AttributeError):
        return None
    return None if value is None else str(value)


def student_id_problem(evidence_dir: Path, student: str | None) -> str | None:
    """Why the packet is not `student`'s own (its manifest records another id), or None; no check without an id."""
    recorded = manifest_student(evidence_dir)
    if not student or recorded == student:
        return None
    return (f"manifest.json records student_id {recorded!r} but this submission is from {student!r}: "
            "a packet must come from your own run")


def find_copies(packets: dict[str, Path], lab: str = "lab1") -> dict[str, list[str]]:
    """student -> the other students sharing at least one run-specific evidence file byte for byte."""
    owners: dict[tuple[str, str], set[str]] = defaultdict(set)
    for student, folder in packets.items():
        for name, digest in packet_fingerprint(folder, lab).items():
            owners[(name, digest)].add(student)
    return _shared(owners)


def find_near_copies(packets: dict[str, Path], lab: str = "lab1") -> dict[str, list[str]]:
    """student -> the other students whose run has the same rhythm (see run_rhythm): copies with shifted times."""
    owners: dict[tuple[int, ...], set[str]] = defaultdict(set)
    for student, folder in packets.items():
        rhythm = run_rhythm(folder, lab)
        if rhythm is not None:
            owners[rhythm].add(student)
    return _shared(owners)


SIMILAR_WRITING = 0.9  # mean similarity of the explanations two packets share, above which a human should look
MIN_EXPLAINED = 3  # explanations both packets must share (each at least MIN_WORDS words) to compare at all
MIN_WORDS = 6
_WORD = re.compile(r"[a-z0-9]+")


def written_explanations(evidence_dir: Path, names: tuple[str, ...] = ()) -> dict[str, tuple[str, ...]]:
    """case id -> the student's own failure-analysis explanation as lower-case words, without student ids (the
    manifest's and `names`), pre-filled ones and short ones left out; {} when unreadable. The model's answers
    are no evidence of copying (seeded runs of one notebook answer alike); the student's explanations are."""
    try:
        text = untrusted.read_text(Path(evidence_dir) / "failure_analysis.md", limit=2**20)
    except untrusted.UntrustedFileError:
        return {}
    drop = {w for name in (*names, manifest_student(evidence_dir) or "") for w in _WORD.findall(name.lower())}
    found = {}
    for case in parse_failure_cases(text):
        own = "\n".join(line for line in case["explanation"].splitlines()
                         if not line.strip().startswith(AUTO_DIAGNOSIS_STARTS))  # the lab's pre-filled reading
        words = tuple(w for w in _WORD.findall(own.lower()) if w not in drop)[:400]
        if not case["auto_generated"] and len(words) >= MIN_WORDS:
            found[case["id"]] = words
    return found


def find_similar_writing(packets: dict[str, Path]) -> dict[str, dict[str, float]]:
    """student -> {other student: similarity} for pairs whose shared explanations are near-identical (mean
    difflib ratio over the words of each shared case >= SIMILAR_WRITING): a copy with the id changed, the times
    shifted and a few words reworded is found; two students who wrote their own are not."""
    written = {s: written_explanations(p, tuple(packets)) for s, p in packets.items()}
    found: dict[str, dict[str, float]] = defaultdict(dict)
    students = sorted(written)
    for i, first in enumerate(students):
        for second in students[i + 1:]:
            shared = sorted(set(written[first]) & set(written[second]))
            if len(shared) < MIN_EXPLAINED:
                continue
            ratios = [SequenceMatcher(None, written[first][c], written[second][c], autojunk=False).ratio()
                      for c in shared]
            similarity = round(sum(ratios) / len(ratios), 3)
            if similarity >= SIMILAR_WRITING:
                found[first][second] = found[second][first] = similarity
    return {s: dict(sorted(o.items())) for s, o in sorted(found.items())}


def _shared(owners: dict) -> dict[str, list[str]]:
    shared: dict[str, set[str]] = defaultdict(set)
    for students in owners.values():
        if len(students) > 1:
            for student in students:
                shared[student] |= students - {student}
    return {student: sorted(others) for student, others in sorted(shared.items())}


def suspicious_code(notebook: dict) -> list[str]:
    """Lines of the student's own cells that hook the kernel in ways that could alter later cells."""
    hits = []
    for cell in notebook.get("cells", []) if isinstance(notebook.get("cells"), list) else []:
        if not isinstance(cell, dict):
            continue
        meta = cell.get("metadata", {}).get("nbgrader", {}) if isinstance(cell.get("metadata"), dict) else {}
        meta = meta if isinstance(meta, dict) else {}
        if cell.get("cell_type") != "code" or meta.get("locked") or meta.get("grade"):
            continue
        source = cell.get("source", "")
        source = source if isinstance(source, str) else "".join(s for s in source if isinstance(s, str))
        hits += [line.strip() for line in source.splitlines() if SUSPICIOUS.search(line)]
    return hits
