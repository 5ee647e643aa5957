"""Measure the course's GPU path: each training recipe for a few steps, with its memory, speed and dtypes.

    python -m bench.gpu [--hub] [--tiny] [--steps NAME ...] [--out PATH]    (or `make gpu-check`)

Steps (the recipes of the notebooks, with their real TRL/PEFT calls and FAST step counts):
  lab1_plain    Lab 1: QLoRA (NF4, double quant) SFT, LoRA r16 on all 7 projections, transformers + PEFT + TRL
  lab1_unsloth  Lab 1's Unsloth branch (WORKBOOK_UNSLOTH=1, as in the course; CUDA and Unsloth installed)
  ch05_qlora    chapter 05: prepare_model_for_kbit_training, LoRA all-linear, paged 8-bit AdamW on CUDA
  sft_lora      chapters 02/04: LoRA SFT on the unquantized model in the compute dtype
  ch03_dpo      chapter 03: DPOTrainer with a LoraConfig on conversational preference pairs
  ch08_unsloth  chapter 08's Unsloth cell (the same conditions)
Every trainer takes its flags from `precision()` and keeps trainable weights fp32 where it says
(`keep_trainable_fp32`). Each step prints its losses and first greedy answers and is recorded in the JSON
(default bench/results/gpu.json): peak VRAM, wall time, steps/s, trainable dtypes, a finite-loss check, or the
error. A failed step does not stop the others; the exit code is 1 if any failed.

No model hub (the default): each model is a shape-faithful stand-in with random weights (bench/standin.py), so
the figures are memory and speed, never quality. --hub loads the real models (Colab). --tiny shrinks the
stand-ins to 2 layers of width 64 (the CPU test). WORKBOOK_EMULATE_T4=1 makes any CUDA GPU take the T4 branch:
fp16 compute with fp32 trainables, and memory capped at a T4's. The plain and the Unsloth steps run in two child
processes, because importing Unsloth patches transformers and TRL for the whole process.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench.gpu_steps import STEPS, Context
from bench.machine import describe
from bench.standin import TOKENIZER_VOCAB, spec
from workbook.core.config import ROOT
from workbook.core.install import unsloth_requested
from workbook.core.io import now_iso
from workbook.core.runtime import EMULATE_T4_ENV, TRACKED_PACKAGES, gpu_info, package_versions, precision

RESULTS = ROOT / "bench" / "results" / "gpu.json"
# What torch reports for a Colab T4 (Unsloth's T4 notebooks print "Max memory = 14.741 GB", in GiB). A real T4 also
# keeps its CUDA context (a few hundred MB) in it, so the cap is that much kinder than the card.
T4_MEMORY_GIB = 14.741


def entry(name: str, **fields: Any) -> dict[str, Any]:
    """A step's record: its model and branch, then `fields`."""
    return {"model": STEPS[name].model, "branch": STEPS[name].branch, **fields}


def measure(name: str, ctx: Context) -> dict[str, Any]:
    """Run one step; record its result, wall time and peak VRAM, or its error. Never raises."""
    import torch

    step = STEPS[name]
    print(f"\n== {name} on {step.model}", flush=True)
    start = time.perf_counter()
    try:
        source = ctx.source(step.model)  # a stand-in is built once, before this step's clock and memory count
        if ctx.cuda:
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
        start = time.perf_counter()
        result = step.run(ctx, source)
        ok = result["finite"]
        result["status"] = "passed" if ok else "failed"
        if not ok:
            result["error"] = {"type": "NonFiniteLoss", "message": "a loss or a trained weight is not finite"}
    except Exception as error:  # record it and go on: one broken step must not hide the others' figures
        traceback.print_exc()
        result = {"status": "failed", "error": {"type": type(error).__name__, "message": str(error)[:2000]}}
    result["wall_s"] = round(time.perf_counter() - start, 2)
    if ctx.cuda:
        result["peak_vram_reserved_gb"] = round(torch.cuda.max_memory_reserved() / 1024**3, 2)
        result["peak_vram_allocated_gb"] = round(torch.cuda.max_memory_allocated() / 1024**3, 2)
    gc.collect()
    if ctx.cuda:
        torch.cuda.empty_cache()
    print(f"  -> {result['status']} in {result['wall_s']} s" + (f": {result['error']}" if "error" in result else ""))
    return entry(name, **result)


def memory_cap_gib(gpu: dict[str, Any]) -> float | None:
    """The T4's memory when emulating one on a bigger GPU, else None (no cap)."""
    emulating = gpu.get("available") and os.environ.get(EMULATE_T4_ENV) == "1"
    return min(T4_MEMORY_GIB, gpu["vram_gb"]) if emulating else None


def run_branch(args: argparse.Namespace) -> int:
    """The child process: run this branch's steps, writing the results after each one."""
    results: dict[str, Any] = {}
    out = Path(args.out)
    try:
        if args.branch == "unsloth":
            import unsloth  # noqa: F401  (first: it patches transformers and TRL)
    except Exception as error:
        failure = {"status": "failed", "error": {"type": type(error).__name__, "message": str(error)[:2000]}}
        results = {name: entry(name, **failure) for name in args.steps}
        out.write_text(json.dumps({"steps": results}, indent=2) + "\n")
        return 1
    import torch

    gpu = gpu_info()
    cap = memory_cap_gib(gpu)
    if cap is not None:
        torch.cuda.set_per_process_memory_fraction(cap / (torch.cuda.get_device_properties(0).total_memory / 1024**3))
    ctx = Context(precision(gpu), gpu["available"], args.hub, args.tiny, Path(args.workdir))
    for name in args.steps:
        results[name] = measure(name, ctx)
        out.write_text(json.dumps({"steps": results}, indent=2) + "\n")
    return 0


