"""workbook.labs.quiz: the lab's multiple-choice answers are marked with the reason."""

from __future__ import annotations

from workbook.labs.quiz import check_answers


def test_check_answers_prints_verdicts(capsys):
    assert check_answers({"q1": "b", "q2": "c", "q3": ""}) == 1
    out = capsys.readouterr().out
    assert "[correct] q1" in out and "[incorrect] q2" in out and "q3: not answered" in out
    assert "1/4 correct" in out
