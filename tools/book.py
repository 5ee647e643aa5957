"""Build the course book: a static HTML site from the notebooks as the test suite executed them.

    python -m tools.book                 # build/book/html from build/executed/ (runs only notebooks never executed)
    python -m tools.book --no-execute    # fail instead of executing a missing notebook
    python -m tools.book --full          # execute missing notebooks in full mode (the published site)
    python -m tools.book --only-executed # a partial book of the notebooks that have run

Each page is the executed copy `workbook.core.notebook_runner` keeps in build/executed/: for a chapter, its
solutions source (the complete chapter: worked "Try it" cells and answered exercises), for a lab, the lab. Nothing
is executed twice: a notebook is run here only when no executed copy exists. Before Sphinx (with myst-nb, execution
off) reads the copies, `stage` rewrites them for a static site:

- each widget becomes a static snapshot of its last state (controls, text and plots as HTML) and the widget
  state is dropped, so no page loads the widget manager from a CDN;
- the "Open in Colab" badge uses the book's own image and opens the student notebook;
- links to other course notebooks stay inside the book; links to other repository files go to GitHub.

`check_site` then checks the built site: a page per notebook, every plot of the notebook as an image on its page,
every internal link and anchor resolving, and no Python traceback on any page.
"""

from __future__ import annotations

import argparse
import base64
import html
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from html.parser import HTMLParser
from importlib.util import find_spec
from pathlib import Path
from posixpath import normpath, relpath
from urllib.parse import unquote, urlsplit

import nbformat
from nbclient.exceptions import CellExecutionError

from tools.nbsync import BOOTSTRAP_TAG, course_notebooks
from workbook.core.config import REPO_BRANCH, REPO_URL, ROOT, colab_url
from workbook.core.notebook_runner import executed_copy

BOOK = ROOT / "book"
STAGE = ROOT / "build" / "book" / "src"
SITE = ROOT / "build" / "book" / "html"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
COLAB_IMAGE = "https://colab.research.google.com/assets/colab-badge.svg"
BADGE_IMAGE = "_static/colab-badge.svg"  # the book's own copy (book/_static/colab-badge.svg)
IMAGE_MIMES = ("image/png", "image/jpeg", "image/svg+xml")
TRACEBACK = re.compile(r"Traceback \(most recent call last\)|\w+Error: .*\n.*File \"")
NOT_SAVED = "this widget's state was not saved"  # nbclient saves it (store_widget_state); the check wants it
SNAPSHOT_NOTE = "Widget snapshot: its last state when the notebook ran. Run the notebook to use it."


@dataclass(frozen=True)
class Page:
    """One notebook of the course as a book page."""

    notebook: Path  # chapters/NN_name.ipynb or labs/NAME.ipynb: the notebook a student opens (and the badge opens)
    source: Path  # what was executed for the book: a chapter's solutions source, or the lab itself
    page: str  # the page's path inside the book, without suffix: chapters/NN_name
    executed: Path  # the executed copy read (build/executed/<source path>)


def pages() -> list[Page]:
    """Every chapter and lab, in course order, read from its most complete source (a chapter's solutions)."""
    result = []
    for notebook in course_notebooks():
        solutions = notebook.parent / "solutions" / notebook.name
        source = solutions if notebook.parent.name == "chapters" and solutions.is_file() else notebook
        page = notebook.relative_to(ROOT).with_suffix("").as_posix()
        result.append(Page(notebook, source, page, executed_copy(source)))
    return result


def jupyter_slug(text: str) -> str:
    """A heading's anchor as Jupyter makes it (the text, spaces as dashes): myst's slug function for the book."""
    return text.strip().replace(" ", "-")


def code_of(nb: nbformat.NotebookNode) -> list[str]:
    return [c.source for c in nb.cells if c.cell_type == "code"]


def stale(page: Page) -> bool:
    """True when the executed copy's code differs from its source today (the source changed since it ran)."""
    executed = nbformat.read(page.executed, as_version=4)
    return code_of(executed) != code_of(nbformat.read(page.source, as_version=4))


# ---- Widgets as static snapshots ---------------------------------------------------------------------------------


