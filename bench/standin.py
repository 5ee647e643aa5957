"""Shape-faithful stand-ins for the course's models, for GPU machines that reach no model hub.

A stand-in has the real architecture (`bench/standins/NAME.json`, the fields of the model's config.json) and
random weights, built on the device in the compute dtype and saved as an ordinary checkpoint folder, so a step
loads it through the same `from_pretrained` call (with `quantization_config` for QLoRA) as the real model.
Its tokenizer is a byte-level BPE of 2,048 tokens trained here, in about a second, on the course's own data
(43 tokens per Lab 1 example against SmolLM2's 40: sequences slightly longer than the real ones), with the ChatML
template and default system prompt of the real model. It covers the first ids of the vocabulary, whose full size
stays as recorded, so the embeddings cost what they really cost. A stand-in measures memory and speed, never
quality: its answers are random tokens.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

from workbook.core.config import DATA_DIR
from workbook.core.io import read_jsonl

STANDINS = Path(__file__).parent / "standins"
TOKENIZER_VOCAB = 2048
BOS, END_OF_TURN, START_OF_TURN = "<|endoftext|>", "<|im_end|>", "<|im_start|>"
# `--tiny`: the same architecture family shrunk to 2 layers of width 64, for the CPU test.
TINY = {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
        "num_key_value_heads": 2, "head_dim": 16}  # fmt: skip
COMPLETE_MARKER = ".complete"
# ChatML with a default system turn, as in SmolLM2's and Qwen2.5's own templates.
CHAT_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nSYSTEM<|im_end|>\n' }}{% endif %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def spec(name: str) -> dict[str, Any]:
    """The recorded stand-in `name`: model_id, source, default_system and the config fields."""
    path = STANDINS / f"{name}.json"
    if not path.is_file():
        known = sorted(p.stem for p in STANDINS.glob("*.json"))
        raise ValueError(f"No stand-in {name!r} in {STANDINS}: choose one of {known}.")
    return json.loads(path.read_text(encoding="utf-8"))


def _course_texts() -> Iterator[str]:
    """Every string in the course's JSONL datasets, in a fixed order."""

    def strings(value: Any) -> Iterator[str]:
        if isinstance(value, str):
            yield value
        elif isinstance(value, dict | list):
            for item in value.values() if isinstance(value, dict) else value:
                yield from strings(item)

    for path in sorted(DATA_DIR.rglob("*.jsonl")):
        for row in read_jsonl(path):
            yield from strings(row)


@lru_cache(maxsize=4)
def build_tokenizer(default_system: str) -> Any:
    """A byte-level BPE of TOKENIZER_VOCAB tokens over the course data, with ChatML turns and `default_system`."""
    from transformers import PreTrainedTokenizerFast

    if "'" in default_system:
        raise ValueError("The default system prompt goes into a quoted template string: no single quotes.")
    empty = {
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": [], "normalizer": None,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
        "post_processor": None,
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                  "vocab": {}, "merges": []},
    }  # fmt: skip
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "tokenizer.json"
        path.write_text(json.dumps(empty), encoding="utf-8")
        base = PreTrainedTokenizerFast(tokenizer_file=str(path))
    tokenizer = base.train_new_from_iterator(
        _course_texts(), vocab_size=TOKENIZER_VOCAB, new_special_tokens=[BOS, START_OF_TURN, END_OF_TURN]
    )
    tokenizer.bos_token = BOS
    tokenizer.eos_token = tokenizer.pad_token = END_OF_TURN  # as the course's tokenizer: a turn ends generation
    tokenizer.chat_template = CHAT_TEMPLATE.replace("SYSTEM", default_system)
    return tokenizer


def materialise(name: str, folder: Path, device: str, dtype: Any, tiny: bool = False) -> Path:
    """Write stand-in `name` (random weights in `dtype`, built on `device`) and its tokenizer under `folder`, once.

    Returns the checkpoint folder, which `from_pretrained` loads like any local model.
    """
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    target = folder / (f"{name}-tiny" if tiny else name)
    if (target / COMPLETE_MARKER).is_file():
        return target
    recorded = spec(name)
    tokenizer = build_tokenizer(recorded["default_system"])
    fields = {**recorded["config"], **(TINY | {"vocab_size": len(tokenizer)} if tiny else {})}
    ids = {f"{role}_token_id": tokenizer.convert_tokens_to_ids(token)
           for role, token in (("bos", BOS), ("eos", END_OF_TURN), ("pad", END_OF_TURN))}  # fmt: skip
    config = AutoConfig.for_model(**fields, **ids)
    torch.manual_seed(0)
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(config, dtype=dtype)
    model.save_pretrained(target)
    tokenizer.save_pretrained(target)
    (target / COMPLETE_MARKER).write_text(f"stand-in for {recorded['model_id']}: random weights\n")
    del model
    return target
