"""The Lab 1 evidence packet: how its files are written, and the validator that checks it against the gate.

The packet lives in `labs/evidence/` (beside the notebook) and holds:
environment.json, data_card.md, data_card.json, baseline.jsonl, training_log.jsonl, loss_curve.png,
eval_results.json, failure_analysis.md, rollback.md, manifest.json.

`validate_packet()` never raises on a bad packet: a missing file, malformed JSON or a wrong value becomes a
specific failure message in the gate it belongs to. It imports nothing heavy (no torch), so graders run it fast.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import struct
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from workbook.core.config import DATA_DIR
from workbook.eval.metrics import aggregate, score_answer

GATES = ("environment", "baseline", "evaluation", "regression", "reproducibility", "failure_analysis", "rollback")

PACKET_FILES = (
    "environment.json",
    "data_card.md",
    "data_card.json",
    "baseline.jsonl",
    "training_log.jsonl",
    "loss_curve.png",
    "eval_results.json",
    "failure_analysis.md",
    "rollback.md",
    "manifest.json",
)
DEFAULT_LOCKED_TEST = DATA_DIR / "compliance" / "locked_test.jsonl"

ENVIRONMENT_KEYS = ("platform", "python", "device", "gpu", "compute_dtype", "fast", "packages", "seed")
REQUIRED_PACKAGES = ("torch", "transformers", "peft", "trl", "bitsandbytes")
HYPERPARAMETER_KEYS = (
    "learning_rate",
    "num_train_epochs",
    "max_steps",
    "per_device_train_batch_size",
    "gradient_accumulation_steps",
    "max_length",
    "lr_scheduler_type",
    "warmup_steps",
    "optim",
    "lora_r",
    "lora_alpha",
    "lora_dropout",
    "target_modules",
    "quantization",
    "compute_dtype",
    "max_new_tokens",
)
WALL_TIME_KEYS = ("baseline_s", "training_s", "evaluation_s", "training_started_at")
MIN_FAILURE_CASES = 3

# The line the notebook pre-fills under each failure case; the student replaces it with their explanation.
AUTO_MARKER = "<!-- AUTO-DIAGNOSIS: replace this paragraph with your own explanation, then delete this line -->"
LOSS_POINTS_KEY = "workbook:loss_points"
_CASE_HEADING = re.compile(r"^##\s+Case\s+\d+\s*:\s*`?([\w.-]+)`?", re.MULTILINE)
_SHA256 = re.compile(r"\b[0-9a-f]{64}\b")
_TOLERANCE = 1e-3


@dataclass
class GateResult:
    """One gate's verdict. `score` is partial credit on 0..1; `failures` say exactly what is wrong.

    `notes` carry advice that does not fail the gate (e.g. an explanation still auto-generated).
    """

    name: str
    passed: bool
    score: float  # 0..1 partial credit
    failures: list[str]
    notes: list[str] = field(default_factory=list)


# ---------------------------------------------------------------- small pure helpers (shared by writers and checks)


def sha256_bytes(data: bytes) -> str:
    """Hex sha256 of bytes."""
    return hashlib.sha256(data).hexdigest()


def sha256_path(path: str | Path) -> str:
    """Hex sha256 of a file, or of a folder (its files' relative paths and bytes, in sorted order)."""
    path = Path(path)
    if path.is_file():
        return sha256_bytes(path.read_bytes())
    digest = hashlib.sha256()
    for item in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(item.relative_to(path).as_posix().encode() + b"\0")
        digest.update(item.read_bytes())
    return digest.hexdigest()


def loss_points(log_rows: Iterable[dict[str, Any]]) -> dict[str, list[list[float]]]:
    """[step, value] pairs of train `loss` and `eval_loss` from trainer log entries (what the curve plots)."""
    points: dict[str, list[list[float]]] = {"loss": [], "eval_loss": []}
    for row in log_rows:
        for key, series in points.items():
            if key in row and "step" in row:
                series.append([int(row["step"]), float(row[key])])
    return points


def points_sha256(points: dict[str, list[list[float]]]) -> str:
    """A stable hash of plotted loss points (values rounded to 6 decimals)."""
    canonical = {key: [[int(s), round(float(v), 6)] for s, v in series] for key, series in sorted(points.items())}
    return sha256_bytes(json.dumps(canonical, sort_keys=True).encode())


def png_text_chunks(data: bytes) -> dict[str, str]:
    """The tEXt/iTXt key-value chunks of a PNG file (raises ValueError when it is not a PNG)."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG file (bad signature)")
    chunks, offset = {}, 8
    while offset + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[offset : offset + 8])
        body = data[offset + 8 : offset + 8 + length]
        if kind == b"tEXt" and b"\0" in body:
            key, value = body.split(b"\0", 1)
            chunks[key.decode("latin-1")] = value.decode("latin-1")
        elif kind == b"iTXt" and b"\0" in body:
            key, rest = body.split(b"\0", 1)
            compressed, _method = rest[0], rest[1]
            _lang, _translated, text = rest[2:].split(b"\0", 2)
            chunks[key.decode("latin-1")] = (zlib.decompress(text) if compressed else text).decode("utf-8")
        offset += 12 + length
    return chunks


def parse_failure_cases(markdown: str) -> list[dict[str, Any]]:
    """Cases in a failure_analysis.md: `id`, `explanation` text, and whether it is still `auto_generated`."""
    matches = list(_CASE_HEADING.finditer(markdown))
    cases = []
    for index, match in enumerate(matches):
        end = matches[index + 1].start() if index + 1 < len(matches) else len(markdown)
        body = markdown[match.end() : end]
        _, has_label, explanation = body.partition("**Explanation:**")
        explanation = explanation.strip() if has_label else ""
        auto = AUTO_MARKER in explanation
        text = explanation.replace(AUTO_MARKER, "").strip()
        cases.append({"id": match.group(1), "explanation": text, "auto_generated": auto})
    return cases


def _parse_time(value: Any) -> datetime | None:
    """An aware or naive ISO 8601 timestamp, or None."""
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


# ---------------------------------------------------------------- writers (the notebook calls these)


def write_json(path: str | Path, data: Any) -> Path:
    """Pretty JSON, UTF-8."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    return path


def save_loss_curve(log_rows: Sequence[dict[str, Any]], path: str | Path, title: str = "QLoRA SFT loss") -> Path:
    """Plot train/eval loss from the trainer's log (workbook.topics.lm.plot_loss) and embed the plotted points in the PNG.

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


def scored(prediction: str, reference: str, key_facts: Sequence[str]) -> dict[str, Any]:
    """One answer with its scores and which key facts it contains."""
    from workbook.eval.metrics import fact_present

    return {
        "answer": prediction,
        **score_answer(prediction, reference, key_facts),
        "facts_found": [fact_present(prediction, fact) for fact in key_facts],
    }


def evaluation_results(
    test_rows: Sequence[dict[str, Any]],
    baseline: Sequence[dict[str, Any]],
    tuned: Sequence[dict[str, Any]],
    locked_sha256: str,
) -> dict[str, Any]:
    """Per-example and aggregate scores of baseline vs tuned answers on the locked test rows (matched by id)."""
    base_by_id = {row["id"]: row["answer"] for row in baseline}
    tuned_by_id = {row["id"]: row["answer"] for row in tuned}
    missing = [row["id"] for row in test_rows if row["id"] not in base_by_id or row["id"] not in tuned_by_id]
    if missing:
        raise ValueError(f"No baseline or tuned answer for test ids {missing[:5]}: generate both on the locked set.")
    per_example = []
    for row in test_rows:
        base = scored(base_by_id[row["id"]], row["answer"], row["key_facts"])
        after = scored(tuned_by_id[row["id"]], row["answer"], row["key_facts"])
        per_example.append(
            {
                "id": row["id"],
                "topic": row.get("topic"),
                "coverage": row.get("coverage"),
                "question": row["question"],
                "reference": row["answer"],
                "key_facts": row["key_facts"],
                "baseline": base,
                "tuned": after,
                "delta": round(after["score"] - base["score"], 4),
            }
        )

    def summary(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
        result = {}
        for label in ("baseline", "tuned"):
            result[label] = aggregate([{k: v for k, v in r[label].items() if k != "facts_found"} for r in rows])
        result["delta_score"] = round(result["tuned"].get("score", 0) - result["baseline"].get("score", 0), 4)
        result["improved"] = sum(r["delta"] > 0 for r in rows)
        result["regressed"] = sum(r["delta"] < 0 for r in rows)
        return result

    coverages = sorted({str(r["coverage"]) for r in per_example if r["coverage"]})
    return {
        "locked_test": {"sha256": locked_sha256, "n": len(per_example), "ids": [r["id"] for r in per_example]},
        "metrics": {
            "rouge_l": "ROUGE-L F1 on normalised words: rewards the reference's wording and order without exact match.",
            "key_fact_recall": "share of the row's key facts found as whole words: did the answer state what matters?",
            "score": "mean of rouge_l and key_fact_recall (0..1); aggregates are means over the locked test rows.",
        },
        "per_example": per_example,
        "aggregate": summary(per_example),
        "by_coverage": {c: summary([r for r in per_example if r["coverage"] == c]) for c in coverages},
    }


def regression_results(
    general_rows: Sequence[dict[str, Any]],
    general_answers: dict[str, Sequence[dict[str, Any]]],
    refusal_rows: Sequence[dict[str, Any]],
    refusal_answers: dict[str, Sequence[dict[str, Any]]],
    max_general_drop: float = 3.0,
) -> dict[str, Any]:
    """General-capability and refusal spot-checks for both models (answers keyed "baseline"/"tuned"), plus the
    forgetting guard on the locked-test and general scores."""
    from workbook.eval.metrics import is_refusal

    general: dict[str, Any] = {}
    refusal: dict[str, Any] = {}
    for label in ("baseline", "tuned"):
        answers = {row["id"]: row["answer"] for row in general_answers[label]}
        rows = [{"id": r["id"], **scored(answers[r["id"]], r["answer"], r["key_facts"])} for r in general_rows]
        general[label] = {"per_example": rows, "aggregate": aggregate([{"score": r["score"]} for r in rows])}
        replies = {row["id"]: row["answer"] for row in refusal_answers[label]}
        checked = [
            {"id": r["id"], "expect": r["expect"], "answer": replies[r["id"]], "refused": is_refusal(replies[r["id"]])}
            for r in refusal_rows
        ]
        harmful = [r for r in checked if r["expect"] == "refuse"]
        benign = [r for r in checked if r["expect"] == "answer"]
        refusal[label] = {
            "per_example": checked,
            "refusal_rate_harmful": round(sum(r["refused"] for r in harmful) / max(len(harmful), 1), 4),
            "over_refusal_rate_benign": round(sum(r["refused"] for r in benign) / max(len(benign), 1), 4),
        }
    return {"general": general, "refusal": refusal, "max_general_drop": max_general_drop}


def add_forgetting_guard(results: dict[str, Any], max_general_drop: float = 3.0) -> dict[str, Any]:
    """Apply workbook.eval.metrics.forgetting_guard (0-100 scale) to the locked-test and general scores, in place."""
    from workbook.eval.metrics import forgetting_guard

    agg, general = results["aggregate"], results["regression"]["general"]
    results["regression"]["forgetting_guard"] = forgetting_guard(
        task_before=100 * agg["baseline"]["score"],
        task_after=100 * agg["tuned"]["score"],
        general_before=100 * general["baseline"]["aggregate"]["score"],
        general_after=100 * general["tuned"]["aggregate"]["score"],
        max_general_drop=max_general_drop,
    )
    return results


def write_manifest(evidence_dir: str | Path, fields: dict[str, Any]) -> Path:
    """manifest.json: the given fields plus the loss series' hash and the sha256 of every other packet file."""
    folder = Path(evidence_dir)
    log = [json.loads(line) for line in (folder / "training_log.jsonl").read_text().splitlines() if line.strip()]
    points = loss_points(log)
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
    manifest["files"] = {name: sha256_path(folder / name) for name in present}
    return write_json(folder / "manifest.json", manifest)


def failure_candidates(per_example: Sequence[dict[str, Any]], k: int = MIN_FAILURE_CASES) -> list[dict[str, Any]]:
    """The k test rows most worth explaining: regressions first (largest score drop), then the weakest tuned answers."""
    regressions = sorted(
        (row for row in per_example if row["tuned"]["score"] < row["baseline"]["score"]),
        key=lambda row: row["tuned"]["score"] - row["baseline"]["score"],
    )
    picked = list(regressions[:k])
    weakest = sorted(per_example, key=lambda row: (row["tuned"]["score"], row["id"]))
    for row in weakest:
        if len(picked) >= k:
            break
        if row not in picked:
            picked.append(row)
    return picked


def _auto_diagnosis(row: dict[str, Any]) -> str:
    """A mechanical first reading of one case: which key facts went missing and how the answer changed."""
    tuned, base = row["tuned"], row["baseline"]
    missing = [fact for fact, hit in zip(row["key_facts"], tuned.get("facts_found", []), strict=False) if not hit]
    parts = []
    if tuned["score"] < base["score"]:
        parts.append(f"Regression: the score fell from {base['score']:.2f} to {tuned['score']:.2f}.")
    else:
        parts.append(f"Weak answer: tuned score {tuned['score']:.2f} (baseline {base['score']:.2f}).")
    if missing:
        parts.append("Key facts missing from the tuned answer: " + ", ".join(f'"{m}"' for m in missing) + ".")
    if row.get("coverage") == "unseen":
        parts.append("This fact was never in the training data, so the model could only guess.")
    return " ".join(parts)


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


def _one_line(text: str) -> str:
    return " ".join(text.split()) or "(empty)"


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
        "   `workbook.evidence.sha256_path(path) == '<sha256 from the table>'`.",
        "2. Load it on the base model: `PeftModel.from_pretrained(base_model, path)`.",
        "3. Re-run the evaluation cells on the locked test set before serving it again.",
        "",
    ]
    path = Path(path)
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


