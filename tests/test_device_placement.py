"""Every tensor meets its model on the model's device: a static check over the notebooks and the library.

On a GPU, `load_model()` puts the model on cuda:0, and transformers moves inputs to the model only for
multi-device maps, so a CPU tensor fed to it fails there. CI has no GPU: every tensor and every model sit on the
CPU, so no run here can see the mistake, and the notebook cells themselves only run here. Hence a check of the
code, on its syntax tree, over `chapters/*.ipynb`, `chapters/solutions/*.ipynb`, `labs/*.ipynb` and
`workbook/**/*.py`:

1. A tokenizer call that returns torch tensors (`return_tensors="pt"`) is moved to a device in the same
   expression: `tok(...).to(model.device)` or `tok(...)["input_ids"].to(model.device)`.
2. A tensor factory (`torch.tensor`, `torch.zeros`, `torch.randn`, ...) or a new `nn.Linear`/`nn.Embedding`
   names its device (`device=...`), unless it turns straight into Python numbers (`.tolist()`, `.item()`).

Code that is on the CPU by design is listed in ALLOWED with the reason; an entry that matches nothing fails too.
"""

from __future__ import annotations

import ast
import json
import re

from workbook.core.config import ROOT

FACTORIES = {
    f"torch.{name}"
    for name in (
        "tensor as_tensor zeros ones empty full rand randn randint randperm arange linspace logspace eye".split()
    )
} | {f"{prefix}{name}" for prefix in ("torch.nn.", "nn.") for name in ("Linear", "Embedding")}
TO_PYTHON = {"tolist", "item", "numpy"}

# (file, the flagged line with surrounding spaces stripped) -> why that tensor may stay on the CPU. A chapter's
# entry covers its solutions source too.
ALLOWED = {
    ("chapters/07_checkpoints_adapters.ipynb", 'batch = tokenizer(texts, return_tensors="pt", padding=True)'):
        "the four PEFT methods compared in that cell are loaded with from_pretrained on the CPU, in fp32",
    ("chapters/07_checkpoints_adapters.ipynb",
     'torch.save({"weight": torch.ones(2), "surprise": HarmlessPayload()}, buffer)'):
        "a pickle demonstration: the tensor is saved, never fed to a model",
    ("chapters/08_toolkit_distill_prune_merge.ipynb",
     'print("DARE, p = 0.5, on a vector of ten copies of tau_code:", dare(torch.full((10,), 0.30), 0.5).tolist())'):
        "arithmetic on a toy vector, no model involved",
    ("chapters/08_toolkit_distill_prune_merge.ipynb", "dare_draw = dare(torch.full((10,), 0.30), 0.5)"):
        "arithmetic on a toy vector, no model involved",
    ("chapters/08_toolkit_distill_prune_merge.ipynb",
     "expect(bool(torch.all((dare_draw == 0) | torch.isclose(dare_draw, torch.tensor(0.6)))),"):
        "arithmetic on a toy vector, no model involved",
    ("chapters/08_toolkit_distill_prune_merge.ipynb",
     "unit_a, unit_b = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])"):
        "SLERP on two unit vectors, no model involved",
    ("chapters/08_toolkit_distill_prune_merge.ipynb",
     'redrawn = {n: (torch.rand(v.shape, generator=generator).to(v) * 2 - 1) * v.abs().max() if "lora_A" in n else v'):
        "`.to(v)` moves the draw to the adapter weight's own device and dtype",
    ("chapters/04_peft_lora.ipynb",
     "seed_A, seed_B = torch.empty(4096, 8), torch.empty(8, 4096)  # a source lesson's shapes, "
     "multiplied as it writes B x A"):
        "shapes of a source lesson's example, multiplied to show the result's shape; no model involved",
    ("chapters/05_qlora.ipynb", "one = torch.tensor(1.0, dtype=torch.bfloat16)"):
        "bf16 rounding shown on one number, no model involved",
    ("labs/lab1_qlora_sft.ipynb", "one = torch.tensor(1.0, dtype=torch.bfloat16)"):
        "bf16 rounding shown on one number, no model involved",
    ("workbook/exercises/ch06.py", "return absmax_quantize(torch.tensor(values), 8).codes.reshape(-1).tolist()"):
        "an answer key's arithmetic on a list of numbers",
    ("workbook/exercises/ch08.py",
     "return slerp(torch.tensor(a, dtype=torch.float64), torch.tensor(b, dtype=torch.float64), t).tolist()"):
        "an answer key's arithmetic on a list of numbers",
    ("workbook/topics/merging.py",
     "a, b = torch.as_tensor(a).flatten().double(), torch.as_tensor(b).flatten().double()"):
        "as_tensor keeps a tensor on its own device; the result is two Python numbers",
    ("workbook/topics/nf4.py",
     "return torch.randn(weight.shape, generator=generator) * weight.detach().float().std()"):
        "a Gaussian stand-in for the NF4 vs INT4 comparison, quantized on the CPU, never fed to a model",
    ("workbook/topics/pruning.py", "flat = torch.zeros(tensor.numel(), dtype=torch.bool)"):
        "built with a CPU generator, then moved to the tensor's device (`.to(tensor.device)` below)",
    ("workbook/topics/pruning.py", "flat[torch.randperm(tensor.numel(), generator=generator)[:keep]] = True"):
        "built with a CPU generator, then moved to the tensor's device (`.to(tensor.device)` below)",
    ("workbook/topics/distill.py", "teacher = torch.randn(positions, vocab, generator=generator) * 3"):
        "synthetic logits for the T² demonstration, no model involved",
    ("workbook/topics/distill.py", "start = torch.randn(positions, vocab, generator=generator) * 3"):
        "synthetic logits for the T² demonstration, no model involved",
    ("workbook/topics/lora_rank.py", "ranks = torch.arange(1, len(self.s) + 1)"):
        "x-axis values of a matplotlib plot",
    ("workbook/topics/nf4.py", "positive = normal.icdf(torch.linspace(offset, 0.5, 9, dtype=torch.float64)[:-1])"):
        "the NF4 codebook, a constant built once; quantize_blockwise moves it to the weight's device",
    ("workbook/topics/nf4.py", "negative = -normal.icdf(torch.linspace(offset, 0.5, 8, dtype=torch.float64)[:-1])"):
        "the NF4 codebook, a constant built once; quantize_blockwise moves it to the weight's device",
    ("workbook/topics/nf4.py",
     "levels = torch.cat([negative, torch.zeros(1, dtype=torch.float64), positive]).sort().values"):
        "the NF4 codebook, a constant built once; quantize_blockwise moves it to the weight's device",
    ("workbook/topics/nf4.py", "return torch.arange(-7, 8, dtype=torch.float32) / 7"):
        "the INT4 codebook, a constant built once; quantize_blockwise moves it to the weight's device",
}  # fmt: skip


def _sources() -> list[tuple[str, str, str]]:
    """(file, where, code) for every notebook code cell and every library module."""
    sources = []
    for pattern in ("chapters/*.ipynb", "chapters/solutions/*.ipynb", "labs/*.ipynb"):
        for path in sorted(ROOT.glob(pattern)):
            cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
            for index, cell in enumerate(cells):
                if cell["cell_type"] == "code":
                    code = "".join(cell["source"])
                    code = re.sub(r"(?m)^(\s*)[!%].*$", r"\1pass", code)  # shell and magic lines
                    sources.append((path.relative_to(ROOT).as_posix(), f"cell {index}", code))
    for path in sorted((ROOT / "workbook").rglob("*.py")):
        sources.append((path.relative_to(ROOT).as_posix(), "", path.read_text(encoding="utf-8")))
    return sources


def _dotted(node: ast.AST) -> str:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    return ".".join(reversed(parts))


def _names_a_device(node: ast.AST) -> bool:
    """`something.device`, or a variable whose name says it holds a device (DEVICE, device)."""
    return (isinstance(node, ast.Attribute) and node.attr == "device") or (
        isinstance(node, ast.Name) and "device" in node.id.lower()
    )


def _moved_to_device(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    """True when `node` (or `node[...]`) is the receiver of `.to(<a device>)`."""
    parent = parents.get(node)
    if isinstance(parent, ast.Subscript) and parent.value is node:
        node, parent = parent, parents.get(parent)
    call = parents.get(parent)
    if not (isinstance(parent, ast.Attribute) and parent.attr == "to" and isinstance(call, ast.Call)):
        return False
    targets = list(call.args[:1]) + [k.value for k in call.keywords if k.arg == "device"]
    return any(_names_a_device(target) for target in targets)


def _violations(code: str) -> list[tuple[int, str]]:
    """(line, rule) for every tensor that may meet a model on the wrong device."""
    tree = ast.parse(code)
    parents = {child: parent for parent in ast.walk(tree) for child in ast.iter_child_nodes(parent)}
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        keywords = {k.arg: k.value for k in node.keywords}
        returns = keywords.get("return_tensors")
        if isinstance(returns, ast.Constant) and returns.value == "pt" and not _moved_to_device(node, parents):
            found.append((node.lineno, "tokenizer output not moved with .to(<model>.device)"))
        if _dotted(node.func) in FACTORIES and "device" not in keywords:
            parent = parents.get(node)
            to_python = isinstance(parent, ast.Attribute) and parent.attr in TO_PYTHON
            if not to_python and not _moved_to_device(node, parents):
                found.append((node.lineno, f"{_dotted(node.func)}(...) names no device"))
    return found


def test_every_tensor_meets_its_model_on_the_models_device():
    problems, used = [], set()
    for file, where, code in _sources():
        lines = code.splitlines()
        for lineno, rule in _violations(code):
            key = (file.replace("chapters/solutions/", "chapters/"), lines[lineno - 1].strip())  # one source
            if key in ALLOWED:
                used.add(key)
            else:
                problems.append(f"{file} {where} line {lineno}: {rule}\n    {key[1]}")
    stale = [f"{file}: {line}" for file, line in ALLOWED if (file, line) not in used]
    assert not problems, "tensors that would stay on the CPU next to a GPU model:\n" + "\n".join(problems)
    assert not stale, "ALLOWED entries that match no code any more (remove them):\n" + "\n".join(stale)


def test_the_check_catches_the_mistakes_it_is_for():
    bad = (
        'ids = tok("a", return_tensors="pt")["input_ids"]\n'
        'batch = tok(["a"], return_tensors="pt", padding=True)\n'
        "x = torch.randn(4, 8)\n"
        "head = torch.nn.Linear(8, 2)\n"
    )
    assert sorted(line for line, _ in _violations(bad)) == [1, 2, 3, 4]
    good = (
        'ids = tok("a", return_tensors="pt")["input_ids"].to(model.device)\n'
        'batch = tok(["a"], return_tensors="pt").to(DEVICE)\n'
        "x = torch.randn(4, 8, device=model.device)\n"
        "head = torch.nn.Linear(8, 2, device=x.device)\n"
        "idx = torch.randint(10, (4,)).tolist()\n"
        'y = torch.zeros(3).to(layer.weight.device)\n'
    )
    assert _violations(good) == []
