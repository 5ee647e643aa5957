"""The chapter 02 memory calculator's view: breakdown table, bar chart and widget."""


from workbook.topics.memory import full_finetune_memory
from workbook.ui.memory_calculator import breakdown_html, memory_widget, plot_breakdown


def test_html_and_plot():
    est = full_finetune_memory(7)
    page = breakdown_html(est, 7)
    assert "112.0" in page and "2 x 80 GB GPUs" in page
    import matplotlib

    matplotlib.use("Agg")
    ax = plot_breakdown(est)
    assert ax.get_xlabel() == "GB"


def test_widget_updates_and_reports_errors(monkeypatch):
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda *a, **k: shown.append(a[0]))
    box = memory_widget(7)
    params, row, mixed, hint, table = box.children[:5]
    assert "busy" in hint.value
    precision = row.children[0]
    assert "112.0" in table.value
    params.value = 8.0
    assert "128.0" in table.value
    precision.value = "fp32"  # with mixed precision still ticked
    assert "Mixed precision" in table.value
    mixed.value = False
    assert "128.0" in table.value
    assert box not in shown  # only the chart goes into its Output; the caller displays the widget