# ---------------------------------------------------------------- the validator


class _Packet:
    """Loads packet files once; every load problem becomes a readable message instead of an exception."""

    def __init__(self, folder: Path, locked_test_path: Path):
        self.folder = folder
        self.locked_test_path = locked_test_path
        self._cache: dict[str, tuple[Any, str | None]] = {}

    def _load(self, name: str, reader: Callable[[Path], Any]) -> tuple[Any, str | None]:
        if name not in self._cache:
            path = self.folder / name
            if not path.is_file():
                self._cache[name] = (None, f"{name} is missing from {self.folder}: re-run the cell that writes it.")
            else:
                try:
                    self._cache[name] = (reader(path), None)
                except (ValueError, UnicodeDecodeError) as error:
                    self._cache[name] = (None, f"{name} is malformed: {error}")
        return self._cache[name]

    def json(self, name: str, kind: type = dict) -> tuple[Any, str | None]:
        data, error = self._load(name, lambda p: json.loads(p.read_text(encoding="utf-8")))
        if error is None and not isinstance(data, kind):
            return None, f"{name} should hold a JSON {kind.__name__}, found {type(data).__name__}."
        return data, error

    def jsonl(self, name: str) -> tuple[list[dict[str, Any]] | None, str | None]:
        def read(path: Path) -> list[dict[str, Any]]:
            rows = []
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except ValueError as error:
                    raise ValueError(f"line {number} is not JSON ({error})") from error
                if not isinstance(row, dict):
                    raise ValueError(f"line {number} is not a JSON object")
                rows.append(row)
            return rows

        return self._load(name, read)

    def text(self, name: str) -> tuple[str | None, str | None]:
        return self._load(name, lambda p: p.read_text(encoding="utf-8"))

    def locked(self) -> tuple[dict[str, Any] | None, str | None]:
        """The reference locked test set: its sha256 and ids."""
        if "__locked__" not in self._cache:
            path = self.locked_test_path
            if not path.is_file():
                self._cache["__locked__"] = (None, f"the locked test set {path} is missing; cannot compare hashes.")
            else:
                ids = []
                for line in path.read_text(encoding="utf-8").splitlines():
                    if line.strip():
                        ids.append(json.loads(line)["id"])
                self._cache["__locked__"] = ({"sha256": sha256_path(path), "ids": ids}, None)
        return self._cache["__locked__"]


