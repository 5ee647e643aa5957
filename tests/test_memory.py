"""The training-memory calculator reproduces the source lessons' figures and rejects bad input."""

import pytest

from workbook.topics.memory import training_memory, weights_only_gb


def test_7b_adam_mixed_precision_is_112_gb():
    estimate = training_memory(7e9, "bf16", "adam", mixed_precision=True)
    assert estimate.total_gb == pytest.approx(112.0)  # 2 + 2 + 4 + 4 + 4 bytes per parameter
    assert estimate.gpus_needed == 2


def test_70b_fp32_weights_are_280_gb():
    assert weights_only_gb(70e9, "fp32") == pytest.approx(280.0)


def test_qlora_trains_only_the_adapter():
    estimate = training_memory(8e9, "nf4-dq", "adam", trainable_params=42e6)
    assert 4.0 < estimate.total_gb < 5.0
    assert estimate.gpus_needed == 1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"params": -1}, "positive"),
        ({"params": 1e15}, "beyond any released model"),
        ({"params": 7e9, "weight_precision": "fp12"}, "Unknown precision"),
        ({"params": 7e9, "optimizer": "lion"}, "Unknown optimizer"),
        ({"params": 7e9, "weight_precision": "nf4"}, "cannot update quantized"),
        ({"params": 7e9, "weight_precision": "fp32", "mixed_precision": True}, "Mixed precision"),
        ({"params": 7e9, "trainable_params": 8e9}, "cannot exceed"),
    ],
)
def test_bad_input_is_explained(kwargs, message):
    with pytest.raises(ValueError, match=message):
        training_memory(**kwargs)
