"""The recipes `python -m bench.gpu` measures: each notebook's training cell, its real TRL/PEFT calls and FAST steps.

Each recipe takes the run's Context and the model to load (a Hub id or a stand-in's folder) and returns its
figures: load time and footprint, steps, speed, losses, trainable dtypes, a finite check and its first answers.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.standin import materialise, spec
from workbook.core.config import DATA_DIR
from workbook.core.io import read_jsonl
from workbook.core.runtime import Precision

STANDIN_NOTE = "[stand-in, random weights: not a quality signal]"
SEED = 0


@dataclass
class Context:
    """What every step of one process shares."""

    policy: Precision
    cuda: bool
    hub: bool
    tiny: bool
    workdir: Path

    def source(self, model: str) -> str:
        """The model to load: the Hub id with --hub, else the stand-in's checkpoint folder (built once)."""
        if self.hub:
            return spec(model)["model_id"]
        device = "cuda" if self.cuda else "cpu"
        return str(materialise(model, self.workdir / "standins", device, self.policy.torch_dtype(), self.tiny))

    def output_dir(self, step: str) -> str:
        return str(self.workdir / "runs" / step)

    def label(self, text: str) -> str:
        return text if self.hub else f"{STANDIN_NOTE} {text}"


def load(ctx: Context, source: str, quantized: bool) -> tuple[Any, Any]:
    """Tokenizer and model as the notebooks load them: compute dtype, NF4 + double quant when asked, on GPU 0."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from workbook.core.models import keep_4bit_trainable_on_cpu, quantization_config

    dtype = ctx.policy.torch_dtype()
    kwargs: dict[str, Any] = {"dtype": dtype, "device_map": {"": 0} if ctx.cuda else None}
    if quantized:
        kwargs["quantization_config"] = quantization_config("nf4", dtype)
    model = AutoModelForCausalLM.from_pretrained(source, **kwargs)
    keep_4bit_trainable_on_cpu(model)  # a no-op on a GPU
    return AutoTokenizer.from_pretrained(source), model


def loaded(start: float, model: Any) -> dict[str, Any]:
    """Load time since `start` and the model's footprint."""
    seconds = time.perf_counter() - start
    return {"load_s": round(seconds, 2), "footprint_mb": round(model.get_memory_footprint() / 1e6, 1)}


def train(trainer: Any, ctx: Context) -> dict[str, Any]:
    """Fix the trainable dtypes by the policy, train, and report steps, speed, losses and the finite check."""
    import torch

    from workbook.core.runtime import keep_trainable_fp32
    from workbook.topics.lm import loss_history

    dtypes = keep_trainable_fp32(trainer.model, ctx.policy)  # before train() creates the optimizer
    start = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - start
    losses = [round(value, 4) for _, value in loss_history(trainer.state.log_history)["loss"]]
    trainable = [p for p in trainer.model.parameters() if p.requires_grad]
    finite = bool(losses) and all(map(math.isfinite, losses)) and all(bool(torch.isfinite(p).all()) for p in trainable)
    steps = trainer.state.global_step
    print(f"  {steps} steps in {seconds:.1f} s; loss per step: {losses}; trainable dtypes: {dtypes}")
    return {
        "steps": steps,
        "train_s": round(seconds, 2),
        "steps_per_s": round(steps / seconds, 3),
        "losses": losses,
        "trainable_params": sum(p.numel() for p in trainable),
        "trainable_dtypes": dtypes,
        "finite": finite,
    }


def answers(ctx: Context, model: Any, tokenizer: Any, prompts: list[str], max_new_tokens: int) -> dict[str, Any]:
    """Greedy answers to `prompts` in one batch (the course's generator), timed; the first two printed, labelled.

    A stand-in generates all `max_new_tokens` (it would otherwise stop at a random end-of-turn): the time is the
    budget's worst case.
    """
    from workbook.core.generation import generate_replies

    model.eval()
    start = time.perf_counter()
    replies = generate_replies(model, tokenizer, prompts, max_new_tokens=max_new_tokens,
                               min_new_tokens=None if ctx.hub else max_new_tokens)  # fmt: skip
    seconds = round(time.perf_counter() - start, 2)
    first = [ctx.label(reply[:160]) for reply in replies[:2]]
    for prompt, reply in zip(prompts, first, strict=False):
        print(f"  Q: {prompt}\n  A: {reply}")
    return {"generation_s": seconds, "generated": len(prompts), "first_answers": first}


def sft_config(ctx: Context, step: str, **recipe: Any) -> Any:
    """An SFTConfig with the recipe's settings and the course's common ones (policy flags, no saving)."""
    from trl import SFTConfig

    return SFTConfig(output_dir=ctx.output_dir(step), bf16=ctx.policy.bf16, fp16=ctx.policy.fp16,
                     use_cpu=ctx.policy.use_cpu, logging_steps=1, save_strategy="no", report_to="none",
                     disable_tqdm=True, seed=SEED, **recipe)  # fmt: skip