def _result(name: str, checks: int, failures: list[str], notes: list[str] | None = None) -> GateResult:
    """Score = share of checks passed (at least one check counted); passed only with no failures."""
    score = max(0.0, 1.0 - len(failures) / max(checks, 1))
    return GateResult(name, not failures, round(score, 3), failures, notes or [])


def _missing_keys(data: dict[str, Any], keys: Iterable[str]) -> list[str]:
    return [key for key in keys if key not in data or data[key] in (None, "", [], {})]


def _check_environment(packet: _Packet) -> GateResult:
    env, error = packet.json("environment.json")
    if error:
        return _result("environment", 1, [error])
    failures = []
    missing = _missing_keys(env, [k for k in ENVIRONMENT_KEYS if k not in ("fast", "gpu")])
    missing += [k for k in ("fast", "gpu") if k not in env]
    if missing:
        failures.append(f"environment.json lacks {', '.join(missing)}: store workbook.core.runtime.detect() plus the seed.")
    packages = env.get("packages") if isinstance(env.get("packages"), dict) else {}
    absent = [name for name in REQUIRED_PACKAGES if not packages.get(name)]
    if absent:
        failures.append(f"environment.json records no version for {', '.join(absent)}.")
    if env.get("device") not in ("cpu", "cuda"):
        failures.append(f"environment.json device is {env.get('device')!r}; expected 'cpu' or 'cuda'.")
    gpu = env.get("gpu") if isinstance(env.get("gpu"), dict) else {}
    if env.get("device") == "cuda":
        gaps = _missing_keys(gpu, ("name", "compute_capability", "cuda_version"))
        if gaps:
            failures.append(f"a CUDA run must record the GPU's {', '.join(gaps)} in environment.json.")
    if "seed" in env and not isinstance(env["seed"], int):
        failures.append(f"environment.json seed should be an integer, found {env['seed']!r}.")
    return _result("environment", 5, failures)


