"""Find figures typed into a notebook's prose: numbers that no code produced.

    python -m tools.figures build/executed/04_peft_lora.ipynb [...]   # an executed notebook: exit 1 on findings

A number in a markdown cell is a *figure* when it has a unit (%, x, GB, MB, s, M, million, ...), a decimal point,
thousands separators, or is 100 or more (years excepted). A figure is allowed when it

- repeats a number the executed notebook printed or displayed (outputs and saved widget state), at the precision
  the prose shows it (so "4.9M" repeats 4,884,480, and "3.5%" repeats 0.035 or 3.503);
- appears in the notebook's code (a definition: `r=16`, `lr=2e-4`, `max_seq_length=512`);
- sits in a sentence that cites a named source (a link to http(s)://... or "et al.").

Model and format names (SmolLM2-135M, Llama-3.1-8B, Q4_K_M, fp16, 4-bit) and size classes (70B) are names, not
figures. Text inside `code`, $math$ and link targets is skipped. Everything else is reported.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

VERSION = re.compile(r"(?:\b(?:torch|pytorch|trl|peft|transformers|bitsandbytes|python|nbgrader|ipywidgets|unsloth|"
                     r"llama\.cpp|jupyterlab|version|v)\s*(?:[<>=!~]=?\s*)?|#)$", re.I)
NUMBER = re.compile(
    r"(?<![\w.#])(?<![A-Za-z0-9]-)"  # not part of a name (fp16, SmolLM2-135M, Llama-3.1-8B) or an issue (#4901)
    r"(?P<num>\d{1,3}(?:,\d{3})+|\d+)(?P<frac>\.\d+)?"
    r"(?P<after>(?:\s*(?:[-–]\s*)?\d[\d,.]*)?)"  # the second end of a range (2.6-10.5), kept for context only
    r"(?P<unit>\s*(?:%|×|x\b|GiB|MiB|KiB|GB|MB|KB|TB|bytes?\b|bits?\b|ms\b|s\b|sec\b|seconds?\b|minutes?\b|"
    r"min\b|hours?\b|h\b|tokens?/s\b|M\b|K\b|k\b|million\b|billion\b|thousand\b|times\b|fold\b))?"
)
NAME_SUFFIX = re.compile(r"(?:B\b|-(?!minute|second|hour|fold|times|percent)[A-Za-z])")  # 70B, 4-bit, 3-way
SKIPPED = [
    re.compile(r"```.*?```", re.S),  # fenced code
    re.compile(r"`[^`]*`"),  # inline code
    re.compile(r"\$\$.*?\$\$", re.S),  # display math
    re.compile(r"\$[^$\n]+\$"),  # inline math
    re.compile(r"<[^>]+>"),  # HTML tags
    re.compile(r"^ {4}.*$", re.M),  # indented code
]
LINK = re.compile(r"!?\[([^\]]*)\]\(([^)\s]*)[^)]*\)")
SENTENCE_BREAK = re.compile(r"(?<=[.!?])(?<!al\.)(?<!e\.g\.)(?<!i\.e\.)\s+|\n\s*\n|\n(?=\s*[-*|#]|\s*\d+\.\s)")
CITATION = re.compile(r"\[cited\]|et al\.", re.I)
SCALES = {"k": 1e3, "K": 1e3, "thousand": 1e3, "M": 1e6, "million": 1e6, "billion": 1e9, "B": 1e9}


@dataclass(frozen=True)
class Finding:
    cell: int
    figure: str
    sentence: str

    def __str__(self) -> str:
        return f"cell {self.cell}: {self.figure!r} in “{self.sentence.strip()[:140]}”"


def _value(num: str, frac: str | None) -> float:
    return float(num.replace(",", "") + (frac or ""))


def _decimals(frac: str | None) -> int:
    return len(frac) - 1 if frac else 0


def numbers_in(text: str) -> set[float]:
    """Every number in a text (outputs, code), as floats, including 1e-4 style."""
    found = set()
    for match in re.finditer(r"(?<![\w])(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?(?:[eE]([-+]?\d+))?", text):
        value, exponent = _value(match[1], match[2]), int(match[3] or 0)
        if abs(exponent) < 300:
            found.add(value * 10.0**exponent)
    return found


def _repeats(value: float, decimals: int, unit: str, printed: set[float], defined: set[float]) -> bool:
    """True when a printed number shows as `value` at the prose's precision, or a defined one equals it.

    A one-digit figure ("1%", "2x") must equal a number exactly: rounding would let almost anything match it.
    """
    if value in defined:
        return True
    scale = SCALES.get(unit.strip(), 1.0)
    rounding = len(str(value).replace(".", "").strip("0")) >= 2
    for number in printed:
        for candidate in {number, number / scale, number / 1e3, number / 1e6, number / 1e9, number * 100}:
            if candidate == value or (rounding and round(candidate, decimals) == value):
                return True
    return False


def _is_figure(match: re.Match, text: str) -> bool:
    unit, value = match["unit"] or "", _value(match["num"], match["frac"])
    number_end = match.end("frac") if match["frac"] else match.end("num")
    if VERSION.search(text[max(0, match.start() - 20) : match.start()]) or re.match(r"\.\d", text[number_end:]):
        return False  # a version (torch 2.6, peft 0.21.2) or an issue number (#4901)
    if not unit and NAME_SUFFIX.match(text[number_end:]):
        return False
    if unit.strip() or match["frac"] or "," in match["num"]:
        return True
    return value >= 100 and not (1900 <= value <= 2100)


def _outputs_text(nb: dict) -> str:
    parts = []
    for cell in nb["cells"]:
        for output in cell.get("outputs", []):
            parts.append("".join(output.get("text", "")))
            for kind, data in output.get("data", {}).items():
                if kind.startswith("text/"):
                    parts.append("".join(data) if isinstance(data, list) else str(data))
    parts.append(json.dumps(nb.get("metadata", {}).get("widgets", {})))
    return "\n".join(parts)


def _prose(markdown: str) -> str:
    text = LINK.sub(lambda m: m[1] + (" [cited]" if m[2].startswith("http") else ""), markdown)
    for pattern in SKIPPED:
        text = pattern.sub(" ", text)
    return text


def typed_figures(nb: dict) -> list[Finding]:
    """The figures in `nb`'s markdown that no output repeats, no code defines and no sentence cites."""
    code = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
    printed, defined = numbers_in(_outputs_text(nb)), numbers_in(code)
    findings = []
    for index, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "markdown":
            continue
        for sentence in SENTENCE_BREAK.split(_prose("".join(cell["source"]))):
            if CITATION.search(sentence):
                continue
            for match in NUMBER.finditer(sentence):
                if not _is_figure(match, sentence):
                    continue
                value, decimals = _value(match["num"], match["frac"]), _decimals(match["frac"])
                if not _repeats(value, decimals, match["unit"] or "", printed, defined):
                    findings.append(Finding(index, match.group(0).strip(), sentence))
    return findings


def main(argv: list[str]) -> int:
    total = 0
    for name in argv:
        findings = typed_figures(json.loads(Path(name).read_text(encoding="utf-8")))
        total += len(findings)
        for finding in findings:
            print(f"{name} {finding}")
    print(f"{total} typed figure(s)")
    return 1 if total else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
