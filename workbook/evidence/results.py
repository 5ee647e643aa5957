"""What goes into eval_results.json: scored answers, baseline vs tuned on the locked test set, the regression
spot-checks with the forgetting guard, and the failure cases most worth explaining."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from workbook.eval.metrics import aggregate, fact_present, forgetting_guard, is_refusal, score_answer
from workbook.evidence.schema import MIN_FAILURE_CASES


def scored(prediction: str, reference: str, key_facts: Sequence[str]) -> dict[str, Any]:
    """One answer with its scores and which key facts it contains."""
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
    """General-capability and refusal spot-checks for both models (answers keyed "baseline"/"tuned").

    add_forgetting_guard then applies the forgetting guard to the locked-test and general scores.
    """
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
    agg, general = results["aggregate"], results["regression"]["general"]
    results["regression"]["forgetting_guard"] = forgetting_guard(
        task_before=100 * agg["baseline"]["score"],
        task_after=100 * agg["tuned"]["score"],
        general_before=100 * general["baseline"]["aggregate"]["score"],
        general_after=100 * general["tuned"]["aggregate"]["score"],
        max_general_drop=max_general_drop,
    )
    return results


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


def wilson_interval(rate: float, n: int, z: float = 1.96) -> list[float]:
    """The Wilson score 95% interval [lo, hi] of a rate measured on n items (ties counted as half a success
    give a fractional count, which the formula takes as it is); [0.0, 1.0] when n is 0. Rounded to 4 decimals."""
    if n <= 0:
        return [0.0, 1.0]
    denominator = 1 + z * z / n
    centre = (rate + z * z / (2 * n)) / denominator
    half = z * math.sqrt(rate * (1 - rate) / n + z * z / (4 * n * n)) / denominator
    return [round(max(0.0, centre - half), 4), round(min(1.0, centre + half), 4)]


def win_rate(pairs: Sequence[tuple[float, float]]) -> dict[str, Any]:
    """Wins, losses and ties of `new` over `old` for (new, old) pairs, with rate = (wins + ties/2) / n and its
    Wilson interval: what eval_results.json records for a head-to-head comparison."""
    wins = sum(new > old for new, old in pairs)
    ties = sum(new == old for new, old in pairs)
    n = len(pairs)
    rate = round((wins + ties / 2) / n, 4) if n else 0.0
    return {"wins": wins, "losses": n - wins - ties, "ties": ties, "n": n, "rate": rate,
            "ci95": wilson_interval(rate, n)}


def share_greater(pairs: Sequence[tuple[float, float]]) -> float:
    """Share of (a, b) pairs with a > b (a tie counts as wrong): a pairwise accuracy."""
    return round(sum(a > b for a, b in pairs) / len(pairs), 4) if pairs else 0.0
