"""workbook.labs.quiz: the lab's multiple-choice answers are marked with the reason."""

from __future__ import annotations

from workbook.labs.quiz import check_answers


def test_check_answers_prints_verdicts(capsys):
    assert check_answers({"q1": "b", "q2": "c", "q3": ""}) == 1
    out = capsys.readouterr().out
    assert "[correct] q1" in out and "[incorrect] q2" in out and "q3: not answered" in out
    assert "1/4 correct" in out


def test_a_wrong_answer_points_to_a_section_without_giving_the_answer(capsys):
    check_answers({"q2": "b"})
    line = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("[incorrect] q2"))
    assert "Reread section 6" in line and "'a'" not in line
