"""tools.figures: the typed-figure scan finds a number no code produced, and only that."""

from __future__ import annotations

import nbformat

from tools.figures import typed_figures


def _nb(markdown: str, code: str = "", output: str = "") -> dict:
    cell = nbformat.v4.new_code_cell(code)
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=output)] if output else []
    return nbformat.from_dict(nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(markdown), cell]))


def _figures(markdown: str, code: str = "", output: str = "") -> list[str]:
    return [f.figure for f in typed_figures(_nb(markdown, code, output))]


def test_a_typed_figure_is_reported():
    assert _figures("LoRA trains about 1% of the weights.") == ["1%"]
    assert _figures("The model needs 27 GB and 3.6 s.") == ["27 GB", "3.6 s"]
    assert _figures("It has 1,731 parameters.") == ["1,731"]


def test_figures_repeated_from_outputs_defined_in_code_or_cited_pass():
    assert _figures("It trains 3.5% (4.9M of the weights).", output="trainable: 4,884,480 (0.0350)") == []
    assert _figures("We train at lr 0.0002 for 120 steps.", code="lr = 2e-4\nsteps = 120") == []
    assert _figures("[QLoRA](https://arxiv.org/abs/2305.14314) saves 0.37 bits per weight.") == []
    assert _figures("Dettmers et al. report 0.37 bits per weight.") == []


def test_names_versions_code_and_small_counts_are_not_figures():
    text = ("SmolLM2-135M and Llama-3.1-8B in fp16, a 70B model at 4-bit, Q4_K_M, torch 2.6, peft 0.21.2, "
            "issue #4901, section 4, `0.5 GB` and $2^{30}$ in 2023.")
    assert _figures(text) == []


def test_a_one_digit_figure_must_match_exactly():
    assert _figures("About 2x faster.", output="speed-up 2.4") == ["2x"]
    assert _figures("About 2x faster.", output="speed-up 2.0") == []
