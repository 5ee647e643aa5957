"""workbook.exercises: blank answers report "not answered yet", and every answer key computes."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import workbook.exercises as exercises_package
from workbook.exercises import ChapterExercises, Exercise, chapter_exercises, is_correct

KEY = {
    1: Exercise("a number", lambda: 256, "divide d*k by r(d+k)", tol=0.5),
    2: Exercise("a string", lambda name: name, "which of the three is largest?"),
    3: Exercise("a function", lambda d, k, r: r * (d + k), "B is d x r, A is r x k", cases=((4, 4, 1), (576, 576, 8))),
}


def test_is_correct_rules():
    assert is_correct(3, 3.0) and not is_correct(3.1, 3) and is_correct(3.1, 3, tol=0.2)
    assert is_correct(101, 100, rtol=0.02) and not is_correct(float("nan"), 1.0, tol=1e9)
    assert is_correct("  Optimizer  State ", "optimizer state") and not is_correct(1, "1")
    assert not is_correct(True, 1) and is_correct([1, "a"], (1.0, "A"))


def test_a_blank_answer_is_not_answered_and_reveals_nothing(capsys):
    ex = ChapterExercises("04", KEY, {"name": "optimizer state"})
    assert not ex.check(1, ...) and not ex.check(2, None)
    out = capsys.readouterr().out
    assert out.count("not answered yet") == 2 and "256" not in out and "optimizer" not in out
    assert ex.summary() == {"correct": 0, "incorrect": 0, "not answered": 3}


def test_right_and_wrong_answers(capsys):
    ex = ChapterExercises("04", KEY, {})
    assert ex.check(1, 256.2)
    assert not ex.check(2, "weights", name="optimizer state")
    assert "Hint: which of the three is largest?" in capsys.readouterr().out
    assert ex.check(3, lambda d, k, r: r * (d + k))
    assert not ex.check(3, lambda d, k, r: d * k)
    assert "on input (4, 4, 1) your function returned 16" in capsys.readouterr().out
    assert not ex.check(3, lambda d, k, r: 1 / 0)
    assert ex.summary() == {"correct": 1, "incorrect": 2, "not answered": 0}  # each exercise's last check counts


def test_a_missing_chapter_object_says_to_run_the_cells_above():
    with pytest.raises(RuntimeError, match=r"\['name'\] are not defined yet"):
        ChapterExercises("04", KEY, {}).check(2, "x")
    with pytest.raises(KeyError, match="has \\[1, 2, 3\\]"):
        ChapterExercises("04", KEY, {}).check(9, 1)
    with pytest.raises(KeyError, match="no exercises"):
        chapter_exercises("99")


def test_every_chapter_key_has_four_to_six_exercises_with_hints():
    keys = [m.name for m in pkgutil.iter_modules(exercises_package.__path__) if m.name.startswith("ch")]
    assert keys, "no chapter answer keys"
    for name in keys:
        key = importlib.import_module(f"workbook.exercises.{name}").EXERCISES
        assert 4 <= len(key) <= 6 and sorted(key) == list(range(1, len(key) + 1)), name
        assert all(e.hint and e.prompt for e in key.values()), name
