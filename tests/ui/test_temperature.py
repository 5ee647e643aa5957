"""The temperature slider over a TemperatureExplorer, built and driven headless."""

import matplotlib

matplotlib.use("Agg")

from workbook.topics.distill import TemperatureExplorer
from workbook.ui.temperature import temperature_widget


def test_slider_drives_the_description():
    box = temperature_widget(TemperatureExplorer([4, 2, 0], ["dog", "wolf", "cat"]), initial=2.0)
    slider, hint, text = box.children[:3]
    assert "busy" in hint.value
    assert slider.value == 2.0 and "dog 0.665" in text.value
    slider.value = 8.0
    assert "T = 8:" in text.value
