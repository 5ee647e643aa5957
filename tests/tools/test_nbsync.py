"""tools.nbsync: a chapter's student notebook is its solutions source with the solutions cut out."""

from __future__ import annotations

import nbformat
import pytest

from tools.nbsync import strip_solutions


def test_solution_regions_and_cells_are_removed():
    source = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("answer_1 = ...  # your answer\n### BEGIN SOLUTION\nanswer_1 = 256\n"
                                  "### END SOLUTION\nexercises.check(1, answer_1)"),
        nbformat.v4.new_markdown_cell("**Try it:** use r = 4."),
        nbformat.v4.new_code_cell("train(r=4)", metadata={"tags": ["solution"]}),
    ])  # fmt: skip
    student = strip_solutions(source)
    assert [c.source for c in student.cells] == [
        "answer_1 = ...  # your answer\nexercises.check(1, answer_1)",
        "**Try it:** use r = 4.",
    ]
    assert len(source.cells) == 3  # the source is left alone


def test_an_unclosed_region_is_refused():
    with pytest.raises(ValueError, match="without closing"):
        strip_solutions(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("### BEGIN SOLUTION\nx = 1")]))