LAB1_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
LAB1_RECIPE = {"max_steps": 6, "per_device_train_batch_size": 8, "per_device_eval_batch_size": 16,
               "lr_scheduler_type": "cosine", "warmup_steps": 1, "optim": "adamw_torch", "max_length": 128,
               "eval_strategy": "steps", "eval_steps": 3}  # fmt: skip


def lab1(ctx: Context, source: str, unsloth: bool) -> dict[str, Any]:
    """Lab 1 FAST: NF4 + double quant, LoRA r16 on all 7 projections, 6 steps of batch 8 with 2 evals, 36 answers."""
    from peft import LoraConfig, prepare_model_for_kbit_training
    from trl import SFTTrainer

    from workbook.labs.data import load_compliance, prompt_completion

    data = load_compliance()
    start = time.perf_counter()
    if unsloth:
        from unsloth import FastLanguageModel

        # dtype: what Unsloth's dtype=None picks on real hardware, explicit so that T4 emulation reaches it too.
        model, tokenizer = FastLanguageModel.from_pretrained(
            source, max_seq_length=128, load_in_4bit=True, dtype=ctx.policy.torch_dtype()
        )
        result = loaded(start, model)
        FastLanguageModel.for_training(model)
        model = FastLanguageModel.get_peft_model(model, r=16, lora_alpha=32, lora_dropout=0.0,
                                                 target_modules=LAB1_TARGETS, use_gradient_checkpointing="unsloth",
                                                 random_state=SEED)  # fmt: skip
        peft_config = None
    else:
        tokenizer, model = load(ctx, source, quantized=True)
        result = loaded(start, model)
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=ctx.cuda)
        peft_config = LoraConfig(r=16, lora_alpha=32, lora_dropout=0.05, target_modules=LAB1_TARGETS,
                                 bias="none", task_type="CAUSAL_LM")  # fmt: skip
    args = sft_config(ctx, "lab1", learning_rate=2e-4 if ctx.cuda else 5e-4, gradient_checkpointing=ctx.cuda,
                      **LAB1_RECIPE)  # fmt: skip
    trainer = SFTTrainer(model=model, args=args, train_dataset=prompt_completion(data["train"]),
                         eval_dataset=prompt_completion(data["validation"]), processing_class=tokenizer,
                         peft_config=peft_config)  # fmt: skip
    result.update(train(trainer, ctx))
    if unsloth:
        FastLanguageModel.for_inference(trainer.model)
    questions = [row["question"] for row in data["locked_test"]]  # one batch: the lab generates 48 at a time
    result.update(answers(ctx, trainer.model, tokenizer, questions, max_new_tokens=24))
    return result


def ch05_qlora(ctx: Context, source: str) -> dict[str, Any]:
    """Chapter 05's QLoRA run: NF4 load, prepare_model_for_kbit_training, LoRA all-linear, 3 steps of batch 4."""
    from datasets import Dataset
    from peft import LoraConfig, prepare_model_for_kbit_training
    from trl import SFTTrainer

    start = time.perf_counter()
    tokenizer, qmodel = load(ctx, source, quantized=True)
    result = loaded(start, qmodel)
    qmodel = prepare_model_for_kbit_training(qmodel)
    lora = LoraConfig(r=16, lora_alpha=32, lora_dropout=0.05, target_modules="all-linear", task_type="CAUSAL_LM")
    args = sft_config(ctx, "ch05_qlora", max_steps=3, per_device_train_batch_size=4, learning_rate=1e-3,
                      max_length=128, optim="paged_adamw_8bit" if ctx.cuda else "adamw_torch",
                      gradient_checkpointing=True)  # fmt: skip
    rows = read_jsonl(DATA_DIR / "lora_style" / "train.jsonl", required=("messages",))
    trainer = SFTTrainer(model=qmodel, args=args, train_dataset=Dataset.from_list(rows), processing_class=tokenizer,
                         peft_config=lora)  # fmt: skip
    result.update(train(trainer, ctx))
    result.update(answers(ctx, trainer.model, tokenizer, ["Why does metal feel colder than wood?"], 40))
    return result


def sft_lora(ctx: Context, source: str) -> dict[str, Any]:
    """Chapters 02/04: the unquantized model, LoRA r16 all-linear, 5 steps of batch 4 on prompt/completion pairs."""
    from peft import LoraConfig
    from trl import SFTTrainer

    from workbook.labs.data import prompt_completion

    start = time.perf_counter()
    tokenizer, model = load(ctx, source, quantized=False)
    result = loaded(start, model)
    lora = LoraConfig(r=16, lora_alpha=32, lora_dropout=0.0, target_modules="all-linear", task_type="CAUSAL_LM")
    args = sft_config(ctx, "sft_lora", max_steps=5, per_device_train_batch_size=4, learning_rate=1e-3,
                      lr_scheduler_type="constant", max_length=128, completion_only_loss=True,
                      gradient_checkpointing=False)  # fmt: skip
    rows = read_jsonl(DATA_DIR / "sft_legal" / "train.jsonl", required=("question", "answer"))
    trainer = SFTTrainer(model=model, args=args, train_dataset=prompt_completion(rows), processing_class=tokenizer,
                         peft_config=lora)  # fmt: skip
    result.update(train(trainer, ctx))
    result.update(answers(ctx, trainer.model, tokenizer, [rows[0]["question"]], 40))
    return result


