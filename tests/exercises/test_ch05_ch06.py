"""Chapters 05 and 06's answer keys compute what their chapters teach."""

from __future__ import annotations

import pytest

from workbook.exercises import ChapterExercises
from workbook.exercises.ch05 import EXERCISES as CH05
from workbook.exercises.ch06 import EXERCISES as CH06


def test_ch05_keys_without_a_model():
    assert CH05[1].expected() == pytest.approx(4 + 8 / 32 + 32 / (32 * 256))
    assert CH05[4].expected() == pytest.approx((2 * 128256 * 4096 + 65 * 4096) * 2 / 1e9)
    ex = ChapterExercises("05", CH05, {})
    assert ex.check(2, lambda x: CH05[2].expected(x)) and not ex.check(2, lambda x: x)


def test_ch06_keys_without_a_run():
    assert CH06[1].expected() == pytest.approx(26.0)
    assert CH06[2].expected() == 4.5
    assert CH06[3].expected([0.5, -1.0, 0.25]) == [64, -127, 32]
    results = {"nf4": {"perplexity": 20.0}, "fp4": {"perplexity": 22.0}}
    assert CH06[4].expected(results) == "nf4"
    ex = ChapterExercises("06", CH06, {})
    assert ex.check(3, lambda values: [round(v / (max(map(abs, values)) / 127)) for v in values])
