"""The harness itself: a widget whose callback stops responding must fail a test. A throwaway widget (not a course
widget) squares a slider's value; with its callback broken, the same interaction times out with a clear message.
"""

from __future__ import annotations

import pytest

from tests.browser.harness import Notebook, write_notebook

pytestmark = pytest.mark.usefixtures("console")

SQUARE = """import ipywidgets as widgets
slider = widgets.IntSlider(value=1, min=1, max=10, description="n")
shown = widgets.HTML("n squared = 1")
def on_change(change):
    {body}
slider.observe(on_change, names="value")
widgets.VBox([slider, shown])"""
WORKING = "shown.value = f'n squared = {change.new ** 2}'"
BROKEN = "raise RuntimeError('this callback is broken on purpose')"


def square_after_two_steps(driver, lab, body: str, name: str) -> None:
    from tests.browser.test_widgets import nudge

    notebook = Notebook(driver, lab, write_notebook(lab.root, name, SQUARE.format(body=body)))
    try:
        notebook.run_all()
        nudge(notebook.widget().find_element("css selector", ".widget-slider"), 2)
        notebook.wait_text(0, r"n squared = 9")
    finally:
        notebook.close()


def test_a_responding_widget_passes(driver, lab):
    square_after_two_steps(driver, lab, WORKING, "square.ipynb")


def test_a_widget_whose_callback_breaks_fails_the_test(driver, lab):
    with pytest.raises(AssertionError, match=r"timed out .* waiting for 'n squared = 9'"):
        square_after_two_steps(driver, lab, BROKEN, "square-broken.ipynb")