def ch03_dpo(ctx: Context, source: str) -> dict[str, Any]:
    """Chapter 03's DPO: a LoraConfig r8 on q/k/v/o, beta 0.1, 4 steps of batch 2 on conversational pairs."""
    from datasets import Dataset
    from peft import LoraConfig
    from trl import DPOConfig, DPOTrainer

    start = time.perf_counter()
    tokenizer, model = load(ctx, source, quantized=False)
    result = loaded(start, model)
    pairs = [r for r in read_jsonl(DATA_DIR / "preferences" / "pairs.jsonl") if r["split"] == "train"]
    turns = [{"prompt": [{"role": "user", "content": r["prompt"]}],
              "chosen": [{"role": "assistant", "content": r["chosen"]}],
              "rejected": [{"role": "assistant", "content": r["rejected"]}]} for r in pairs]  # fmt: skip
    lora = LoraConfig(r=8, lora_alpha=16, lora_dropout=0.0, target_modules=["q_proj", "k_proj", "v_proj", "o_proj"],
                      task_type="CAUSAL_LM")  # fmt: skip
    args = DPOConfig(output_dir=ctx.output_dir("ch03_dpo"), beta=0.1, learning_rate=5e-4, per_device_train_batch_size=2,
                     max_steps=4, max_length=128, logging_steps=1, lr_scheduler_type="constant",
                     bf16=ctx.policy.bf16, fp16=ctx.policy.fp16, use_cpu=ctx.policy.use_cpu, report_to="none",
                     save_strategy="no", disable_tqdm=True, seed=SEED)  # fmt: skip
    trainer = DPOTrainer(model=model, args=args, train_dataset=Dataset.from_list(turns), processing_class=tokenizer,
                         peft_config=lora)  # fmt: skip
    result.update(train(trainer, ctx))
    result.update(answers(ctx, trainer.model, tokenizer, [pairs[0]["prompt"]], 32))
    return result


def ch08_unsloth(ctx: Context, source: str) -> dict[str, Any]:
    """Chapter 08's Unsloth cell: 4-bit load, LoRA r16 on q/k/v/o, 3 steps of batch 1."""
    from unsloth import FastLanguageModel  # noqa: I001 (first, as in the chapter: Unsloth patches TRL on import)

    from datasets import Dataset
    from trl import SFTTrainer

    start = time.perf_counter()
    model, tokenizer = FastLanguageModel.from_pretrained(model_name=source, max_seq_length=512, load_in_4bit=True,
                                                         dtype=ctx.policy.torch_dtype())  # fmt: skip
    result = loaded(start, model)
    model = FastLanguageModel.get_peft_model(model, r=16, lora_alpha=32, lora_dropout=0,
                                             target_modules=["q_proj", "k_proj", "v_proj", "o_proj"],
                                             use_gradient_checkpointing="unsloth")  # fmt: skip
    rows = [{"messages": [{"role": "user", "content": "Name a colour."}, {"role": "assistant", "content": "Blue."}]}]
    args = sft_config(ctx, "ch08_unsloth", max_steps=3, per_device_train_batch_size=1)
    trainer = SFTTrainer(model=model, args=args, train_dataset=Dataset.from_list(rows * 8), processing_class=tokenizer)
    result.update(train(trainer, ctx))
    FastLanguageModel.for_inference(trainer.model)
    result.update(answers(ctx, trainer.model, tokenizer, ["Name a colour."], 16))
    return result


@dataclass(frozen=True)
class Step:
    """A recipe, the model it loads on a GPU (a stand-in name) and its branch ("unsloth" runs in its own process)."""

    branch: str
    model: str
    run: Callable[[Context, str], dict[str, Any]]


STEPS = {
    "lab1_plain": Step("plain", "qwen2.5-1.5b-instruct", lambda ctx, source: lab1(ctx, source, unsloth=False)),
    "lab1_unsloth": Step("unsloth", "qwen2.5-1.5b-instruct", lambda ctx, source: lab1(ctx, source, unsloth=True)),
    "ch05_qlora": Step("plain", "smollm2-135m-instruct", ch05_qlora),  # chapter 05 loads the offline model, GPU too
    "sft_lora": Step("plain", "smollm2-1.7b-instruct", sft_lora),  # chapter 04's course_model_id() on a GPU
    "ch03_dpo": Step("plain", "smollm2-135m-instruct", ch03_dpo),  # chapter 03's load_model(): the offline model
    "ch08_unsloth": Step("unsloth", "smollm2-135m-instruct", ch08_unsloth),  # unsloth/SmolLM2-135M-Instruct
}
