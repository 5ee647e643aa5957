"""Hidden quiz tests compared in the grader's process, not in the student's kernel (finding 3 of issue 14).

Test code that runs in the student's kernel sees what student code lets it see: a value whose `__eq__` always
returns True, a patched `math.isclose` or `builtins`, an `execute_result` emitted before the assertion fails. So
at autograde time (after nbgrader has restored the instructor's test cells), each hidden `assert A == B` and
`assert math.isclose(A, B, ...)` whose expected side B is a constant expression (numbers, strings, `math`), and
each `assert A is None/True/False`, is rewritten: the kernel only evaluates A, the student's answer on the test
input, and prints it as plain JSON; `CompareHiddenValues`, in nbgrader's own process, evaluates B and compares.
Objects that are not plain values (ints, floats, strings, booleans, None, lists and string-keyed dicts of them)
never compare equal to anything. A
mismatch, a missing or a repeated value adds an error output, and errors always outrank any result a cell shows,
so an early `execute_result` cannot score. Expected values never enter the kernel.

Hidden statements of any other shape (loops over cases, helper definitions, partial-credit expressions) still
run in the kernel, as before; `rewrite_hidden` reports how many remain.
"""

from __future__ import annotations

import ast
import json
import math
import re

from nbgrader.preprocessors import NbGraderPreprocessor

HIDDEN_BEGIN, HIDDEN_END = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
META_KEY = "workbook_hidden"  # cell metadata: the rewritten asserts (kind, expected expression, message)
MARK = "\x1eWBV "  # start of a line carrying one recorded value
EMIT = '''def __wb_emit(index, value):
    import json as _json

    def plain(v, depth=0):
        if depth > 20:
            return {"__not_plain__": "too deep"}
        if type(v) in (bool, int, float, str) or v is None:
            return v
        if type(v) in (list, tuple):
            return [plain(x, depth + 1) for x in v]
        if type(v) is dict and all(type(k) is str for k in v):
            return {k: plain(x, depth + 1) for k, x in v.items()}
        return {"__not_plain__": type(v).__name__}

    print("\\x1eWBV " + _json.dumps([index, plain(value)], allow_nan=True))'''
_LINE = re.compile(r"^\x1eWBV (.*)$", re.M)


def _trusted(node: ast.AST) -> bool:
    """An expression the grader may evaluate itself: constants, arithmetic, containers and `math`."""
    allowed = (ast.Constant, ast.BinOp, ast.UnaryOp, ast.operator, ast.unaryop, ast.Tuple, ast.List, ast.Dict,
               ast.Load, ast.Attribute, ast.Call, ast.keyword, ast.Name)
    for child in ast.walk(node):
        if not isinstance(child, allowed):
            return False
        if isinstance(child, ast.Name) and child.id != "math":
            return False
        if isinstance(child, ast.Attribute) and not (isinstance(child.value, ast.Name) and child.value.id == "math"):
            return False
    return True


def _split(test: ast.expr) -> dict | None:
    """(student expression, expected expression, kind, tolerances) of a comparable assert, else None."""
    if isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq):
        left, right = test.left, test.comparators[0]
        kind, kwargs = "eq", {}
    elif (isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Is)
          and isinstance(test.comparators[0], ast.Constant) and test.comparators[0].value in (None, True, False)):
        left, right = test.left, test.comparators[0]
        kind, kwargs = "is", {}
    elif (isinstance(test, ast.Call) and ast.unparse(test.func) == "math.isclose" and len(test.args) == 2
          and all(k.arg in ("rel_tol", "abs_tol") and _trusted(k.value) for k in test.keywords)):
        left, right = test.args
        kind, kwargs = "isclose", {k.arg: ast.unparse(k.value) for k in test.keywords}
    else:
        return None
    if _trusted(right) and not _trusted(left):
        return {"student": left, "expected": ast.unparse(right), "kind": kind, "kwargs": kwargs}
    if _trusted(left) and not _trusted(right):
        return {"student": right, "expected": ast.unparse(left), "kind": kind, "kwargs": kwargs}
    return None


