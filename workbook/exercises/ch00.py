"""Chapter 00's exercises: the runtime, the model and its chat template."""

from __future__ import annotations

from workbook.core.runtime import precision
from workbook.exercises import Exercise


def _prompt_tokens(tokenizer, messages) -> int:
    return len(tokenizer.apply_chat_template(messages, tokenize=True, add_generation_prompt=True)["input_ids"])


EXERCISES = {
    1: Exercise(
        "the number of parameters of the loaded model",
        lambda model: sum(p.numel() for p in model.parameters()),
        "Sum `p.numel()` over `model.parameters()`.",
    ),
    2: Exercise(
        "the megabytes (1e6 bytes) the weights take in fp16",
        lambda model: sum(p.numel() for p in model.parameters()) * 2 / 1e6,
        "fp16 stores each parameter in 2 bytes; divide the byte count by 1e6.",
        rtol=0.01,
    ),
    3: Exercise(
        "how many tokens the model reads for `messages` with the chat template applied",
        _prompt_tokens,
        "apply_chat_template(messages, tokenize=True, add_generation_prompt=True) returns a dict: count its input_ids.",
    ),
    4: Exercise(
        "the compute dtype the course's precision policy picks on this runtime (e.g. 'float16')",
        lambda: precision().compute_dtype,
        "`workbook.core.runtime.precision()` returns the policy; look at its compute_dtype.",
    ),
}
