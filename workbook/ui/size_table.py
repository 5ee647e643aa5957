"""The chapter 06 size-table widget: pick or type a model size, see its table and bar chart.

`size_widget()` builds and returns the widget; the notebook displays it (once). Its table is plain text in an HTML
widget, so what it shows can be read back on the kernel side (`shown_sizes`) and checked.
"""

from __future__ import annotations

import html
import re
from typing import Any

from workbook.topics.quant_table import PRESETS, format_table, plot_sizes, size_table
from workbook.ui.hints import busy_hint

_ROW = re.compile(r"^(?P<fmt>\S.*?)\s+(?P<bits>\d+\.\d+)\s+(?P<gb>\d+\.\d+)\s+(?P<ratio>\d+\.\d+)$")


def size_widget(size: str = "7B") -> Any:
    """A preset dropdown, a free-text size box, the table and the bar chart that follow them.

    Returns a VBox (display it) with `.preset`, `.typed`, `.table` (HTML) and `.chart` (Output) attributes.
    """
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    preset = widgets.Dropdown(options=[*PRESETS, "typed"], value=size if size in PRESETS else "typed",
                              description="model")  # fmt: skip
    typed = widgets.Text(value="" if size in PRESETS else size, placeholder="e.g. 1.5B, 350M, 7e9",
                         description="or type")  # fmt: skip
    table, chart = widgets.HTML(), widgets.Output()

    def redraw(_: Any = None) -> None:
        text = typed.value.strip() if preset.value == "typed" else preset.value
        chart.clear_output(wait=True)
        if not text:
            chart.clear_output()  # no chart without a size
            table.value = "<p>Type a model size in the box, e.g. 1.5B.</p>"
            return
        try:
            rows = size_table(text)
        except ValueError as error:
            chart.clear_output()  # wait=True clears only when new output comes, and none comes after a refusal
            table.value = f"<p style='color:#b00'>⚠ {html.escape(str(error))}</p>"
            return
        table.value = f"<b>{html.escape(text)} parameters</b><pre>{html.escape(format_table(rows))}</pre>"
        with chart:
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
    box = widgets.VBox([widgets.HBox([preset, typed]), busy_hint(), table, chart])
    box.preset, box.typed, box.table, box.chart = preset, typed, table, chart
    return box


def shown_sizes(box: Any) -> dict[str, float]:
    """The sizes (GB) the widget's table shows right now, by format, read back from its rendered text."""
    text = html.unescape(re.sub(r"<[^>]+>", "\n", box.table.value))
    return {m["fmt"]: float(m["gb"]) for line in text.splitlines() if (m := _ROW.match(line.strip()))}