def _output_html(output: dict) -> str:
    """One Jupyter output (as stored in a notebook or an Output widget) as HTML."""
    kind = output.get("output_type")
    if kind == "stream":
        return f"<pre class='wb-stream'>{html.escape(output.get('text', ''))}</pre>"
    if kind == "error":
        error = f"{output.get('ename', '')}: {output.get('evalue', '')}"
        return f"<pre class='wb-error'>{html.escape(error)}</pre>"
    data = output.get("data", {})
    for mime in IMAGE_MIMES:
        if mime in data:
            raw = data[mime]
            raw = "".join(raw) if isinstance(raw, list) else raw
            if mime == "image/svg+xml":
                raw = base64.b64encode(raw.encode()).decode()
            return f"<img class='wb-plot' alt='plot' src='data:{mime};base64,{raw.strip()}'>"
    if "text/html" in data:
        value = data["text/html"]
        return "".join(value) if isinstance(value, list) else value
    if "text/plain" in data:
        value = data["text/plain"]
        return f"<pre>{html.escape(''.join(value) if isinstance(value, list) else value)}</pre>"
    return ""


def _label(state: dict) -> str:
    text = state.get("description", "")
    return f"<span class='wb-label'>{html.escape(text)}</span> " if text else ""


def widget_html(model_id: str, models: dict, depth: int = 0) -> str:
    """A static HTML snapshot of one widget and its children, from a notebook's saved widget state."""
    model = models.get(model_id)
    if model is None or depth > 20:
        return f"<em>({NOT_SAVED}: run the notebook to see it)</em>"
    name, state = model.get("model_name", ""), model.get("state", {})

    def child(ref: str) -> str:
        return widget_html(ref.removeprefix("IPY_MODEL_"), models, depth + 1)

    if name in ("VBoxModel", "HBoxModel", "BoxModel", "GridBoxModel"):
        direction = "row" if name == "HBoxModel" else "column"
        inner = "".join(f"<div>{child(ref)}</div>" for ref in state.get("children", []))
        return (
            f"<div class='wb-box' style='display:flex;flex-direction:{direction};gap:6px;flex-wrap:wrap'>{inner}</div>"
        )
    if name in ("HTMLModel", "HTMLMathModel"):
        return _label(state) + state.get("value", "")
    if name == "LabelModel":
        return html.escape(str(state.get("value", "")))
    if name == "OutputModel":
        return "".join(_output_html(o) for o in state.get("outputs", []))
    if name.endswith("SliderModel") or name.endswith("ProgressModel"):
        value = state.get("value")
        shown = " – ".join(map(str, value)) if isinstance(value, list) else str(value)
        low, high = state.get("min", ""), state.get("max", "")
        return (f"{_label(state)}<input type='range' disabled min='{low}' max='{high}' value='{value}'> "
                f"<code class='wb-value'>{html.escape(shown)}</code>")  # fmt: skip
    if name in ("DropdownModel", "SelectModel", "RadioButtonsModel", "ToggleButtonsModel"):
        labels = state.get("_options_labels", [])
        index = state.get("index")
        options = "".join(
            f"<option{' selected' if i == index else ''}>{html.escape(str(label))}</option>"
            for i, label in enumerate(labels)
        )
        return f"{_label(state)}<select disabled>{options}</select>"
    if name in ("CheckboxModel", "ToggleButtonModel"):
        checked = " checked" if state.get("value") else ""
        return f"<label><input type='checkbox' disabled{checked}> {html.escape(state.get('description', ''))}</label>"
    if name in ("TextModel", "TextareaModel", "IntTextModel", "FloatTextModel", "BoundedIntTextModel",
                "BoundedFloatTextModel", "PasswordModel"):  # fmt: skip
        value = html.escape(str(state.get("value", "")))
        placeholder = html.escape(str(state.get("placeholder", "")))
        return f"{_label(state)}<input type='text' disabled value='{value}' placeholder='{placeholder}'>"
    if name == "ButtonModel":
        return f"<button disabled>{html.escape(state.get('description', ''))}</button>"
    return f"<em>({html.escape(name.removesuffix('Model') or 'widget')})</em>"


def _is_progress_bar(model_id: str, models: dict) -> bool:
    """A progress bar (tqdm's HBox of a label, a bar and a count): shown as it ended, with no snapshot note."""
    state = models.get(model_id, {}).get("state", {})
    children = [models.get(ref.removeprefix("IPY_MODEL_"), {}) for ref in state.get("children", [])]
    return any(child.get("model_name", "").endswith("ProgressModel") for child in children)


