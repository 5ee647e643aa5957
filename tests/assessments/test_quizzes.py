"""Chapter quizzes: one source of truth, sound metadata, an answer key that passes, stubs that fail.

The answer key and stubs are run in-process (no kernel) so every question is checked in well under a second;
tests/assessments/test_grading.py runs real nbgrader autograde on a few submissions.
"""

from __future__ import annotations

import ast
import contextlib
import copy
import io
import json

import nbformat
import pytest
import yaml
from nbgrader.utils import determine_grade

from assessments import build
from assessments.build import build_quiz
from assessments.isolation import CompareHiddenValues, IsolateHiddenTests, hidden_problems, rewrite_hidden
from assessments.specs import HERE, SpecError, quiz_specs

SPECS = quiz_specs()
RELEASE = HERE / "release"


def nbgrader_meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def run_inprocess(nb, isolated: bool = False) -> dict[str, float]:
    """Execute code cells in one namespace, record their outputs as a kernel would, score grade cells with nbgrader.

    `isolated`: grade as autograde does, hidden statements rewritten so the namespace only prints the student's
    values and the comparison runs here (assessments.isolation)."""
    namespace: dict = {}
    scores = {}
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        if isolated:
            cell, _ = IsolateHiddenTests().preprocess_cell(cell, {}, 0)
        cell.outputs = []
        printed = io.StringIO()
        try:
            tree = ast.parse(cell.source)
            last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
            with contextlib.redirect_stdout(printed):
                exec(compile(tree, "<cell>", "exec"), namespace)
                value = eval(compile(ast.Expression(last.value), "<cell>", "eval"), namespace) if last else None
            if value is not None:
                cell.outputs.append(nbformat.v4.new_output("execute_result", data={"text/plain": repr(value)}))
        except Exception as exc:
            cell.outputs.append(nbformat.v4.new_output("error", ename=type(exc).__name__, evalue=str(exc),
                                                       traceback=[]))
        if printed.getvalue():
            cell.outputs.insert(0, nbformat.v4.new_output("stream", name="stdout", text=printed.getvalue()))
        if isolated:
            cell, _ = CompareHiddenValues().preprocess_cell(cell, {}, 0)
        meta = nbgrader_meta(cell)
        if meta.get("grade") and not meta.get("solution"):
            scores[meta["grade_id"]] = determine_grade(cell)[0]
    return scores


def with_answers_from(target, donor):
    """`target` with each answer cell replaced by the donor's cell of the same grade_id."""
    answers = {nbgrader_meta(c).get("grade_id"): c.source for c in donor.cells if nbgrader_meta(c).get("solution")}
    nb = nbformat.from_dict(json.loads(json.dumps(target)))
    for cell in nb.cells:
        if nbgrader_meta(cell).get("solution"):
            cell.source = answers[nbgrader_meta(cell)["grade_id"]]
    return nb


def test_one_quiz_per_chapter():
    assert [p.stem for p in SPECS] == [f"ch{n:02d}_quiz" for n in range(11)]


def test_committed_source_notebooks_are_built_from_the_specs():
    assert build.stale_paths() == [], "run `python -m assessments.build` and commit assessments/source/"


@pytest.mark.parametrize("spec", SPECS, ids=[p.stem for p in SPECS])
def test_quiz_metadata_is_sound(spec):
    name, nb = build_quiz(spec)
    ids = [nbgrader_meta(c)["grade_id"] for c in nb.cells]
    assert len(ids) == len(set(ids)), "grade_ids must be unique"
    for cell in nb.cells:
        meta = nbgrader_meta(cell)
        assert meta["schema_version"] == 3
        if meta["grade"]:
            assert meta["locked"] and meta["points"] > 0 and "### BEGIN HIDDEN TESTS" in cell.source
        if meta["solution"]:
            assert not meta["grade"] and "### BEGIN SOLUTION" in cell.source
    kinds = {q["kind"] for q in yaml.safe_load(spec.read_text())["questions"]}
    assert len(kinds) >= 2, "mix numeric, code and choice questions"


@pytest.mark.parametrize("spec", SPECS, ids=[p.stem for p in SPECS])
def test_answer_key_earns_full_marks(spec):
    _, nb = build_quiz(spec)
    maximum = {nbgrader_meta(c)["grade_id"]: float(nbgrader_meta(c)["points"]) for c in nb.cells
               if nbgrader_meta(c)["grade"]}
    assert run_inprocess(copy.deepcopy(nb)) == maximum
    assert run_inprocess(nb, isolated=True) == maximum  # as autograde grades it: compared outside the kernel


@pytest.mark.parametrize("spec", SPECS, ids=[p.stem for p in SPECS])
def test_release_strips_solutions_and_hidden_tests_and_stubs_score_zero(spec):
    name, source = build_quiz(spec)
    release = nbformat.read(RELEASE / name / f"{name}.ipynb", as_version=4)
    text = json.dumps(release)
    assert "BEGIN HIDDEN TESTS" not in text and "BEGIN SOLUTION" not in text
    # the release stubs, graded with the hidden tests: nothing is earned without an answer
    assert set(run_inprocess(with_answers_from(source, release)).values()) == {0.0}
    assert set(run_inprocess(with_answers_from(source, release), isolated=True).values()) == {0.0}


