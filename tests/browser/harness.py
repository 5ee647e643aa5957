"""The browser tests' harness: a JupyterLab on 127.0.0.1, the browser console, a notebook as a student sees it."""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import nbformat

from workbook.core.config import ROOT

ENABLE_ENV, REQUIRE_ENV = "WORKBOOK_BROWSER", "WORKBOOK_REQUIRE_BROWSER"
ARTEFACTS = ROOT / "build" / "browser"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
BLOCK_OTHER_HOSTS = "MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"
WAIT_S = 30.0  # a kernel start plus imports on a loaded 2-core machine
RESPOND_S = 10.0  # how long a widget may take to answer a student's input


def missing_tools() -> str | None:
    if not Path(CHROMIUM).exists():
        return "Chromium is not installed (`make browser-setup` installs Debian's chromium and chromium-driver)"
    if not Path(CHROMEDRIVER).exists():
        return "chromedriver is not installed (`make browser-setup`)"
    if find_spec("selenium") is None:
        return "selenium is not installed (`make book-setup` installs the `# book:` pins of requirements.txt)"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Lab:
    """One JupyterLab server on 127.0.0.1 serving `root`, with a fresh token."""

    def __init__(self, root: Path, home: Path) -> None:
        self.root, self.port, self.token = root, _free_port(), secrets.token_hex(24)
        env = {
            **os.environ,
            "WORKBOOK_FAST": "1",
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "JUPYTER_CONFIG_DIR": str(home / "config"),
            "JUPYTERLAB_SETTINGS_DIR": str(home / "settings"),
            "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
            "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
            "MPLBACKEND": "module://matplotlib_inline.backend_inline",
        }
        command = [
            sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={self.port}", f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={root}", "--LabApp.expose_app_in_browser=True",
            "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        ] + (["--allow-root"] if os.geteuid() == 0 else [])  # fmt: skip
        # No news and no update checks (they would ask the network and pop a toast over the widgets).
        notification = home / "settings" / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
        notification.parent.mkdir(parents=True, exist_ok=True)
        notification.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))
        self.log = (home / "jupyterlab.log").open("w")
        self.process = subprocess.Popen(command, cwd=root, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"{self.url}/api/status?token={self.token}", timeout=2)
                return
            except OSError:
                if self.process.poll() is not None:
                    break
                time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"JupyterLab did not start: {(home / 'jupyterlab.log').read_text()[-2000:]}")

    def api(self, method: str, path: str) -> Any:
        request = urllib.request.Request(f"{self.url}{path}?token={self.token}", method=method)
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read()
        return json.loads(body) if body else None

    def shutdown_kernels(self) -> None:
        for session in self.api("GET", "/api/sessions"):
            self.api("DELETE", f"/api/sessions/{session['id']}")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


class Console:
    """The browser console since the last `take`: every JavaScript error fails the test."""

    def __init__(self, driver: Any) -> None:
        self.driver = driver

    def take(self) -> list[dict]:
        return self.driver.get_log("browser")

    def errors(self) -> list[str]:
        return [f"{e['level']}: {e['message']}" for e in self.take() if e["level"] == "SEVERE"]


def wait_for(condition: Callable[[], Any], timeout: float, what: str, poll: float = 0.2) -> Any:
    """Poll until `condition()` is truthy; fail naming `what` (and the last value seen) on a time-out."""
    deadline, value = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        try:
            value = condition()
        except Exception as error:  # noqa: BLE001 (a page still rendering raises; keep polling)
            value = error
        else:
            if value:
                return value
        time.sleep(poll)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what} (last seen: {str(value)[:500]!r})")


def write_notebook(folder: Path, name: str, *sources: str) -> str:
    """A small notebook of code cells in the lab's root; returns its name."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(source) for source in sources]
    nbformat.write(nb, folder / name)
    return name


class Notebook:
    """A notebook open in JupyterLab, run and read as a student would see it."""

    STATUS_JS = """
        const panel = window.jupyterapp.shell.currentWidget;
        if (!panel || !panel.content || !panel.sessionContext) return null;
        const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
        const cells = panel.content.widgets.filter(c => c.model.type === 'code');
        return {status: kernel ? kernel.status : 'none', counts: cells.map(c => c.model.executionCount),
                ready: panel.context.isReady};
    """

    def __init__(self, driver: Any, lab: Lab, name: str) -> None:
        self.driver, self.lab, self.name = driver, lab, name
        driver.get(f"{lab.url}/lab/tree/{name}?token={lab.token}&reset")
        wait_for(self._idle, WAIT_S, f"{name} to open with an idle kernel")

    def _idle(self) -> bool:
        state = self.driver.execute_script(self.STATUS_JS)
        return bool(state and state["ready"] and state["status"] == "idle")

    def command(self, name: str, wait: bool = False) -> None:
        """Run a JupyterLab command (as its menu item does); with `wait`, until its promise settles."""
        call = f"window.jupyterapp.commands.execute({json.dumps(name)})"
        self.driver.execute_script(f"return {call};" if wait else f"{call}; return null;")

    def run_all(self, timeout: float = 120) -> None:
        """Run > Run All Cells, then wait until every code cell has run and the kernel is idle."""
        self.command("notebook:run-all-cells")

        def done() -> bool:
            state = self.driver.execute_script(self.STATUS_JS)
            return bool(state and state["status"] == "idle" and all(state["counts"]))

        wait_for(done, timeout, f"{self.name} to finish running")

    def kernel_status(self) -> str:
        return self.driver.execute_script(self.STATUS_JS)["status"]

    def running(self, cell: int) -> bool:
        """Whether code cell `cell` is running or queued ([*])."""
        prompts = self.driver.find_elements("css selector", ".jp-CodeCell .jp-InputArea-prompt")
        return "*" in prompts[cell].text

    def output(self, cell: int) -> Any:
        """The output area of code cell `cell` (0-based)."""
        areas = self.driver.find_elements("css selector", ".jp-CodeCell .jp-Cell-outputArea")
        return areas[cell]

    def widget(self, cell: int = -1) -> Any:
        """The rendered widget of a code cell (by default the last one)."""
        return wait_for(
            lambda: self.output(cell).find_element("css selector", ".jupyter-widgets.widget-container, .widget-box"),
            WAIT_S,
            f"the widget of cell {cell} to render",
        )

    def text(self, cell: int = -1) -> str:
        return self.output(cell).text

    def wait_text(self, cell: int, pattern: str, timeout: float = RESPOND_S) -> re.Match:
        """Wait until the cell's output shows text matching `pattern`; returns the match."""
        try:
            return wait_for(lambda: re.search(pattern, self.text(cell)), timeout, f"{pattern!r} in cell {cell}")
        except AssertionError as error:
            raise AssertionError(f"{error}\ncell {cell} shows:\n{self.text(cell)[-1500:]}") from None

    def screenshot(self, element: Any, name: str) -> Path:
        path = ARTEFACTS / f"{name}.png"
        self.driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", element)
        element.screenshot(str(path))
        return path

    def close(self) -> None:
        self.command("docmanager:save", wait=True)
        self.lab.shutdown_kernels()
