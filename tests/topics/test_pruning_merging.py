import pytest
import torch

from workbook.topics.merging import (
    DifferentBaseError,
    add_task_vectors,
    check_same_base,
    dare,
    slerp,
    slerp_coefficients,
    task_vector,
    ties_values,
)
from workbook.topics.pruning import (
    magnitude_masks,
    magnitude_prune_,
    prune_mlp_neurons,
    random_masks,
    semi_structured_mask,
    semi_structured_prune_,
    set_masked_,
    sparsity,
    storage_bytes,
    train_masked,
)


def test_magnitude_prune_hits_the_amount_and_keeps_large_weights():
    layer = torch.nn.Linear(64, 32)
    largest = layer.weight.abs().max().item()
    magnitude_prune_(layer, 0.5)
    assert sparsity([layer.weight]) == pytest.approx(0.5, abs=0.01)
    assert layer.weight.abs().max().item() == largest
    assert not hasattr(layer, "weight_orig")  # the mask was folded in
    with pytest.raises(ValueError, match="amount"):
        magnitude_prune_(layer, 1.5)


def test_two_four_keeps_two_of_every_four():
    layer = torch.nn.Linear(16, 8, bias=False)
    semi_structured_prune_(layer)
    groups = (layer.weight != 0).reshape(8, 4, 4).sum(-1)
    assert torch.all(groups == 2)
    with pytest.raises(ValueError, match="multiple"):
        semi_structured_mask(torch.randn(4, 6))
    with pytest.raises(ValueError):
        semi_structured_mask(torch.randn(4, 8), n=4, m=4)


class TinyMLP(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.gate_proj, self.up_proj = torch.nn.Linear(8, 20, bias=False), torch.nn.Linear(8, 20, bias=False)
        self.down_proj = torch.nn.Linear(20, 8, bias=False)

    def forward(self, x):
        return self.down_proj(torch.nn.functional.silu(self.gate_proj(x)) * self.up_proj(x))


def test_structured_pruning_shrinks_and_keeps_the_kept_neurons_exact():
    mlp = TinyMLP()
    x = torch.randn(3, 8)
    widths = prune_mlp_neurons(mlp, 0.25)
    assert widths == {"width_before": 20, "width_after": 15}
    assert mlp.gate_proj.weight.shape == (15, 8) and mlp.down_proj.weight.shape == (8, 15)
    assert mlp(x).shape == (3, 8)
    assert prune_mlp_neurons(TinyMLP(), 0.0)["width_after"] == 20


def test_structured_pruning_builds_the_smaller_layers_on_the_old_ones_device_and_dtype():
    mlp = TinyMLP().to(device="meta", dtype=torch.float16)  # meta: a device other than the CPU, on any machine
    prune_mlp_neurons(mlp, 0.25)
    for layer in (mlp.gate_proj, mlp.up_proj, mlp.down_proj):
        assert (layer.weight.device.type, layer.weight.dtype) == ("meta", torch.float16)


def test_storage_and_sparsity_inputs():
    w = torch.zeros(4, 8)
    w[0, 0] = 1
    sizes = storage_bytes(w)
    assert sizes["nnz"] == 1 and sizes["dense"] == 64 and sizes["csr"] < sizes["dense"]
    with pytest.raises(ValueError):
        sparsity([])


def test_seed_one_weight_example():
    base, code, math_ = {"w": 0.5}, {"w": 0.8}, {"w": 0.4}
    taus = [task_vector(code, base), task_vector(math_, base)]
    assert add_task_vectors(base, taus, [1, 1])["w"] == pytest.approx(0.70)
    assert add_task_vectors(base, taus, [0.5, 0.5])["w"] == pytest.approx(0.60)
    ties = ties_values([taus[0]["w"], taus[1]["w"]])
    assert ties["elected_sign"] == 1 and ties["merged_delta"] == pytest.approx(0.30)


def test_ties_trim_and_bad_inputs():
    assert ties_values([0.5, 0.01, -0.2], density=0.34)["trimmed"] == [0.5, 0.0, 0.0]
    with pytest.raises(ValueError):
        ties_values([])
    with pytest.raises(ValueError):
        ties_values([1.0], density=0)
    with pytest.raises(ValueError):
        add_task_vectors({"w": 0}, [{"w": 1}], [1, 2])
    with pytest.raises(DifferentBaseError):
        task_vector({"a": 1}, {"b": 1})


def test_dare_rescales_to_keep_the_expectation():
    out = dare(torch.ones(10000), 0.5)
    assert set(out.unique().tolist()) <= {0.0, 2.0}
    assert out.mean().item() == pytest.approx(1.0, abs=0.05)
    with pytest.raises(ValueError):
        dare(torch.ones(3), 1.0)


class Cfg:
    def __init__(self, base):
        self.base_model_name_or_path = base


def test_same_base_check():
    assert check_same_base({"a": Cfg("smol"), "b": Cfg("smol")}) == "smol"
    with pytest.raises(DifferentBaseError, match="different base models"):
        check_same_base({"a": Cfg("smol"), "b": Cfg("qwen")})
    with pytest.raises(DifferentBaseError, match="do not record"):
        check_same_base({"a": Cfg(None)})
    with pytest.raises(ValueError):
        check_same_base({})


def test_slerp_stays_on_the_sphere_and_hits_the_ends():
    torch.manual_seed(0)
    a, b = torch.nn.functional.normalize(torch.randn(2, 16), dim=-1)
    for t in (0.0, 0.2, 0.5, 0.9, 1.0):
        assert slerp(a, b, t).norm().item() == pytest.approx(1.0, abs=1e-5)
    assert torch.allclose(slerp(a, b, 0.0), a) and torch.allclose(slerp(a, b, 1.0), b)
    x, y = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])
    assert torch.allclose(slerp(x, y, 0.5), torch.tensor([0.5**0.5, 0.5**0.5]))
    angle = torch.acos(slerp(x, y, 0.25) @ x).item()  # a quarter of the way along the 90-degree arc
    assert angle == pytest.approx(torch.pi / 8, abs=1e-5)


