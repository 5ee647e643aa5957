"""Every course widget in a real kernel on Colab's widget stack (ipywidgets 7.7.1, ipykernel 6.17.1, IPython 7.34),
and again on the venv's own (ipywidgets 8, what `make lab` runs).

`make colab-widgets` installs the `# colab-widgets:` pins of requirements.txt (--no-deps) into build/colab-widgets.
The Colab kernel starts with that folder first on PYTHONPATH, so those packages shadow the venv's ipywidgets 8 and
IPython 9 while torch, matplotlib and the course come from the venv. This file plays the browser: it keeps each
widget model's state from the comm messages on IOPub, routes output into Output widgets by msg_id, and sends the
comm messages a browser sends when you type, move a slider, pick from a menu or click. Each cell must show its
widget exactly once, and no interaction may raise, re-display the widget or leave the view unchanged.

`make test` runs `make colab-widgets` first and sets WORKBOOK_REQUIRE_COLAB_WIDGETS=1, so a missing overlay fails
there; a bare pytest without it skips with the command to run.
"""

from __future__ import annotations

import html
import json
import os
import sys
import textwrap
from typing import Any

import pytest

from workbook.core.config import ROOT
from workbook.core.install import read_pins, read_tagged

OVERLAY = ROOT / "build" / "colab-widgets"
PINS = dict(pin.split("==") for pin in read_tagged("colab-widgets"))
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
OUTPUT_TYPES = {"display_data", "execute_result", "stream", "error", "clear_output"}


class Browser:
    """The frontend side of a kernel: widget models by comm id, Output widget contents, and what each cell shows."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.models: dict[str, dict[str, Any]] = {}
        self.outputs: dict[str, list[dict[str, Any]]] = {}  # Output widget comm id -> its outputs
        self._clear_pending: set[str] = set()

    # --- talking to the kernel ---------------------------------------------------------------------------------
    def run(self, code: str) -> list[dict[str, Any]]:
        """Execute a cell; return the outputs shown under it (those no Output widget captured)."""
        msg_id = self.client.execute(textwrap.dedent(code))
        shown = self._until_idle(msg_id)
        reply = self.client.get_shell_msg(timeout=30)
        while reply["parent_header"]["msg_id"] != msg_id:  # e.g. a late kernel_info_reply from wait_for_ready
            reply = self.client.get_shell_msg(timeout=30)
        assert reply["content"]["status"] == "ok", _errors(shown) or reply["content"]
        return shown

    def send(self, comm_id: str, data: dict[str, Any]) -> list[dict[str, Any]]:
        """Send one comm message to a widget, as a browser does; return what appeared outside any Output widget."""
        msg = self.client.session.msg("comm_msg", {"comm_id": comm_id, "data": data})
        self.client.shell_channel.send(msg)
        return self._until_idle(msg["header"]["msg_id"])

    def set(self, comm_id: str, **state: Any) -> list[dict[str, Any]]:
        return self.send(comm_id, {"method": "update", "state": state, "buffer_paths": []})

    def type(self, comm_id: str, text: str) -> list[dict[str, Any]]:
        """Type into a text box: with continuous_update (the default) the browser sends every keystroke."""
        steps = [text[:i] for i in range(1, len(text) + 1)] if self.models[comm_id]["continuous_update"] else [text]
        return [msg for step in steps for msg in self.set(comm_id, value=step)]

    def choose(self, comm_id: str, label: str) -> list[dict[str, Any]]:
        """Pick a Dropdown entry: browsers sync the index, not the value."""
        return self.set(comm_id, index=self.models[comm_id]["_options_labels"].index(label))

    def click(self, comm_id: str) -> list[dict[str, Any]]:
        return self.send(comm_id, {"method": "custom", "content": {"event": "click"}})

    def _until_idle(self, parent_id: str) -> list[dict[str, Any]]:
        shown = []
        while True:
            msg = self.client.get_iopub_msg(timeout=60)
            kind, content = msg["msg_type"], msg["content"]
            if kind == "comm_open" and content.get("target_name") == "jupyter.widget":
                self.models[content["comm_id"]] = dict(content["data"]["state"])
            elif kind == "comm_msg" and content["data"].get("method") == "update":
                self.models[content["comm_id"]].update(content["data"]["state"])
            elif kind in OUTPUT_TYPES and not self._capture(msg):
                shown.append(msg)
            idle = kind == "status" and content["execution_state"] == "idle"
            if idle and msg["parent_header"].get("msg_id") == parent_id:
                return shown

    def _capture(self, msg: dict[str, Any]) -> bool:
        """Route an output into the Output widget whose msg_id is its parent's, as the widget frontends do."""
        parent = msg["parent_header"].get("msg_id")
        for comm_id, state in self.models.items():
            if state.get("_model_name") == "OutputModel" and parent and state.get("msg_id") == parent:
                box = self.outputs.setdefault(comm_id, [])
                if msg["msg_type"] == "clear_output":
                    if msg["content"].get("wait"):
                        self._clear_pending.add(comm_id)
                    else:
                        box.clear()
                    return True
                if comm_id in self._clear_pending:
                    self._clear_pending.discard(comm_id)
                    box.clear()
                box.append(msg)
                return True
        return False

    # --- reading the page ---------------------------------------------------------------------------------------
    def widget(self, shown: list[dict[str, Any]]) -> str:
        """The one widget a cell displayed (its model's comm id); fails unless the cell showed exactly that."""
        views = [m for m in shown if WIDGET_VIEW in m["content"].get("data", {})]
        assert len(views) == 1, f"expected exactly one widget view, got {len(views)}: {_summary(shown)}"
        assert len(shown) == 1, f"the widget's cell showed more than the widget: {_summary(shown)}"
        view = views[0]["content"]["data"][WIDGET_VIEW]
        assert view["version_major"] == 2, view  # the view format of 7.7.1 and 8.x, the one Colab renders
        return view["model_id"]

    def tree(self, root: str, model: str) -> list[str]:
        """Comm ids of the `model` widgets (e.g. "TextModel") under `root`, in display order."""
        found = [root] if self.models[root]["_model_name"] == model else []
        for child in self.models[root].get("children", []):
            found += self.tree(child.removeprefix("IPY_MODEL_"), model)
        return found

    def text(self, output_id: str) -> str:
        """Everything an Output widget shows as text (stream text and text/plain)."""
        parts = []
        for msg in self.outputs.get(output_id, []):
            content = msg["content"]
            parts.append(content.get("text") or content.get("data", {}).get("text/plain", ""))
        return "".join(parts)

    def images(self, output_id: str) -> list[str]:
        """The PNG images an Output widget shows (base64)."""
        return [m["content"]["data"]["image/png"] for m in self.outputs.get(output_id, [])
                if "image/png" in m["content"].get("data", {})]


