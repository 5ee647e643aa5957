"""Parameter counts of Llama-style models from their shapes, and the QLoRA hardware table built on them.

Memory figures come from `workbook.topics.memory` (`training_memory`, `full_finetune_memory`: the chapter 02
calculator); this module only decides what to feed it: which parameters are quantized, which stay in 16 bits,
how many LoRA trains.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from workbook.topics.memory import (
    GB,
    OPTIMIZER_BYTES,
    PRECISION_BYTES,
    MemoryEstimate,
    double_quant_saving_gb,
    full_finetune_memory,
    training_memory,
)

ATTENTION = ("q_proj", "k_proj", "v_proj", "o_proj")
MLP = ("gate_proj", "up_proj", "down_proj")
ALL_LINEAR = ATTENTION + MLP


@dataclass(frozen=True)
class LlamaShape:
    """The numbers that fix a Llama-style decoder's parameter count (from each model's config.json)."""

    name: str
    hidden: int
    intermediate: int
    layers: int
    heads: int
    kv_heads: int
    vocab: int
    tied_embeddings: bool = False

    @property
    def kv_dim(self) -> int:
        return self.hidden // self.heads * self.kv_heads

    def projections(self) -> dict[str, tuple[int, int]]:
        """(out_features, in_features) of each linear layer in one decoder block."""
        h, i, kv = self.hidden, self.intermediate, self.kv_dim
        return {
            "q_proj": (h, h),
            "k_proj": (kv, h),
            "v_proj": (kv, h),
            "o_proj": (h, h),
            "gate_proj": (i, h),
            "up_proj": (i, h),
            "down_proj": (h, i),
        }

    @classmethod
    def from_config(cls, config: Any, name: str) -> LlamaShape:
        """The shape of a loaded model, read from its transformers config (whatever model the runtime chose)."""
        return cls(
            name,
            config.hidden_size,
            config.intermediate_size,
            config.num_hidden_layers,
            config.num_attention_heads,
            config.num_key_value_heads,
            config.vocab_size,
            tied_embeddings=bool(config.tie_word_embeddings),
        )

    def counts(self) -> dict[str, int]:
        """Parameters by kind: the linear layers (what 4-bit quantization touches) and the rest."""
        linear = self.layers * sum(d * k for d, k in self.projections().values())
        embeddings = self.vocab * self.hidden
        lm_head = 0 if self.tied_embeddings else self.vocab * self.hidden
        norms = (2 * self.layers + 1) * self.hidden
        return {
            "linear": linear,
            "embeddings": embeddings,
            "lm_head": lm_head,
            "norms": norms,
            "total": linear + embeddings + lm_head + norms,
        }

    def lora_params(self, r: int, targets: tuple[str, ...] = ALL_LINEAR) -> int:
        """Trainable LoRA numbers: r(d + k) for every targeted projection in every layer."""
        if r < 1:
            raise ValueError(f"LoRA rank must be at least 1, got {r}.")
        shapes = self.projections()
        unknown = sorted(set(targets) - set(shapes))
        if unknown:
            raise ValueError(f"Unknown target modules {unknown}; choose from {sorted(shapes)}.")
        return self.layers * sum(r * (shapes[t][0] + shapes[t][1]) for t in targets)


# From each model's published config.json.
SMOLLM2_135M = LlamaShape("SmolLM2-135M", 576, 1536, 30, 9, 3, 49152, tied_embeddings=True)
LLAMA_31_8B = LlamaShape("Llama-3.1-8B", 4096, 14336, 32, 32, 8, 128256)
LLAMA_2_13B = LlamaShape("Llama-2-13B", 5120, 13824, 40, 40, 40, 32000)
CODELLAMA_34B = LlamaShape("CodeLlama-34B", 8192, 22016, 48, 64, 8, 32000)
LLAMA_31_70B = LlamaShape("Llama-3.1-70B", 8192, 28672, 80, 64, 8, 128256)
TABLE_MODELS = (LLAMA_31_8B, LLAMA_2_13B, CODELLAMA_34B, LLAMA_31_70B)

# Cards by memory, smallest first; "fits" keeps HEADROOM of the card free for activations and the CUDA context.
GPUS: tuple[tuple[float, str], ...] = (
    (8, "8 GB (RTX 4060)"),
    (12, "12 GB (RTX 3060)"),
    (16, "16 GB (T4, RTX 4060 Ti 16GB)"),
    (24, "24 GB (RTX 3090/4090)"),
    (48, "48 GB (RTX A6000/L40S)"),
    (80, "80 GB (A100/H100)"),
)
HEADROOM = 0.25


# Bytes per trainable adapter number under the course precision policy (fp32 adapters on CPU and on a T4):
# fp32 weight + fp32 gradient + Adam's m and v in fp32. A bf16 adapter with an fp32 master copy costs the same 16.
ADAPTER_BYTES = PRECISION_BYTES["fp32"] * 2 + OPTIMIZER_BYTES["adam"]


def qlora_memory(
    shape: LlamaShape, r: int = 16, targets: tuple[str, ...] = ALL_LINEAR, upcast: bool = True
) -> MemoryEstimate:
    """QLoRA before activations: linear layers in NF4 + double quantization, Adam on fp32 LoRA adapters.

    upcast=True is PEFT's recipe: `prepare_model_for_kbit_training` casts every parameter that is not 4-bit to
    fp32 (embeddings, an untied lm_head, norms). upcast=False keeps them in bf16 (a model not prepared that way).
    """
    counts = shape.counts()
    trainable = shape.lora_params(r, targets)
    unquantized = counts["embeddings"] + counts["lm_head"] + counts["norms"]
    kept = "fp32" if upcast else "bf16"
    parts = {
        "linear layers (NF4 + double quant)": counts["linear"] * PRECISION_BYTES["nf4-dq"],
        f"embeddings, lm_head, norms ({kept})": unquantized * PRECISION_BYTES[kept],
        "adapter weights (fp32)": trainable * PRECISION_BYTES["fp32"],
        "adapter gradients (fp32)": trainable * PRECISION_BYTES["fp32"],
        "Adam m": trainable * OPTIMIZER_BYTES["adam"] / 2,
        "Adam v": trainable * OPTIMIZER_BYTES["adam"] / 2,
    }
    return MemoryEstimate(parts=parts, notes=["(activations, CUDA context and fragmentation not included)"])


def upcast_cost_gb(shape: LlamaShape) -> float:
    """What PEFT's fp32 upcast adds over keeping the unquantized parameters in bf16, in GB."""
    return qlora_memory(shape).total_gb - qlora_memory(shape, upcast=False).total_gb