def skip_reason(branch: str, cuda: bool) -> str | None:
    """Why a branch cannot run here, or None."""
    if branch == "plain":
        return None
    if not unsloth_requested():
        return "Unsloth not requested (WORKBOOK_UNSLOTH=1)"
    if not cuda:
        return "no CUDA GPU (Unsloth is the GPU path only)"
    if importlib.util.find_spec("unsloth") is None:
        return "unsloth is not installed"
    return None


def run_child(branch: str, names: list[str], args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """Run `names` in a fresh process (output streams through); a step it never reached counts as failed."""
    out = workdir / f"{branch}.json"
    command = [sys.executable, "-m", "bench.gpu", "--branch", branch, "--workdir", str(workdir), "--out", str(out),
               "--steps", *names] + ["--tiny"] * args.tiny + ["--hub"] * args.hub  # fmt: skip
    # In the scratch folder, where Unsloth writes its compiled cache; the repository stays importable.
    path = os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])
    code = subprocess.run(command, cwd=workdir, env={**os.environ, "PYTHONPATH": path}).returncode
    results = json.loads(out.read_text())["steps"] if out.is_file() else {}
    lost = {"status": "failed", "error": {"type": "ChildProcessError",
                                          "message": f"the {branch} process exited with code {code} during this step "
                                                     "(see its output above)"}}  # fmt: skip
    return {name: results.get(name, entry(name, **lost)) for name in names}


def orchestrate(args: argparse.Namespace) -> int:
    """Describe the machine, run each branch in its own process, write the report; 1 if any step failed."""
    start = time.perf_counter()
    gpu = gpu_info()
    names = args.steps or list(STEPS)
    models = sorted({STEPS[n].model for n in names})
    report: dict[str, Any] = {
        "started_at": now_iso(),
        "machine": describe(),
        "gpu": gpu,
        "emulating_t4": bool(gpu["available"]) and os.environ.get(EMULATE_T4_ENV) == "1",
        "memory_cap_gib": memory_cap_gib(gpu),
        "precision": asdict(precision(gpu)),
        "packages": package_versions((*TRACKED_PACKAGES, "triton", "unsloth_zoo", "pyarrow")),
        "mode": "hub" if args.hub else "tiny stand-ins" if args.tiny else "stand-ins",
        "models": {m: {"model_id": spec(m)["model_id"], "stand_in": not args.hub} for m in models},
        "tokenizer": "the Hub's" if args.hub else f"byte-level BPE of {TOKENIZER_VOCAB} tokens trained on data/",
        "steps": {},
    }
    print(f"GPU: {gpu.get('name', 'none')} | precision: {report['precision']} | mode: {report['mode']}")
    with tempfile.TemporaryDirectory(prefix="gpu-check-") as work:
        for branch in ("plain", "unsloth"):
            chosen = [n for n in names if STEPS[n].branch == branch]
            reason = skip_reason(branch, bool(gpu["available"]))
            if chosen and reason:
                report["steps"].update({name: entry(name, status=f"skipped: {reason}") for name in chosen})
            elif chosen:
                report["steps"].update(run_child(branch, chosen, args, Path(work)))
    report["steps"] = {name: report["steps"][name] for name in names}
    failed = [n for n, r in report["steps"].items() if r["status"] == "failed"]
    report["passed"] = not failed
    report["wall_s"] = round(time.perf_counter() - start, 1)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\n{'step':14} {'status':8} {'steps/s':>8} {'peak GB':>8}  loss first -> last")
    for name, r in report["steps"].items():
        losses = f"{r['losses'][0]} -> {r['losses'][-1]}" if r.get("losses") else r["status"].partition(": ")[2]
        print(f"{name:14} {r['status'].partition(':')[0]:8} {r.get('steps_per_s', '-'):>8} "
              f"{r.get('peak_vram_reserved_gb', '-'):>8}  {losses}")  # fmt: skip
    print(f"wrote {out} in {report['wall_s']} s" + (f"; FAILED: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hub", action="store_true", help="load the real models from the Hub, not stand-ins")
    parser.add_argument("--tiny", action="store_true", help="2-layer, width-64 stand-ins (the CPU test)")
    parser.add_argument("--steps", nargs="+", choices=list(STEPS), help="run only these steps")
    parser.add_argument("--out", default=str(RESULTS), help="where the JSON goes")
    parser.add_argument("--branch", choices=["plain", "unsloth"], help=argparse.SUPPRESS)  # the child process
    parser.add_argument("--workdir", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.hub and args.tiny:
        parser.error("--tiny builds stand-ins; it cannot be combined with --hub.")
    if not args.hub:  # nothing to reach: fail fast instead of waiting on network timeouts
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
    return run_branch(args) if args.branch else orchestrate(args)


if __name__ == "__main__":
    sys.exit(main())
