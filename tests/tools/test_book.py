"""tools/book.py on a tiny synthetic course (two executed notebooks): widget snapshots, the book's own Colab badge,
links inside the book, and `check_site` on a real Sphinx build, which must catch a missing plot, a broken link and
a traceback.
"""

from __future__ import annotations

import base64
import shutil
from importlib.util import find_spec
from pathlib import Path

import nbformat
import pytest

from tools import book
from workbook.core.config import ROOT

# A 1x1 PNG: a "plot" as a notebook stores it.
PNG = base64.b64encode(
    bytes.fromhex(
        "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d4944415478da63f8ffff3f0005fe02fea7d6a4"
        "170000000049454e44ae426082"
    )
).decode()
VIEW = "application/vnd.jupyter.widget-view+json"


def widget_state() -> dict:
    def model(name: str, **state) -> dict:
        return {"model_name": name, "model_module": "@jupyter-widgets/controls", "state": state}

    plot = {"output_type": "display_data", "data": {"image/png": PNG, "text/plain": "<Figure>"}, "metadata": {}}
    return {
        "box": model("VBoxModel", children=["IPY_MODEL_slider", "IPY_MODEL_text", "IPY_MODEL_out"]),
        "slider": model("IntSliderModel", value=8, min=1, max=64, description="rank r"),
        "text": model("HTMLModel", value="<pre>r=8: energy captured 91.0%</pre>"),
        "out": {"model_name": "OutputModel", "model_module": "@jupyter-widgets/output", "state": {"outputs": [plot]}},
    }


def executed_notebook(*cells: nbformat.NotebookNode, widgets: dict | None = None) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook(cells=list(cells))
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nb.metadata["language_info"] = {"name": "python", "pygments_lexer": "ipython3"}
    if widgets is not None:
        nb.metadata["widgets"] = {book.WIDGET_STATE: {"state": widgets, "version_major": 2, "version_minor": 0}}
    return nb


def code(source: str, *outputs: dict) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell(source)
    cell.outputs = [nbformat.from_dict(o) for o in outputs]
    return cell


def md(source: str) -> nbformat.NotebookNode:
    return nbformat.v4.new_markdown_cell(source)


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> list[book.Page]:
    """Two executed notebooks (a chapter with a plot, a widget and links, and a lab) as book pages."""
    badge = "[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.example/x)"
    chapter = executed_notebook(
        md(badge),
        md("# Chapter 98 · Demo\n\nSee [the lab](../labs/lab98_demo.ipynb#Lab-98), [Setup](#2.-Set-up:-the-model), "
           "and [the code](../workbook/core/config.py).\n\nMath: $W_0 + BA$."),  # fmt: skip
        md("## 2. Set up: the model"),
        code("plot()", {"output_type": "display_data", "data": {"image/png": PNG}, "metadata": {}}),
        code("rank_slider(explorer)", {"output_type": "display_data", "metadata": {},
                                       "data": {VIEW: {"model_id": "box", "version_major": 2}, "text/plain": "VBox"}}),
        widgets=widget_state(),
    )  # fmt: skip
    lab = executed_notebook(
        md("# Lab 98"), code("print('ok')", {"output_type": "stream", "name": "stdout", "text": "ok"})
    )
    pages = []
    for rel, nb in (("chapters/98_demo", chapter), ("labs/lab98_demo", lab)):
        executed = tmp_path_factory.getbasetemp() / "executed" / f"{rel}.ipynb"
        executed.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, executed)
        pages.append(book.Page(ROOT / f"{rel}.ipynb", ROOT / f"{rel}.ipynb", rel, executed))
    return pages


def test_a_widget_becomes_a_static_snapshot_of_its_last_state():
    html = book.widget_html("box", widget_state())
    assert "rank r" in html and "<code class='wb-value'>8</code>" in html
    assert "r=8: energy captured 91.0%" in html
    assert html.count("class='wb-plot'") == 1, "the Output widget's plot is an image"
    assert "not saved" in book.widget_html("missing", {}), "a widget without saved state says so, not an error"


def test_staging_uses_the_books_badge_links_inside_the_book_and_drops_widget_state(course):
    chapter = book.stage_notebook(course[0], nbformat.read(course[0].executed, as_version=4), {
        "labs/lab98_demo.ipynb": "labs/lab98_demo", "chapters/98_demo.ipynb": "chapters/98_demo"})  # fmt: skip
    text = "\n".join(c.source for c in chapter.cells if c.cell_type == "markdown")
    assert "](../_static/colab-badge.svg)" in text and "colab.research.google.com/assets" not in text
    assert "colab.research.google.com/github/" in text and "chapters/98_demo.ipynb)" in text, "opens the student copy"
    assert "](../labs/lab98_demo.ipynb#Lab-98)" in text
    assert "/blob/main/workbook/core/config.py)" in text, "a repository file links to GitHub"
    assert "widgets" not in chapter.metadata
    outputs = [o for c in chapter.cells if c.cell_type == "code" for o in c.outputs]
    assert not any(book.WIDGET_VIEW in o.get("data", {}) for o in outputs)
    assert any(book.SNAPSHOT_NOTE in o.get("data", {}).get("text/html", "") for o in outputs)


@pytest.fixture(scope="module")
def site(course, tmp_path_factory) -> Path:
    if find_spec("sphinx") is None or find_spec("myst_nb") is None or find_spec("mathjax") is None:
        pytest.skip("the book's builder is not installed (`make book-setup`)")
    src = book.stage(course, tmp_path_factory.mktemp("src"))
    out = tmp_path_factory.mktemp("book") / "html"
    warnings = book.sphinx_build(src, out)
    assert not warnings, "\n".join(warnings)
    return out


def test_the_built_site_passes_its_check_and_loads_nothing_from_outside(site, course):
    assert book.check_site(site, course) == []
    page = (site / "chapters" / "98_demo.html").read_text()
    assert "_static/mathjax/tex-svg.js" in page and "cdn." not in page
    assert 'alt="Open In Colab" src="../_images/colab-badge.svg"' in page, "the book's own badge image"
    assert "Chapter 98" in (site / "index.html").read_text(), "the table of contents lists the pages"
    assert (site / "search.html").is_file() and (site / "searchindex.js").is_file()


def test_check_site_catches_a_missing_plot_a_broken_link_and_a_traceback(site, course, tmp_path):
    site = Path(shutil.copytree(site, tmp_path / "html"))
    page = site / "chapters" / "98_demo.html"
    html = page.read_text()
    html = html.replace("data:image/png", "data:text/plain")  # the widget's plot is gone
    html = html.replace('href="../labs/lab98_demo.html#lab-98"', 'href="../labs/nowhere.html"')
    html = html.replace("</main>", "<pre>Traceback (most recent call last):\n  File x</pre></main>")
    page.write_text(html)
    problems = "\n".join(book.check_site(site, course))
    assert "images on the page" in problems
    assert "nowhere.html" in problems
    assert "traceback" in problems


def test_a_closed_progress_bar_disappears_but_an_unsaved_widget_is_named():
    def view(plain: str) -> dict:
        data = {VIEW: {"model_id": "gone"}, "text/plain": plain}
        return {"output_type": "display_data", "metadata": {}, "data": data}

    assert book.closed_widget(view("Loading weights:   0%|          | 0/272"), {})
    assert not book.closed_widget(view("VBox(children=(IntSlider(value=8),))"), {})
    assert book.NOT_SAVED in book.static_output(view("VBox(children=())"), {})["data"]["text/html"]
