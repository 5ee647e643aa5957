"""The gate report as text: what the notebook, the self-check, the graders and the CLI print."""

from __future__ import annotations

from workbook.evidence.schema import GateResult


def format_report(results: dict[str, GateResult]) -> str:
    """One line per gate, then one line per failure or note."""
    lines = []
    width = max([17, *(len(name) + 1 for name in results)])
    for result in results.values():
        lines.append(f"{'PASS' if result.passed else 'FAIL'}  {result.name:<{width}} score {result.score:.2f}")
        lines += [f"      - {failure}" for failure in result.failures]
        lines += [f"      * note: {note}" for note in result.notes]
    passed = sum(r.passed for r in results.values())
    verdict = " The packet passes the gate." if passed == len(results) else ""
    lines.append(f"{passed}/{len(results)} gates passed.{verdict}")
    return "\n".join(lines)
