"""The one generator: chat-template encoding, the pad rule, batches, and answers for evaluation."""

from datetime import datetime
from types import SimpleNamespace

import pytest
import torch

from workbook.core import generation


def test_pad_id_zero_is_a_real_id():
    """A pad id of 0 must be used as is, not mistaken for "no pad token" (the old `pad or eos` bug)."""
    assert generation.pad_id(SimpleNamespace(pad_token_id=0, eos_token_id=2)) == 0
    assert generation.pad_id(SimpleNamespace(pad_token_id=None, eos_token_id=2)) == 2


def test_generate_passes_pad_id_zero_and_meets_the_model_on_its_device(course_tokenizer):
    seen = {}

    class Recorder:
        device = torch.device("cpu")

        def generate(self, input_ids, attention_mask, **kwargs):
            seen.update(kwargs, input_device=input_ids.device)
            return torch.cat([input_ids, torch.full((input_ids.shape[0], 2), 5)], dim=1)

    tokenizer = course_tokenizer
    original = tokenizer.pad_token
    tokenizer.pad_token = tokenizer.convert_ids_to_tokens(0)
    try:
        assert tokenizer.pad_token_id == 0
        ids = generation.generate_ids(Recorder(), tokenizer, ["hi", "a longer prompt"], max_new_tokens=2)
    finally:
        tokenizer.pad_token = original
    assert seen["pad_token_id"] == 0 and seen["input_device"] == Recorder.device
    assert ids == [[5, 5], [5, 5]]


def test_replies_are_deterministic_and_batches_match_single_prompts(offline_model):
    model, tokenizer = offline_model
    prompts = ["What is GDPR?", "Name a colour."]
    single = [generation.generate_reply(model, tokenizer, p, max_new_tokens=8) for p in prompts]
    assert all(single) and single == [generation.generate_reply(model, tokenizer, p, max_new_tokens=8) for p in prompts]
    assert generation.generate_replies(model, tokenizer, prompts, max_new_tokens=8) == single
    assert tokenizer.padding_side == "right"  # restored after the left-padded batch


def test_raw_prompting_needs_a_string(offline_model):
    with pytest.raises(TypeError, match="plain string"):
        generation.generate_reply(*offline_model, [{"role": "user", "content": "x"}], chat=False)


def test_generate_answers_keeps_reference_and_stamps_time(monkeypatch):
    calls = []

    def fake_replies(model, tokenizer, prompts, max_new_tokens=None):
        calls.append((list(prompts), max_new_tokens))
        return [f"answer to {p}" for p in prompts]

    monkeypatch.setattr(generation, "generate_replies", fake_replies)
    rows = [{"id": "t1", "question": "Q1?", "answer": "ref1"}, {"id": "t2", "question": "Q2?"}]
    out = generation.generate_answers(None, None, rows, max_new_tokens=7)
    assert [r["answer"] for r in out] == ["answer to Q1?", "answer to Q2?"]
    assert out[0]["reference"] == "ref1" and "reference" not in out[1]
    assert rows[0]["answer"] == "ref1"  # the input rows are not modified
    assert calls == [(["Q1?"], 7), (["Q2?"], 7)]
    first, second = (datetime.fromisoformat(r["timestamp"]) for r in out)
    assert first <= second and first.tzinfo is not None


def test_generate_answers_names_a_row_without_the_prompt_key():
    with pytest.raises(ValueError, match="id='x'"):
        generation.generate_answers(None, None, [{"id": "x", "prompt": "hi"}])
    with pytest.raises(ValueError, match="batch_size"):
        generation.generate_answers(None, None, [{"question": "q"}], batch_size=0)
