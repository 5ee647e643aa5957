"""Hidden quiz tests compared in the grader's process, not in the student's kernel (finding 3 of issue 14).

Test code that runs in the student's kernel sees what student code lets it see: a value whose `__eq__` always
returns True, a patched `math.isclose` or `builtins`, an `execute_result` emitted before the assertion fails. So
at autograde time (after nbgrader has restored the instructor's test cells), every hidden statement is rewritten:
the kernel only evaluates the student's side (their answer on the test input) and prints it as plain JSON;
`CompareHiddenValues`, in nbgrader's own process, evaluates the expected side and compares. Expected values never
enter the kernel. The trusted forms (B is a constant expression: numbers, strings, containers, `math`):

- `assert A == B`, `assert A is None/True/False`, `assert A < B` (also `<=`, `>`, `>=`; numbers only);
- `assert math.isclose(A, B, rel_tol=..., abs_tol=...)`;
- `assert all(math.isclose(a, b, ...) for a, b in zip(A, B, strict=True))` (a list of numbers, element-wise);
- `try: <call> / except ValueError: pass / else: raise AssertionError("...")` (the call must raise that builtin
  exception; the kernel reports the class names of what it raised);
- partial credit, as the last statement: `float(sum([C1, C2, ...]))` where each Ci is `A == B` or another form
  above: the grader counts the Ci that hold and shows that count as the cell's result.

Objects that are not plain values (ints, floats, strings, booleans, None, lists and string-keyed dicts of them)
never compare equal to anything. A mismatch, a missing or a repeated value adds an error output, results the
kernel showed in a rewritten cell are dropped, and errors always outrank any result, so an early
`execute_result` cannot score. `hidden_problems` names every hidden statement of another shape: the quiz build
refuses them, so every quiz hidden test is compared here.
"""

from __future__ import annotations

import ast
import builtins
import json
import math
import operator
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
RAISES = """try:
    {call}
except Exception as __wb_error:
    __wb_emit({index}, {{"raised": [c.__name__ for c in type(__wb_error).__mro__]}})
else:
    __wb_emit({index}, {{"raised": None}})"""
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


_ORDER = {ast.Lt: "lt", ast.LtE: "le", ast.Gt: "gt", ast.GtE: "ge"}
_FLIP = {"lt": "gt", "le": "ge", "gt": "lt", "ge": "le"}
_ORDER_OPS = {"lt": operator.lt, "le": operator.le, "gt": operator.gt, "ge": operator.ge}


def _tolerances(keywords: list[ast.keyword]) -> dict | None:
    if all(k.arg in ("rel_tol", "abs_tol") and _trusted(k.value) for k in keywords):
        return {k.arg: ast.unparse(k.value) for k in keywords}
    return None


def _pairwise_close(test: ast.expr) -> tuple[ast.expr, ast.expr, dict] | None:
    """(X, Y, tolerances) of `all(math.isclose(a, b, ...) for a, b in zip(X, Y, strict=True))`, else None."""
    if not (isinstance(test, ast.Call) and isinstance(test.func, ast.Name) and test.func.id == "all"
            and len(test.args) == 1 and not test.keywords and isinstance(test.args[0], ast.GeneratorExp)):
        return None
    gen = test.args[0]
    if len(gen.generators) != 1:
        return None
    loop, inner = gen.generators[0], gen.elt
    if loop.ifs or loop.is_async or not isinstance(loop.target, ast.Tuple) or len(loop.target.elts) != 2:
        return None
    names = [t.id for t in loop.target.elts if isinstance(t, ast.Name)]
    zipped = loop.iter
    if not (len(names) == 2 and isinstance(zipped, ast.Call) and isinstance(zipped.func, ast.Name)
            and zipped.func.id == "zip" and len(zipped.args) == 2
            and [ast.unparse(k) for k in zipped.keywords] == ["strict=True"]):
        return None
    if not (isinstance(inner, ast.Call) and ast.unparse(inner.func) == "math.isclose" and len(inner.args) == 2
            and sorted(ast.unparse(a) for a in inner.args) == sorted(names)):
        return None
    tolerances = _tolerances(inner.keywords)
    if tolerances is None:
        return None
    first, second = zipped.args if ast.unparse(inner.args[0]) == names[0] else zipped.args[::-1]
    return first, second, tolerances


