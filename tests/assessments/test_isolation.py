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


def run_rewritten(cell_source: str, namespace: dict, points: float = 3):
    """Rewrite a test cell, run it in `namespace` (a stand-in kernel), compare here; nbgrader's grade."""
    from nbgrader.utils import determine_grade

    cell = nbformat.v4.new_code_cell(cell_source, metadata={"nbgrader": {
        "grade": True, "solution": False, "grade_id": "q", "points": points}})
    source, specs, left = rewrite_hidden(cell.source)
    assert left == 0
    cell.source, cell.metadata["workbook_hidden"] = source, specs
    printed = []
    namespace = {"math": __import__("math"), "print": printed.append, **namespace}
    try:
        exec(compile(source, "cell", "exec"), namespace)
    except Exception as exc:  # noqa: BLE001 - recorded as the kernel would
        cell.outputs.append(nbformat.v4.new_output("error", ename=type(exc).__name__, evalue=str(exc), traceback=[]))
    cell.outputs.insert(0, nbformat.v4.new_output("stream", name="stdout", text="\n".join(printed) + "\n"))
    if namespace.get("shown") is not None:  # a result the kernel showed (e.g. through the displayhook)
        cell.outputs.append(nbformat.v4.new_output("execute_result", data={"text/plain": namespace["shown"]}))
    cell, _ = CompareHiddenValues().preprocess_cell(cell, {}, 0)
    return determine_grade(cell)[0]


RAISES = """assert True
### BEGIN HIDDEN TESTS
try:
    size(1, "fp64x")
except ValueError:
    pass
else:
    raise AssertionError("unknown precision")
### END HIDDEN TESTS"""


def test_an_expected_exception_is_judged_by_the_grader():
    def raising(exc):
        def size(n, precision):
            raise exc("no")
        return size

    class Unknown(ValueError):
        pass

    assert run_rewritten(RAISES, {"size": raising(ValueError)}) == 3
    assert run_rewritten(RAISES, {"size": raising(Unknown)}) == 3  # a subclass is a ValueError
    assert run_rewritten(RAISES, {"size": raising(KeyError)}) == 0
    assert run_rewritten(RAISES, {"size": lambda n, p: 0}) == 0
    # the kernel cannot make a silent function pass by showing a full mark
    assert run_rewritten(RAISES, {"size": lambda n, p: 0, "shown": "3.0"}) == 0
    assert "ValueError" not in rewrite_hidden(RAISES)[0]  # the expected exception never enters the kernel


def test_ordering_and_element_wise_closeness_are_compared_in_the_grader():
    cell = """assert True
### BEGIN HIDDEN TESTS
assert loss(2) < math.log(2), "below log 2"
assert 0 <= loss(2)
assert all(math.isclose(g, e, abs_tol=1e-5) for g, e in zip(probs(1), [0.866813, 0.117310, 0.015876], strict=True))
### END HIDDEN TESTS"""
    source, specs, left = rewrite_hidden(cell)
    assert [s["kind"] for s in specs] == ["lt", "ge", "allclose"] and left == 0 and "0.866813" not in source
    right = {"loss": lambda x: 0.5, "probs": lambda t: [0.866813, 0.11731, 0.015876]}
    assert run_rewritten(cell, right) == 3

    class Small(float):
        def __lt__(self, other):
            return True

    class Near(float):
        def __sub__(self, other):
            return 0.0

    assert run_rewritten(cell, {**right, "loss": lambda x: Small(5.0)}) == 0  # not a plain number
    assert run_rewritten(cell, {**right, "probs": lambda t: [0.866813, 0.11731]}) == 0  # too short
    assert run_rewritten(cell, {**right, "probs": lambda t: [Near(0.1), 0.11731, 0.015876]}) == 0
    assert run_rewritten(cell, {**right, "probs": lambda t: (0.866813, 0.11731, 0.015876)}) == 3  # a tuple is fine


def test_partial_credit_is_counted_by_the_grader():
    cell = """assert set(ladder) == {"a", "b", "c"}
### BEGIN HIDDEN TESTS
float(sum([ladder["a"] == "rag", ladder["b"] == "lora", ladder["c"] == "pretrain"]))
### END HIDDEN TESTS"""
    source, specs, _ = rewrite_hidden(cell)
    assert specs[0]["kind"] == "credit" and "pretrain" not in source
    assert run_rewritten(cell, {"ladder": {"a": "rag", "b": "lora", "c": "pretrain"}}) == 3
    assert run_rewritten(cell, {"ladder": {"a": "rag", "b": "prompt", "c": "pretrain"}}) == 2
    # a result shown by the kernel never replaces the grader's count
    assert run_rewritten(cell, {"ladder": {"a": "x", "b": "x", "c": "x"}, "shown": "3.0"}) == 0

    class Always(str):
        def __eq__(self, other):
            return True

        __hash__ = str.__hash__

    assert run_rewritten(cell, {"ladder": {"a": Always("x"), "b": Always("x"), "c": "pretrain"}}) == 1
    assert run_rewritten(cell, {"ladder": {"a": "rag"}}) == 0  # a KeyError in the kernel is an error