def test_partial_credit_in_the_ladder_question():
    spec = next(p for p in SPECS if p.stem == "ch01_quiz")
    _, nb = build_quiz(spec)
    for cell in nb.cells:
        if nbgrader_meta(cell)["grade_id"] == "ch01_ladder_answer":
            cell.source = 'ladder = {"gap_a": "rag", "gap_b": "prompt", "gap_c": "pretrain"}'
    assert run_inprocess(copy.deepcopy(nb))["ch01_ladder_test"] == 2.0
    assert run_inprocess(nb, isolated=True)["ch01_ladder_test"] == 2.0  # counted by the grader


@pytest.mark.parametrize("spec", SPECS, ids=[p.stem for p in SPECS])
def test_every_hidden_statement_is_compared_in_the_grader(spec):
    """No hidden quiz statement runs in the student's kernel: each is of a form assessments.isolation rewrites
    (the kernel prints the student's value, the grader compares). The build refuses any other shape."""
    _, nb = build_quiz(spec)
    for cell in nb.cells:
        meta = nbgrader_meta(cell)
        if meta["grade"]:
            source, specs, left_in_kernel = rewrite_hidden(cell.source)
            assert hidden_problems(cell.source, meta["points"]) == [] and left_in_kernel == 0, meta["grade_id"]
            assert specs and "### BEGIN HIDDEN TESTS" in source, meta["grade_id"]


def test_build_refuses_hidden_tests_that_would_run_in_the_kernel(tmp_path):
    spec = tmp_path / "ch99_quiz.yaml"
    question = ("assignment: ch99_quiz\ntitle: t\nintro: i\nquestions:\n  - id: q\n    kind: code\n    points: 2\n"
                "    prompt: p\n    solution: 'def f(x):\n    return 2 * x'\n    tests: assert f(1) == 2\n"
                "    hidden: |\n{}")
    spec.write_text(question.format("      for x in range(3):\n          assert f(x) == 2 * x\n"))
    with pytest.raises(SpecError, match=r"question q: hidden statement `for x in range\(3\):` would run"):
        build_quiz(spec)
    spec.write_text(question.format("      float(sum([f(1) == 2, f(2) == 4, f(3) == 6]))\n"))
    with pytest.raises(SpecError, match="partial credit counts 3 parts for 2 points"):
        build_quiz(spec)
    spec.write_text(question.format("      assert f(3) == 6\n      float(sum([f(1) == 2, f(2) == 4]))\n"))
    assert build_quiz(spec)[0] == "ch99_quiz"


def test_wrong_but_well_formed_answers_pass_visible_tests_and_fail_hidden_ones():
    _, nb = build_quiz(next(p for p in SPECS if p.stem == "ch04_quiz"))
    for cell in nb.cells:
        if nbgrader_meta(cell)["grade_id"] == "ch04_smol_total_answer":
            cell.source = "smol_lora_total = 30 * 8 * (576 + 576) * 4  # forgot that k/v are 576 -> 192"
    visible_only = nbformat.from_dict(json.loads(json.dumps(nb)))
    for cell in visible_only.cells:
        cell.source = cell.source.split("### BEGIN HIDDEN TESTS")[0]
    assert run_inprocess(visible_only)["ch04_smol_total_test"] == 2.0
    assert run_inprocess(nb)["ch04_smol_total_test"] == 0.0


def test_ch10_grades_a_right_and_a_wrong_grpo_function():
    _, nb = build_quiz(next(p for p in SPECS if p.stem == "ch10_quiz"))
    wrong = (  # population std (divides by n) instead of TRL's sample std: right shape, wrong values
        "def grpo_advantages(rewards, group_size):\n"
        "    out = []\n"
        "    for s in range(0, len(rewards), group_size):\n"
        "        g = rewards[s : s + group_size]\n"
        "        m = sum(g) / len(g)\n"
        "        sd = math.sqrt(sum((r - m) ** 2 for r in g) / len(g))\n"
        "        out += [(r - m) / (sd + 1e-4) for r in g]\n"
        "    return out\n"
    )
    assert run_inprocess(nb)["ch10_grpo_fn_test"] == 3.0
    for cell in nb.cells:
        if nbgrader_meta(cell)["grade_id"] == "ch10_grpo_fn_answer":
            cell.source = wrong
    visible_only = nbformat.from_dict(json.loads(json.dumps(nb)))
    for cell in visible_only.cells:
        cell.source = cell.source.split("### BEGIN HIDDEN TESTS")[0]
    assert run_inprocess(visible_only)["ch10_grpo_fn_test"] == 3.0
    assert run_inprocess(nb)["ch10_grpo_fn_test"] == 0.0


def test_bad_spec_names_the_file_and_field(tmp_path):
    spec = tmp_path / "ch99_quiz.yaml"
    spec.write_text("assignment: ch99_quiz\ntitle: t\nintro: i\nquestions:\n  - id: q\n    kind: essay\n")
    with pytest.raises(SpecError, match=r"ch99_quiz.yaml: question 1: missing field 'points'"):
        build_quiz(spec)
    spec.write_text("assignment: [unclosed\n")
    with pytest.raises(SpecError, match="not valid YAML"):
        build_quiz(spec)


def test_committed_release_is_up_to_date():
    from assessments.cli import release_is_stale

    assert release_is_stale() == [], "run `python -m assessments.cli release` and commit assessments/release/"


def test_assessment_code_and_generated_notebooks_are_lint_clean():
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "ruff", "check", "assessments"], cwd=build.REPO,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout
