"""Prompt vs RAG vs fine-tune: which rung of the adaptation ladder closes a given gap, and what it costs.

`advise(description)` reads a plain-language description of what the model gets wrong, classifies the gap
(knowledge, behaviour/format, steering, capability) from its wording, and returns a `Recommendation`.
`advise(gap="behaviour", ...)` skips the guessing. `hierarchy_rows()` gives the full ladder with computed
memory and compute figures for a 7B model (compute from `training_flops_per_token`: 6N per token for full
training, 4N+6T for LoRA). `workbook.ui.ladder` is the widget over it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from workbook.topics.memory import training_memory, weights_only_gb

GAPS = ("knowledge", "behaviour", "steering", "capability")

# Words that signal each kind of gap. Matching is on whole words (prefixes allowed via a trailing *).
KEYWORDS: dict[str, tuple[str, ...]] = {
    "knowledge": (
        "know*", "fact*", "document*", "catalog*", "catalogue*", "price*", "policy", "policies", "plan*",
        "latest", "new", "current", "private", "internal", "updated", "stale", "outdated", "cite*", "source*",
    ),
    "behaviour": (
        "format*", "json", "style", "tone", "voice", "consistent*", "always", "every", "ramble*", "verbose",
        "structure*", "template", "schema", "length", "concise", "house",
    ),
    "steering": (
        "sometimes", "occasionally", "rare*", "edge", "escalat*", "once", "reminder", "mention", "polite*",
        "greet*", "disclaimer",
    ),
    "capability": (
        "language", "dialect", "low-resource", "domain-specific", "reasoning", "cannot", "can't", "unable",
        "vocabulary", "corpus", "pretrain*",
    ),
}


@dataclass(frozen=True)
class Rung:
    """One rung of the adaptation ladder."""

    name: str
    changes: str
    data: str
    cost: str
    update: str


RUNGS: dict[str, Rung] = {
    "prompt": Rung(
        "Prompting", "nothing in the model: instructions and a few examples in the context",
        "a handful of examples", "none up front; a longer prompt on every call", "edit the prompt"),
    "rag": Rung(
        "RAG", "nothing in the model: retrieved documents are put in the context at answer time",
        "your documents, chunked and indexed", "an index and a retriever; a retrieval hop and longer prompts per call",
        "re-index the changed documents"),
    "lora": Rung(
        "LoRA / QLoRA fine-tune", "a small adapter (well under 1% of a 7B model's weights) trained on demonstrations",
        "hundreds to a few thousand curated demonstrations", "hours on one GPU, plus data curation and upkeep",
        "retrain the adapter"),
    "full": Rung(
        "Full fine-tune", "every weight", "thousands of demonstrations or more",
        "several GPUs for memory (optimizer state), a full model copy per task", "retrain the model"),
    "pretrain": Rung(
        "(Continued) pretraining", "every weight, on a raw corpus", "billions to trillions of tokens",
        "a cluster for days to weeks", "another pretraining run"),
}


@dataclass
class Recommendation:
    """What the ladder suggests for one gap."""

    gap: str
    rung: str
    reasons: list[str] = field(default_factory=list)
    matched: dict[str, list[str]] = field(default_factory=dict)

    @property
    def costs(self) -> str:
        return RUNGS[self.rung].cost

    def text(self) -> str:
        """A plain-text summary."""
        rung = RUNGS[self.rung]
        lines = [f"Gap: {self.gap}  ->  rung: {rung.name}"]
        lines += [f"  - {reason}" for reason in self.reasons]
        lines.append(f"  Cost: {rung.cost}. To update later: {rung.update}.")
        return "\n".join(lines)


def _matches(words: list[str], pattern: str) -> bool:
    if pattern.endswith("*"):
        return any(word.startswith(pattern[:-1]) for word in words)
    return pattern in words


def classify_gap(description: str) -> tuple[str, dict[str, list[str]]]:
    """Guess the kind of gap from its wording; returns (gap, {gap: matched keywords}).

    Ties and descriptions with no signal fall back to "steering": the cheapest rung is tried first.
    """
    if not isinstance(description, str) or not description.strip():
        raise ValueError("Describe the gap in a sentence, e.g. 'It does not know our 2026 insurance plans'.")
    words = re.findall(r"[a-z0-9'\-]+", description.lower())
    matched = {gap: [k.rstrip("*") for k in KEYWORDS[gap] if _matches(words, k)] for gap in GAPS}
    scores = {gap: len(found) for gap, found in matched.items()}
    best = max(scores.values())
    if best == 0 or list(scores.values()).count(best) > 1:
        return "steering", matched
    return max(scores, key=scores.__getitem__), matched


def advise(
    description: str | None = None,
    gap: str | None = None,
    prompt_compliance: float | None = None,
    changes_often: bool = False,
    demonstrations: int = 0,
) -> Recommendation:
    """Recommend a rung for a gap, described in words or named directly.

    prompt_compliance: share of answers (0-1) that already behave when you only prompt for it, if measured.
    changes_often: the facts or rules change (monthly or faster). demonstrations: how many good examples you have.
    """
    if gap is None and description is None:
        raise ValueError("Give a description of the gap or name it with gap= (one of " + ", ".join(GAPS) + ").")
    matched: dict[str, list[str]] = {}
    if gap is None:
        gap, matched = classify_gap(description or "")
    elif gap not in GAPS:
        raise ValueError(f"Unknown gap {gap!r}; choose one of {', '.join(GAPS)}.")
    if prompt_compliance is not None and not 0 <= prompt_compliance <= 1:
        raise ValueError(f"prompt_compliance is a share between 0 and 1, got {prompt_compliance!r}.")
    if demonstrations < 0:
        raise ValueError("demonstrations cannot be negative.")

    reasons = []
    if matched.get(gap):
        reasons.append(f"wording points to a {gap} gap ({', '.join(matched[gap])})")
    if gap == "knowledge":
        rung = "rag"
        reasons.append("facts belong in retrieved documents: they can be updated and cited without training")
        if changes_often:
            reasons.append("the facts change often: a fine-tune would be stale at the next change")
    elif gap == "steering":
        rung = "prompt"
        reasons.append("a rare case or small nudge: one sentence in the system prompt is the cheapest fix")
    elif gap == "behaviour":
        if prompt_compliance is not None and prompt_compliance >= 0.95:
            rung = "prompt"
            reasons.append(f"prompting already holds {prompt_compliance:.0%} of the time: keep the prompt")
        else:
            rung = "lora"
            reasons.append("format, tone and style are behaviour: demonstrations teach them reliably")
            if prompt_compliance is not None:
                reasons.append(f"prompting alone holds only {prompt_compliance:.0%} of the time")
            if demonstrations and demonstrations < 100:
                reasons.append(f"only {demonstrations} demonstrations: write a few hundred good ones first")
            reasons.append("a LoRA adapter is enough for behaviour; full fine-tuning rarely pays off here")
    else:
        rung = "full" if demonstrations >= 10_000 else "lora"
        reasons.append("a missing capability (a new language, deep domain skill) needs weight changes")
        if rung == "lora":
            reasons.append("start with a LoRA; move to full fine-tuning or continued pretraining only if it plateaus")
        else:
            reasons.append("with a large corpus, full fine-tuning or continued pretraining can pay off")
    return Recommendation(gap=gap, rung=rung, reasons=reasons, matched=matched)


CLINIC_BOT = (
    ("It doesn't know our new 2026 insurance plans", {"changes_often": True}),
    ("It rambles; we need a fixed {summary, next_step, urgency} JSON every time", {"prompt_compliance": 0.8}),
    ("Occasionally it should escalate to a human", {}),
)


def clinic_bot() -> list[Recommendation]:
    """The worked example: one support bot, three complaints, three different rungs."""
    return [advise(text, **options) for text, options in CLINIC_BOT]


def training_flops_per_token(params: float, trainable_params: float | None = None) -> float:
    """Training FLOPs per token for a model of `params` weights of which `trainable_params` train (None: all).

    Each weight costs 2 FLOPs per token in the forward pass, 2 in the backward pass for the gradient with respect
    to its input (needed to reach the layers below, frozen or not) and 2 more for its own weight gradient, which
    only trained weights need. Full fine-tuning: 6N (the 6·N·D rule). LoRA with T adapter weights: the frozen base
    costs 4N and the adapters 6T, about two thirds of full fine-tuning, not the same. Gradient checkpointing adds
    one more forward pass (2N) to either.
    """
    trained = params if trainable_params is None else trainable_params
    for name, value in (("params", params), ("trainable_params", trained)):
        if value <= 0:
            raise ValueError(f"{name} must be positive, got {value!r}.")
    if trained > params:
        raise ValueError(f"trainable_params ({trained:g}) cannot exceed params ({params:g}).")
    if trainable_params is None:
        return 6 * params  # every weight also needs its weight gradient
    return 4 * params + 6 * trained  # frozen base: forward + input gradient; adapters: all three


def gpu_hours(
    params: float, tokens: float, peak_flops: float = 312e12, utilisation: float = 0.4,
    trainable_params: float | None = None,
) -> float:  # fmt: skip
    """Training compute in GPU-hours: `training_flops_per_token` (6N for full training) times `tokens`.

    Defaults: an A100's 312 TFLOP/s dense bf16 peak at 40% utilisation. `trainable_params` (a LoRA's adapter size)
    drops the weight-gradient matmuls of the frozen weights.
    """
    for name, value in (("params", params), ("tokens", tokens), ("peak_flops", peak_flops)):
        if value <= 0:
            raise ValueError(f"{name} must be positive, got {value!r}.")
    if not 0 < utilisation <= 1:
        raise ValueError(f"utilisation is a share in (0, 1], got {utilisation!r}.")
    return training_flops_per_token(params, trainable_params) * tokens / (peak_flops * utilisation) / 3600


def hierarchy_rows(params: float = 7e9, lora_params: float = 40e6) -> list[dict[str, str]]:
    """The adaptation ladder for a model of `params` parameters, with memory and compute computed here."""
    infer = weights_only_gb(params, "bf16")
    lora = training_memory(params, "bf16", trainable_params=lora_params).total_gb
    qlora = training_memory(params, "nf4-dq", trainable_params=lora_params).total_gb
    full = training_memory(params, "bf16", "adam", mixed_precision=True)
    ft_tokens, pre_tokens = 10e6, 2e12
    rows = []
    figures = {
        "prompt": (f"{infer:.0f} GB (inference only)", "0"),
        "rag": (f"{infer:.0f} GB + index", "embedding the corpus: small"),
        "lora": (f"{lora:.0f} GB (QLoRA {qlora:.1f} GB)",
                 f"~{gpu_hours(params, ft_tokens, trainable_params=lora_params):.1f} GPU-h per 10M tokens (4N+6T)"),
        "full": (f"{full.total_gb:.0f} GB -> {full.gpus_needed} x 80 GB",
                 f"~{gpu_hours(params, ft_tokens):.1f} GPU-h per 10M tokens (6N)"),
        "pretrain": (f"{full.total_gb:.0f} GB, sharded over many GPUs",
                     f"~{gpu_hours(params, pre_tokens):,.0f} GPU-h for 2T tokens"),
    }
    for key, rung in RUNGS.items():
        memory, compute = figures[key]
        rows.append({"rung": rung.name, "changes": rung.changes, "data": rung.data,
                     f"memory ({params / 1e9:g}B)": memory, "compute (A100, 40%)": compute, "cost": rung.cost})
    return rows
