"""The self-check helper prints a tick or a cross with the reason."""

from __future__ import annotations

from helpers.selfcheck import check


def test_correct_answer(capsys):
    assert check("sum", 4, 4) is True
    assert capsys.readouterr().out.strip() == "✓ sum"


def test_wrong_answer_explains(capsys):
    assert check("sum", 5, 4, "2 + 2 is 4") is False
    assert capsys.readouterr().out.strip() == "✗ sum: expected 4, got 5 — 2 + 2 is 4"


def test_tolerance_and_text():
    assert check("pi", 3.1416, 3.14159, tol=1e-3)
    assert not check("pi", 3.2, 3.14159, tol=1e-3)
    assert not check("pi", "abc", 3.14159, tol=1e-3)
    assert check("word", " Optimizer State", "optimizer state")
