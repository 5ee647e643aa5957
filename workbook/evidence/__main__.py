"""`python -m workbook.evidence [EVIDENCE_DIR]`: print the gate report; exit 1 unless every gate passes."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from workbook.core.config import ROOT
from workbook.evidence.gates import validate_packet
from workbook.evidence.report import format_report


def main(argv: Sequence[str] | None = None) -> int:
    """Validate EVIDENCE_DIR (default labs/evidence) and print the report."""
    args = list(sys.argv[1:] if argv is None else argv)
    folder = Path(args[0]) if args else ROOT / "labs" / "evidence"
    results = validate_packet(folder)
    print(f"Evidence packet: {folder}\n{format_report(results)}")
    return 0 if all(r.passed for r in results.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