def snapshot_output(model_id: str, models: dict) -> nbformat.NotebookNode:
    """A display_data output holding the widget's static snapshot, in place of the widget view."""
    if _is_progress_bar(model_id, models):
        body = f"<div class='wb-progress'>{widget_html(model_id, models)}</div>"
        return nbformat.v4.new_output("display_data", data={"text/html": body})
    body = (
        f"<div class='wb-widget-snapshot' style='border:1px dashed #999;border-radius:6px;padding:8px'>"
        f"<div class='wb-snapshot-note' style='font-size:0.85em;color:#555'>{SNAPSHOT_NOTE}</div>"
        f"{widget_html(model_id, models)}</div>"
    )
    return nbformat.v4.new_output("display_data", data={"text/html": body})


WIDGET_REPR = re.compile(r"^[A-Z]\w*\((children|value|description|layout|options)=")


def closed_widget(output: dict, models: dict) -> bool:
    """A widget view whose model was closed before the run ended (a finished tqdm bar): JupyterLab shows nothing.

    A missing model whose plain-text fallback is a widget's repr (`VBox(children=...)`) is not "closed": its state
    was not saved, and the page says so (and the site check fails)."""
    data = output.get("data", {})
    if WIDGET_VIEW not in data or data[WIDGET_VIEW]["model_id"] in models:
        return False
    plain = data.get("text/plain", "")
    return not WIDGET_REPR.match("".join(plain) if isinstance(plain, list) else plain)


def static_output(output: dict, models: dict) -> dict:
    """The output as a static page shows it: a widget view becomes its snapshot, anything else stays."""
    if WIDGET_VIEW in output.get("data", {}):
        return snapshot_output(output["data"][WIDGET_VIEW]["model_id"], models)
    return output


# ---- Staging ------------------------------------------------------------------------------------------------------

LINK = re.compile(r"(\]\()([^)\s]+)(\))")


def _rewrite_link(target: str, source: Path, page: str, book_pages: dict[str, str]) -> str:
    """Where a markdown link of a notebook points in the book: another page, or the file on GitHub."""
    if target.startswith(("http://", "https://", "mailto:", "#", "data:")):
        return target
    path, _, anchor = target.partition("#")
    here = source.parent.relative_to(ROOT).as_posix()
    repo_path = normpath(f"{here}/{unquote(path)}")
    if repo_path in book_pages:
        linked = relpath(book_pages[repo_path], str(Path(page).parent)) + ".ipynb"
        return linked + (f"#{anchor}" if anchor else "")
    return f"{REPO_URL}/blob/{REPO_BRANCH}/{repo_path}" + (f"#{anchor}" if anchor else "")


def _rewrite_badge(text: str, notebook: Path, page: str) -> str:
    """The Colab badge with the book's own image, opening the notebook a student works in."""
    image = relpath(BADGE_IMAGE, str(Path(page).parent))
    url = colab_url(notebook.relative_to(ROOT).as_posix())
    return re.sub(r"\[!\[Open In Colab\]\([^)]*\)\]\([^)]*\)", f"[![Open In Colab]({image})]({url})", text)


def stage_notebook(page: Page, nb: nbformat.NotebookNode, book_pages: dict[str, str]) -> nbformat.NotebookNode:
    """The executed notebook rewritten for the static site (widgets as snapshots, own badge, links in the book)."""
    models = nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    # The Colab bootstrap cell only installs the course: readers of a page need not see it.
    nb.cells = [c for c in nb.cells if BOOTSTRAP_TAG not in c.metadata.get("tags", [])]
    has_badge = False
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            has_badge |= "[![Open In Colab]" in cell.source
            cell.source = LINK.sub(
                lambda m: m[1] + _rewrite_link(m[2], page.source, page.page, book_pages) + m[3], cell.source
            )
            cell.source = _rewrite_badge(cell.source, page.notebook, page.page)
        elif cell.cell_type == "code":
            cell.outputs = [static_output(o, models) for o in cell.outputs if not closed_widget(o, models)]
    if not has_badge:
        badge = _rewrite_badge("[![Open In Colab](x)](x)", page.notebook, page.page)
        nb.cells.insert(0, nbformat.v4.new_markdown_cell(badge))
    nb.metadata.pop("widgets", None)  # no widget manager (and its CDN scripts) on a static page
    return nb


