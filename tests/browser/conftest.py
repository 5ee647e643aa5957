"""Real-browser tests: Debian's headless Chromium, driven by Selenium through Debian's chromedriver, against one
JupyterLab that the session starts on 127.0.0.1 with a fresh token.

Why Selenium and Debian's chromedriver: Debian builds chromium and chromium-driver from one source package, so the
driver always speaks the browser's protocol version, and the Python client is pure Python. Playwright pins its own
browser build and supports other Chromium versions only on a best-effort basis; its wheel also carries a Node.js
driver. Selenium's driver manager is never asked for anything: the driver and browser paths are given.

The browser resolves no host but 127.0.0.1 (`--host-resolver-rules`), and every console error fails the test that
caused it. Screenshots of each widget land in build/browser/ (a test artefact, never committed).

These tests run in `make browser` (after `make book`; `make test` runs both after the notebook tests). Elsewhere they
are skipped; with WORKBOOK_REQUIRE_BROWSER=1 (CI) a missing browser, driver or client fails instead.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.harness import (
    ARTEFACTS,
    BLOCK_OTHER_HOSTS,
    CHROMEDRIVER,
    CHROMIUM,
    ENABLE_ENV,
    REQUIRE_ENV,
    Console,
    Lab,
    missing_tools,
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    mine = [item for item in items if here in Path(item.fspath).parents]
    if os.environ.get(ENABLE_ENV) != "1":
        for item in mine:
            item.add_marker(pytest.mark.skip(reason="browser tests run in `make browser` (after `make book`)"))
        return
    missing = missing_tools()
    if missing and os.environ.get(REQUIRE_ENV) != "1":
        for item in mine:
            item.add_marker(pytest.mark.skip(reason=missing))


@pytest.fixture(scope="session")
def browser_ready() -> None:
    missing = missing_tools()
    if missing:
        pytest.fail(f"{missing} ({REQUIRE_ENV}=1)")


@pytest.fixture(scope="session")
def lab(browser_ready: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    root = tmp_path_factory.mktemp("lab-root")
    server = Lab(root, tmp_path_factory.mktemp("lab-home"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def driver(browser_ready: None) -> Iterator[Any]:
    webdriver = pytest.importorskip("selenium.webdriver")  # a `# book:` pin, installed by `make book-setup`
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--window-size=1400,1000", f"--host-resolver-rules={BLOCK_OTHER_HOSTS}",
                     "--disable-background-networking", "--disable-component-update", "--no-first-run"):  # fmt: skip
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = webdriver.ChromeService(executable_path=CHROMEDRIVER)
    browser = webdriver.Chrome(options=options, service=service)
    browser.set_script_timeout(30)
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    yield browser
    browser.quit()


@pytest.fixture
def console(driver: Any) -> Console:
    """The browser console, emptied of what earlier tests left; checked after the test by the hook below."""
    watcher = Console(driver)
    watcher.take()
    return watcher


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Any:
    """Any JavaScript error in the console fails the test that caused it (inside the test's call, so an xfail
    mark covers an error that belongs to the known problem it names)."""
    result = yield
    watcher = getattr(item, "funcargs", {}).get("console")
    if watcher is not None:
        errors = watcher.errors()
        assert not errors, "JavaScript errors in the browser console:\n" + "\n".join(errors)
    return result
