"""Benchmark Lab 1 headless on this machine: FAST and full wall time, baseline vs tuned scores, gate verdict.

    .venv/bin/python -m bench.lab1 [--modes fast full]

Each mode runs the notebook from scratch (a fresh checkpoint folder, offline) and reads the packet it leaves in
labs/evidence/. Results go to bench/results/lab1.json. The full run goes last, so its packet is the one left.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

from bench.machine import describe
from workbook.core.config import ROOT
from workbook.evidence.gates import validate_packet

EVIDENCE = ROOT / "labs" / "evidence"
NOTEBOOK = ROOT / "labs" / "lab1_qlora_sft.ipynb"
BUDGET_S = {"fast": 180, "full": 900}


def run_mode(mode: str) -> dict[str, object]:
    """Run the notebook once in `mode` with fresh checkpoints; return times, scores and the gate verdict."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "CUDA_VISIBLE_DEVICES": ""}
    env.pop("WORKBOOK_FAST", None)
    command = [sys.executable, "-m", "workbook.core.notebook_runner", str(NOTEBOOK)]
    command += ["--fast"] if mode == "fast" else []
    with tempfile.TemporaryDirectory(prefix=f"lab1-{mode}-") as outputs:
        env["LAB1_OUTPUT_ROOT"] = outputs
        start = time.perf_counter()
        done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
        wall = round(time.perf_counter() - start, 1)
    result: dict[str, object] = {"wall_s": wall, "budget_s": BUDGET_S[mode], "ok": done.returncode == 0}
    if done.returncode != 0:
        result["error"] = (done.stderr or done.stdout)[-2000:]
        return result
    evaluation = json.loads((EVIDENCE / "eval_results.json").read_text())
    manifest = json.loads((EVIDENCE / "manifest.json").read_text())
    agg = evaluation["aggregate"]
    gates = validate_packet(EVIDENCE)
    result.update(
        {
            "steps": manifest["run"]["global_step"],
            "wall_times": manifest["wall_times"],
            "loss_first_last": [manifest["loss_curve"]["first_loss"], manifest["loss_curve"]["last_loss"]],
            "locked_test": {label: agg[label] for label in ("baseline", "tuned")},
            "delta_score": agg["delta_score"],
            "improved_regressed": [agg["improved"], agg["regressed"]],
            "by_coverage": {c: {"baseline": p["baseline"]["score"], "tuned": p["tuned"]["score"]}
                            for c, p in evaluation["by_coverage"].items()},
            "general_score": {k: evaluation["regression"]["general"][k]["aggregate"]["score"]
                              for k in ("baseline", "tuned")},
            "forgetting_guard": evaluation["regression"]["forgetting_guard"],
            "gates_passed": [name for name, r in gates.items() if r.passed],
            "gates_failed": [name for name, r in gates.items() if not r.passed],
        }
    )
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modes", nargs="+", default=["fast", "full"], choices=["fast", "full"])
    args = parser.parse_args()
    report: dict[str, object] = {"machine": describe(), "model": "SmolLM2-135M-Instruct, NF4 on CPU"}
    for mode in args.modes:
        print(f"running {mode} ...", flush=True)
        report[mode] = run_mode(mode)
        print(json.dumps(report[mode], indent=2)[:1500], flush=True)
    target = ROOT / "bench" / "results" / "lab1.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {target}")
    return 0 if all(report[m]["ok"] for m in args.modes) else 1


if __name__ == "__main__":
    sys.exit(main())
