"""What each lab's evidence packet holds: its files, the gates, the keys each file must carry, and GateResult.

Lab 1's packet is the evidence folder; Lab 2 and Lab 3 add their sections `evidence/lab2/` and `evidence/lab3/`
(workbook.labs.lineage), each manifest linked by sha256 to the previous lab's.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from workbook.core.config import DATA_DIR

GATES = ("environment", "baseline", "evaluation", "regression", "reproducibility", "failure_analysis", "rollback")

PACKET_FILES = (
    "environment.json",
    "data_card.md",
    "data_card.json",
    "baseline.jsonl",
    "training_log.jsonl",
    "loss_curve.png",
    "eval_results.json",
    "failure_analysis.md",
    "rollback.md",
    "manifest.json",
)
DEFAULT_LOCKED_TEST = DATA_DIR / "compliance" / "locked_test.jsonl"

ENVIRONMENT_KEYS = ("platform", "python", "device", "gpu", "compute_dtype", "fast", "packages", "seed")
REQUIRED_PACKAGES = ("torch", "transformers", "peft", "trl", "bitsandbytes")
HYPERPARAMETER_KEYS = (
    "learning_rate",
    "num_train_epochs",
    "max_steps",
    "per_device_train_batch_size",
    "gradient_accumulation_steps",
    "max_length",
    "lr_scheduler_type",
    "warmup_steps",
    "optim",
    "lora_r",
    "lora_alpha",
    "lora_dropout",
    "target_modules",
    "quantization",
    "compute_dtype",
    "max_new_tokens",
)
WALL_TIME_KEYS = ("baseline_s", "training_s", "evaluation_s", "training_started_at")
MIN_FAILURE_CASES = 3

# ---- Lab 2: preference alignment (evidence/lab2/)
LAB2_GATES = ("picks", "reward_model", "dpo_lineage", "dpo_evaluation", "dpo_regression", "dpo_failure_analysis",
              "dpo_reproducibility")
LAB2_FILES = (
    "environment.json",
    "picks.jsonl",
    "reward_model.json",
    "training_log.jsonl",
    "eval_results.json",
    "failure_analysis.md",
    "manifest.json",
)
LAB2_PACKAGES = ("torch", "transformers", "peft", "trl")
LAB2_HYPERPARAMETER_KEYS = ("beta", "learning_rate", "max_steps", "num_train_epochs", "per_device_train_batch_size",
                            "max_length", "loss_type", "seed")
LAB2_WALL_TIME_KEYS = ("picks_s", "reward_model_s", "training_s", "evaluation_s", "training_started_at")
PICKS_SOURCE = "lab1-model"  # the pairs the student judges are the Lab 1 model's own answers
MIN_PICKS = 4  # A/B picks (ties and skips apart) a reward model and DPO need at the very least
TRAIN_SET = "train.jsonl"  # the prompts pairs are generated for (beside the locked test set)
PREFERENCE_PAIRS = "preference_pairs.jsonl"  # the shipped human-labelled held-out pairs (split "test")
SFT_LABEL = "lab1-sft"  # the Lab 1 SFT model: Lab 2's KL reference, Lab 3's rollback target

# ---- Lab 3: ship and roll back (evidence/lab3/)
LAB3_GATES = ("export_integrity", "server", "quantization_decision", "model_card", "rollback_drill",
              "ship_reproducibility")
LAB3_FILES = (
    "environment.json",
    "export.json",
    "parity.json",
    "server.json",
    "model_card.md",
    "rollback_drill.json",
    "rollback.md",
    "manifest.json",
)
GGUF_LEVELS = ("F16", "Q8_0", "Q4_K_M")  # largest file first
PARITY_VARIANTS = ("hf", "Q8_0", "Q4_K_M")
TASK_GATE_MAX_DROP = 0.03  # a variant passes when its locked-test score is at most this far below the HF model's
SERVER_HOST = "127.0.0.1"
MODEL_CARD_KEYS = ("license", "base_model", "library_name", "tags", "language", "pipeline_tag")
MODEL_CARD_SECTIONS = ("Intended use", "Training data", "Training procedure", "Evaluation", "Limitations", "Hashes")

LAB_GATES = {"lab1": GATES, "lab2": LAB2_GATES, "lab3": LAB3_GATES}
LAB_FILES = {"lab1": PACKET_FILES, "lab2": LAB2_FILES, "lab3": LAB3_FILES}

# The line the notebook pre-fills under each failure case; the student replaces it with their explanation.
AUTO_MARKER = "<!-- AUTO-DIAGNOSIS: replace this paragraph with your own explanation, then delete this line -->"
# The PNG text chunk of loss_curve.png that carries the plotted points.
LOSS_POINTS_KEY = "workbook:loss_points"


@dataclass
class GateResult:
    """One gate's verdict. `score` is partial credit on 0..1; `failures` say exactly what is wrong.

    `notes` carry advice that does not fail the gate (e.g. an explanation still auto-generated).
    """

    name: str
    passed: bool
    score: float  # 0..1 partial credit
    failures: list[str]
    notes: list[str] = field(default_factory=list)