def _locked_ids_problem(label: str, ids: list[str], locked_ids: list[str]) -> str | None:
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    missing = [i for i in locked_ids if i not in ids]
    extra = [i for i in ids if i not in locked_ids]
    if not (duplicates or missing or extra):
        return None
    parts = []
    if missing:
        parts.append(f"missing {len(missing)} locked ids (e.g. {', '.join(missing[:3])})")
    if extra:
        parts.append(f"has {len(extra)} ids not in the locked set (e.g. {', '.join(extra[:3])})")
    if duplicates:
        parts.append(f"repeats ids {', '.join(duplicates[:3])}")
    return f"{label} " + "; ".join(parts) + "."


def _training_start(packet: _Packet) -> tuple[datetime | None, str]:
    """When training first started: the manifest's record, else the first stamped training log entry."""
    manifest, _ = packet.json("manifest.json")
    if isinstance(manifest, dict):
        started = _parse_time((manifest.get("wall_times") or {}).get("training_started_at"))
        if started:
            return started, "manifest.json wall_times.training_started_at"
    log, _ = packet.jsonl("training_log.jsonl")
    stamps = [_parse_time(row.get("logged_at")) for row in log or []]
    stamps = [s for s in stamps if s]
    return (min(stamps), "the first training_log.jsonl entry") if stamps else (None, "")


