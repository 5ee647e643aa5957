"""The packet files the lab notebook writes: the loss curve, the failure analysis, the rollback note, the manifest.

JSON and JSONL files go through workbook.core.io (write_json, write_jsonl).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from workbook.core.io import read_jsonl, sha256_file, write_json
from workbook.evidence.packet import loss_points, points_sha256
from workbook.evidence.results import failure_candidates
from workbook.evidence.schema import AUTO_MARKER, LOSS_POINTS_KEY, MIN_FAILURE_CASES, PACKET_FILES


def save_loss_curve(log_rows: Sequence[dict[str, Any]], path: str | Path, title: str = "QLoRA SFT loss") -> Path:
    """Plot train/eval loss from the trainer's log (workbook.topics.lm.plot_loss), plotted points embedded in the PNG.

    The points travel in a PNG text chunk, so the validator can prove the picture was drawn from this log.
    """
    from matplotlib.figure import Figure  # no pyplot: works headless and leaves the notebook's backend alone

    from workbook.topics.lm import plot_loss

    points = loss_points(log_rows)
    fig = Figure(figsize=(6, 3.5))
    plot_loss(list(log_rows), title=title, ax=fig.subplots())
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100, metadata={LOSS_POINTS_KEY: json.dumps(points), "Software": "post-training-workbook"})
    return path


def write_manifest(evidence_dir: str | Path, fields: dict[str, Any]) -> Path:
    """manifest.json: the given fields plus the loss series' hash and the sha256 of every other packet file."""
    folder = Path(evidence_dir)
    points = loss_points(read_jsonl(folder / "training_log.jsonl"))
    manifest = dict(fields)
    manifest["loss_curve"] = {
        "file": "loss_curve.png",
        "points_sha256": points_sha256(points),
        "n_train_points": len(points["loss"]),
        "n_eval_points": len(points["eval_loss"]),
        "first_loss": points["loss"][0][1] if points["loss"] else None,
        "last_loss": points["loss"][-1][1] if points["loss"] else None,
    }
    present = [name for name in PACKET_FILES if name != "manifest.json" and (folder / name).is_file()]
    manifest["files"] = {name: sha256_file(folder / name) for name in present}
    return write_json(folder / "manifest.json", manifest)


AUTO_DIAGNOSIS_STARTS = ("Regression: the score fell", "Weak answer: tuned score")  # how _auto_diagnosis begins


def _auto_diagnosis(row: dict[str, Any]) -> str:
    """A mechanical first reading of one case: which key facts went missing and how the answer changed."""
    tuned, base = row["tuned"], row["baseline"]
    missing = [fact for fact, hit in zip(row["key_facts"], tuned.get("facts_found", []), strict=False) if not hit]
    parts = []
    if tuned["score"] < base["score"]:
        parts.append(f"{AUTO_DIAGNOSIS_STARTS[0]} from {base['score']:.2f} to {tuned['score']:.2f}.")
    else:
        parts.append(f"{AUTO_DIAGNOSIS_STARTS[1]} {tuned['score']:.2f} (baseline {base['score']:.2f}).")
    if missing:
        parts.append("Key facts missing from the tuned answer: " + ", ".join(f'"{m}"' for m in missing) + ".")
    if row.get("coverage") == "unseen":
        parts.append("This fact was never in the training data, so the model could only guess.")
    return " ".join(parts)


def _one_line(text: str) -> str:
    return " ".join(text.split()) or "(empty)"


def write_failure_analysis(per_example: Sequence[dict[str, Any]], path: str | Path, k: int = MIN_FAILURE_CASES) -> Path:
    """Pre-fill failure_analysis.md with k cases picked from the eval diff; each explanation awaits the student."""
    lines = [
        "# Failure analysis",
        "",
        "Cases picked automatically from the locked-test comparison: regressions first, then the weakest tuned",
        "answers. For each case, replace the auto-diagnosis paragraph under **Explanation:** with your own",
        "explanation (why did the model answer this way? data, recipe, metric, or model size?) and delete the",
        "AUTO-DIAGNOSIS line. The validator passes the gate either way but gives credit only for your own text.",
        "",
    ]
    for number, row in enumerate(failure_candidates(per_example, k), start=1):
        lines += [
            f"## Case {number}: {row['id']}",
            "",
            f"- **Question:** {row['question']}",
            f"- **Reference:** {row['reference']}",
            f"- **Key facts:** {', '.join(row['key_facts'])}",
            f"- **Coverage:** {row.get('coverage', 'n/a')}",
            f"- **Baseline answer** (score {row['baseline']['score']:.2f}): {_one_line(row['baseline']['answer'])}",
            f"- **Tuned answer** (score {row['tuned']['score']:.2f}): {_one_line(row['tuned']['answer'])}",
            "",
            "**Explanation:**",
            "",
            AUTO_MARKER,
            _auto_diagnosis(row),
            "",
        ]
    path = Path(path)
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def write_rollback(
    path: str | Path, base_model: str, base_revision: str | None, adapters: Sequence[dict[str, Any]]
) -> Path:
    """rollback.md: how to go back to the base model or to an earlier adapter, with every adapter's sha256."""
    lines = [
        "# Rollback note",
        "",
        f"- **Base model:** `{base_model}` (revision `{base_revision or 'n/a: offline checkpoint'}`), in 4-bit NF4.",
        "- The adapter never changes the base weights, so rolling back needs no retraining.",
        "",
        "## Adapter versions",
        "",
        "| version | path | sha256 | created |",
        "|---|---|---|---|",
    ]
    lines += [f"| {a['version']} | `{a['path']}` | `{a['sha256']}` | {a.get('created_at', '')} |" for a in adapters]
    lines += [
        "",
        "## Back to the base model",
        "",
        "- In the running notebook: `with model.disable_adapter(): ...` generates with the base weights only.",
        "- From scratch: load the base model as in the notebook and do not call `PeftModel.from_pretrained`.",
        "",
        "## Back to a previous adapter",
        "",
        "1. Pick the version from the table above and check its hash:",
        "   `workbook.core.io.sha256_tree(path) == '<sha256 from the table>'`.",
        "2. Load it on the base model: `PeftModel.from_pretrained(base_model, path)`.",
        "3. Re-run the evaluation cells on the locked test set before serving it again.",
        "",
    ]
    path = Path(path)
    path.write_text("\n".join(lines), encoding="utf-8")
    return path
