"""Hidden quiz asserts are rewritten so the kernel only records plain values, compared in the grader's process
(finding 3 of issue 14). The full path is tested in test_grading.py (student `frank`)."""

from __future__ import annotations

import nbformat

from assessments.isolation import CompareHiddenValues, compare, errors_first, recorded_values, rewrite_hidden
from assessments.testing.fixtures import ASSESSMENTS

CELL = """assert f(1) == 2
### BEGIN HIDDEN TESTS
assert f(12345) == 24690, "f doubles"
assert math.isclose(g, math.sqrt(2), rel_tol=1e-6)
for x in range(3):
    assert f(x) == 2 * x
### END HIDDEN TESTS"""


def test_comparable_asserts_leave_the_kernel_and_expected_values_never_enter_it():
    source, specs, left = rewrite_hidden(CELL)
    assert [s["kind"] for s in specs] == ["eq", "isclose"] and left == 1
    assert "24690" not in source and "__wb_emit(0, f(12345))" in source
    assert "sqrt" not in source and "__wb_emit(1, g)" in source and source.startswith("assert f(1) == 2")
    namespace = {"f": lambda x: 2 * x, "g": 2 ** 0.5, "math": __import__("math")}
    printed = []
    namespace["print"] = printed.append
    exec(compile(source, "cell", "exec"), namespace)
    outputs = [nbformat.v4.new_output("stream", name="stdout", text="\n".join(printed) + "\n")]
    values, kept = recorded_values(outputs)
    assert kept == [] and all(compare(spec, values[i][0]) for i, spec in enumerate(specs))


def test_values_that_are_not_plain_never_compare_equal():
    spec = {"kind": "eq", "expected": "20", "kwargs": {}, "message": ""}
    assert compare(spec, 20) and not compare(spec, {"__not_plain__": "Always"}) and not compare(spec, "20")
    close = {"kind": "isclose", "expected": "math.sqrt(2)", "kwargs": {"rel_tol": "1e-6"}, "message": ""}
    assert compare(close, 1.4142135) and not compare(close, True) and not compare(close, [1.41])
    none = {"kind": "is", "expected": "None", "kwargs": {}, "message": ""}
    assert compare(none, None) and not compare(none, 0) and not compare(none, {"__not_plain__": "X"})


def test_errors_outrank_an_earlier_result():
    result = nbformat.v4.new_output("execute_result", data={"text/plain": "2.0"}, execution_count=1)
    error = nbformat.v4.new_output("error", ename="AssertionError", evalue="", traceback=[])
    assert errors_first([result, error]) == [error, result]


def test_a_missing_or_repeated_value_fails_the_cell():
    cell = nbformat.v4.new_code_cell("x", metadata={"nbgrader": {"grade": True, "grade_id": "q", "points": 1},
                                                   "workbook_hidden": [{"kind": "eq", "expected": "1", "kwargs": {},
                                                                        "message": ""}]})
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="\x1eWBV [0, 1]\n\x1eWBV [0, 1]\n")]
    cell, _ = CompareHiddenValues().preprocess_cell(cell, {}, 0)
    assert cell.outputs[0].output_type == "error" and "workbook_hidden" not in cell.metadata


def test_every_quiz_keeps_compiling_after_the_rewrite():
    for path in sorted((ASSESSMENTS / "source").glob("ch*_quiz/ch*_quiz.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.metadata.get("nbgrader", {}).get("grade"):
                compile(rewrite_hidden(cell.source)[0], str(path), "exec")
