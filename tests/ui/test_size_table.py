"""The chapter 06 size widget: built headless, follows its controls, and is returned, not displayed."""

import matplotlib

matplotlib.use("Agg")

from workbook.ui.size_table import size_widget


def test_widget_follows_its_controls(monkeypatch):
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda *a, **k: shown.append(a))
    box = size_widget()
    preset, typed = box.children[0].children
    typed.value = "nonsense"  # switches the dropdown to "typed" and shows a message, no exception
    assert preset.value == "typed"
    typed.value = "13B"
    preset.value = "70B"
    assert not shown  # the caller displays it, exactly once (chapter 06 leaves it as the cell's last expression)
