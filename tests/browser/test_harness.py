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


def test_the_browser_reaches_no_host_but_127_0_0_1(driver, lab):
    """Chromium resolves no host name: the lab's icon comes from 127.0.0.1 but not from `localhost` (the same server
    by name), so a page asking for the Colab badge from Colab gets nothing either."""
    driver.get(f"{lab.url}/lab?token={lab.token}")
    load = (
        "const done = arguments[arguments.length - 1];"
        "fetch(arguments[0], {mode: 'no-cors'}).then(() => done('loaded'), () => done('blocked'));"
    )
    icon = "/static/favicons/favicon.ico"
    assert driver.execute_async_script(load, f"http://127.0.0.1:{lab.port}{icon}") == "loaded"
    assert driver.execute_async_script(load, f"http://localhost:{lab.port}{icon}") == "blocked"
    assert driver.execute_async_script(load, "https://colab.research.google.com/assets/colab-badge.svg") == "blocked"
    driver.get_log("browser")  # the refused requests' console lines belong to this test alone
