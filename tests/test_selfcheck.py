"""The self-check helper prints ✓ or ✗ with the reason."""

from __future__ import annotations

from helpers.selfcheck import check


def test_check_outcomes(capsys):
    assert check("exact", [1, 2], [1, 2])
    assert check("text ignores case and spaces", " QAT ", "qat")
    assert check("number within tol", 26.2, 26.0, tol=0.5)
    assert not check("number outside tol", 30, 26.0, "13e9 x 2 bytes", tol=0.5)
    assert not check("not a number", "abc", 1.0, tol=0.1)
    assert not check("unanswered", None, "QAT", "QAT needs training")
    out = capsys.readouterr().out
    assert "✓ exact" in out
    assert "✗ number outside tol: expected 26.0, got 30 — 13e9 x 2 bytes" in out
    assert "✗ unanswered: expected 'QAT', got None — QAT needs training" in out
