"""Build the nbgrader source notebooks from one source of truth each.

    python -m assessments.build            # write assessments/source/<assignment>/
    python -m assessments.build --check    # exit 1 if a committed source notebook is out of date

Quizzes come from `assessments/quizzes/<assignment>.yaml`; the lab comes from `labs/lab1_qlora_sft.ipynb` plus
`assessments/labs/lab1.yaml` (which cells are read-only, the gate cells, the files nbgrader restores). Cells are
marked for nbgrader through their metadata only (schema 3): solution, grade, locked, points and a unique
`grade_id`. Nothing here is ever copied by hand.
"""

from __future__ import annotations

import argparse
import filecmp
import shutil
import sys
import tempfile
from pathlib import Path

import nbformat
import yaml

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
QUIZZES = HERE / "quizzes"
LABS = HERE / "labs"
SOURCE = HERE / "source"
SCHEMA_VERSION = 3
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
QUESTION_KINDS = ("numeric", "code", "choice")


class SpecError(ValueError):
    """A quiz or lab spec is malformed; the message names the file and the field."""


def nbgrader_meta(grade_id: str, *, solution=False, grade=False, locked=False, points=0) -> dict:
    meta = {"grade_id": grade_id, "solution": solution, "grade": grade, "locked": locked,
            "schema_version": SCHEMA_VERSION}
    if grade:
        meta["points"] = points
    return {"nbgrader": meta}


def markdown(text: str, grade_id: str | None = None) -> nbformat.NotebookNode:
    meta = nbgrader_meta(grade_id, locked=True) if grade_id else {}
    return nbformat.v4.new_markdown_cell(text.strip("\n"), metadata=meta)


def code(text: str, grade_id: str | None = None, **flags) -> nbformat.NotebookNode:
    meta = nbgrader_meta(grade_id, **flags) if grade_id else {}
    return nbformat.v4.new_code_cell(text.strip("\n"), metadata=meta)


def solution_block(text: str) -> str:
    """Wrap an answer in nbgrader's solution markers unless it places them itself (e.g. inside a def)."""
    text = text.strip("\n")
    if "### BEGIN SOLUTION" in text:
        return text
    return f"### BEGIN SOLUTION\n{text}\n### END SOLUTION"


def test_block(visible: str, hidden: str | None) -> str:
    """Visible asserts first, then the hidden part that generate_assignment strips from the release."""
    parts = [visible.strip("\n")]
    if hidden:
        parts.append(f"### BEGIN HIDDEN TESTS\n{hidden.strip(chr(10))}\n### END HIDDEN TESTS")
    return "\n".join(parts)


def load_spec(path: Path, required: tuple[str, ...]) -> dict:
    try:
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise SpecError(f"{path}: not valid YAML ({exc}).") from exc
    missing = [key for key in required if key not in (spec or {})]
    if missing:
        raise SpecError(f"{path}: missing top-level field(s) {missing}.")
    return spec


def build_quiz(path: Path) -> tuple[str, nbformat.NotebookNode]:
    """The source notebook of one quiz: per question a prompt, an answer cell and a graded test cell."""
    spec = load_spec(path, ("assignment", "title", "intro", "questions"))
    name = spec["assignment"]
    if name != path.stem:
        raise SpecError(f"{path}: assignment '{name}' must match the file name '{path.stem}'.")
    cells = [markdown(f"# {spec['title']}\n\n{spec['intro']}", f"{name}_intro")]
    if spec.get("setup"):
        cells.append(code(spec["setup"], f"{name}_setup", locked=True))
    seen: set[str] = set()
    for number, q in enumerate(spec["questions"], 1):
        where = f"{path}: question {number}"
        for key in ("id", "kind", "points", "prompt", "solution", "tests", "hidden"):
            if key not in q:
                raise SpecError(f"{where}: missing field '{key}'.")
        if q["kind"] not in QUESTION_KINDS:
            raise SpecError(f"{where}: kind '{q['kind']}' is not one of {QUESTION_KINDS}.")
        if q["id"] in seen:
            raise SpecError(f"{where}: duplicate id '{q['id']}'.")
        seen.add(q["id"])
        qid = q["id"]
        header = f"## Question {number} ({q['kind']}, {q['points']} point{'s' if q['points'] != 1 else ''})"
        cells.append(markdown(f"{header}\n\n{q['prompt']}", f"{qid}_prompt"))
        cells.append(code(solution_block(q["solution"]), f"{qid}_answer", solution=True))
        cells.append(code(test_block(q["tests"], q["hidden"]), f"{qid}_test", grade=True, locked=True,
                          points=q["points"]))
    if spec.get("outro"):
        cells.append(markdown(spec["outro"], f"{name}_outro"))
    return name, new_notebook(cells)


def new_notebook(cells: list) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = cells
    nb.metadata = {"kernelspec": KERNELSPEC, "language_info": {"name": "python"}}
    nb.nbformat, nb.nbformat_minor = 4, 4
    for cell in nb.cells:  # nbformat 4.4: no random cell ids, so builds are byte-for-byte reproducible
        cell.pop("id", None)
    return nb


def quiz_specs() -> list[Path]:
    return sorted(QUIZZES.glob("*.yaml"))


def lab_specs() -> list[Path]:
    return sorted(LABS.glob("*.yaml"))


def build_lab(path: Path) -> tuple[str, nbformat.NotebookNode, dict[str, Path]]:
    """The lab's source notebook and the instructor files to ship beside it (imported lazily: needs the lab)."""
    from assessments.labgrading import build_lab_notebook

    spec = load_spec(path, ("assignment", "notebook", "gates"))
    return build_lab_notebook(spec, path)


def write_notebook(nb: nbformat.NotebookNode, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(nbformat.writes(nb) + "\n", encoding="utf-8")


def build_all(out: Path = SOURCE) -> list[str]:
    """Write every assignment's source folder under `out`; return the assignment names."""
    names = []
    for path in quiz_specs():
        name, nb = build_quiz(path)
        write_notebook(nb, out / name / f"{name}.ipynb")
        names.append(name)
    for path in lab_specs():
        spec = load_spec(path, ("assignment", "notebook", "gates"))
        if not (REPO / spec["notebook"]).is_file():
            print(f"skipping {spec['assignment']}: {spec['notebook']} is not in this checkout", file=sys.stderr)
            continue
        name, nb, files = build_lab(path)
        folder = out / name
        write_notebook(nb, folder / f"{Path(nb.metadata['workbook']['notebook']).stem}.ipynb")
        for rel, src in files.items():
            (folder / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, folder / rel)
        names.append(name)
    return names


def stale_paths(committed: Path = SOURCE) -> list[str]:
    """Files that differ between a fresh build and `committed` (either side missing counts)."""
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp)
        build_all(fresh)
        return diff_trees(fresh, committed)


def diff_trees(a: Path, b: Path) -> list[str]:
    files_a = {p.relative_to(a).as_posix() for p in a.rglob("*") if p.is_file()}
    files_b = {p.relative_to(b).as_posix() for p in b.rglob("*") if p.is_file()} if b.exists() else set()
    changed = [f for f in files_a & files_b if not filecmp.cmp(a / f, b / f, shallow=False)]
    return sorted(set(changed) | (files_a ^ files_b))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="report stale source files instead of writing")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_paths()
        for path in stale:
            print(f"stale: assessments/source/{path}")
        if stale:
            print("Run `python -m assessments.build` (or `python -m assessments.cli release`) to rebuild.")
        return 1 if stale else 0
    if SOURCE.exists():
        shutil.rmtree(SOURCE)
    for name in build_all():
        print(f"built assessments/source/{name}/")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
