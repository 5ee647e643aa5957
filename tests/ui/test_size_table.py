"""The chapter 06 size widget: built headless, follows its controls, shows what the calculator computes, and is
returned, not displayed."""

import matplotlib

matplotlib.use("Agg")

import pytest

from workbook.topics.quant_table import size_gb
from workbook.ui.size_table import shown_sizes, size_widget


def test_widget_follows_its_controls(monkeypatch):
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda *a, **k: shown.append(a))
    box = size_widget()
    preset, typed = box.children[0].children
    assert (preset, typed) == (box.preset, box.typed)
    typed.value = "nonsense"  # switches the dropdown to "typed" and shows a message, no exception
    assert preset.value == "typed" and "Cannot read" in box.table.value and shown_sizes(box) == {}
    typed.value = "13B"
    assert shown_sizes(box)["BF16/FP16"] == pytest.approx(26.0)
    preset.value = "70B"
    assert not shown  # the caller displays it, exactly once


def test_the_table_shows_the_calculators_figures():
    box = size_widget("70B")
    sizes = shown_sizes(box)
    assert [sizes["FP32"], sizes["BF16/FP16"], sizes["INT8"]] == [280.0, 140.0, 70.0]
    assert sizes["GGUF Q4_K_M"] == pytest.approx(size_gb(70e9, "GGUF Q4_K_M"), abs=0.005)
    assert shown_sizes(size_widget("1.5B"))["FP32"] == pytest.approx(6.0)