def test_slerp_falls_back_to_linear_for_parallel_vectors_and_checks_inputs():
    a = torch.tensor([1.0, 2.0])
    assert slerp_coefficients(a, 2 * a, 0.3) == (0.7, 0.3)
    assert torch.allclose(slerp(a, 2 * a, 0.5), 1.5 * a)
    c_a, c_b = slerp_coefficients(torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0]), 0.5)
    assert c_a == pytest.approx(c_b) and c_a == pytest.approx(0.5**0.5)
    with pytest.raises(ValueError, match="t must lie"):
        slerp(a, a, 1.5)
    with pytest.raises(ValueError, match="one shape"):
        slerp(a, torch.ones(3), 0.5)
    with pytest.raises(ValueError, match="non-zero"):
        slerp(a, torch.zeros(2), 0.5)


def test_lottery_ticket_masks_keep_the_share_and_the_largest():
    torch.manual_seed(0)
    weights = {"a": torch.randn(10, 10), "b": torch.randn(4, 25)}
    masks = magnitude_masks(weights, 0.9)
    assert all(int(m.sum()) == 10 for m in masks.values())
    assert weights["a"][masks["a"]].abs().min() >= weights["a"][~masks["a"]].abs().max()
    ties = magnitude_masks({"z": torch.ones(8)}, 0.5)  # all equal: still exactly half kept
    assert int(ties["z"].sum()) == 4
    rand = random_masks(weights, 0.9, seed=1)
    assert all(int(m.sum()) == 10 for m in rand.values()) and not torch.equal(rand["a"], masks["a"])
    with pytest.raises(ValueError, match="amount"):
        magnitude_masks(weights, 1.0)


def test_masked_training_leaves_pruned_weights_at_zero():
    torch.manual_seed(0)
    layer = torch.nn.Linear(6, 3, bias=False)
    params = {"w": layer.weight}
    start = {"w": layer.weight.detach().clone()}
    masks = random_masks(start, 0.5, seed=0)
    set_masked_(params, start, masks)
    x, y = torch.randn(32, 6), torch.randn(32, 3)
    losses = train_masked(lambda: torch.nn.functional.mse_loss(layer(x), y), params, 30, lr=0.05, masks=masks)
    assert losses[-1] < losses[0]
    assert torch.all(layer.weight[~masks["w"]] == 0) and torch.all(layer.weight[masks["w"]] != start["w"][masks["w"]])
    set_masked_(params, start)  # a rewind without a mask restores every value
    assert torch.equal(layer.weight, start["w"])
    with pytest.raises(ValueError, match="one step"):
        train_masked(lambda: layer(x).sum(), params, 0, lr=0.1)
