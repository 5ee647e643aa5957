"""What an instructor command did: who it processed, who it skipped and why (the command then exits 1)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Outcome:
    """Students (or uploads) done and skipped by one command, with nbgrader's log and notes on what was changed."""

    command: str
    done: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    log: str = ""
    notes: list[str] = field(default_factory=list)
    paths: list[Path] = field(default_factory=list)

    def report(self) -> None:
        for note in self.notes:
            print(f"note: {note}")
        for who, why in sorted(self.skipped.items()):
            print(f"SKIPPED {who}: {why}")
        print(f"{self.command}: {len(self.done)} done, {len(self.skipped)} skipped"
              + (f" ({', '.join(sorted(self.skipped))})" if self.skipped else ""))

    @property
    def stderr(self) -> str:
        """nbgrader's log (what the commands returned before they returned an Outcome)."""
        return self.log


def error_lines(log: str, limit: int = 3) -> str:
    """The most telling lines of an nbgrader log: its last exception lines, else its last ERROR lines."""
    lines = [line.strip() for line in log.splitlines() if line.strip()]
    errors = [line for line in lines if ("Error" in line or "Exception" in line) and not line.startswith(
        ("Traceback", "["))]
    errors = errors or [line for line in lines if "ERROR" in line]
    return " / ".join(errors[-limit:])[-600:] or "nbgrader gave no reason (see its log)"
