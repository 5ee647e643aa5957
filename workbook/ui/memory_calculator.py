"""The full fine-tuning memory calculator's view (chapter 02): a breakdown table, a bar chart and a widget over
`workbook.topics.memory.full_finetune_memory`.
"""

from __future__ import annotations

import html

from workbook.topics.memory import GB, OPTIMIZERS, WEIGHT_PRECISIONS, MemoryEstimate, full_finetune_memory
from workbook.ui.hints import busy_hint


def breakdown_html(estimate: MemoryEstimate, params_billion: float) -> str:
    """The breakdown as an HTML table with a bytes-per-parameter column."""
    n = params_billion * 1e9
    rows = "".join(
        f"<tr><td>{html.escape(name)}</td><td style='text-align:right'>{size / n:g}</td>"
        f"<td style='text-align:right'>{size / GB:,.1f}</td></tr>"
        for name, size in estimate.parts.items()
        if size
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
            chart.clear_output()  # no stale chart beside the message
            return
        table.value = breakdown_html(estimate, params.value)
        with chart:
            ax = plot_breakdown(estimate)
            display(ax.figure)
            plt.close(ax.figure)

    for control in (params, precision, optimizer, mixed, gpu):
        control.observe(refresh, names="value")
    refresh()
    return widgets.VBox([params, widgets.HBox([precision, optimizer, gpu]), mixed, busy_hint(), table, chart])