def lora_memory(shape: LlamaShape, r: int = 16, targets: tuple[str, ...] = ALL_LINEAR) -> MemoryEstimate:
    """16-bit LoRA: every weight in bf16, Adam on the adapters only."""
    return training_memory(shape.counts()["total"], "bf16", trainable_params=shape.lora_params(r, targets))


def smallest_gpu(total_gb: float, headroom: float = HEADROOM) -> str:
    """The smallest card in GPUS whose memory, less the headroom share, holds `total_gb`."""
    if total_gb <= 0:
        raise ValueError(f"Memory must be positive, got {total_gb}.")
    for size, label in GPUS:
        if total_gb <= size * (1 - headroom):
            return label
    cards = -(-total_gb // (80 * (1 - headroom)))
    return f"{int(cards)} x 80 GB"


def hardware_table(r: int = 16, targets: tuple[str, ...] = ALL_LINEAR) -> list[dict[str, object]]:
    """One row per model: parameters, LoRA size, memory for full FT / 16-bit LoRA / QLoRA, smallest card."""
    rows = []
    for shape in TABLE_MODELS:
        counts = shape.counts()
        qlora = qlora_memory(shape, r, targets).total_gb
        lora = lora_memory(shape, r, targets).total_gb
        rows.append(
            {
                "model": shape.name,
                "params (B)": round(counts["total"] / 1e9, 2),
                f"LoRA r={r} params (M)": round(shape.lora_params(r, targets) / 1e6, 1),
                "bf16 weights (GB)": round(counts["total"] * 2 / GB, 1),
                "full FT, Adam (GB)": round(full_finetune_memory(counts["total"] / 1e9).total_gb, 1),
                "LoRA bf16 (GB)": round(lora, 1),
                "QLoRA (GB)": round(qlora, 1),
                "smallest card, LoRA bf16": smallest_gpu(lora),
                "smallest card, QLoRA": smallest_gpu(qlora),
            }
        )
    return rows


def _approx(value: float, share: float = 0.1) -> tuple[float, float]:
    """The range a "~value" figure covers: within `share` of it."""
    return value * (1 - share), value * (1 + share)


def seed_002_claims(r: int = 16) -> list[dict[str, object]]:
    """Seed 002's QLoRA figures next to what the calculators give; "holds" says whether the seed's range does.

    "~X" figures count as X within 10%; ranges ("4-5 GB") as written. QLoRA rows use PEFT's recipe (fp32 upcast).
    """
    lora_8b, qlora_8b = lora_memory(LLAMA_31_8B, r).total_gb, qlora_memory(LLAMA_31_8B, r).total_gb
    lora_70b, qlora_70b = lora_memory(LLAMA_31_70B, r).total_gb, qlora_memory(LLAMA_31_70B, r).total_gb
    weights_8b = LLAMA_31_8B.counts()["total"] * PRECISION_BYTES["bf16"] / GB
    nf4_weights_8b = qlora_memory(LLAMA_31_8B, r, upcast=False).parts
    stored_8b = (nf4_weights_8b["linear layers (NF4 + double quant)"]
                 + nf4_weights_8b["embeddings, lm_head, norms (bf16)"]) / GB  # fmt: skip
    claims: list[tuple[str, str, tuple[float, float], float, str]] = [
        ("full fine-tuning of 70B", "~1,400 GB", _approx(1400), full_finetune_memory(
            LLAMA_31_70B.counts()["total"] / 1e9).total_gb, "GB"),
        ("LoRA on 70B in 16-bit", "~160 GB", _approx(160), lora_70b, "GB"),
        ("QLoRA on 70B", "~48 GB", _approx(48), qlora_70b, "GB"),
        ("QLoRA saves over 16-bit LoRA (70B)", "4-8x", (4, 8), lora_70b / qlora_70b, "x"),
        ("QLoRA saves over 16-bit LoRA (8B)", "4-8x", (4, 8), lora_8b / qlora_8b, "x"),
        ("4-bit base: weights shrink (8B, bf16 -> NF4)", "4x", (3.8, 4.2), weights_8b / stored_8b, "x"),
        ("double quantization saves (8B)", "~0.5-1 GB", (0.5, 1.0),
         double_quant_saving_gb(LLAMA_31_8B.counts()["linear"]), "GB"),
        ("double quantization saves (70B)", "~0.5-1 GB", (0.5, 1.0),
         double_quant_saving_gb(LLAMA_31_70B.counts()["linear"]), "GB"),
        ("QLoRA on 8B (Unsloth example)", "~8-10 GB", (8, 10), qlora_8b, "GB"),
        ("table: 7-8B with QLoRA", "~4-5 GB", (4, 5), qlora_8b, "GB"),
        ("table: 13B with QLoRA", "~8 GB", _approx(8), qlora_memory(LLAMA_2_13B, r).total_gb, "GB"),
        ("table: 34B with QLoRA", "~20 GB", _approx(20), qlora_memory(CODELLAMA_34B, r).total_gb, "GB"),
        ("table: 70B with QLoRA", "~40 GB", _approx(40), qlora_70b, "GB"),
        ("table: 7-8B without QLoRA (bf16 weights)", "~14 GB", _approx(14), weights_8b, "GB"),
        ("table: 70B without QLoRA (bf16 weights)", "~140 GB", _approx(140),
         LLAMA_31_70B.counts()["total"] * 2 / GB, "GB"),
        ("trainable params, Llama-3-8B, r=16 all linear", "83,886,080", (83_886_080, 83_886_080),
         LLAMA_31_8B.lora_params(16), "params"),
    ]  # fmt: skip
    return [
        {"claim": claim, "seed": seed, "computed": round(value, 2), "unit": unit, "holds": low <= value <= high}
        for claim, seed, (low, high), value, unit in claims
    ]