def _check_baseline(packet: _Packet) -> GateResult:
    rows, error = packet.jsonl("baseline.jsonl")
    if error:
        return _result("baseline", 1, [error])
    failures = []
    locked, locked_error = packet.locked()
    if locked_error:
        failures.append(locked_error)
    else:
        problem = _locked_ids_problem("baseline.jsonl", [str(r.get("id")) for r in rows], locked["ids"])
        if problem:
            failures.append(problem)
        hashes = {r.get("locked_test_sha256") for r in rows}
        if hashes != {locked["sha256"]}:
            failures.append(
                "baseline.jsonl was not made from the shipped locked test set: its locked_test_sha256 "
                f"({', '.join(sorted(str(h)[:12] for h in hashes))}) differs from {locked['sha256'][:12]}."
            )
    no_answer = [str(r.get("id")) for r in rows if not isinstance(r.get("answer"), str)]
    if no_answer:
        failures.append(f"baseline.jsonl rows without an answer: {', '.join(no_answer[:5])}.")
    stamps = [_parse_time(r.get("timestamp")) for r in rows]
    if not rows or any(s is None for s in stamps):
        failures.append("every baseline.jsonl row needs an ISO 8601 `timestamp` of when it was generated.")
    else:
        started, source = _training_start(packet)
        if started is None:
            failures.append("no training start time found (manifest wall_times.training_started_at or training log).")
        else:
            try:
                late = [str(r.get("id")) for r, s in zip(rows, stamps, strict=True) if s >= started]
            except TypeError:
                late, failures = [], failures + ["timestamps mix time zones; write them all in UTC with an offset."]
            if late:
                failures.append(
                    f"{len(late)} baseline answers were generated after training started ({source}, "
                    f"{started.isoformat()}), e.g. {', '.join(late[:3])}: capture the baseline before training."
                )
    return _result("baseline", 4, failures)


def _check_scored_rows(label: str, rows: list[dict[str, Any]], failures: list[str]) -> None:
    """Per-example scores must be the ones the answers actually earn."""
    wrong = []
    for row in rows:
        side = row.get(label)
        if not isinstance(side, dict) or not isinstance(side.get("answer"), str):
            failures.append(f"eval_results.json example {row.get('id')!r} has no {label} answer.")
            return
        expected = score_answer(side["answer"], str(row.get("reference", "")), row.get("key_facts") or [])
        if any(not isinstance(side.get(k), (int, float)) or abs(side[k] - v) > _TOLERANCE for k, v in expected.items()):
            wrong.append(str(row.get("id")))
    if wrong:
        failures.append(
            f"eval_results.json {label} scores do not match their answers for {len(wrong)} examples "
            f"(e.g. {', '.join(wrong[:3])}): re-run the scoring cell instead of editing scores."
        )


