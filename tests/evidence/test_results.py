"""workbook.evidence.results: what goes into eval_results.json."""

from __future__ import annotations

from workbook.evidence.results import failure_candidates


def test_failure_candidates_prefer_regressions():
    rows = [
        {"id": "a", "baseline": {"score": 0.5}, "tuned": {"score": 0.9}},
        {"id": "b", "baseline": {"score": 0.8}, "tuned": {"score": 0.2}},
        {"id": "c", "baseline": {"score": 0.1}, "tuned": {"score": 0.3}},
        {"id": "d", "baseline": {"score": 0.6}, "tuned": {"score": 0.5}},
    ]
    assert [r["id"] for r in failure_candidates(rows)] == ["b", "d", "c"]
