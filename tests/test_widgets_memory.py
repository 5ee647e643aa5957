import pytest

from workbook.ui.memory_calculator import (
    breakdown_html,
    bytes_per_param,
    eight_b_accountings,
    full_finetune_memory,
    memory_widget,
    plot_breakdown,
)


def test_seed_figure_7b_adam_mixed_is_112_gb():
    est = full_finetune_memory(7)
    assert est.total_gb == pytest.approx(112)
    assert bytes_per_param(est, 7) == 16
    assert est.parts["fp32 master copy"] == pytest.approx(28e9)
    assert est.parts["Adam m"] + est.parts["Adam v"] == pytest.approx(56e9)
    assert est.gpus_needed == 2


def test_eight_b_accountings():
    gb = [round(a.estimate.total_gb, 1) for a in eight_b_accountings()]
    assert gb == [64.2, 96.4, 128.5]
    assert [a.per_param for a in eight_b_accountings()] == [8, 12, 16]
    assert max(a.estimate.gpus_needed for a in eight_b_accountings()) == 2  # never 10 x A100


def test_optimizers_and_precisions():
    assert full_finetune_memory(7, optimizer="SGD").total_gb == pytest.approx(56)
    assert full_finetune_memory(7, optimizer="8-bit Adam").total_gb == pytest.approx(70)
    assert full_finetune_memory(7, "fp32", "Adam", mixed_precision=False).total_gb == pytest.approx(112)


@pytest.mark.parametrize(
    "args, match",
    [
        ((0,), "positive"),
        ((-3,), "positive"),
        ((True,), "positive"),
        ((7, "int4"), "not 'int4'"),
        ((7, "bf16", "Adagrad"), "Unknown optimizer"),
        ((7, "fp32", "Adam", True), "Mixed precision"),
        ((7, "bf16", "Adam", True, 0), "gpu_gb"),
    ],
)
def test_bad_inputs(args, match):
    with pytest.raises(ValueError, match=match):
        full_finetune_memory(*args)


def test_html_and_plot():
    est = full_finetune_memory(7)
    page = breakdown_html(est, 7)
    assert "112.0" in page and "2 x 80 GB GPUs" in page
    import matplotlib

    matplotlib.use("Agg")
    ax = plot_breakdown(est)
    assert ax.get_xlabel() == "GB"


def test_widget_updates_and_reports_errors():
    box = memory_widget(7)
    params, row, mixed, table = box.children[0], box.children[1], box.children[2], box.children[3]
    precision = row.children[0]
    assert "112.0" in table.value
    params.value = 8.0
    assert "128.0" in table.value
    precision.value = "fp32"  # with mixed precision still ticked
    assert "Mixed precision" in table.value
    mixed.value = False
    assert "128.0" in table.value
