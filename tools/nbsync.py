"""Keep the course notebooks uniform.

    python -m tools.nbsync           # stamp badge + bootstrap cells, strip outputs, set the kernelspec
    python -m tools.nbsync --check   # exit 1 if any notebook is out of date (the test suite runs this)
    python -m tools.nbsync --new SRC.py OUT.ipynb   # build a notebook from a percent-format script

The repository address lives in workbook/core/config.py alone; every notebook's "Open in Colab" badge and Colab
bootstrap cell is stamped from it here.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat

from workbook.core.config import COLAB_CLONE_DIR, REPO_BRANCH, REPO_URL, ROOT, colab_badge

NOTEBOOK_DIRS = ("chapters", "labs")
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
BADGE_TAG, BOOTSTRAP_TAG = "workbook-badge", "workbook-bootstrap"

BOOTSTRAP = f'''# Workbook bootstrap: stamped by tools/nbsync.py from workbook/core/config.py (edit it there).
import subprocess
import sys
from pathlib import Path

try:
    import workbook  # noqa: F401  (installed by `make setup`, or by this cell earlier in this Colab session)
except ImportError:
    if "google.colab" not in sys.modules:
        raise SystemExit("The course package is not installed: run `make setup` in the repository.") from None
    ROOT = Path("{COLAB_CLONE_DIR}")
    REPO_URL = "{REPO_URL}"
    BRANCH = "{REPO_BRANCH}"
    if not ROOT.exists():
        clone = subprocess.run(["git", "clone", "--depth", "1", "-b", BRANCH, REPO_URL, str(ROOT)],
                               capture_output=True, text=True)
        if clone.returncode:
            raise SystemExit(
                f"Could not clone {{REPO_URL}} (branch {{BRANCH}}): {{clone.stderr.strip()[-300:]}}\\n"
                "Working from a fork? Set REPO_SLUG in workbook/core/config.py to it and run `make sync`."
            ) from None
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "-e", str(ROOT)], check=True)
    subprocess.run([sys.executable, "-m", "workbook.core.install", "colab"], cwd=ROOT, check=True)
    sys.path.insert(0, str(ROOT))  # this kernel started before the install; a restarted one finds it installed'''


def course_notebooks() -> list[Path]:
    """Every chapter and lab notebook, in course order."""
    return sorted(p for d in NOTEBOOK_DIRS for p in (ROOT / d).glob("*.ipynb"))


def _tagged(cell: nbformat.NotebookNode, tag: str) -> bool:
    return tag in cell.get("metadata", {}).get("tags", [])


def normalise(nb: nbformat.NotebookNode, relpath: str) -> nbformat.NotebookNode:
    """Stamp the badge and bootstrap cells first, drop outputs, and set the python3 kernelspec."""
    body = [c for c in nb.cells if not (_tagged(c, BADGE_TAG) or _tagged(c, BOOTSTRAP_TAG))]
    badge = nbformat.v4.new_markdown_cell(colab_badge(relpath), metadata={"tags": [BADGE_TAG]})
    boot = nbformat.v4.new_code_cell(BOOTSTRAP, metadata={"tags": [BOOTSTRAP_TAG]})
    for cell in [badge, boot, *body]:
        cell.pop("id", None)
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nb.cells = [badge, boot, *body]
    nb.metadata = {"kernelspec": KERNELSPEC, "language_info": {"name": "python"}}
    nb.nbformat, nb.nbformat_minor = 4, 4
    return nb


def render(nb: nbformat.NotebookNode) -> str:
    return nbformat.writes(nb) + "\n"


def sync(check: bool) -> list[str]:
    """Normalise every course notebook; in check mode report the stale ones instead of writing."""
    stale = []
    for path in course_notebooks():
        relpath = path.relative_to(ROOT).as_posix()
        text = path.read_text(encoding="utf-8")
        wanted = render(normalise(nbformat.reads(text, as_version=4), relpath))
        if text != wanted:
            stale.append(relpath)
            if not check:
                path.write_text(wanted, encoding="utf-8")
    return stale


def from_percent(source: Path) -> nbformat.NotebookNode:
    """Cells from a percent-format script: `# %%` starts code, `# %% [markdown]` starts markdown."""
    cells, kind, lines = [], None, []

    def flush() -> None:
        text = "\n".join(lines).strip("\n")
        if kind == "markdown":
            text = "\n".join(line[2:] if line.startswith("# ") else line.lstrip("#") for line in text.splitlines())
            cells.append(nbformat.v4.new_markdown_cell(text))
        elif kind == "code" and text:
            cells.append(nbformat.v4.new_code_cell(text))

    for line in source.read_text(encoding="utf-8").splitlines():
        if line.startswith("# %%"):
            flush()
            kind, lines = ("markdown" if "[markdown]" in line else "code"), []
        else:
            lines.append(line)
    flush()
    return nbformat.v4.new_notebook(cells=cells)


def main(argv: list[str]) -> int:
    if argv[:1] == ["--new"]:
        source, out = Path(argv[1]), Path(argv[2]).resolve()
        nb = normalise(from_percent(source), out.relative_to(ROOT).as_posix())
        out.write_text(render(nb), encoding="utf-8")
        return 0
    check = "--check" in argv
    stale = sync(check)
    for path in stale:
        print(("stale: " if check else "updated: ") + path)
    if check and stale:
        print("Run `python -m tools.nbsync` to fix.")
    return 1 if check and stale else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
