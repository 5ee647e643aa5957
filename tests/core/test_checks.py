"""workbook.core.checks: a claim prints either way and fails only a strict run."""

from __future__ import annotations

import pytest

from workbook.core.checks import ClaimFailed, expect, expect_close


@pytest.fixture
def strict(monkeypatch):
    monkeypatch.setenv("WORKBOOK_STRICT", "1")
    monkeypatch.delenv("WORKBOOK_FAST", raising=False)


def test_a_true_claim_prints_a_tick(strict, capsys):
    assert expect(2 < 3, "two is smaller", observed="2 vs 3")
    assert capsys.readouterr().out == "✓ two is smaller (2 vs 3)\n"


def test_a_false_claim_raises_when_strict(strict):
    with pytest.raises(ClaimFailed, match="the loss falls: did not hold on this run"):
        expect(False, "the loss falls")


def test_a_false_claim_only_warns_a_student(monkeypatch, capsys):
    monkeypatch.delenv("WORKBOOK_STRICT", raising=False)
    assert not expect(False, "the loss falls")
    assert capsys.readouterr().out.startswith("✗ the loss falls: did not hold")


def test_an_effect_too_small_for_fast_mode_is_said_so_not_dropped(strict, monkeypatch, capsys):
    monkeypatch.setenv("WORKBOOK_FAST", "1")
    assert not expect(False, "accuracy rises", observed="0.40 -> 0.40", full_only=True)
    assert "not visible at FAST sizes (0.40 -> 0.40)" in capsys.readouterr().out
    monkeypatch.setenv("WORKBOOK_FAST", "0")
    with pytest.raises(ClaimFailed):
        expect(False, "accuracy rises", full_only=True)


def test_expect_close_compares_within_tolerance(strict):
    assert expect_close(1.0 + 1e-7, 1.0, "LoRA matches PEFT", atol=1e-6)
    with pytest.raises(ClaimFailed, match="difference 1.00e"):
        expect_close(2.0, 1.0, "LoRA matches PEFT", atol=1e-6)
    with pytest.raises(ClaimFailed):
        expect_close(float("nan"), 1.0, "NaN never matches", atol=1.0)
