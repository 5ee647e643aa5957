"""The keyword arguments the course passes to the library's config classes and loaders exist in the pinned versions.

Every `SFTConfig(...)`, `DPOConfig(...)`, `LoraConfig(...)`, `BitsAndBytesConfig(...)`, `TrainingArguments(...)`
and `*.from_pretrained(...)` call in the notebooks and helpers is parsed, and each keyword is looked up in the
pinned class's dataclass fields or signature.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import json
import re
from pathlib import Path

import pytest

from tools.nbsync import ROOT, course_notebooks, solution_notebooks

CONFIG_CLASSES = {
    "SFTConfig": "trl:SFTConfig",
    "DPOConfig": "trl:DPOConfig",
    "RewardConfig": "trl:RewardConfig",
    "KTOConfig": "trl:KTOConfig",
    "GRPOConfig": "trl:GRPOConfig",
    "LoraConfig": "peft:LoraConfig",
    "BitsAndBytesConfig": "transformers:BitsAndBytesConfig",
    "TrainingArguments": "transformers:TrainingArguments",
}


# Unsloth's loaders take their own keywords (max_seq_length, load_in_4bit); Unsloth only installs on a GPU.
UNSLOTH_RECEIVERS = {"FastLanguageModel", "FastModel"}


def _load(spec: str):
    module, name = spec.split(":")
    return getattr(__import__(module, fromlist=[name]), name)


def accepted_keywords(name: str) -> set[str]:
    """The keywords a pinned config class or `from_pretrained` accepts."""
    if name == "from_pretrained":
        from peft import PeftModel
        from transformers import PreTrainedConfig, PreTrainedModel, PreTrainedTokenizerBase, modeling_utils

        accepted = set(inspect.signature(PreTrainedModel.from_pretrained).parameters)
        accepted |= set(inspect.signature(PeftModel.from_pretrained).parameters)  # Lab 2 loads its start adapter
        accepted |= set(inspect.signature(PreTrainedTokenizerBase.from_pretrained).parameters)
        # Loader options that from_pretrained pops from **kwargs.
        accepted |= set(re.findall(r'kwargs\.pop\(\s*"(\w+)"', inspect.getsource(modeling_utils)))
        accepted |= set(inspect.signature(PreTrainedConfig.__init__).parameters)
        return accepted
    cls = _load(CONFIG_CLASSES[name])
    accepted = set(inspect.signature(cls.__init__).parameters) - {"self", "kwargs"}
    if dataclasses.is_dataclass(cls):
        accepted |= {f.name for f in dataclasses.fields(cls)}
    return accepted


def course_sources() -> list[tuple[str, str]]:
    """(label, python source) for every notebook code cell and helper module."""
    sources = []
    for path in [*course_notebooks(), *solution_notebooks()]:  # the solutions carry the worked "Try it" code too
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        code = "\n".join(
            "".join(c["source"]) for c in cells if c["cell_type"] == "code" and not "".join(c["source"]).startswith("%")
        )
        sources.append((path.relative_to(ROOT).as_posix(), re.sub(r"^[!%].*$", "", code, flags=re.M)))
    for path in sorted(Path(ROOT, "workbook").rglob("*.py")):
        sources.append((path.relative_to(ROOT).as_posix(), path.read_text(encoding="utf-8")))
    return sources


def keyword_uses() -> list[tuple[str, str, str]]:
    """(where, callee, keyword) for every watched call."""
    uses = []
    for label, source in course_sources():
        for node in ast.walk(ast.parse(source)):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            callee = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
            receiver = func.value.id if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) else None
            if receiver in UNSLOTH_RECEIVERS:
                continue
            if callee in CONFIG_CLASSES or callee == "from_pretrained":
                uses += [(f"{label}:{node.lineno}", callee, kw.arg) for kw in node.keywords if kw.arg]
    return uses


USES = keyword_uses()


def test_the_course_makes_watched_calls():
    assert any(callee == "from_pretrained" for _, callee, _ in USES)
    assert any(callee == "BitsAndBytesConfig" for _, callee, _ in USES)


@pytest.mark.parametrize("callee", sorted({c for _, c, _ in USES}))
def test_keywords_exist_in_pinned_versions(callee):
    accepted = accepted_keywords(callee)
    unknown = [f"{where}: {callee}({kw}=...)" for where, c, kw in USES if c == callee and kw not in accepted]
    assert not unknown, "Keywords the pinned libraries do not accept:\n" + "\n".join(unknown)


def test_an_unknown_keyword_would_be_caught():
    assert "max_seq_length" not in accepted_keywords("SFTConfig")  # renamed to max_length in TRL 1.x
    assert "bnb_4bit_quant_type" in accepted_keywords("BitsAndBytesConfig")