def _split(test: ast.expr) -> dict | None:
    """(student expression, expected expression, kind, tolerances) of a comparable assert, else None."""
    pairwise = _pairwise_close(test)
    if isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq):
        left, right = test.left, test.comparators[0]
        kind, kwargs = "eq", {}
    elif isinstance(test, ast.Compare) and len(test.ops) == 1 and type(test.ops[0]) in _ORDER:
        left, right = test.left, test.comparators[0]
        kind, kwargs = _ORDER[type(test.ops[0])], {}
        if _trusted(left) and not _trusted(right):  # `B < A` is `A > B`
            left, right, kind = right, left, _FLIP[kind]
    elif (isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Is)
          and isinstance(test.comparators[0], ast.Constant) and test.comparators[0].value in (None, True, False)):
        left, right = test.left, test.comparators[0]
        kind, kwargs = "is", {}
    elif (isinstance(test, ast.Call) and ast.unparse(test.func) == "math.isclose" and len(test.args) == 2
          and _tolerances(test.keywords) is not None):
        left, right = test.args
        kind, kwargs = "isclose", _tolerances(test.keywords)
    elif pairwise is not None:
        left, right, kwargs = pairwise
        kind = "allclose"
    else:
        return None
    if _trusted(right) and not _trusted(left):
        return {"student": left, "expected": ast.unparse(right), "kind": kind, "kwargs": kwargs}
    if _trusted(left) and not _trusted(right) and kind not in _FLIP:
        return {"student": right, "expected": ast.unparse(left), "kind": kind, "kwargs": kwargs}
    return None


def _raises(statement: ast.stmt) -> dict | None:
    """`try: <expression> except E: pass else: raise AssertionError(msg)` with builtin exception names E."""
    if not (isinstance(statement, ast.Try) and len(statement.body) == 1 and isinstance(statement.body[0], ast.Expr)
            and len(statement.handlers) == 1 and not statement.finalbody and len(statement.orelse) == 1):
        return None
    handler, fail = statement.handlers[0], statement.orelse[0]
    caught = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    names = [c.id for c in caught if isinstance(c, ast.Name)]
    if (handler.name or [type(s) for s in handler.body] != [ast.Pass] or len(names) != len(caught) or not names
            or not all(isinstance(getattr(builtins, n, None), type) and issubclass(getattr(builtins, n), Exception)
                       for n in names)):
        return None
    if not (isinstance(fail, ast.Raise) and fail.exc is not None and fail.cause is None
            and ast.unparse(fail.exc).startswith("AssertionError")):
        return None
    message = ""
    if isinstance(fail.exc, ast.Call) and fail.exc.args and isinstance(fail.exc.args[0], ast.Constant):
        message = str(fail.exc.args[0].value)
    return {"call": statement.body[0].value, "expected": names, "message": message}


def _credit(statement: ast.stmt) -> list[dict] | None:
    """The comparable parts of a partial-credit expression `float(sum([C1, C2, ...]))` (or `sum([...])`)."""
    value = statement.value if isinstance(statement, ast.Expr) else None
    if (isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id == "float"
            and len(value.args) == 1 and not value.keywords):
        value = value.args[0]
    if not (isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id == "sum"
            and len(value.args) == 1 and not value.keywords and isinstance(value.args[0], ast.List)
            and value.args[0].elts):
        return None
    parts = [_split(test) for test in value.args[0].elts]
    return None if any(p is None for p in parts) else parts


def _message(statement: ast.Assert) -> str:
    msg = statement.msg
    return msg.value if isinstance(msg, ast.Constant) and isinstance(msg.value, str) else ""


def _hidden_part(source: str) -> tuple[str, str, str] | None:
    if HIDDEN_BEGIN not in source or HIDDEN_END not in source:
        return None
    head, rest = source.split(HIDDEN_BEGIN, 1)
    hidden, tail = rest.split(HIDDEN_END, 1)
    return head, hidden, tail


def rewrite_hidden(source: str) -> tuple[str, list[dict], int]:
    """The cell source with trusted-form hidden statements replaced by value emissions, their specs, and the
    number of hidden statements left to run in the kernel. Unparseable hidden parts are left untouched."""
    parts = _hidden_part(source)
    if parts is None:
        return source, [], 0
    head, hidden, tail = parts
    try:
        tree = ast.parse(hidden)
    except SyntaxError:
        return source, [], 0
    specs, body, left_in_kernel, emitted = [], [], 0, 0

    def emit(student: ast.expr) -> tuple[int, str]:
        nonlocal emitted
        emitted += 1
        return emitted - 1, f"__wb_emit({emitted - 1}, {ast.unparse(student)})"

    for number, statement in enumerate(tree.body):
        split = _split(statement.test) if isinstance(statement, ast.Assert) else None
        raises = _raises(statement)
        credit = _credit(statement) if number == len(tree.body) - 1 else None
        if split is not None:
            index, line = emit(split["student"])
            specs.append({"kind": split["kind"], "expected": split["expected"], "kwargs": split["kwargs"],
                          "message": _message(statement), "index": index})
            body.append(line)
        elif raises is not None:
            index = emitted
            emitted += 1
            specs.append({"kind": "raises", "expected": raises["expected"], "kwargs": {},
                          "message": raises["message"], "index": index})
            body.append(RAISES.format(call=ast.unparse(raises["call"]), index=index))
        elif credit is not None:
            group = []
            for part in credit:
                index, line = emit(part["student"])
                group.append({"kind": part["kind"], "expected": part["expected"], "kwargs": part["kwargs"],
                              "message": "", "index": index})
                body.append(line)
            specs.append({"kind": "credit", "parts": group, "message": ""})
        else:
            body.append(ast.unparse(statement))
            left_in_kernel += 1
    if not specs:
        return source, [], left_in_kernel
    new_hidden = "\n".join([EMIT, *body])
    return f"{head}{HIDDEN_BEGIN}\n{new_hidden}\n{HIDDEN_END}{tail}", specs, left_in_kernel