def _errors(shown: list[dict[str, Any]]) -> str:
    return "\n".join("\n".join(m["content"]["traceback"]) for m in shown if m["msg_type"] == "error")


def _summary(shown: list[dict[str, Any]]) -> list[str]:
    return [f"{m['msg_type']}: {sorted(m['content'].get('data', {})) or m['content'].get('text', '')[:80]}"
            for m in shown]


def quiet(shown: list[dict[str, Any]]) -> None:
    """An interaction's effects stay inside the widget: nothing new under the cell, no error, no traceback."""
    assert not shown, f"an interaction showed something outside the widget: {_summary(shown)}\n{_errors(shown)}"


@pytest.fixture(scope="module", params=["colab", "venv"])
def browser(request, tmp_path_factory):
    """A kernel on Colab's widget stack (the overlay) or on the venv's own (ipywidgets 8, what `make lab` runs), and
    the browser driving it; first checks the versions the kernel really imports."""
    colab = request.param == "colab"
    if colab and not (OVERLAY / ".installed").is_file():
        message = f"Colab's widget stack is not installed in {OVERLAY}. Run `make colab-widgets`."
        if os.environ.get("WORKBOOK_REQUIRE_COLAB_WIDGETS") == "1":
            pytest.fail(message)
        pytest.skip(message)
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager

    home = tmp_path_factory.mktemp(f"{request.param}-kernel")
    spec = home / "kernels" / "widgets"
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(json.dumps({"argv": argv, "display_name": "widgets", "language": "python"}))
    env = {
        **os.environ,
        "IPYTHONDIR": str(home / "ipython"),
        "MPLCONFIGDIR": str(home / "mpl"),
        "PYDEVD_DISABLE_FILE_VALIDATION": "1",  # ipykernel's debugpy, quiet about Python's frozen modules
    }
    env.pop("MPLBACKEND", None)  # the kernel picks its inline backend, as in Colab
    if colab:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(OVERLAY), os.environ.get("PYTHONPATH")]))
    wanted = PINS if colab else {name: read_pins()[name] for name in ("ipywidgets", "ipython", "traitlets")}
    specs = KernelSpecManager(kernel_dirs=[str(home / "kernels")])
    km = KernelManager(kernel_name="widgets", kernel_spec_manager=specs)
    km.connection_file = str(home / "connection.json")
    km.start_kernel(env=env, cwd=str(ROOT))
    client = km.client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=60)
        page = Browser(client)
        page.run(f"""
            import importlib.metadata
            import ipywidgets
            wanted = {wanted!r}
            got = {{name: importlib.metadata.version(name) for name in wanted}}
            assert got == wanted, f"the kernel has {{got}}, not {{wanted}}: run `make colab-widgets` / `make setup`"
            assert ipywidgets.__version__ == wanted["ipywidgets"], ipywidgets.__file__
            from IPython.display import HTML, display
            """)
        yield page
    finally:
        client.stop_channels()
        km.shutdown_kernel(now=True)


