"""The built course book (`make book`, run before these): every notebook has a page with its plots, links resolve,
no traceback shows, and in Chromium the front page and a chapter load their images with no console error, with
every host but 127.0.0.1 unreachable.
"""

from __future__ import annotations

import functools
import http.server
import os
import threading
from collections.abc import Iterator

import pytest

from tests.browser.harness import ARTEFACTS, REQUIRE_ENV, wait_for
from tools import book

pytestmark = pytest.mark.skipif(
    not (book.SITE / "index.html").is_file() and not os.environ.get(REQUIRE_ENV),
    reason="the book is not built (`make book`)",
)


def test_built_site_has_a_page_per_notebook_with_its_plots_and_working_links():
    assert (book.SITE / "index.html").is_file(), "run `make book` first"
    assert book.check_site(book.SITE, book.pages()) == []


@pytest.fixture(scope="module")
def served() -> Iterator[str]:
    """The built site over HTTP on 127.0.0.1, as a reader's browser gets it from a web server."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(book.SITE))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


IMAGES_LOADED = """
    const images = [...document.images];
    return {total: images.length, broken: images.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src)};
"""


@pytest.mark.usefixtures("console")
@pytest.mark.parametrize("page", ["index.html", "chapters/03_rlhf_dpo.html"])
def test_book_page_loads_every_image_with_no_console_error(driver, served, page):
    driver.get(f"{served}/{page}")
    state = wait_for(lambda: driver.execute_script("return document.readyState") == "complete", 30, f"{page} to load")
    state = driver.execute_script(IMAGES_LOADED)
    assert not state["broken"], f"images that did not load: {state['broken']}"
    if page != "index.html":
        assert state["total"] >= 2, "a chapter shows its badge and its plots"
        typeset = "return document.querySelectorAll('mjx-container').length"
        wait_for(lambda: driver.execute_script(typeset), 30, "MathJax (served by the site) to typeset the formulas")
    name = page.replace("/", "-").removesuffix(".html")
    driver.save_screenshot(str(ARTEFACTS / f"book-{name}.png"))
    for n, snapshot in enumerate(driver.find_elements("css selector", ".wb-widget-snapshot")[:3]):
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", snapshot)
        snapshot.screenshot(str(ARTEFACTS / f"book-{name}-widget-{n}.png"))
