"""Each course widget in JupyterLab and Chromium, used as a student would: a small notebook per widget calls the
`workbook.ui` builder the chapter calls, runs with Run All, and the test clicks, types and slides, then reads what
the page shows (and, for the picker, the picks file on disk).

Each problem issue 17 found has a test here that failed before its fix.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

from tests.browser.harness import RESPOND_S, Notebook, wait_for, write_notebook

pytestmark = pytest.mark.usefixtures("console")


def slide_to(notebook: Notebook, slider, value: str) -> None:
    """Type a value into a slider's readout, as a student may (click it, type, Enter)."""
    readout = slider.find_element("css selector", ".widget-readout")
    readout.click()
    notebook.driver.execute_script("document.execCommand('selectAll', false, null);")
    readout.send_keys(value, "\ue007")  # Enter


def nudge(slider, steps: int) -> None:
    """Move a slider with the arrow keys on its handle."""
    handle = slider.find_element("css selector", ".noUi-handle")
    handle.click()
    handle.send_keys(("\ue014" if steps > 0 else "\ue012") * abs(steps))  # ArrowRight / ArrowLeft


def chart_of(notebook: Notebook) -> str | None:
    """A widget's chart as the page shows it (its image data), or None."""
    images = notebook.output(0).find_elements("css selector", "img")
    return images[0].get_attribute("src") if images else None


def ran(driver, lab, name: str, code: str):
    """A fixture body: the widget's notebook written, opened and run; closed after the test."""
    notebook = Notebook(driver, lab, write_notebook(lab.root, name, code))
    notebook.run_all()
    yield notebook
    notebook.close()


