"""Chapter exercises: answers a student works out, checked against what the course library computes.

    exercises = chapter_exercises("04", explorer=explorer)  # the chapter's objects the answers depend on
    answer_1 = ...                                          # the student replaces ... and reruns the cell
    exercises.check(1, answer_1)
    exercises.summary()

Each chapter's answer key is `workbook/exercises/chNN.py`: a dict of `Exercise`, whose `expected` computes the
answer with the course library (never a literal the notebook shows), from the context objects it names as
parameters. A wrong answer gets the exercise's hint, not the answer. An answer left as `...` or None is "not
answered yet". With `cases`, the answer is a function: it is called on each case and compared with `expected`.
"""

from __future__ import annotations

import importlib
import inspect
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from numbers import Real
from typing import Any


@dataclass(frozen=True)
class Exercise:
    """One exercise: what it asks, how the library computes the answer, and a hint for a wrong one."""

    prompt: str
    expected: Callable[..., Any]
    hint: str
    tol: float = 0.0  # absolute tolerance for numbers
    rtol: float = 0.0  # relative tolerance for numbers
    cases: tuple[tuple, ...] = ()  # with cases, the answer is a function called on each


def _is_number(value: Any) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


def _normalise(text: str) -> str:
    return " ".join(text.split()).casefold()


def is_correct(answer: Any, expected: Any, tol: float = 0.0, rtol: float = 0.0) -> bool:
    """Numbers within tol + rtol*|expected|; strings ignoring case and spacing; sequences item by item; else ==."""
    if _is_number(expected):
        if not _is_number(answer) or math.isnan(float(answer)):
            return False
        return abs(float(answer) - float(expected)) <= tol + rtol * abs(float(expected))
    if isinstance(expected, str):
        return isinstance(answer, str) and _normalise(answer) == _normalise(expected)
    if isinstance(expected, (list, tuple)) and isinstance(answer, (list, tuple)):
        pairs = zip(answer, expected, strict=True)
        return len(answer) == len(expected) and all(is_correct(a, e, tol, rtol) for a, e in pairs)
    try:
        return bool(answer == expected)
    except Exception:  # an answer whose comparison raises is simply not the answer
        return False


def _unanswered(answer: Any) -> bool:
    return answer is None or answer is Ellipsis


class ChapterExercises:
    """The exercises of one chapter, checked one by one against the chapter's answer key."""

    def __init__(self, chapter: str, key: Mapping[int, Exercise], context: Mapping[str, Any]):
        self.chapter, self.key, self.context = chapter, key, dict(context)
        self.results: dict[int, str] = {}

    def _label(self, number: int) -> str:
        return f"Exercise {self.chapter}.{number}"

    def _expected(self, exercise: Exercise) -> Any:
        if exercise.cases:
            return exercise.expected
        names = list(inspect.signature(exercise.expected).parameters)
        missing = [name for name in names if name not in self.context]
        if missing:
            raise RuntimeError(f"the chapter's objects {missing} are not defined yet: run the cells above first.")
        return exercise.expected(**{name: self.context[name] for name in names})

    def _judge(self, exercise: Exercise, answer: Any) -> bool:
        if not exercise.cases:
            return is_correct(answer, self._expected(exercise), exercise.tol, exercise.rtol)
        if not callable(answer):
            return False
        for case in exercise.cases:
            try:
                got = answer(*case)
            except Exception as error:  # the student's function raising is a wrong answer, with the reason
                print(f"    your function raised {type(error).__name__}: {error} on input {case!r}")
                return False
            if not is_correct(got, exercise.expected(*case), exercise.tol, exercise.rtol):
                print(f"    on input {case!r} your function returned {got!r}")
                return False
        return True

    def check(self, number: int, answer: Any, **context: Any) -> bool:
        """Print whether the answer to exercise `number` is right (a hint when not); True when it is.

        `context` adds chapter objects defined after `chapter_exercises` was called.
        """
        self.context.update(context)
        if number not in self.key:
            raise KeyError(f"{self._label(number)} does not exist; this chapter has {sorted(self.key)}.")
        exercise, label = self.key[number], self._label(number)
        if _unanswered(answer):
            self.results[number] = "not answered"
            print(f"[ ] {label}: not answered yet. Replace the ... with your answer and run the cell again.")
            return False
        correct = self._judge(exercise, answer)
        self.results[number] = "correct" if correct else "incorrect"
        if correct:
            print(f"[correct] {label}: {exercise.prompt}")
        else:
            shown = "your function" if exercise.cases else repr(answer)
            print(f"[incorrect] {label}: {shown} is not it. Hint: {exercise.hint}")
        return correct

    def summary(self) -> dict[str, int]:
        """Print and return how many exercises are correct, incorrect and not answered (or not checked) yet."""
        counts = {state: 0 for state in ("correct", "incorrect", "not answered")}
        for number in self.key:
            counts[self.results.get(number, "not answered")] += 1
        print(f"Exercises {self.chapter}: {counts['correct']} correct, {counts['incorrect']} incorrect, "
              f"{counts['not answered']} not answered yet (of {len(self.key)}).")  # fmt: skip
        return counts


def chapter_exercises(chapter: str, **context: Any) -> ChapterExercises:
    """The exercises of chapter `chapter` ("04"), with the chapter objects their answers are computed from."""
    try:
        module = importlib.import_module(f"workbook.exercises.ch{chapter}")
    except ModuleNotFoundError:
        raise KeyError(f"no exercises for chapter {chapter!r}.") from None
    return ChapterExercises(chapter, module.EXERCISES, context)
