"""The chapter 06 size-table widget: pick or type a model size, see its table and bar chart."""

from __future__ import annotations

from typing import Any

from workbook.topics.quant_table import PRESETS, format_table, plot_sizes, size_table


def size_widget() -> Any:
    """A preset dropdown, a free-text size box and the table + bar chart that follow them (a VBox to display)."""
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    preset = widgets.Dropdown(options=[*PRESETS, "typed"], value="7B", description="model")
    typed = widgets.Text(value="", placeholder="e.g. 1.5B, 350M, 7e9", description="or type")
    out = widgets.Output()

    def redraw(_: Any = None) -> None:
        text = typed.value.strip() if preset.value == "typed" else preset.value
        out.clear_output(wait=True)
        with out:
            if not text:
                print("Type a model size in the box, e.g. 1.5B.")
                return
            try:
                rows = size_table(text)
            except ValueError as error:
                print(f"⚠ {error}")
                return
            print(format_table(rows))
            plot_sizes(rows, title=f"{text} parameters")
            plt.show()

    def on_typed(_: Any) -> None:
        if preset.value == "typed":
            redraw()
        else:
            preset.value = "typed"  # triggers redraw

    preset.observe(redraw, names="value")
    typed.observe(on_typed, names="value")
    redraw()
    return widgets.VBox([widgets.HBox([preset, typed]), out])