def test_ladder_widget(browser):
    view = browser.widget(browser.run("from workbook.ui.ladder import ladder_widget\ndisplay(ladder_widget())"))
    text, card = browser.tree(view, "TextModel")[0], browser.tree(view, "HTMLModel")[-1]
    assert "RAG" in browser.models[card]["value"]
    quiet(browser.type(text, "We need valid JSON in our house style every time"))
    assert "LoRA" in browser.models[card]["value"]
    quiet(browser.set(text, value=""))
    assert "Describe" in browser.models[card]["value"]  # the error is shown in the card, not raised
    kind = browser.tree(view, "DropdownModel")[0]
    quiet(browser.type(text, "Answers must cite this week's prices"))
    quiet(browser.choose(kind, "behaviour"))
    before = browser.models[card]["value"]
    quiet(browser.set(browser.tree(view, "CheckboxModel")[0], value=True))
    quiet(browser.set(browser.tree(view, "FloatSliderModel")[0], value=0.5))
    quiet(browser.set(browser.tree(view, "BoundedIntTextModel")[0], value=2000))
    assert browser.models[card]["value"] != before


def test_memory_widget(browser):
    shown = browser.run("from workbook.ui.memory_calculator import memory_widget\ndisplay(memory_widget(7.0))")
    view = browser.widget(shown)
    table, chart = browser.tree(view, "HTMLModel")[-1], browser.tree(view, "OutputModel")[0]  # [0]: the busy hint
    precision = browser.tree(view, "DropdownModel")[0]
    first = browser.images(chart)
    assert "112.0" in browser.models[table]["value"] and len(first) == 1
    quiet(browser.set(browser.tree(view, "FloatSliderModel")[0], value=8.0))
    second = browser.images(chart)
    assert "128.0" in browser.models[table]["value"] and len(second) == 1 and second != first  # redrawn, in place
    quiet(browser.choose(precision, "fp32"))  # with mixed precision still ticked: a message, not a traceback
    assert "Mixed precision" in browser.models[table]["value"]
    assert not browser.outputs[chart]  # the old chart is gone with the error
    quiet(browser.set(browser.tree(view, "CheckboxModel")[0], value=False))
    assert "128.0" in browser.models[table]["value"] and len(browser.images(chart)) == 1


def test_picker_widget(browser, tmp_path):
    picks = tmp_path / "picks.jsonl"
    view = browser.widget(browser.run(f"""
        from workbook.topics.preferences import CandidatePair, PreferenceSession
        from workbook.ui.picker import picker_widget
        pairs = [CandidatePair(f"p{{i}}", f"prompt {{i}}", f"A{{i}}", f"B{{i}}", "test") for i in range(2)]
        my_session = PreferenceSession(pairs, {str(picks)!r})
        import itertools
        picker_widget(my_session, clock=itertools.count(0, 10).__next__)  # 10 s between clicks: none is a double
        """))
    pair, hint, message = browser.tree(view, "HTMLModel")
    buttons = {browser.models[b]["description"]: b for b in browser.tree(view, "ButtonModel")}
    assert list(buttons) == ["A", "B", "Tie", "Skip", "Undo last pick"]
    assert "Pair 1 of 2" in browser.models[pair]["value"]

    def choices() -> list[str]:
        return [json.loads(line)["choice"] for line in picks.read_text().splitlines()]

    quiet(browser.click(buttons["B"]))
    assert choices() == ["B"] and "Pair 2 of 2" in browser.models[pair]["value"]
    quiet(browser.click(buttons["Undo last pick"]))
    assert choices() == [] and "Undid B" in browser.models[message]["value"]
    quiet(browser.click(buttons["A"]))
    quiet(browser.click(buttons["Tie"]))
    assert choices() == ["A", "tie"] and "All 2 pairs judged" in browser.models[pair]["value"]
    quiet(browser.click(buttons["A"]))  # nothing left: a message, not a traceback
    assert choices() == ["A", "tie"] and "All 2 pairs are judged" in browser.models[message]["value"]