def picks_on_disk(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []


# ---- The preference picker (chapter 03) ---------------------------------------------------------------------------

PICKER = (
    "from workbook.topics.preferences import PreferenceSession, load_shipped_pairs\n"
    "from workbook.ui.picker import picker_widget\n"
    "session = PreferenceSession(load_shipped_pairs()[:4], 'picks.jsonl')\n"
    "picker_widget(session)"
)


@pytest.fixture
def picker(driver, lab):
    (lab.root / "picks.jsonl").unlink(missing_ok=True)
    yield from ran(driver, lab, "picker.ipynb", PICKER)


def button(notebook: Notebook, label: str):
    return notebook.widget().find_element("xpath", f".//button[normalize-space()='{label}']")


def test_picker_records_a_b_tie_skip_undo_to_its_file(picker, lab):
    picks = lab.root / "picks.jsonl"
    picker.wait_text(0, r"Pair 1 of 4")
    picker.screenshot(picker.widget(), "picker")
    for n, label in enumerate(("A", "B", "Tie"), start=1):
        button(picker, label).click()
        picker.wait_text(0, rf"Pair {n + 1} of 4")
        wait_for(lambda n=n: len(picks_on_disk(picks)) == n, RESPOND_S, f"{n} picks in picks.jsonl")
        time.sleep(0.5)  # reading the next pair (a pick within DOUBLE_CLICK_S of the last is taken as a double click)
    assert [p["choice"] for p in picks_on_disk(picks)] == ["A", "B", "tie"]
    button(picker, "Undo last pick").click()
    picker.wait_text(0, r"Undid tie")
    wait_for(lambda: len(picks_on_disk(picks)) == 2, RESPOND_S, "the undo to reach picks.jsonl")
    button(picker, "Skip").click()
    picker.wait_text(0, r"Recorded skip")
    on_disk = picks_on_disk(picks)
    shown = re.search(r"Recorded skip for (\S+)\.", picker.text(0))[1]
    assert on_disk[-1]["pair_id"] == shown, "the file and the screen disagree on the last pick"
    picker.screenshot(picker.widget(), "picker-after-picks")


def test_picker_double_click_records_one_pick(picker, lab):
    actions = pytest.importorskip("selenium.webdriver").ActionChains(picker.driver)
    picker.wait_text(0, r"Pair 1 of 4")
    actions.double_click(button(picker, "A")).perform()
    time.sleep(2)  # both clicks reach the kernel within this
    assert len(picks_on_disk(lab.root / "picks.jsonl")) == 1


def test_reopened_notebook_shows_no_widget_error(picker, driver, lab):
    """`make setup` turns on JupyterLab's saveState (workbook.core.install.install_lab_settings): the reopened
    notebook shows each widget as it was left, static until its cell runs again."""
    picker.wait_text(0, r"Pair 1 of 4")
    picker.close()  # saved as the student leaves it, and its kernel shut down
    reopened = Notebook(driver, lab, "picker.ipynb")
    wait_for(lambda: reopened.text(0).strip(), RESPOND_S, "the saved output to show")
    time.sleep(1)
    reopened.screenshot(reopened.output(0), "picker-reopened")
    assert "Error displaying widget" not in reopened.text(0)


# ---- The LoRA rank slider (chapter 04) ----------------------------------------------------------------------------

RANK = (
    "import torch\n"
    "from workbook.topics.lora_rank import RankExplorer\n"
    "from workbook.ui.rank_slider import rank_slider\n"
    "torch.manual_seed(0)\n"
    "explorer = RankExplorer(torch.randn(48, 6) @ torch.randn(6, 40) + 0.01 * torch.randn(48, 40))\n"
    "rank_slider(explorer, initial=4)"
)


@pytest.fixture
def rank(driver, lab):
    yield from ran(driver, lab, "rank.ipynb", RANK)


def test_rank_slider_redraws_numbers_and_plot(rank):
    rank.wait_text(0, r"r=4: energy captured")
    slider = rank.widget().find_element("css selector", ".widget-slider")
    assert rank.output(0).find_elements("css selector", "img"), "no plot under the rank slider"
    chart = chart_of(rank)
    nudge(slider, 2)
    match = rank.wait_text(0, r"r=6: energy captured (\d+\.\d)%")
    wait_for(lambda: chart_of(rank) not in (None, chart), RESPOND_S, "the plot to be redrawn for r=6")
    assert float(match[1]) > 95, "rank 6 of a rank-6 update (plus a little noise) should keep nearly all its energy"
    slide_to(rank, slider, "1")
    match = rank.wait_text(0, r"r=1: energy captured (\d+\.\d)%")
    assert float(match[1]) < 90, "rank 1 of a rank-6 update should miss much of its energy"
    assert len(rank.output(0).find_elements("css selector", "img")) == 1, "one plot, redrawn in place"
    rank.screenshot(rank.widget(), "rank-slider")


def test_rank_slider_never_says_fewer_when_it_means_more(rank):
    rank.wait_text(0, r"r=4: energy captured")
    chart = chart_of(rank)
    slide_to(rank, rank.widget().find_element("css selector", ".widget-slider"), "40")
    rank.wait_text(0, r"r=40: energy captured")
    wait_for(lambda: chart_of(rank) not in (None, chart), RESPOND_S, "the plot to be redrawn for r=40")
    rank.screenshot(rank.widget(), "rank-slider-max")
    fewer = [float(x) for x in re.findall(r"\((\d+(?:\.\d+)?)x fewer\)", rank.text(0))]
    assert all(x >= 1 for x in fewer), f"'{min(fewer)}x fewer' shown: LoRA trains more numbers than the matrix here"
    assert re.search(r"\(\d+(?:\.\d+)?x more\)", rank.text(0)), "r=40 on a 48x40 update trains more than the matrix"


# ---- The size table (chapter 06) ----------------------------------------------------------------------------------

SIZE = "from workbook.ui.size_table import size_widget\nsize_widget()"


@pytest.fixture
def size(driver, lab):
    yield from ran(driver, lab, "size.ipynb", SIZE)


def type_size(notebook: Notebook, text: str) -> None:
    box = notebook.widget().find_element("css selector", ".widget-text input")
    box.clear()
    box.send_keys(text)


def test_size_table_follows_typed_sizes_and_refuses_bad_ones(size):
    size.wait_text(0, r"FP32")
    chart = chart_of(size)
    type_size(size, "1.5B")
    size.wait_text(0, r"1\.5B parameters|1\.5B")
    shown = size.wait_text(0, r"FP32\s+32(?:\.0+)?\s+(\d+\.\d+)")
    assert abs(float(shown[1]) - 6.0) < 0.1, f"1.5B at FP32 should be 6.0 GB, the table says {shown[1]}"
    wait_for(lambda: chart_of(size) not in (None, chart), RESPOND_S, "the chart to be redrawn for 1.5B")
    size.screenshot(size.widget(), "size-table")
    for bad in ("0", "-3B", "abc", "1e40"):
        type_size(size, bad)
        size.wait_text(0, r"⚠")
        assert "Traceback" not in size.text(0) and "FP32" not in size.text(0), f"{bad!r} was not refused cleanly"
    size.screenshot(size.widget(), "size-table-refused")


def test_size_table_clears_its_chart_when_it_refuses_a_size(size):
    size.wait_text(0, r"FP32")
    type_size(size, "abc")
    size.wait_text(0, r"⚠")
    time.sleep(0.5)
    size.screenshot(size.widget(), "size-table-refused-chart")
    assert chart_of(size) is None, "the previous chart stays under the refusal"


def test_size_table_shows_one_table_and_one_chart(size):
    size.wait_text(0, r"FP32")
    type_size(size, "13B")
    size.wait_text(0, r"13B")
    time.sleep(1.5)  # every keystroke's redraw has landed
    assert size.text(0).count("FP32") == 1, "the table is shown more than once"
    assert len(size.output(0).find_elements("css selector", "img")) == 1, "more than one chart"


# ---- The temperature explorer (chapter 08) ------------------------------------------------------------------------

TEMPERATURE = (
    "from workbook.topics.distill import TemperatureExplorer\n"
    "from workbook.ui.temperature import temperature_widget\n"
    "temperature_widget(TemperatureExplorer([4.0, 2.0, 1.0, -1.0], ['Paris', 'Lyon', 'Nice', 'Rome']))"
)


def test_temperature_slider_softens_the_distribution(driver, lab):
    notebook = Notebook(driver, lab, write_notebook(lab.root, "temperature.ipynb", TEMPERATURE))
    try:
        notebook.run_all()
        low = notebook.wait_text(0, r"T = 1: Paris (0\.\d+)")
        nudge(notebook.widget().find_element("css selector", ".widget-slider"), 12)  # T: 1 -> 4
        high = notebook.wait_text(0, r"T = 4: Paris (0\.\d+)")
        assert float(high[1]) < float(low[1]), "a higher temperature must soften the top probability"
        assert len(notebook.output(0).find_elements("css selector", "img")) == 1, "one bar chart, redrawn in place"
        notebook.screenshot(notebook.widget(), "temperature")
    finally:
        notebook.close()


# ---- The memory calculator (chapter 02) ---------------------------------------------------------------------------

MEMORY = "from workbook.ui.memory_calculator import memory_widget\nmemory_widget(7.0)"


def choose(widget, label: str, option: str) -> None:
    for box in widget.find_elements("css selector", ".widget-dropdown"):
        if box.find_element("css selector", "label").text.strip() == label:
            box.find_element("css selector", "select").click()
            box.find_element("xpath", f".//option[normalize-space()='{option}']").click()
            return
    raise AssertionError(f"no dropdown labelled {label!r}")


def test_memory_calculator_updates_and_clears_its_chart_on_error(driver, lab):
    notebook = Notebook(driver, lab, write_notebook(lab.root, "memory.ipynb", MEMORY))
    try:
        notebook.run_all()
        notebook.wait_text(0, r"total\s+16\s+112\.0")  # 7B, bf16 + Adam + fp32 master: 16 bytes a parameter
        widget = notebook.widget()
        chart = chart_of(notebook)
        slide_to(notebook, widget.find_element("css selector", ".widget-slider"), "70")
        notebook.wait_text(0, r"total\s+16\s+1,120\.0")
        wait_for(lambda: chart_of(notebook) not in (None, chart), RESPOND_S, "the chart to be redrawn for 70B")
        assert len(notebook.output(0).find_elements("css selector", "img")) == 1, "one chart"
        notebook.screenshot(widget, "memory-calculator")
        choose(widget, "Weights:", "fp32")  # fp32 weights with the mixed-precision box ticked: refused
        notebook.wait_text(0, r"[Mm]ixed precision .*(bf16|fp16)")
        time.sleep(0.5)
        assert not notebook.output(0).find_elements("css selector", "img"), "the old chart stays under the error"
        notebook.screenshot(widget, "memory-calculator-error")
    finally:
        notebook.close()


# ---- The adaptation ladder (chapter 01) ---------------------------------------------------------------------------

LADDER = "from workbook.ui.ladder import ladder_widget\nladder_widget()"


def test_ladder_card_follows_the_gap(driver, lab):
    notebook = Notebook(driver, lab, write_notebook(lab.root, "ladder.ipynb", LADDER))
    try:
        notebook.run_all()
        before = notebook.wait_text(0, r"Gap:\s*(\w+)")[1]
        widget = notebook.widget()
        choose(widget, "Kind:", "knowledge" if before != "knowledge" else "behaviour")
        wait_for(lambda: re.search(r"Gap:\s*(\w+)", notebook.text(0))[1] != before, RESPOND_S, "the card to change")
        notebook.screenshot(widget, "ladder")
    finally:
        notebook.close()


# ---- A widget while the kernel is busy ----------------------------------------------------------------------------


def test_a_widget_responds_or_says_so_while_the_kernel_is_busy(driver, lab):
    """Core ipywidgets cannot see the kernel's state from the page: each interactive widget says up front that
    it answers once the kernel is free (workbook.ui.hints)."""
    name = write_notebook(lab.root, "busy.ipynb", TEMPERATURE, "import time\ntime.sleep(30)")
    notebook = Notebook(driver, lab, name)
    try:
        notebook.command("notebook:run-all-cells")
        notebook.wait_text(0, r"T = 1: Paris", timeout=30)
        wait_for(lambda: notebook.kernel_status() == "busy" and notebook.running(1), RESPOND_S, "the sleep cell to run")
        nudge(notebook.widget(0).find_element("css selector", ".widget-slider"), 4)  # T: 1 -> 2
        time.sleep(3)
        assert notebook.kernel_status() == "busy", "the kernel finished too early for this check"
        notebook.screenshot(notebook.widget(0), "temperature-kernel-busy")
        shown = notebook.text(0)
        assert "T = 2:" in shown or re.search(r"busy|wait|running", shown, re.I), (
            "the slider moved; the widget neither updated nor said that the kernel is busy"
        )
    finally:
        notebook.command("notebook:interrupt-kernel")
        notebook.close()
