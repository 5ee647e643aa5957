"""Grading a mixed class end to end: 50 quiz uploads (honest, damaged, hostile, resource-hungry) plus unusable ones,
through collect, autograde, feedback, export and the class report, as an instructor runs them.

    .venv/bin/python -m bench.grading [--n 50] [--timeout 10]

Per ten submissions: five honest, one with wrong or raising answers and edited cells, one hostile (reads,
writes and connects where it may not), one leaving traps for the trusted steps (links, FIFOs, an extra notebook,
a full disk, 80 processes), one dressed to fool in-kernel tests, and one flooding its output then ignoring SIGINT
in a hanging cell. Three more uploads cannot be collected (traversal, encryption, a member named like a folder).
Writes bench/results/grading.json: each command's wall time, the time per submission, the grader's peak memory
(nbgrader and this process, sampled from /proc; kernels apart), who was skipped, the marks, and whether the host
was touched.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

from assessments import cli
from assessments.export import export_outcome
from assessments.report import write_report
from assessments.testing.fixtures import (
    FALSE_PASSES,
    HOSTILE,
    LEFTOVERS,
    RUNAWAY,
    hostile_targets,
    leftover_targets,
    notebook_bytes,
    quiz_submission,
    scratch_course,
    zip_upload,
)
from bench.machine import describe
from workbook.core.config import ROOT

QUIZ = "ch00_quiz"
DAMAGED = {"ch00_fp32_mb_answer": "fp32_mb = 1", "ch00_bytes_fn_answer": "raise RuntimeError('not finished')"}


class PeakMemory:
    """Samples the resident memory of this process's descendants every 0.2 s: nbgrader apart from kernels."""

    def __init__(self):
        self.grader = self.kernel = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def _run(self):
        me = os.getpid()
        while not self._stop.wait(0.2):
            parents, info = {}, {}
            for pid in filter(str.isdigit, os.listdir("/proc")):
                try:
                    with open(f"/proc/{pid}/stat") as fh:
                        fields = fh.read().rsplit(")", 1)[1].split()
                    with open(f"/proc/{pid}/cmdline", "rb") as fh:
                        cmd = fh.read().replace(b"\0", b" ").decode(errors="replace")
                except OSError:
                    continue
                parents[int(pid)] = int(fields[1])
                info[int(pid)] = (int(fields[21]) * resource.getpagesize(), cmd)
            for pid, (rss, cmd) in info.items():
                ancestor = parents.get(pid)
                while ancestor and ancestor != me:
                    ancestor = parents.get(ancestor)
                if ancestor != me:
                    continue
                if "ipykernel" in cmd or "bwrap" in cmd:
                    self.kernel = max(self.kernel, rss)
                elif "nbgrader" in cmd:
                    self.grader = max(self.grader, rss)


def build_uploads(uploads: Path, course: Path, n: int, marker: str) -> dict[str, str]:
    """The uploads, and what kind each student's is."""
    kinds = {}
    for i in range(n):
        student = f"s{i:03d}"
        kind = ["honest", "honest", "damaged", "honest", "hostile", "traps", "honest", "fools_tests", "honest",
                "runaway"][i % 10]
        answers = {"damaged": DAMAGED, "fools_tests": FALSE_PASSES, "runaway": RUNAWAY,
                   "hostile": {"ch00_fp32_mb_answer": HOSTILE.format(targets=hostile_targets(course, ROOT, marker))},
                   "traps": {"ch00_fp32_mb_answer": LEFTOVERS.format(targets=leftover_targets(course))}}.get(kind)
        nb = quiz_submission(QUIZ, answers=answers, edit={"ch00_t4_test": "pass"} if kind == "damaged" else None)
        zip_upload(uploads, QUIZ, student, {f"{QUIZ}.ipynb": notebook_bytes(nb)})
        kinds[student] = kind
    zip_upload(uploads, QUIZ, "x-traversal", {"../../escape.ipynb": b"{}"})
    zip_upload(uploads, QUIZ, "x-folder-clash", {"evidence": b"x", "evidence/a.json": b"{}"})
    return kinds


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=50)
    parser.add_argument("--timeout", type=int, default=10, help="seconds per cell")
    args = parser.parse_args(argv)
    marker = uuid.uuid4().hex[:8]
    result = {"machine": describe(), "assignment": QUIZ, "n_submissions": args.n, "cell_timeout_s": args.timeout}
    times = {}
    os.environ.update({"WORKBOOK_KERNEL_DISK_MB": "64", "WORKBOOK_OUTPUT_MB": "4"})
    with tempfile.TemporaryDirectory() as tmp, PeakMemory() as peak:
        root = Path(tmp)
        course = scratch_course(root, [QUIZ])
        kinds = build_uploads(root / "uploads", course, args.n, marker)
        start = time.perf_counter()
        collected = cli.collect(QUIZ, root / "uploads", course=course)
        times["collect_s"] = time.perf_counter() - start
        start = time.perf_counter()
        graded = cli.autograde(QUIZ, course=course, timeout=args.timeout)
        times["autograde_s"] = time.perf_counter() - start
        start = time.perf_counter()
        fed = cli.feedback(QUIZ, course=course)
        times["feedback_s"] = time.perf_counter() - start
        start = time.perf_counter()
        exported = export_outcome(course=course)
        report = write_report(course / "exports")
        times["export_and_report_s"] = time.perf_counter() - start
        grades = json.loads((course / "exports" / "grades.json").read_text())
    totals = {s: grades[s][QUIZ]["score"] for s in grades}
    by_kind = {}
    for student, kind in kinds.items():
        by_kind.setdefault(kind, []).append(totals.get(student))
    touched = [str(p) for p in (ROOT / f"hacked-{marker}.txt", Path(f"/tmp/hostile-{marker}.txt")) if p.exists()]
    total_s = sum(times.values())
    result.update({
        "seconds": {k: round(v, 1) for k, v in times.items()},
        "per_submission_s": round(total_s / args.n, 2),
        "autograde_per_submission_s": round(times["autograde_s"] / args.n, 2),
        "grader_peak_rss_mib": round(peak.grader / 2**20, 1),
        "bench_process_peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "kernel_peak_rss_mib": round(peak.kernel / 2**20, 1),
        "skipped": {"collect": collected.skipped, "autograde": graded.skipped,
                    "feedback": fed.skipped, "export": exported.skipped},
        "graded": len(totals),
        "marks_by_kind": {k: sorted(v, key=lambda x: (x is None, x)) for k, v in by_kind.items()},
        "report": [p.name for p in report],
        "host_touched": touched,
    })
    result["machine"]["load_average_at_end"] = os.getloadavg()
    out = ROOT / "bench" / "results" / "grading.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "marks_by_kind"}, indent=2))
    everyone = len(totals) == args.n and not graded.skipped
    return 0 if everyone and not touched and set(collected.skipped) == {f"{QUIZ}-x-traversal.zip",
                                                                         f"{QUIZ}-x-folder-clash.zip"} else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
