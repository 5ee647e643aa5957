"""The instructor's class report, from export's grades.json: `python -m assessments.cli report`.

Writes into the exports folder:
- report_marks.csv: per assignment and item (quiz question or lab gate): submissions, mean, min, median, max and the
  share with full marks;
- report_flags.csv: one row per flagged submission and flag, with its category and the evidence export recorded;
- report.html: the same, with a histogram of total marks per assignment and the mean share per item (matplotlib,
  embedded as PNG), and the flagged submissions a human should look at.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import json
import statistics
from pathlib import Path

CATEGORIES = (  # (category, words in a flag that put it there), first match wins
    ("copied packet", ("identical to",)),
    ("suspicious code", ("kernel hooks",)),
    ("limit hit", ("limit hit",)),
    ("kernel and re-check disagree", ("re-check gave",)),
    ("not graded", ("not autograded", "unreadable")),
    ("notebook structure edited", ("restored", "re-marked", "ignored", "repaired")),
)


def category(flag: str) -> str:
    return next((name for name, words in CATEGORIES if any(w in flag for w in words)), "other")


def marks_table(grades: dict) -> list[dict]:
    """Per assignment and item: count, mean, min, median, max and share of full marks."""
    per_item: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for assignments in grades.values():
        for assignment, entry in assignments.items():
            per_item.setdefault((assignment, "TOTAL"), []).append((entry["score"], entry["max_score"]))
            for item, mark in entry["items"].items():
                per_item.setdefault((assignment, item), []).append((mark["score"], mark["max_score"]))
    rows = []
    for (assignment, item), marks in sorted(per_item.items()):
        scores = [s for s, _ in marks]
        rows.append({"assignment": assignment, "item": item, "n": len(marks), "max": max(m for _, m in marks),
                     "mean": round(statistics.fmean(scores), 3), "min": min(scores),
                     "median": round(statistics.median(scores), 3), "best": max(scores),
                     "full_marks_share": round(sum(s >= m - 1e-9 for s, m in marks) / len(marks), 3)})
    return rows


def flag_rows(grades: dict) -> list[dict]:
    rows = []
    for student, assignments in sorted(grades.items()):
        for assignment, entry in sorted(assignments.items()):
            for flag in entry.get("flags", []):
                rows.append({"student_id": student, "assignment": assignment, "category": category(flag),
                             "score": entry["score"], "max_score": entry["max_score"], "evidence": flag})
    return rows


def _png(fig) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    return base64.b64encode(buffer.getvalue()).decode()


def _plots(grades: dict, marks: list[dict]) -> list[tuple[str, str]]:
    """(title, base64 PNG) per assignment: total marks histogram and mean share per item."""
    from matplotlib.figure import Figure  # no pyplot: headless, no global state

    plots = []
    for assignment in sorted({r["assignment"] for r in marks}):
        totals = [a[assignment]["score"] / a[assignment]["max_score"] * 100 for a in grades.values()
                  if assignment in a and a[assignment]["max_score"]]
        items = [r for r in marks if r["assignment"] == assignment and r["item"] != "TOTAL"]
        fig = Figure(figsize=(10, 3.2))
        left, right = fig.subplots(1, 2)
        left.hist(totals, bins=[i * 10 for i in range(11)], color="#4c72b0", edgecolor="white")
        left.set(title=f"{assignment}: total marks (n={len(totals)})", xlabel="% of the maximum", ylabel="submissions")
        right.barh([r["item"] for r in items], [r["mean"] / r["max"] * 100 if r["max"] else 0 for r in items],
                   color="#55a868")
        right.set(title="mean mark per item", xlabel="% of the item's points", xlim=(0, 100))
        right.tick_params(axis="y", labelsize=7)
        fig.tight_layout()
        plots.append((assignment, _png(fig)))
    return plots


def _table(rows: list[dict]) -> str:
    if not rows:
        return "<p>None.</p>"
    head = "".join(f"<th>{html.escape(k)}</th>" for k in rows[0])
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in r.values()) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _write_csv(path: Path, rows: list[dict], fields: list[str]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    return path


def write_report(exports: Path) -> list[Path]:
    """report_marks.csv, report_flags.csv and report.html from exports/grades.json."""
    source = exports / "grades.json"
    if not source.is_file():
        raise SystemExit(f"No {source}: run `python -m assessments.cli export` first.")
    grades = json.loads(source.read_text(encoding="utf-8"))
    marks, flags = marks_table(grades), flag_rows(grades)
    written = [
        _write_csv(exports / "report_marks.csv", marks,
                   ["assignment", "item", "n", "max", "mean", "min", "median", "best", "full_marks_share"]),
        _write_csv(exports / "report_flags.csv", flags,
                   ["student_id", "assignment", "category", "score", "max_score", "evidence"]),
    ]
    flagged = sorted({(r["student_id"], r["assignment"]) for r in flags})
    figures = "".join(f"<h3>{html.escape(a)}</h3><img alt='marks of {html.escape(a)}' src='data:image/png;base64,{p}'>"
                      for a, p in _plots(grades, marks))
    page = f"""<!doctype html><meta charset="utf-8"><title>Class report</title>
<style>body{{font-family:sans-serif;margin:2em}} table{{border-collapse:collapse;font-size:13px}}
td,th{{border:1px solid #ccc;padding:3px 6px;text-align:left;vertical-align:top}}</style>
<h1>Class report</h1>
<p>{len(grades)} students, {sum(len(a) for a in grades.values())} graded submissions;
{len(flagged)} submissions flagged for a human ({len(flags)} flags).</p>
<h2>Marks</h2>{figures}{_table(marks)}
<h2>Flagged submissions</h2>{_table(flags)}
"""
    (exports / "report.html").write_text(page, encoding="utf-8")
    return [*written, exports / "report.html"]
