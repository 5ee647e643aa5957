"""What a Lab 1 evidence packet holds: its files, the gates, the keys each file must carry, and GateResult."""

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
