"""Lab 1's guards against a numerically broken run, each with what to change.

fp16 tops out at 65504. Qwen2.5 in fp16 can overflow on a T4 and then generates "!!!!" or nothing: the plain path
keeps the embeddings and the residual stream in fp32 (`prepare_model_for_kbit_training`), the Unsloth path does
not. The guards catch a non-finite training loss (`workbook.labs.callbacks.StopOnNonFiniteLoss`) and degenerate
generations, and stop the run with advice. Importing this module imports no transformers or torch.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from workbook.core.install import UNSLOTH_ENV
from workbook.core.runtime import Precision

FP32_ENV = "WORKBOOK_FP32"  # "1": compute in fp32 on the GPU, the fallback when fp16 overflows
LOSS_KEYS = ("loss", "eval_loss")


class BrokenRunError(RuntimeError):
    """The run produced losses or text that point to a numerical failure; the message says what to change."""


def fp32_compute(policy: Precision) -> Precision:
    """The same policy computing in fp32 (no fp16/bf16 autocast): slower and larger, but it cannot overflow fp16."""
    return replace(policy, compute_dtype="float32", bf16=False, fp16=False)


def overflow_advice(unsloth: bool, compute_dtype: str) -> str:
    """What to change when the numbers break, for this training path and compute dtype."""
    if unsloth:
        return (
            "The Unsloth path keeps the embeddings and the residual stream in fp16, which can overflow. Train "
            f"without it: run `os.environ.pop('{UNSLOTH_ENV}', None)`, restart the session (Runtime > Restart "
            "session: Unsloth has patched transformers) and run the notebook again from the top."
        )
    if compute_dtype == "float32":
        return (
            "The model already computes in fp32, so this is not an fp16 overflow: check that the model above "
            "loaded from the right checkpoint, and lower the learning rate if the loss curve climbs."
        )
    return (
        f"{compute_dtype} compute has most likely overflowed. Fall back to fp32 compute: run "
        f"`os.environ['{FP32_ENV}'] = '1'` and run the notebook again from the top (slower, more memory; a fresh "
        "run folder, since the compute dtype is part of the run name)."
    )


def _broken(answer: str) -> bool:
    text = "".join(answer.split())
    return not text or (len(text) >= 3 and len(set(text)) == 1)


def degenerate_output(answers: Sequence[str]) -> str | None:
    """Why these generations look numerically broken rather than merely weak, or None when they look like text.

    Broken: at least half the answers are empty or one character repeated ("!!!!"), or 3+ answers are all the same.
    """
    answers = list(answers)
    if not answers:
        return "there are no answers at all"
    broken = [a for a in answers if _broken(a)]
    if 2 * len(broken) >= len(answers):
        example = next((a.strip() for a in broken if a.strip()), "")
        return f"{len(broken)} of {len(answers)} answers are empty or one repeated character (e.g. {example[:40]!r})"
    if len(answers) >= 3 and len({a.strip() for a in answers}) == 1:
        return f"all {len(answers)} answers are the same text: {answers[0].strip()[:80]!r}"
    return None


def check_generations(answers: Sequence[str], stage: str, advice: str) -> None:
    """Raise BrokenRunError when the `stage` ("baseline", "tuned") answers are degenerate."""
    problem = degenerate_output(answers)
    if problem:
        raise BrokenRunError(f"The {stage} answers look broken: {problem}. {advice}")


def check_losses(logs: Mapping[str, Any], step: int, advice: str) -> None:
    """Raise BrokenRunError when a logged training or evaluation loss is NaN or infinite."""
    bad = {k: logs[k] for k in LOSS_KEYS if isinstance(logs.get(k), (int, float)) and not math.isfinite(logs[k])}
    if bad:
        found = ", ".join(f"{k} = {v}" for k, v in bad.items())
        raise BrokenRunError(f"Training stopped at step {step}: {found}. {advice}")
