"""`python -m workbook.evidence [EVIDENCE_DIR] [--lab lab1|lab2|lab3]`: print the gate report of one lab's section
of the packet (default Lab 1's); exit 1 unless every gate passes."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from workbook.core.config import ROOT
from workbook.evidence.gates import validate_packet
from workbook.evidence.report import format_report
from workbook.evidence.schema import LAB_GATES


def main(argv: Sequence[str] | None = None) -> int:
    """Validate a lab's section of EVIDENCE_DIR (default labs/evidence) and print the report."""
    parser = argparse.ArgumentParser(prog="python -m workbook.evidence", description=__doc__.splitlines()[0])
    parser.add_argument("evidence", nargs="?", type=Path, default=ROOT / "labs" / "evidence",
                        help="the evidence folder (Lab 1's packet, holding the later labs' sections)")
    parser.add_argument("--lab", choices=list(LAB_GATES), default="lab1")
    args = parser.parse_args(argv)
    results = validate_packet(args.evidence, lab=args.lab)
    print(f"Evidence packet: {args.evidence} ({args.lab})\n{format_report(results)}")
    return 0 if all(r.passed for r in results.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
