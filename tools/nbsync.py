"""Keep the course notebooks uniform, and generate each chapter from its one source.

    python -m tools.nbsync           # stamp badge, bootstrap and quiz cells, strip outputs, write student copies
    python -m tools.nbsync --check   # exit 1 if any notebook is out of date (the test suite runs this)
    python -m tools.nbsync --new SRC.py OUT.ipynb   # build a notebook from a percent-format script

A chapter's single source is its solutions notebook, `chapters/solutions/NN_name.ipynb`: the whole chapter, with
each exercise's answer between `### BEGIN SOLUTION` and `### END SOLUTION` and each worked "Try it" in a cell
tagged `solution`. The student notebook `chapters/NN_name.ipynb` is generated from it (regions and `solution`
cells removed): edit the solutions notebook and run `make sync`, never the student copy.

The repository address lives in workbook/core/config.py alone; every notebook's "Open in Colab" badge and Colab
bootstrap cell is stamped from it here.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat

from workbook.core.config import COLAB_CLONE_DIR, REPO_BRANCH, REPO_URL, ROOT, colab_badge

NOTEBOOK_DIRS = ("chapters", "labs")
SOLUTIONS = ROOT / "chapters" / "solutions"
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
BADGE_TAG, BOOTSTRAP_TAG, QUIZ_TAG, SOLUTION_TAG = "workbook-badge", "workbook-bootstrap", "workbook-quiz", "solution"
BEGIN_SOLUTION, END_SOLUTION = "### BEGIN SOLUTION", "### END SOLUTION"

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
    """Every chapter and lab notebook a student opens, in course order."""
    return sorted(p for d in NOTEBOOK_DIRS for p in (ROOT / d).glob("*.ipynb"))


def solution_notebooks() -> list[Path]:
    """Every chapter's source, with its solutions, in course order."""
    return sorted(SOLUTIONS.glob("*.ipynb"))


def student_path(solution: Path) -> Path:
    return ROOT / "chapters" / solution.name


def quiz_cell(relpath: str) -> nbformat.NotebookNode | None:
    """The closing cell linking a chapter's graded quiz and saying how to check it, if the chapter has a quiz."""
    number = Path(relpath).name[:2]
    quiz = f"ch{number}_quiz"
    if not (ROOT / "assessments" / "quizzes" / f"{quiz}.yaml").is_file():
        return None
    release = f"assessments/release/{quiz}/{quiz}.ipynb"
    text = (
        "## Graded quiz\n\n"
        f"This chapter's graded quiz is [`{release}`]({'../' * relpath.count('/')}{release}): answer it in that "
        "notebook, then check it as the grader will (public tests only; the grader adds hidden ones) from the "
        "repository root, or in Colab in a cell starting with `!`:\n\n"
        f"    python -m assessments.student check {release}\n\n"
        "The exercises above are checked in place: each prints `[correct]`, a hint, or `not answered yet`."
    )
    return nbformat.v4.new_markdown_cell(text, metadata={"tags": [QUIZ_TAG]})


def _tagged(cell: nbformat.NotebookNode, tag: str) -> bool:
    return tag in cell.get("metadata", {}).get("tags", [])


def normalise(nb: nbformat.NotebookNode, relpath: str) -> nbformat.NotebookNode:
    """Stamp the badge and bootstrap cells first (and a chapter's quiz cell last), drop outputs, set the kernelspec."""
    stamped = (BADGE_TAG, BOOTSTRAP_TAG, QUIZ_TAG)
    body = [c for c in nb.cells if not any(_tagged(c, tag) for tag in stamped)]
    badge = nbformat.v4.new_markdown_cell(colab_badge(relpath), metadata={"tags": [BADGE_TAG]})
    boot = nbformat.v4.new_code_cell(BOOTSTRAP, metadata={"tags": [BOOTSTRAP_TAG]})
    quiz = [cell] if relpath.startswith("chapters/") and (cell := quiz_cell(relpath)) else []
    for cell in [badge, boot, *body, *quiz]:
        cell.pop("id", None)
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nb.cells = [badge, boot, *body, *quiz]
    nb.metadata = {"kernelspec": KERNELSPEC, "language_info": {"name": "python"}}
    nb.nbformat, nb.nbformat_minor = 4, 4
    return nb


def render(nb: nbformat.NotebookNode) -> str:
    return nbformat.writes(nb) + "\n"


def strip_solutions(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The student version: `solution` cells dropped, BEGIN/END SOLUTION regions cut from code cells."""
    student = nbformat.from_dict(nb)
    student.cells = [c for c in student.cells if not _tagged(c, SOLUTION_TAG)]
    for cell in student.cells:
        if cell.cell_type != "code" or BEGIN_SOLUTION not in cell.source:
            continue
        kept, inside = [], False
        for line in cell.source.splitlines():
            marker = line.strip()
            if marker == BEGIN_SOLUTION:
                inside = True
            elif marker == END_SOLUTION:
                inside = False
            elif not inside:
                kept.append(line)
        if inside:
            raise ValueError(f"a cell opens {BEGIN_SOLUTION!r} without closing it:\n{cell.source[:200]}")
        cell.source = "\n".join(kept)
    return student


def _targets() -> list[tuple[Path, nbformat.NotebookNode]]:
    """Every notebook nbsync writes, with its wanted content: labs, chapter sources and generated students."""
    wanted = []
    sources = solution_notebooks()
    generated = {student_path(p) for p in sources}
    for path in [*sources, *(p for p in course_notebooks() if p not in generated)]:
        nb = normalise(nbformat.read(path, as_version=4), path.relative_to(ROOT).as_posix())
        wanted.append((path, nb))
        if path.parent == SOLUTIONS:
            student = student_path(path)
            wanted.append((student, normalise(strip_solutions(nb), student.relative_to(ROOT).as_posix())))
    return wanted


def sync(check: bool) -> list[str]:
    """Normalise every course notebook and regenerate the students'; in check mode report stale ones instead."""
    stale = []
    for path, nb in _targets():
        wanted = render(nb)
        if not path.is_file() or path.read_text(encoding="utf-8") != wanted:
            stale.append(path.relative_to(ROOT).as_posix())
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