def rewrite_hidden(source: str) -> tuple[str, list[dict], int]:
    """The cell source with comparable hidden asserts replaced by value emissions, their specs, and the number of
    hidden statements left to run in the kernel. Unparseable hidden parts are left untouched."""
    if HIDDEN_BEGIN not in source or HIDDEN_END not in source:
        return source, [], 0
    head, rest = source.split(HIDDEN_BEGIN, 1)
    hidden, tail = rest.split(HIDDEN_END, 1)
    try:
        tree = ast.parse(hidden)
    except SyntaxError:
        return source, [], 0
    specs, body, left_in_kernel = [], [], 0
    for statement in tree.body:
        parts = _split(statement.test) if isinstance(statement, ast.Assert) else None
        if parts is None:
            body.append(ast.unparse(statement))
            left_in_kernel += 1
            continue
        message = statement.msg.value if isinstance(statement.msg, ast.Constant) and isinstance(
            statement.msg.value, str) else ""
        specs.append({"kind": parts["kind"], "expected": parts["expected"], "kwargs": parts["kwargs"],
                      "message": message})
        body.append(f"__wb_emit({len(specs) - 1}, {ast.unparse(parts['student'])})")
    if not specs:
        return source, [], left_in_kernel
    new_hidden = "\n".join([EMIT, *body])
    return f"{head}{HIDDEN_BEGIN}\n{new_hidden}\n{HIDDEN_END}{tail}", specs, left_in_kernel


def _evaluate(expression: str):
    return eval(compile(expression, "<hidden test>", "eval"), {"__builtins__": {}, "math": math})  # noqa: S307


def _number(value) -> bool:
    return type(value) in (int, float)


def compare(spec: dict, received) -> bool:
    """The trusted comparison of one recorded plain value with the instructor's expected value."""
    expected = _evaluate(spec["expected"])
    if spec["kind"] == "isclose":
        if not _number(received) or not _number(expected):
            return False
        return math.isclose(received, expected, **{k: _evaluate(v) for k, v in spec["kwargs"].items()})
    if spec["kind"] == "is":
        return received is expected
    return not _foreign(received) and received == _as_json(expected)


def _foreign(value) -> bool:
    """True when the kernel sent something that was not a plain value (anywhere inside)."""
    if isinstance(value, dict):
        return "__not_plain__" in value or any(_foreign(v) for v in value.values())
    return isinstance(value, list) and any(_foreign(v) for v in value)


def _as_json(value):
    """Tuples as lists, as the value travelled from the kernel."""
    if isinstance(value, (list, tuple)):
        return [_as_json(v) for v in value]
    if isinstance(value, dict):
        return {k: _as_json(v) for k, v in value.items()}
    return value


def recorded_values(outputs: list) -> tuple[dict[int, list], list]:
    """index -> every value recorded for it, and the outputs with the recording lines removed."""
    values: dict[int, list] = {}
    kept = []
    for output in outputs:
        if output.get("output_type") == "stream" and output.get("name") == "stdout":
            text = output.get("text", "")
            for line in _LINE.findall(text):
                try:
                    index, value = json.loads(line)
                    values.setdefault(int(index), []).append(value)
                except (ValueError, TypeError):
                    continue
            output["text"] = _LINE.sub("", text).replace("\n\n", "\n") if MARK in text else text
            if not output["text"].strip():
                continue
        kept.append(output)
    return values, kept


def errors_first(outputs: list) -> list:
    """Errors (and stderr) before everything else: nbgrader scores a cell by its first error or result."""
    def failing(o):
        return o.get("output_type") == "error" or (o.get("output_type") == "stream" and o.get("name") == "stderr")
    return [o for o in outputs if failing(o)] + [o for o in outputs if not failing(o)]


class IsolateHiddenTests(NbGraderPreprocessor):
    """Sanitise step (after OverwriteCells): rewrite each graded cell's comparable hidden asserts."""

    def preprocess_cell(self, cell, resources, index):
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and meta.get("grade") and not meta.get("solution"):
            source, specs, remaining = rewrite_hidden(cell.source)
            if specs:
                cell.source = source
                cell.metadata[META_KEY] = specs
                if remaining:
                    self.log.info("%s: %d hidden statements still run in the kernel", meta.get("grade_id"), remaining)
        return cell, resources


class CompareHiddenValues(NbGraderPreprocessor):
    """Autograde step (right after Execute): compare the recorded values here, then put errors first."""

    def preprocess_cell(self, cell, resources, index):
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type != "code" or not meta.get("grade"):
            return cell, resources
        specs = cell.metadata.pop(META_KEY, None)
        if specs:
            values, cell.outputs = recorded_values(list(cell.outputs))
            failed = None
            for i, spec in enumerate(specs):
                got = values.get(i, [])
                try:
                    ok = len(got) == 1 and compare(spec, got[0])
                except Exception:  # noqa: BLE001 - an instructor expression that cannot be evaluated fails closed
                    ok = False
                if not ok:
                    failed = spec.get("message") or "a hidden test failed"
                    break
            already = any(o.get("output_type") == "error" for o in cell.outputs)
            if failed and not already:
                from nbformat.v4 import new_output

                cell.outputs.append(new_output("error", ename="AssertionError", evalue=failed,
                                               traceback=[f"AssertionError: {failed}"]))
        cell.outputs = errors_first(list(cell.outputs))
        return cell, resources
