"""Checks that need more than one submission, or that must not trust the student's kernel.

- Student id: the id a packet's manifest records must be the submitting student's (a copied packet fails the
  reproducibility gate). The lab's gate cells carry the source of these two functions (the sandboxed kernel
  cannot import assessments), so the kernel and the trusted re-check apply one rule.
- Copied packets: two students whose timestamped evidence files have the same sha256 (a packet records one
  run; two runs never log identical timestamps).
- Kernel tampering: code that hooks IPython or the tracer can rewrite or skip later cells (the hidden tests run
  in the same kernel). Such submissions are flagged for a human; lab gates are also re-checked outside the
  sandbox by export.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from pathlib import Path

from workbook.core.io import sha256_file

# Evidence files stamped with wall-clock times, so no two runs write them identically. (Seeded CPU runs are
# deterministic: two honest students may well produce identical eval_results.json and loss_curve.png.)
RUN_FILES = ("baseline.jsonl", "training_log.jsonl")
SUSPICIOUS = re.compile(
    r"input_transformers|ast_transformers|events\.register|set_custom_exc|sys\.settrace|sys\.setprofile"
    r"|register_magic_function|get_ipython\(\)\.(run_cell|ex|ev)\b|__builtins__|builtins\.(open|print)\s*="
)


def packet_fingerprint(evidence_dir: Path) -> dict[str, str]:
    """sha256 of each run-specific evidence file present."""
    return {name: sha256_file(evidence_dir / name) for name in RUN_FILES if (evidence_dir / name).is_file()}


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


def find_copies(packets: dict[str, Path]) -> dict[str, list[str]]:
    """student -> the other students sharing at least one run-specific evidence file byte for byte."""
    owners: dict[tuple[str, str], set[str]] = defaultdict(set)
    for student, folder in packets.items():
        for name, digest in packet_fingerprint(folder).items():
            owners[(name, digest)].add(student)
    shared: dict[str, set[str]] = defaultdict(set)
    for students in owners.values():
        if len(students) > 1:
            for student in students:
                shared[student] |= students - {student}
    return {student: sorted(others) for student, others in sorted(shared.items())}


def suspicious_code(notebook: dict) -> list[str]:
    """Lines of the student's own cells that hook the kernel in ways that could alter later cells."""
    hits = []
    for cell in notebook.get("cells", []):
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell.get("cell_type") != "code" or meta.get("locked") or meta.get("grade"):
            continue
        source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
        hits += [line.strip() for line in source.splitlines() if SUSPICIOUS.search(line)]
    return hits