def test_rank_slider(browser):
    view = browser.widget(browser.run("""
        import torch
        from workbook.topics.lora_rank import RankExplorer
        from workbook.ui.rank_slider import rank_slider
        torch.manual_seed(0)
        explorer = RankExplorer(torch.randn(40, 3) @ torch.randn(3, 30))
        rank_slider(explorer, initial=8)
        """))
    numbers, plot = browser.tree(view, "HTMLModel")[-1], browser.tree(view, "OutputModel")[0]  # [0]: the busy hint
    first = browser.images(plot)
    assert "r=8" in browser.models[numbers]["value"] and len(first) == 1
    quiet(browser.set(browser.tree(view, "IntSliderModel")[0], value=2))
    assert "r=2" in browser.models[numbers]["value"] and "4096x4096" in browser.models[numbers]["value"]
    assert len(browser.images(plot)) == 1 and browser.images(plot) != first


def test_size_widget(browser):
    view = browser.widget(browser.run("from workbook.ui.size_table import size_widget\nsize_widget()"))
    preset, typed = browser.tree(view, "DropdownModel")[0], browser.tree(view, "TextModel")[0]
    table, chart = browser.tree(view, "HTMLModel")[-1], browser.tree(view, "OutputModel")[0]  # [0]: the busy hint

    def shown() -> str:
        return html.unescape(browser.models[table]["value"])

    assert "28.00" in shown() and len(browser.images(chart)) == 1  # 7B in FP32
    quiet(browser.type(typed, "1.5B"))  # "1", "1.", "1.5" on the way: each a table or a message, never a traceback
    assert browser.models[preset]["_options_labels"][browser.models[preset]["index"]] == "typed"
    assert "6.00" in shown() and "28.00" not in shown() and len(browser.images(chart)) == 1
    quiet(browser.set(typed, value="abc"))  # bad input, pasted: a clear message in the widget, no traceback
    assert "Cannot read 'abc' as a model size" in shown() and not browser.images(chart)
    quiet(browser.choose(preset, "70B"))
    assert "280.00" in shown() and len(browser.images(chart)) == 1


def test_temperature_widget(browser):
    view = browser.widget(browser.run("""
        from workbook.topics.distill import TemperatureExplorer
        from workbook.ui.temperature import temperature_widget
        explorer = TemperatureExplorer([4, 2, 0], ["dog", "wolf", "cat"])
        display(temperature_widget(explorer, initial=2.0))
        """))
    text, plot = browser.tree(view, "HTMLModel")[-1], browser.tree(view, "OutputModel")[0]  # [0]: the busy hint
    first = browser.images(plot)
    assert "dog 0.665" in browser.models[text]["value"] and len(first) == 1
    quiet(browser.set(browser.tree(view, "FloatSliderModel")[0], value=4.0))
    assert "T = 4: dog 0.506" in browser.models[text]["value"]
    assert len(browser.images(plot)) == 1 and browser.images(plot) != first


def test_html_views_and_exercises(browser):
    """The HTML views show once each, escaped; an exercise check prints its verdict."""
    for code, expected in [
        ("from workbook.ui.compare import side_by_side_html\n"
         "display(HTML(side_by_side_html([['<b>q</b>', 'a']], ['prompt', 'answer'])))", "&lt;b&gt;q"),
        ("from workbook.ui.masking import spans_html\ndisplay(HTML(spans_html([('Q', False), ('A', True)])))",
         "label = -100"),
    ]:
        shown = browser.run(code)
        assert [m["msg_type"] for m in shown] == ["display_data"], _summary(shown)
        assert expected in shown[0]["content"]["data"]["text/html"]
    shown = browser.run("from workbook.exercises import chapter_exercises\nok = chapter_exercises('00').check(1, ...)")
    assert [m["content"].get("text") for m in shown] == [
        "[ ] Exercise 00.1: not answered yet. Replace the ... with your answer and run the cell again.\n"
    ]


def test_the_browser_catches_a_second_display_and_a_failing_callback(browser):
    """The checks above are not vacuous: a widget shown twice, or a callback that raises, is caught."""
    with pytest.raises(AssertionError, match="exactly one widget view, got 2"):
        browser.widget(browser.run("import ipywidgets\nw = ipywidgets.IntSlider()\ndisplay(w)\nw"))
    slider = browser.widget(browser.run("""
        w = ipywidgets.IntSlider()
        w.observe(lambda change: 1 / 0, names="value")
        w
        """))
    with pytest.raises(AssertionError, match="ZeroDivisionError"):
        quiet(browser.set(slider, value=3))
