"""The student self-check scores graded cells exactly as nbgrader's autograder does (nbgrader's own rule)."""

from __future__ import annotations

import nbformat
from nbgrader.utils import determine_grade

from assessments import student
from assessments.cells import code, new_notebook
from assessments.isolation import errors_first

CELLS = {
    "passing": "assert 1 + 1 == 2",
    "failing": "assert 1 + 1 == 3, 'the sum is wrong'",
    "erroring": "undefined_name + 1",
    "partial": "0.5",
    "result_then_error": "get_ipython().displayhook(2.0)\nassert False, 'shown a result, then failed'",
}


def test_self_check_and_nbgrader_agree_on_passing_failing_and_erroring_cells(tmp_path):
    path = tmp_path / "ch99_quiz.ipynb"
    nbformat.write(new_notebook([code(src, gid, grade=True, locked=True, points=2) for gid, src in CELLS.items()]),
                   path)
    executed = student.execute(path, timeout=60)
    checks = {c.grade_id: c for c in student.score_notebook(executed)}
    nbgrader = {c.metadata.nbgrader.grade_id: determine_grade(nbformat.from_dict(
        {**c, "outputs": errors_first(c.outputs)}))[0] for c in executed.cells}  # the grader's rule
    assert {gid: c.score for gid, c in checks.items()} == nbgrader == {
        "passing": 2.0, "failing": 0.0, "erroring": 0.0, "partial": 0.5, "result_then_error": 0.0}
    assert checks["failing"].message == "AssertionError: the sum is wrong"
    assert checks["erroring"].message.startswith("NameError")