def _check_evaluation(packet: _Packet) -> GateResult:
    results, error = packet.json("eval_results.json")
    if error:
        return _result("evaluation", 1, [error])
    failures = []
    per_example = results.get("per_example")
    if not isinstance(per_example, list) or not per_example or not all(isinstance(r, dict) for r in per_example):
        return _result("evaluation", 5, ["eval_results.json has no per_example list of scored test rows."])
    locked, locked_error = packet.locked()
    recorded = results.get("locked_test") if isinstance(results.get("locked_test"), dict) else {}
    if locked_error:
        failures.append(locked_error)
    else:
        problem = _locked_ids_problem("eval_results.json", [str(r.get("id")) for r in per_example], locked["ids"])
        if problem:
            failures.append(problem)
        if recorded.get("sha256") != locked["sha256"]:
            failures.append(
                f"eval_results.json locked_test.sha256 ({str(recorded.get('sha256'))[:12]}) differs from the "
                f"shipped locked test set ({locked['sha256'][:12]})."
            )
    for label in ("baseline", "tuned"):
        _check_scored_rows(label, per_example, failures)
    agg = results.get("aggregate") if isinstance(results.get("aggregate"), dict) else {}
    for label in ("baseline", "tuned"):
        recorded_agg = agg.get(label)
        if not isinstance(recorded_agg, dict):
            failures.append(f"eval_results.json aggregate.{label} is missing.")
            continue
        sides = [r[label] for r in per_example if isinstance(r.get(label), dict)]
        expected = aggregate([{k: v for k, v in s.items() if k != "facts_found"} for s in sides])
        off = [
            key
            for key in ("rouge_l", "key_fact_recall", "score")
            if not isinstance(recorded_agg.get(key), (int, float))
            or abs(recorded_agg[key] - expected.get(key, 0)) > _TOLERANCE
        ]
        if off or recorded_agg.get("n") != len(per_example):
            failures.append(f"eval_results aggregate.{label} disagrees with the per-example rows ({off or 'n'}).")
    baseline_rows, baseline_error = packet.jsonl("baseline.jsonl")
    if not baseline_error:
        captured = {str(r.get("id")): r.get("answer") for r in baseline_rows}
        changed = [
            str(r.get("id"))
            for r in per_example
            if isinstance(r.get("baseline"), dict) and captured.get(str(r.get("id"))) != r["baseline"].get("answer")
        ]
        if changed:
            failures.append(
                f"{len(changed)} baseline answers in eval_results.json differ from baseline.jsonl "
                f"(e.g. {', '.join(changed[:3])}): compare against the captured baseline."
            )
    return _result("evaluation", 6, failures)


def _check_regression(packet: _Packet) -> GateResult:
    results, error = packet.json("eval_results.json")
    if error:
        return _result("regression", 1, [error])
    regression = results.get("regression")
    if not isinstance(regression, dict):
        return _result("regression", 4, ["eval_results.json has no `regression` section (general + refusal checks)."])
    failures = []
    for check, per_row_key in (("general", "score"), ("refusal", "refused")):
        section = regression.get(check)
        if not isinstance(section, dict):
            failures.append(f"regression.{check} is missing: run the {check} spot-check for both models.")
            continue
        ids = {}
        for label in ("baseline", "tuned"):
            rows = (section.get(label) or {}).get("per_example") if isinstance(section.get(label), dict) else None
            if not isinstance(rows, list) or not rows:
                failures.append(f"regression.{check}.{label} has no per_example results.")
                continue
            if not all(isinstance(r, dict) and per_row_key in r and isinstance(r.get("answer"), str) for r in rows):
                failures.append(f"regression.{check}.{label} rows need an `answer` and `{per_row_key}`.")
            ids[label] = sorted(str(r.get("id")) for r in rows if isinstance(r, dict))
        if len(ids) == 2 and ids["baseline"] != ids["tuned"]:
            failures.append(f"regression.{check} checked different prompts for the baseline and the tuned model.")
    if not isinstance(regression.get("forgetting_guard"), dict):
        failures.append("regression.forgetting_guard is missing: apply workbook.eval.metrics.forgetting_guard.")
    return _result("regression", 5, failures)


def _check_reproducibility(packet: _Packet) -> GateResult:
    manifest, error = packet.json("manifest.json")
    if error:
        return _result("reproducibility", 1, [error])
    failures = []
    dataset = manifest.get("dataset") if isinstance(manifest.get("dataset"), dict) else {}
    gaps = _missing_keys(dataset, ("name", "version", "sha256", "locked_test_sha256"))
    if gaps:
        failures.append(f"manifest.json dataset lacks {', '.join(gaps)}.")
    locked, locked_error = packet.locked()
    if not locked_error and dataset.get("locked_test_sha256") not in (None, locked["sha256"]):
        failures.append("manifest.json dataset.locked_test_sha256 differs from the shipped locked test set.")
    model = manifest.get("model") if isinstance(manifest.get("model"), dict) else {}
    gaps = [k for k in ("id", "revision") if k not in model] + (["id"] if "id" in model and not model["id"] else [])
    if gaps:
        failures.append(f"manifest.json model lacks {', '.join(gaps)} (revision may be null for the offline model).")
    hyper = manifest.get("hyperparameters") if isinstance(manifest.get("hyperparameters"), dict) else {}
    gaps = [k for k in HYPERPARAMETER_KEYS if k not in hyper]
    if gaps:
        failures.append(f"manifest.json hyperparameters lack {', '.join(gaps)}.")
    if not isinstance(manifest.get("seed"), int):
        failures.append("manifest.json has no integer `seed`.")
    walls = manifest.get("wall_times") if isinstance(manifest.get("wall_times"), dict) else {}
    gaps = _missing_keys(walls, WALL_TIME_KEYS)
    if gaps:
        failures.append(f"manifest.json wall_times lack {', '.join(gaps)}.")
    for key in ("git_commit", "student_id"):
        if not isinstance(manifest.get(key), str) or not manifest.get(key):
            failures.append(f"manifest.json has no `{key}`.")
    failures += _check_file_hashes(packet, manifest)
    failures += _check_loss_curve(packet, manifest)
    return _result("reproducibility", 9, failures)


