"""The full fine-tuning memory calculator (chapter 02): a plain API over `workbook.topics.memory.training_memory`,
the accountings behind the source lessons' figures, and a core-ipywidgets front end.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

from workbook.topics.memory import GB, MemoryEstimate, training_memory

OPTIMIZERS = {"Adam": "adam", "8-bit Adam": "adam-8bit", "SGD": "sgd"}
WEIGHT_PRECISIONS = ("bf16", "fp16", "fp32")


def full_finetune_memory(
    params_billion: float,
    weight_precision: str = "bf16",
    optimizer: str = "Adam",
    mixed_precision: bool = True,
    gpu_gb: float = 80.0,
) -> MemoryEstimate:
    """Memory to fully fine-tune a model of `params_billion` billion parameters (activations excluded).

    optimizer: "Adam", "8-bit Adam" or "SGD". mixed_precision: 16-bit working weights plus an fp32 master copy.
    """
    if isinstance(params_billion, bool) or not isinstance(params_billion, (int, float)) or not params_billion > 0:
        raise ValueError(f"params_billion must be a positive number (e.g. 7 for a 7B model), got {params_billion!r}.")
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"Unknown optimizer {optimizer!r}; choose one of {', '.join(OPTIMIZERS)}.")
    if weight_precision not in WEIGHT_PRECISIONS:
        raise ValueError(f"Full fine-tuning trains {', '.join(WEIGHT_PRECISIONS)} weights, not {weight_precision!r}.")
    if mixed_precision and weight_precision == "fp32":
        raise ValueError("Mixed precision keeps 16-bit working weights: pick bf16 or fp16, or untick mixed precision.")
    if not gpu_gb > 0:
        raise ValueError(f"gpu_gb must be positive, got {gpu_gb!r}.")
    return training_memory(params_billion * 1e9, weight_precision, OPTIMIZERS[optimizer], mixed_precision,
                           gpu_gb=gpu_gb)


def bytes_per_param(estimate: MemoryEstimate, params_billion: float) -> float:
    """Total bytes stored per parameter."""
    return estimate.total_bytes / (params_billion * 1e9)


@dataclass(frozen=True)
class Accounting:
    """One way of adding up the bill for the same model."""

    label: str
    estimate: MemoryEstimate
    params_billion: float

    @property
    def per_param(self) -> float:
        return bytes_per_param(self.estimate, self.params_billion)


def eight_b_accountings(params_billion: float = 8.03) -> list[Accounting]:
    """Three readings of "8B: fp16 weights + gradients + Adam states (2x parameters) = 80+ GB".

    Llama 3 8B has 8.03e9 parameters. Only the readings with fp32 Adam moments reach 80 GB.
    """
    n = params_billion * 1e9
    half_states = MemoryEstimate(
        parts={"weights": 2 * n, "gradients": 2 * n, "Adam m": 2 * n, "Adam v": 2 * n},
        notes=["(activations, CUDA context and fragmentation not included)"],
    )
    return [
        Accounting("fp16 weights + grads, Adam m and v in fp16", half_states, params_billion),
        Accounting("fp16 weights + grads, Adam m and v in fp32",
                   full_finetune_memory(params_billion, "fp16", "Adam", mixed_precision=False), params_billion),
        Accounting("mixed precision: the above + fp32 master copy",
                   full_finetune_memory(params_billion, "fp16", "Adam", mixed_precision=True), params_billion),
    ]


def breakdown_html(estimate: MemoryEstimate, params_billion: float) -> str:
    """The breakdown as an HTML table with a bytes-per-parameter column."""
    n = params_billion * 1e9
    rows = "".join(
        f"<tr><td>{html.escape(name)}</td><td style='text-align:right'>{size / n:g}</td>"
        f"<td style='text-align:right'>{size / GB:,.1f}</td></tr>"
        for name, size in estimate.parts.items() if size
    )
    total = (
        f"<tr style='font-weight:bold'><td>total</td><td style='text-align:right'>{estimate.total_bytes / n:g}</td>"
        f"<td style='text-align:right'>{estimate.total_gb:,.1f}</td></tr>"
    )
    gpus = f"{estimate.gpus_needed} x {estimate.gpu_gb:g} GB GPU{'s' if estimate.gpus_needed > 1 else ''}"
    return (
        "<table><tr><th>part</th><th>bytes/param</th><th>GB</th></tr>" + rows + total + "</table>"
        f"<p>Needs at least <b>{gpus}</b> before activations.</p>"
    )


def plot_breakdown(estimate: MemoryEstimate, title: str = "", ax=None):  # -> matplotlib Axes
    """A stacked horizontal bar of the parts, with the 80 GB line."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 1.8))
    left = 0.0
    for name, size in estimate.parts.items():
        if size:
            ax.barh([0], [size / GB], left=left, label=name)
            left += size / GB
    ax.axvline(estimate.gpu_gb, color="k", linestyle="--", linewidth=1)
    ax.text(estimate.gpu_gb, 0.45, f" {estimate.gpu_gb:g} GB GPU", va="center")
    ax.set_yticks([])
    ax.set_xlabel("GB")
    ax.set_title(title or f"total {estimate.total_gb:.1f} GB")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.45), ncol=3, fontsize=8, frameon=False)
    return ax


def memory_widget(params_billion: float = 7.0):  # -> ipywidgets.VBox
    """Sliders and menus for the full fine-tuning bill; the table and bar chart update live."""
    import ipywidgets as widgets
    import matplotlib.pyplot as plt
    from IPython.display import display

    params = widgets.FloatSlider(value=params_billion, min=0.1, max=405, step=0.1, description="Params (B):")
    precision = widgets.Dropdown(options=list(WEIGHT_PRECISIONS), value="bf16", description="Weights:")
    optimizer = widgets.Dropdown(options=list(OPTIMIZERS), value="Adam", description="Optimizer:")
    mixed = widgets.Checkbox(value=True, description="Mixed precision (fp32 master copy)")
    gpu = widgets.Dropdown(options=[16.0, 24.0, 40.0, 80.0, 141.0], value=80.0, description="GPU GB:")
    table, chart = widgets.HTML(), widgets.Output()

    def refresh(_=None) -> None:
        chart.clear_output(wait=True)
        try:
            estimate = full_finetune_memory(params.value, precision.value, optimizer.value, mixed.value, gpu.value)
        except ValueError as error:
            table.value = f"<span style='color:#b00'>{html.escape(str(error))}</span>"
            return
        table.value = breakdown_html(estimate, params.value)
        with chart:
            ax = plot_breakdown(estimate)
            display(ax.figure)
            plt.close(ax.figure)

    for control in (params, precision, optimizer, mixed, gpu):
        control.observe(refresh, names="value")
    refresh()
    return widgets.VBox([params, widgets.HBox([precision, optimizer, gpu]), mixed, table, chart])