def toctree(entries: Iterable[Page], caption: str) -> str:
    lines = "\n".join(p.page for p in entries)
    return f"\n```{{toctree}}\n:caption: {caption}\n:maxdepth: 1\n\n{lines}\n```\n"


def mathjax_file() -> Path:
    """MathJax 3 (tex-svg: fonts drawn as paths, one file), shipped by the pinned django-static-mathjax wheel."""
    spec = find_spec("mathjax")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("MathJax is missing: run `make book-setup` (the `# book:` pins of requirements.txt).")
    return Path(spec.submodule_search_locations[0]) / "static" / "mathjax" / "es5" / "tex-svg.js"


def stage(book_pages: list[Page], out: Path = STAGE) -> Path:
    """Sphinx's source folder: the book's config and front page, its static files and the staged notebooks."""
    shutil.rmtree(out, ignore_errors=True)
    shutil.copytree(BOOK, out)
    (out / "_static" / "mathjax").mkdir(parents=True, exist_ok=True)
    shutil.copy(mathjax_file(), out / "_static" / "mathjax" / "tex-svg.js")
    by_repo_path = {p.notebook.relative_to(ROOT).as_posix(): p.page for p in book_pages}
    by_repo_path |= {p.source.relative_to(ROOT).as_posix(): p.page for p in book_pages}
    for page in book_pages:
        nb = stage_notebook(page, nbformat.read(page.executed, as_version=4), by_repo_path)
        target = out / f"{page.page}.ipynb"
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, target)
    chapters = [p for p in book_pages if p.page.startswith("chapters/")]
    labs = [p for p in book_pages if not p.page.startswith("chapters/")]
    index = out / "index.md"
    index.write_text(index.read_text(encoding="utf-8") + toctree(chapters, "Chapters") + toctree(labs, "Labs"))
    return out


def sphinx_build(src: Path, out: Path = SITE) -> list[str]:
    """Run Sphinx (html builder, myst-nb with execution off); returns its warnings."""
    shutil.rmtree(out, ignore_errors=True)
    command = [sys.executable, "-m", "sphinx", "-b", "html", "-q", "-j", "1", str(src), str(out)]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    if result.returncode:
        raise SystemExit(f"sphinx-build failed:\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}")
    return [line for line in result.stderr.splitlines() if "WARNING" in line or "ERROR" in line]


# ---- Checking the built site ------------------------------------------------------------------------------------


class _PageParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.links: list[str] = []
        self.images: list[str] = []
        self.scripts: list[str] = []
        self.text: list[str] = []
        self._in_main = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if "id" in a:
            self.ids.add(a["id"])
        if tag == "a" and "href" in a:
            self.links.append(a["href"])
        if tag == "img":
            self.images.append(a.get("src", ""))
        if tag == "script" and a.get("src"):
            self.scripts.append(a["src"])
        if tag == "link" and a.get("href") and a.get("rel") in ("stylesheet", "preload", "icon", "modulepreload"):
            self.scripts.append(a["href"])

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse_page(path: Path) -> _PageParser:
    parser = _PageParser()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def plots_in(nb: nbformat.NotebookNode) -> int:
    """How many plots an executed notebook shows: image outputs, and images inside its widgets' Output state."""
    count = sum(
        1
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.outputs
        if any(m in o.get("data", {}) for m in IMAGE_MIMES)
    )
    models = nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    shown = {o["data"][WIDGET_VIEW]["model_id"] for c in nb.cells if c.cell_type == "code" for o in c.outputs
             if WIDGET_VIEW in o.get("data", {})}  # fmt: skip
    return count + sum(widget_html(m, models).count("class='wb-plot'") for m in shown)