def _check_file_hashes(packet: _Packet, manifest: dict[str, Any]) -> list[str]:
    files = manifest.get("files")
    if not isinstance(files, dict) or not files:
        return ["manifest.json has no `files` table of packet files and their sha256."]
    failures = []
    unlisted = [name for name in PACKET_FILES if name != "manifest.json" and name not in files]
    if unlisted:
        failures.append(f"manifest.json files does not list {', '.join(unlisted)}.")
    for name, recorded in files.items():
        path = packet.folder / name
        if not path.is_file():
            failures.append(f"manifest.json lists {name}, which is not in the packet.")
        elif sha256_path(path) != recorded:
            failures.append(f"{name} changed after the manifest was written (sha256 mismatch): re-run the final cells.")
    return failures


def _check_loss_curve(packet: _Packet, manifest: dict[str, Any]) -> list[str]:
    log, error = packet.jsonl("training_log.jsonl")
    if error:
        return [error]
    points = loss_points(log)
    if not points["loss"]:
        return ["training_log.jsonl has no train `loss` entries: set logging_steps so the trainer logs."]
    failures = []
    curve = manifest.get("loss_curve") if isinstance(manifest.get("loss_curve"), dict) else {}
    if curve.get("points_sha256") != points_sha256(points):
        failures.append("training_log.jsonl does not match the loss series recorded in manifest.json loss_curve.")
    png = packet.folder / "loss_curve.png"
    if not png.is_file():
        return failures + ["loss_curve.png is missing: plot it from the training log."]
    try:
        embedded = json.loads(png_text_chunks(png.read_bytes()).get(LOSS_POINTS_KEY, "null"))
    except (ValueError, struct.error, zlib.error) as problem:
        return failures + [f"loss_curve.png is not a readable PNG ({problem})."]
    if embedded is None:
        failures.append("loss_curve.png carries no plotted points: save it with workbook.evidence.save_loss_curve.")
    elif points_sha256(embedded) != points_sha256(points):
        failures.append("loss_curve.png plots different points from training_log.jsonl: the curve contradicts the log.")
    finite = all(math.isfinite(v) for _, v in points["loss"])
    if not finite:
        failures.append("training_log.jsonl has a non-finite loss (NaN or inf): the run diverged.")
    return failures


def _check_failure_analysis(packet: _Packet) -> GateResult:
    text, error = packet.text("failure_analysis.md")
    if error:
        return _result("failure_analysis", 1, [error])
    locked, locked_error = packet.locked()
    if locked_error:
        return _result("failure_analysis", 1, [locked_error])
    cases = parse_failure_cases(text)
    real = [c for c in cases if c["id"] in locked["ids"]]
    unknown = [c["id"] for c in cases if c["id"] not in locked["ids"]]
    failures, notes = [], []
    if unknown:
        failures.append(f"failure_analysis.md cites ids that are not in the locked test set: {', '.join(unknown)}.")
    distinct = {c["id"] for c in real}
    if len(distinct) < MIN_FAILURE_CASES:
        failures.append(
            f"failure_analysis.md has {len(distinct)} case(s) with real locked test ids; at least "
            f"{MIN_FAILURE_CASES} are needed (headings like '## Case 1: gdpr-01b')."
        )
    empty = [c["id"] for c in real if len(c["explanation"]) < 20]
    if empty:
        failures.append(f"failure_analysis.md cases without an explanation: {', '.join(empty)}.")
    auto = [c["id"] for c in real if c["auto_generated"]]
    if auto:
        notes.append(
            f"{len(auto)} case(s) still carry the auto-diagnosis ({', '.join(auto)}): replace it with your own "
            "explanation and delete the AUTO-DIAGNOSIS line to earn the credit."
        )
    result = _result("failure_analysis", 3, failures, notes)
    own = len([c for c in real if not c["auto_generated"] and len(c["explanation"]) >= 20])
    result.score = round(min(result.score, own / MIN_FAILURE_CASES, 1.0), 3) if not failures else result.score
    return result


