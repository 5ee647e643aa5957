"""Autograde benchmark: 50 synthetic submissions through the real pipeline (nbgrader + bubblewrap sandbox).

    .venv/bin/python -m bench.autograde [--n 50] [--assignment lab1]

Submissions are built without a model (assessments.testing: simulated lab packets, or the quiz answer key), put in
a scratch course and graded by one `python -m assessments.cli autograde` run, as an instructor would. Per-
submission times come from nbgrader's timestamped log (from one student's "Creating/updating student" line to
the next); the first also carries nbgrader's own start-up, reported apart. Writes bench/results/autograde.json.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from assessments import cli
from assessments.export import export
from assessments.testing import simulate
from assessments.testing.fixtures import notebook_bytes, quiz_submission, scratch_course
from bench.machine import describe
from workbook.core.config import ROOT

STUDENT_LINE = re.compile(r"^(\d\d:\d\d:\d\d\.\d{3}) .*Creating/updating student with ID '([^']+)'")
LAST_LINE = re.compile(r"^(\d\d:\d\d:\d\d\.\d{3}) ")


def build_course(root: Path, assignment: str, n: int) -> tuple[Path, list[str]]:
    course = scratch_course(root, [assignment])
    notebook = next((course / "release" / assignment).glob("*.ipynb"))
    students = [f"s{i:03d}" for i in range(n)]
    scenarios = list(simulate.SCENARIOS.values())
    for i, student in enumerate(students):
        folder = course / "submitted" / student / assignment
        folder.mkdir(parents=True)
        if assignment == "lab1":
            shutil.copy(notebook, folder / notebook.name)
            packet = simulate.honest_packet(folder / "evidence", student)
            if i % 5 == 4:  # every fifth submission is damaged in one of the usual ways
                scenarios[i % len(scenarios)](packet)
        else:
            (folder / notebook.name).write_bytes(notebook_bytes(quiz_submission(assignment)))
    return course, students


def per_student_seconds(log: str) -> tuple[dict[str, float], str | None]:
    starts, last = [], None
    for line in log.splitlines():
        match = STUDENT_LINE.match(line)
        if match:
            starts.append((match[1], match[2]))
        stamp = LAST_LINE.match(line)
        if stamp:
            last = stamp[1]

    def seconds(stamp: str) -> float:
        return (datetime.strptime(stamp, "%H:%M:%S.%f") - datetime(1900, 1, 1)).total_seconds()

    times = {}
    for (stamp, student), nxt in zip(starts, [s for s, _ in starts[1:]] + [last], strict=True):
        times[student] = round((seconds(nxt) - seconds(stamp)) % 86_400, 2)
    return times, starts[0][0] if starts else None


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=50)
    default = "lab1" if (cli.HERE / "release" / "lab1").is_dir() else "ch04_quiz"
    parser.add_argument("--assignment", default=default)
    args = parser.parse_args(argv)
    result = {"machine": describe(), "assignment": args.assignment, "n_submissions": args.n}
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        course, students = build_course(Path(tmp), args.assignment, args.n)
        result["build_submissions_s"] = round(time.perf_counter() - start, 1)
        start = time.perf_counter()
        process_start = datetime.now().strftime("%H:%M:%S.%f")[:-3]
        run = cli.autograde(args.assignment, course=course)
        wall = time.perf_counter() - start
        times, first = per_student_seconds(run.stderr)
        graded = export(course=course, out=Path(tmp) / "exports")
        report = json.loads(Path(graded[1]).read_text())
    missing = sorted(set(students) - set(times))
    slowest = max(times, key=times.get) if times else None
    values = sorted(times.values())
    result.update({
        "autograde_wall_s": round(wall, 1),
        "submissions_per_minute": round(60 * len(times) / wall, 2) if wall else None,
        "per_submission_s": {"mean": round(statistics.mean(values), 2), "median": round(statistics.median(values), 2),
                             "p90": values[int(0.9 * (len(values) - 1))], "max": values[-1]} if values else None,
        "slowest": {"student": slowest, "seconds": times.get(slowest)},
        "nbgrader_startup_s": round((datetime.strptime(first, "%H:%M:%S.%f")
                                     - datetime.strptime(process_start, "%H:%M:%S.%f")).total_seconds(), 1)
        if first else None,
        "target_s_per_submission": 15,
        "graded": len(times), "not_graded": missing,
        "full_marks": sum(1 for s in report.values() for a in s.values() if a["score"] == a["max_score"]),
        "expected_full_marks": sum(1 for i in range(args.n) if i % 5 != 4) if args.assignment == "lab1" else args.n,
        "per_student_s": times,
    })
    result["machine"]["load_average_at_end"] = os.getloadavg()
    out = ROOT / "bench" / "results" / "autograde.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "per_student_s"}, indent=2))
    return 0 if not missing and result["full_marks"] == result["expected_full_marks"] else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
