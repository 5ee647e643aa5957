import pytest

from workbook.topics.ladder import (
    GAPS,
    advise,
    classify_gap,
    clinic_bot,
    gpu_hours,
    hierarchy_rows,
    training_flops_per_token,
)


def test_clinic_bot_uses_three_rungs():
    recs = clinic_bot()
    assert [r.gap for r in recs] == ["knowledge", "behaviour", "steering"]
    assert [r.rung for r in recs] == ["rag", "lora", "prompt"]
    assert any("80%" in reason for reason in recs[1].reasons)
    assert "Cost" in recs[0].text()


def test_classify_from_wording():
    assert classify_gap("It answers in the wrong tone and style")[0] == "behaviour"
    assert classify_gap("It does not know our internal price list")[0] == "knowledge"
    assert classify_gap("Hmm")[0] == "steering"  # no signal: cheapest rung first
    assert set(GAPS) == {"knowledge", "behaviour", "steering", "capability"}


def test_named_gap_and_options():
    assert advise(gap="behaviour", prompt_compliance=0.97).rung == "prompt"
    assert advise(gap="capability", demonstrations=50_000).rung == "full"
    assert advise(gap="capability").rung == "lora"
    assert any("only 20" in r for r in advise(gap="behaviour", demonstrations=20).reasons)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({}, "description"),
        ({"description": "   "}, "Describe"),
        ({"gap": "vibes"}, "Unknown gap"),
        ({"gap": "behaviour", "prompt_compliance": 1.5}, "between 0 and 1"),
        ({"gap": "behaviour", "demonstrations": -1}, "negative"),
    ],
)
def test_bad_inputs(kwargs, match):
    with pytest.raises(ValueError, match=match):
        advise(**kwargs)


def test_gpu_hours_matches_six_nd():
    # 6 * 7e9 * 2e12 / (312e12 * 0.4) / 3600 ~ 187k GPU-hours (Llama 2 7B reported 184k A100-hours).
    assert gpu_hours(7e9, 2e12) == pytest.approx(186_966, rel=1e-3)
    with pytest.raises(ValueError):
        gpu_hours(0, 1)
    with pytest.raises(ValueError):
        gpu_hours(1, 1, utilisation=0)


def test_hierarchy_has_five_rungs_with_computed_memory():
    rows = hierarchy_rows()
    assert [r["rung"] for r in rows][0] == "Prompting" and len(rows) == 5
    assert rows[3]["memory (7B)"].startswith("112 GB -> 2 x 80 GB")


def test_lora_skips_the_weight_gradients_of_frozen_weights():
    assert training_flops_per_token(7e9) == 6 * 7e9
    lora = training_flops_per_token(7e9, trainable_params=40e6)
    assert lora == 4 * 7e9 + 6 * 40e6 and 0.66 < lora / (6 * 7e9) < 0.68
    assert gpu_hours(7e9, 1e7, trainable_params=40e6) < gpu_hours(7e9, 1e7)
    with pytest.raises(ValueError, match="cannot exceed"):
        training_flops_per_token(1e6, trainable_params=2e6)
    with pytest.raises(ValueError):
        training_flops_per_token(1e6, trainable_params=0)


def _counted_step_flops(trainable_adapters: bool) -> tuple[int, int, int]:
    """FLOPs torch counts for one forward + backward of a stack of linear layers, full or with LoRA-style adapters."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    torch.manual_seed(0)
    d, r, depth, tokens = 64, 4, 6, 10
    base = [torch.nn.Linear(d, d, bias=False) for _ in range(depth)]
    adapters = [(torch.nn.Linear(d, r, bias=False), torch.nn.Linear(r, d, bias=False)) for _ in range(depth)]
    for layer in base:
        layer.requires_grad_(not trainable_adapters)
    x = torch.randn(tokens, d, requires_grad=True)  # as if a trained layer sat below: its input gradient is needed
    with FlopCounterMode(display=False) as counter:
        h = x
        for layer, (a, b) in zip(base, adapters, strict=True):
            h = layer(h) + b(a(h)) if trainable_adapters else layer(h)
        h.square().sum().backward()
    n, t = depth * d * d, depth * 2 * d * r
    return counter.get_total_flops(), n * tokens, t * tokens


def test_flop_model_matches_what_torch_counts():
    full, n_tokens, _ = _counted_step_flops(trainable_adapters=False)
    lora, _, t_tokens = _counted_step_flops(trainable_adapters=True)
    assert full == 6 * n_tokens  # 6·N·D, exactly
    assert lora == 4 * n_tokens + 6 * t_tokens  # 4·N·D + 6·T·D, exactly


def test_hierarchy_compute_column_uses_the_lora_rule():
    rows = {r["rung"]: r["compute (A100, 40%)"] for r in hierarchy_rows()}
    lora, full = (float(rows[k].split("~")[1].split()[0]) for k in ("LoRA / QLoRA fine-tune", "Full fine-tune"))
    assert lora < full and "4N+6T" in rows["LoRA / QLoRA fine-tune"]
