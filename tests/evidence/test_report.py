"""workbook.evidence.report and the `python -m workbook.evidence` command."""

from __future__ import annotations

import subprocess
import sys

from workbook.evidence.__main__ import main
from workbook.evidence.gates import validate_packet
from workbook.evidence.report import format_report


def test_report_lists_every_failure_and_the_verdict(tmp_path):
    report = format_report(validate_packet(tmp_path / "nowhere"))
    assert report.count("FAIL") == 7 and "does not exist" in report and report.endswith("0/7 gates passed.")


def test_cli_exit_code_follows_the_verdict(packet, tmp_path, capsys):
    assert main([str(packet)]) == 0
    assert "7/7 gates passed. The packet passes the gate." in capsys.readouterr().out
    assert main([str(tmp_path / "nowhere")]) == 1


def test_the_validator_imports_nothing_heavy():
    """Graders import the gates in a fresh kernel for every submission: no torch, transformers or matplotlib."""
    code = (
        "import sys, workbook.evidence.gates, workbook.evidence.report\n"
        "print(sorted({'torch', 'transformers', 'matplotlib'} & set(sys.modules)))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