def hidden_problems(source: str, points: float | None = None) -> list[str]:
    """Every hidden statement of a test cell that is not of a trusted form (it would run in the student's kernel),
    and a partial credit that could exceed the cell's points."""
    parts = _hidden_part(source)
    if parts is None:
        return []
    try:
        tree = ast.parse(parts[1])
    except SyntaxError as exc:
        return [f"hidden tests do not parse: {exc}"]
    problems = []
    for number, statement in enumerate(tree.body):
        trusted = ((isinstance(statement, ast.Assert) and _split(statement.test) is not None)
                   or _raises(statement) is not None
                   or (number == len(tree.body) - 1 and _credit(statement) is not None))
        if not trusted:
            first = ast.unparse(statement).splitlines()[0]
            problems.append(f"hidden statement `{first}` would run in the student's kernel: use a trusted form "
                            "(see assessments/isolation.py)")
    credit = _credit(tree.body[-1]) if tree.body else None
    if credit is not None and points is not None and len(credit) > points:
        problems.append(f"partial credit counts {len(credit)} parts for {points} points")
    return problems


def _evaluate(expression: str):
    return eval(compile(expression, "<hidden test>", "eval"), {"__builtins__": {}, "math": math})  # noqa: S307


def _number(value) -> bool:
    return type(value) in (int, float)


def compare(spec: dict, received) -> bool:
    """The trusted comparison of one recorded plain value with the instructor's expected value."""
    if spec["kind"] == "raises":
        raised = received.get("raised") if type(received) is dict and len(received) == 1 else None
        return type(raised) is list and any(name in raised for name in spec["expected"])
    expected = _evaluate(spec["expected"])
    tolerances = {k: _evaluate(v) for k, v in spec.get("kwargs", {}).items()}
    if spec["kind"] == "isclose":
        if not _number(received) or not _number(expected):
            return False
        return math.isclose(received, expected, **tolerances)
    if spec["kind"] == "allclose":
        if type(received) is not list or not isinstance(expected, (list, tuple)) or len(received) != len(expected):
            return False
        return all(_number(r) and _number(e) and math.isclose(r, e, **tolerances)
                   for r, e in zip(received, expected, strict=True))
    if spec["kind"] in _ORDER_OPS:
        return _number(received) and _number(expected) and _ORDER_OPS[spec["kind"]](received, expected)
    if spec["kind"] == "is":
        return received is expected
    return not _foreign(received) and received == _as_json(expected)


def _holds(spec: dict, values: dict[int, list]) -> bool:
    """One recorded value, exactly, and it compares; an instructor expression that cannot be evaluated fails."""
    got = values.get(spec["index"], [])
    try:
        return len(got) == 1 and compare(spec, got[0])
    except Exception:  # noqa: BLE001 - fail closed
        return False


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
            from nbformat.v4 import new_output

            values, outputs = recorded_values(list(cell.outputs))
            # results the kernel showed do not count in a rewritten cell: only the grader's own (partial credit)
            cell.outputs = [o for o in outputs if o.get("output_type") != "execute_result"]
            failed, credit = None, None
            for position, spec in enumerate(specs):
                spec = {"index": position, **spec}  # specs written before indices were recorded
                if spec["kind"] == "credit":
                    credit = sum(_holds(part, values) for part in spec["parts"])
                elif failed is None and not _holds(spec, values):
                    failed = spec.get("message") or "a hidden test failed"
            already = any(o.get("output_type") == "error" for o in cell.outputs)
            if failed and not already:
                cell.outputs.append(new_output("error", ename="AssertionError", evalue=failed,
                                               traceback=[f"AssertionError: {failed}"]))
            if credit is not None:
                cell.outputs.append(new_output("execute_result", data={"text/plain": repr(float(credit))},
                                               execution_count=cell.get("execution_count")))
        cell.outputs = errors_first(list(cell.outputs))
        return cell, resources
