"""The distillation temperature slider (chapter 08): softmax(z / T) of a teacher's logits as T moves."""

from __future__ import annotations

from typing import Any

from workbook.topics.distill import TemperatureExplorer
from workbook.ui.hints import busy_hint


def temperature_widget(explorer: TemperatureExplorer, initial: float = 1.0) -> Any:
    """A FloatSlider over T, the busy hint, the probabilities as text, and an Output holding the bar plot."""
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    slider = widgets.FloatSlider(value=initial, min=0.25, max=8.0, step=0.25, description="T")
    text = widgets.HTML()
    out = widgets.Output()

    def redraw(_change: Any = None) -> None:
        text.value = f"<code>{explorer.describe(slider.value)}</code>"
        with out:
            out.clear_output(wait=True)
            explorer.plot(slider.value)
            plt.show()

    slider.observe(redraw, names="value")
    redraw()
    return widgets.VBox([slider, busy_hint(), text, out])