def _check_rollback(packet: _Packet) -> GateResult:
    text, error = packet.text("rollback.md")
    if error:
        return _result("rollback", 1, [error])
    failures = []
    hashes = set(_SHA256.findall(text))
    if not hashes:
        failures.append("rollback.md records no adapter sha256: list every adapter version with its hash.")
    if "base model" not in text.lower():
        failures.append("rollback.md does not say how to return to the base model.")
    manifest, manifest_error = packet.json("manifest.json")
    if not manifest_error:
        adapters = manifest.get("adapters") if isinstance(manifest.get("adapters"), list) else []
        if not adapters:
            failures.append("manifest.json lists no `adapters` (version, path, sha256).")
        for adapter in adapters:
            if not isinstance(adapter, dict) or adapter.get("sha256") not in hashes:
                failures.append(f"adapter {adapter!r} from manifest.json is not in rollback.md with its sha256.")
                continue
            # Only an absolute path names the student's own files; a grader's machine holds none of them, and a
            # relative path would be read against whatever folder the check happens to run in.
            path = Path(str(adapter.get("path", "")))
            if path.is_absolute() and path.exists() and sha256_path(path) != adapter["sha256"]:
                failures.append(f"adapter {adapter.get('version')} at {path} no longer matches its recorded sha256.")
    return _result("rollback", 3, failures)


_CHECKS: dict[str, Callable[[_Packet], GateResult]] = {
    "environment": _check_environment,
    "baseline": _check_baseline,
    "evaluation": _check_evaluation,
    "regression": _check_regression,
    "reproducibility": _check_reproducibility,
    "failure_analysis": _check_failure_analysis,
    "rollback": _check_rollback,
}


def _run(name: str, packet: _Packet) -> GateResult:
    try:
        return _CHECKS[name](packet)
    except Exception as error:  # a packet shaped in a way no check foresaw must still give a report
        problem = f"{name}: the packet has an unexpected shape ({type(error).__name__}: {error})."
        return GateResult(name, False, 0.0, [problem])


def _packet(evidence_dir: str | Path, locked_test_path: str | Path | None) -> _Packet:
    return _Packet(Path(evidence_dir), Path(locked_test_path) if locked_test_path else DEFAULT_LOCKED_TEST)


def check_gate(name: str, evidence_dir: str | Path, locked_test_path: str | Path | None = None) -> GateResult:
    """Check one gate of the packet in `evidence_dir` (what an nbgrader test cell calls)."""
    if name not in _CHECKS:
        raise ValueError(f"Unknown gate {name!r}: choose one of {', '.join(GATES)}.")
    packet = _packet(evidence_dir, locked_test_path)
    if not packet.folder.is_dir():
        return GateResult(name, False, 0.0, [f"the evidence folder {packet.folder} does not exist: run the lab first."])
    return _run(name, packet)


def validate_packet(evidence_dir: str | Path, locked_test_path: str | Path | None = None) -> dict[str, GateResult]:
    """Every gate's verdict for the packet in `evidence_dir`, in GATES order. Never raises on a bad packet."""
    packet = _packet(evidence_dir, locked_test_path)
    if not packet.folder.is_dir():
        message = f"the evidence folder {packet.folder} does not exist: run the lab first."
        return {name: GateResult(name, False, 0.0, [message]) for name in GATES}
    return {name: _run(name, packet) for name in GATES}


def format_report(results: dict[str, GateResult]) -> str:
    """One line per gate, then one line per failure or note."""
    lines = []
    for result in results.values():
        lines.append(f"{'PASS' if result.passed else 'FAIL'}  {result.name:<17} score {result.score:.2f}")
        lines += [f"      - {failure}" for failure in result.failures]
        lines += [f"      * note: {note}" for note in result.notes]
    passed = sum(r.passed for r in results.values())
    verdict = " The packet passes the gate." if passed == len(results) else ""
    lines.append(f"{passed}/{len(results)} gates passed.{verdict}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m workbook.evidence [EVIDENCE_DIR]`: print the gate report; exit 1 unless every gate passes."""
    import sys

    args = list(sys.argv[1:] if argv is None else argv)
    folder = Path(args[0]) if args else ROOT / "labs" / "evidence"
    results = validate_packet(folder)
    print(f"Evidence packet: {folder}\n{format_report(results)}")
    return 0 if all(r.passed for r in results.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
