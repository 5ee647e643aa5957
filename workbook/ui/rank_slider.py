"""The LoRA rank slider (chapter 04): pick r, see ΔW's rank-r approximation and what it costs."""

from __future__ import annotations

from typing import Any

from workbook.topics.lora_rank import RankExplorer, RankReport, check_rank, lora_params
from workbook.ui.hints import busy_hint


def rank_slider(explorer: RankExplorer, initial: int = 8, max_rank: int | None = None) -> Any:
    """An IntSlider over r that redraws the explorer's plot and numbers (core ipywidgets, 7.7 and 8.x)."""
    import ipywidgets as widgets
    import matplotlib.pyplot as plt
    from IPython.display import display

    d, k = explorer.d, explorer.k
    top = min(d, k) if max_rank is None else check_rank(max_rank, d, k)
    rank = widgets.IntSlider(value=min(max(1, initial), top), min=1, max=top, description="rank r")
    numbers = widgets.HTML()
    output = widgets.Output()

    def redraw(_: Any = None) -> None:
        report = explorer.report(rank.value)
        big = RankReport(rank.value, 4096, 4096, 0, 0, lora_params(4096, 4096, rank.value), 4096 * 4096)
        numbers.value = (
            f"<pre>{report.text()}\nA 4096x4096 layer at the same r: {big.lora_params:,} vs "
            f"{big.full_params:,} ({big.cost})</pre>"
        )
        output.clear_output(wait=True)
        with output:
            display(explorer.plot(rank.value))  # the figure, into the widget's own Output
            plt.close("all")

    rank.observe(redraw, names="value")
    redraw()
    return widgets.VBox([rank, busy_hint(), numbers, output])
