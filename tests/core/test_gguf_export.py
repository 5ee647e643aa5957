"""The GGUF export path of chapter 06, end to end: checkpoint -> f16 GGUF -> Q8_0 and Q4_K_M -> llama.cpp answers.

It needs the tools from `make gguf` (llama-cpp-python compiles llama.cpp once). `make test` (and so CI) runs
`make gguf` first and sets WORKBOOK_REQUIRE_GGUF=1: there a missing tool is a failure, so the path is tested on
every run. A bare `pytest` without the tools skips it with the command to run.
"""

from __future__ import annotations

import os

import pytest

from workbook.core import gguf_export


@pytest.fixture(scope="module")
def tools_ready():
    state = gguf_export.status()
    if not state["ready"]:
        message = "GGUF export tools missing: " + "; ".join(state["missing"]) + ". Run `make gguf`."
        if os.environ.get("WORKBOOK_REQUIRE_GGUF") == "1":
            pytest.fail(message)
        pytest.skip(message)


def test_converter_refuses_an_adapter_folder(tmp_path):
    (tmp_path / "adapter_config.json").write_text("{}")
    with pytest.raises(ValueError, match="merge_and_unload"):
        gguf_export.convert_hf_to_gguf(tmp_path, tmp_path / "out.gguf")
    with pytest.raises(ValueError, match="outtype"):
        (tmp_path / "config.json").write_text("{}")
        gguf_export.convert_hf_to_gguf(tmp_path, tmp_path / "out.gguf", outtype="q4_k_m")


def test_status_names_what_is_missing():
    state = gguf_export.status()
    assert set(state) == {"ready", "missing", "hint"} and "make gguf" in state["hint"]
    assert state["ready"] == (not state["missing"])


def test_export_path_end_to_end(tools_ready, tmp_path, offline_model):
    from workbook.core.generation import generate_reply
    from workbook.core.models import offline_checkpoint
    from workbook.topics.quantization import gguf_metadata, gguf_tensors, gguf_type_summary

    f16 = gguf_export.convert_hf_to_gguf(offline_checkpoint(), tmp_path / "model-f16.gguf", outtype="f16")
    metadata = gguf_metadata(f16)
    assert metadata["general.architecture"] == "llama"
    assert (metadata["tokenizer.ggml.model"], metadata["tokenizer.ggml.pre"]) == ("gpt2", "smollm")
    q8 = gguf_export.quantize_gguf(f16, tmp_path / "model-Q8_0.gguf", "Q8_0")
    q4 = gguf_export.quantize_gguf(f16, tmp_path / "model-Q4_K_M.gguf", "Q4_K_M")
    assert q4.stat().st_size < q8.stat().st_size < 0.6 * f16.stat().st_size
    types = {row["type"] for row in gguf_type_summary(gguf_tensors(q4))}
    assert types & {"Q4_K", "Q5_0", "Q5_1", "Q6_K", "Q8_0", "Q4_0", "Q4_1"}, types
    with pytest.raises(ValueError, match="Unknown GGUF level"):
        gguf_export.quantize_gguf(f16, tmp_path / "x.gguf", "Q4_K_XL")

    question = "What is the capital of France?"
    model, tokenizer = offline_model
    answers = {"HF": generate_reply(model, tokenizer, question, max_new_tokens=16)}
    for label, path in (("Q8_0", q8), ("Q4_K_M", q4)):
        answers[label] = gguf_export.llama_reply(gguf_export.load_llama(path), question, max_tokens=16)
    print("\n" + "\n".join(f"{label:>7}: {answer!r}" for label, answer in answers.items()))
    # At 8 bits llama.cpp keeps the model's answer; at 4 bits a 135M model may lose it, so only ask for text.
    assert "paris" in answers["HF"].lower() and "paris" in answers["Q8_0"].lower()
    assert answers["Q4_K_M"].strip()