def check_site(site: Path, book_pages: list[Page]) -> list[str]:
    """Problems with the built site: missing pages, plots not shown as images, broken links, tracebacks."""
    problems = []
    parsed = {
        p.relative_to(site).as_posix(): parse_page(p)
        for p in site.rglob("*.html")
        if p.relative_to(site).parts[0] not in ("_static", "_sources")
    }
    if "index.html" not in parsed:
        problems.append("no front page (index.html)")
    for page in book_pages:
        name = f"{page.page}.html"
        if name not in parsed:
            problems.append(f"{page.notebook.relative_to(ROOT)}: no page {name}")
            continue
        images = [
            src for src in parsed[name].images
            if (src.startswith("data:image") or "_images/" in src) and not src.endswith("colab-badge.svg")
        ]  # fmt: skip
        expected = plots_in(nbformat.read(page.executed, as_version=4))
        if len(images) < expected:
            problems.append(f"{name}: {expected} plots in the notebook, {len(images)} images on the page")
    for name, parser in parsed.items():
        text = "".join(parser.text)
        if TRACEBACK.search(text):
            problems.append(f"{name}: shows a Python traceback")
        if NOT_SAVED in text:
            problems.append(f"{name}: a widget without saved state (nbclient saves it only when every cell ran)")
        for href in parser.links:
            problems.extend(_broken(site, name, href, parsed))
        for src in parser.images + parser.scripts:
            if urlsplit(src).scheme in ("http", "https") or src.startswith("//"):
                problems.append(f"{name}: loads {src} from outside the site")
            else:
                problems.extend(_broken(site, name, src, parsed))
    return problems


def _broken(site: Path, page: str, href: str, parsed: dict[str, _PageParser]) -> list[str]:
    parts = urlsplit(href)
    if parts.scheme in ("http", "https", "mailto", "data", "javascript") or href.startswith("//"):
        return []
    target = normpath(f"{Path(page).parent.as_posix()}/{unquote(parts.path)}") if parts.path else page
    if parts.path and not (site / target).exists():
        return [f"{page}: link to missing {href}"]
    if parts.fragment and target.endswith(".html") and target in parsed:
        if unquote(parts.fragment) not in parsed[target].ids:
            return [f"{page}: link to missing anchor {href}"]
    return []


# ---- Command line -------------------------------------------------------------------------------------------------


def ensure_executed(book_pages: list[Page], *, execute_missing: bool, full: bool, timeout: int) -> None:
    """Execute (once) every notebook that has no executed copy yet; warn about copies older than their source."""
    from workbook.core.notebook_runner import execute

    for page in book_pages:
        if page.executed.is_file():
            if stale(page):
                print(f"note: {page.executed.relative_to(ROOT)} ran older code than {page.source.relative_to(ROOT)}"
                      " (re-run the notebook tests to refresh it)")  # fmt: skip
            continue
        if not execute_missing:
            raise SystemExit(f"{page.executed.relative_to(ROOT)} is missing: run `make notebooks` first.")
        print(f"executing {page.source.relative_to(ROOT)} ({'full' if full else 'FAST'} mode) ...", flush=True)
        try:
            execute(page.source, fast=not full, timeout=timeout)
        except CellExecutionError as error:  # the copy is kept; the site check then names the page's traceback
            print(f"{page.source.relative_to(ROOT)} failed: {str(error).strip().splitlines()[-1][:300]}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-execute", action="store_true", help="fail when a notebook has no executed copy")
    parser.add_argument("--full", action="store_true", help="execute missing notebooks in full mode")
    parser.add_argument("--only-executed", action="store_true", help="leave out notebooks that have not run")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds allowed per cell when executing")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    book_pages = pages()
    if args.only_executed:
        left_out = [p for p in book_pages if not p.executed.is_file()]
        for page in left_out:
            print(f"left out (never executed): {page.source.relative_to(ROOT)}")
        book_pages = [p for p in book_pages if p not in left_out]
    ensure_executed(book_pages, execute_missing=not args.no_execute, full=args.full, timeout=args.timeout)
    warnings = sphinx_build(stage(book_pages))
    for line in warnings:
        print(line)
    problems = check_site(SITE, book_pages)
    # A link Sphinx could not resolve is rendered as plain text (no href to check): its warning is the trace.
    problems += [f"unresolved link: {w}" for w in warnings if "xref_missing" in w or "target not found" in w]
    for problem in problems:
        print(f"site check: {problem}", file=sys.stderr)
    seconds = time.perf_counter() - start
    print(f"book: {len(book_pages)} pages, {len(warnings)} Sphinx warnings, {seconds:.0f} s -> "
          f"{(SITE / 'index.html').relative_to(ROOT)}")  # fmt: skip
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
