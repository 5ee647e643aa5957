"""Lab 1 trainer callbacks. This module imports transformers: import it only where a trainer is built."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from workbook.core.io import now_iso
from workbook.labs.health import check_losses
from workbook.labs.runs import update_run_info


class StampLogs(TrainerCallback):
    """Stamps each trainer log entry with `logged_at` (UTC ISO time) and records when training first started.

    The stamps live in `state.log_history`, so they are saved in every checkpoint and survive a resume.
    """

    def __init__(self, output_dir: str | Path):
        self.output_dir = Path(output_dir)

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        update_run_info(self.output_dir, training_started_at=now_iso())

    def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kwargs: Any) -> None:
        if state.log_history and "logged_at" not in state.log_history[-1]:
            state.log_history[-1]["logged_at"] = now_iso()


class InterruptAfter(TrainerCallback):
    """Raises KeyboardInterrupt after `steps` optimizer steps: a stand-in for a Colab disconnect (tests, demos)."""

    def __init__(self, steps: int):
        self.steps = steps

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if state.global_step >= self.steps:
            raise KeyboardInterrupt(f"simulated disconnect after step {state.global_step}")


class StopOnNonFiniteLoss(TrainerCallback):
    """Stops training with BrokenRunError (and `advice`, what to change) as soon as a logged loss is NaN or inf.

    Needs `logging_nan_inf_filter=False` in the trainer's arguments: by default the trainer logs a NaN step's loss
    as the running average (0.0 when every step is NaN), which hides exactly what this callback looks for.
    """

    def __init__(self, advice: str):
        self.advice = advice

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if args.logging_nan_inf_filter:
            raise ValueError("StopOnNonFiniteLoss needs logging_nan_inf_filter=False in the trainer config.")

    def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kwargs: Any) -> None:
        check_losses(logs or {}, state.global_step, self.advice)
