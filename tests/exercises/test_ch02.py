"""Chapter 02's answer key: LoRA counts agree with PEFT's, the memory and packing answers with the library."""

from types import SimpleNamespace

import pytest
from datasets import Dataset
from peft import LoraConfig, get_peft_model

from workbook.exercises.ch02 import EXERCISES


def test_four_to_six_exercises_numbered_from_one():
    assert sorted(EXERCISES) == list(range(1, len(EXERCISES) + 1)) and 4 <= len(EXERCISES) <= 6


def test_trained_fraction_counts_labels():
    trainer = SimpleNamespace(train_dataset=[{"labels": [-100, -100, 5, 6]}, {"labels": [-100, 7]}])
    assert EXERCISES[1].expected(trainer) == pytest.approx(3 / 6)


def test_adapter_counts_match_peft(tiny_llama):
    model, _ = tiny_llama
    expected = EXERCISES[2].expected(model)
    lora = get_peft_model(model, LoraConfig(r=8, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM"))
    trained, total = lora.get_nb_trainable_parameters()
    assert expected == trained
    assert EXERCISES[5].expected(model.config) == pytest.approx(100 * trained / total)


def test_memory_and_packing_answers():
    assert EXERCISES[3].expected() == pytest.approx(8.0)  # 80 GB / (2 + 2 + 4 + 2) bytes
    rows = Dataset.from_list([{"input_ids": [1] * n, "labels": [-100] * n} for n in (200, 100, 50, 150, 250)])
    trainer = SimpleNamespace(train_dataset=rows)
    assert EXERCISES[4].expected(trainer) == 1  # 250 | 200+50 | 150+100: three rows, one step of four
