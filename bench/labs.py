"""Benchmark the lab chain headless on this machine: Lab 1 -> Lab 2 -> Lab 3 from scratch, wall time per lab against
its budget, the figures each lab's packet records, and every gate's verdict.

    .venv/bin/python -m bench.labs [--modes fast full]

Each mode copies the three notebooks into a temporary folder and runs them there in order, offline, with fresh
checkpoint and export folders, so the packet (tmp/evidence) starts empty and nothing in labs/ is touched. Results go
to bench/results/labs.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.machine import describe
from workbook.core.config import ROOT
from workbook.evidence.gates import validate_packet
from workbook.labs.lineage import NOTEBOOKS, section

BUDGET_S = {"fast": 180, "full": 1200}  # issue 16: FAST under 3 minutes per lab, full under 20


def _json(folder: Path, name: str) -> Any:
    return json.loads((folder / name).read_text(encoding="utf-8"))


def lab2_figures(folder: Path) -> dict[str, Any]:
    results, reward = _json(folder, "eval_results.json"), _json(folder, "reward_model.json")
    locked = results["locked_test"]["aggregate"]
    return {
        "picks": sum(1 for line in (folder / "picks.jsonl").read_text().splitlines() if line.strip()),
        "reward_model": {"heldout_accuracy": reward["heldout"]["accuracy"], "ci95": reward["heldout"]["ci95"],
                         "baselines": reward["baselines"], "beats_baselines": reward["beats_baselines"]},
        "win_rate": {judge: {k: v for k, v in record.items() if k in ("wins", "losses", "ties", "n", "rate", "ci95")}
                     for judge, record in results["win_rate"].items()},
        "mean_token_kl": results["kl"]["mean_token_kl"],
        "locked_test_score": {"sft": locked["baseline"]["score"], "dpo": locked["tuned"]["score"]},
        "forgetting_guard": results["regression"]["forgetting_guard"]["passed"],
        "wall_times": _json(folder, "manifest.json")["wall_times"],
    }


def lab3_figures(folder: Path) -> dict[str, Any]:
    server, parity = _json(folder, "server.json"), _json(folder, "parity.json")
    drill = _json(folder, "rollback_drill.json")
    load = server["load_test"]
    return {
        "sizes_mb": {f["level"]: round(f["size_bytes"] / 1e6, 1) for f in _json(folder, "export.json")["files"]},
        "parity": {name: {"score": v["aggregate"]["score"], "passes_task_gate": v["passes_task_gate"]}
                   for name, v in parity["variants"].items()},
        "decision": parity["decision"]["chosen"],
        "server": {"ready_s": server["ready_s"], "first_token_s": server["first_token_s"]},
        "load_test": {k: load[k] for k in ("requests", "concurrency", "max_tokens", "p50_ms", "p95_ms",
                                            "tokens_per_s", "errors")},
        "rollback_s": {step["action"]: step["seconds"] for step in drill["steps"]},
        "drill_passed": drill["passed"],
        "wall_times": _json(folder, "manifest.json")["wall_times"],
    }


FIGURES = {"lab2": lab2_figures, "lab3": lab3_figures}


def run_chain(mode: str) -> dict[str, Any]:
    """Run Lab 1, 2 and 3 in `mode` in a scratch folder; stop at the first lab that fails."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "CUDA_VISIBLE_DEVICES": ""}
    env.pop("WORKBOOK_FAST", None)
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix=f"labs-{mode}-") as tmp:
        work, env["LAB1_OUTPUT_ROOT"] = Path(tmp), str(Path(tmp) / "outputs")
        for lab, notebook in NOTEBOOKS.items():
            copy = work / Path(notebook).name
            shutil.copyfile(ROOT / notebook, copy)
            command = [sys.executable, "-m", "workbook.core.notebook_runner", str(copy), "--timeout", "3600"]
            command += ["--fast"] if mode == "fast" else []
            start = time.perf_counter()
            done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
            record: dict[str, Any] = {"wall_s": round(time.perf_counter() - start, 1), "budget_s": BUDGET_S[mode],
                                      "ok": done.returncode == 0}
            results[lab] = record
            if done.returncode != 0:
                record["error"] = (done.stderr or done.stdout)[-2000:]
                break
            folder = section(work / "evidence", lab)
            gates = validate_packet(folder, lab=lab)
            record["gates_passed"] = sorted(name for name, r in gates.items() if r.passed)
            record["gates_failed"] = {name: r.failures for name, r in gates.items() if not r.passed}
            if lab in FIGURES:
                record.update(FIGURES[lab](folder))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modes", nargs="+", default=["fast"], choices=["fast", "full"])
    args = parser.parse_args()
    out = ROOT / "bench" / "results" / "labs.json"
    report = json.loads(out.read_text()) if out.is_file() else {}
    report["machine"] = describe()
    report["model"] = "SmolLM2-135M-Instruct on CPU (NF4 for training, GGUF for serving)"
    for mode in args.modes:
        report[mode] = run_chain(mode)
        print(json.dumps({mode: report[mode]}, indent=1)[:4000])
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
