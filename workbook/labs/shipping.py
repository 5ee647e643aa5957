"""Lab 3's shipping steps: merge an adapter into its full-precision base, export GGUF files with llama.cpp's tools, the
parity evaluation and the quantization decision, the rollback drill, and the two documents a release carries (the
Hugging Face model card and the rollback note). The server and its client are in `workbook.labs.serving`."""

from __future__ import annotations

import math
import os
import shlex
import shutil
import statistics
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

from workbook.core.gguf_export import convert_hf_to_gguf, quantize_gguf
from workbook.core.io import now_iso, read_jsonl, sha256_file, sha256_tree
from workbook.core.models import CHECKPOINT_NAME, OFFLINE_MODEL_ID, offline_checkpoint
from workbook.eval.metrics import aggregate, is_refusal, score_answer
from workbook.evidence.results import wilson_interval
from workbook.evidence.schema import GGUF_LEVELS, SERVER_HOST, TASK_GATE_MAX_DROP
from workbook.labs.serving import LlamaServer, ServerError

TASK_GATE_RULE = (
    "a variant passes when its mean locked-test score (served over HTTP) is at most max_drop below the in-process "
    "Hugging Face merged model's; the smallest file that passes ships"
)
# The licences of the course's base models (both ungated, Apache-2.0 on the Hub); another base is marked "other".
LICENSES = {OFFLINE_MODEL_ID: "apache-2.0", "Qwen/Qwen2.5-1.5B-Instruct": "apache-2.0"}


def base_checkpoint(model: dict[str, Any]) -> tuple[str, str | None, str]:
    """(source to load, revision, Hub id) of the base model a lab manifest's `model` record names."""
    model_id = str(model.get("id") or "")
    if model_id.startswith("local:"):
        if model_id != f"local:{CHECKPOINT_NAME}":
            raise ValueError(f"The manifest's base model {model_id} is not the course's offline checkpoint "
                             f"({CHECKPOINT_NAME}): run Lab 1 again on this machine.")  # fmt: skip
        return str(offline_checkpoint()), None, model.get("requested_id") or OFFLINE_MODEL_ID
    return model_id, model.get("revision"), model_id


def merge_adapter(base: str, revision: str | None, adapter: str | Path, target: str | Path) -> dict[str, Any]:
    """Merge a LoRA adapter into its base, loaded in fp32 on the CPU (not 4-bit), and save the merged model with the
    base's tokenizer as float16 safetensors (the precision the F16 GGUF keeps). Returns {"path", "sha256"}."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(base, revision=revision, dtype=torch.float32)
    merged = PeftModel.from_pretrained(model, str(adapter)).merge_and_unload()
    target = Path(target)
    staging = target.with_name(f".{target.name}.staging")
    shutil.rmtree(staging, ignore_errors=True)
    merged.to(torch.float16).save_pretrained(staging, safe_serialization=True)
    AutoTokenizer.from_pretrained(base, revision=revision).save_pretrained(staging)
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    return {"path": str(target), "sha256": sha256_tree(target)}


@contextmanager
def tool_output_to(path: str | Path) -> Iterator[None]:
    """Send what llama.cpp prints (its quantizer reports every tensor, through Python's sys.stderr and the C streams)
    to a log file instead of the notebook."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = (os.dup(1), os.dup(2))
    try:
        with Path(path).open("a", encoding="utf-8") as log, redirect_stdout(log), redirect_stderr(log):
            os.dup2(log.fileno(), 1)
            os.dup2(log.fileno(), 2)
            yield
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        os.close(saved[0])
        os.close(saved[1])


def export_gguf(merged_dir: str | Path, folder: str | Path, stem: str, levels: Sequence[str] = GGUF_LEVELS,
                log: str | Path | None = None) -> dict[str, Path]:  # fmt: skip
    """The merged checkpoint as an F16 GGUF (llama.cpp's converter), then each further level quantized from it with
    llama.cpp's quantizer: {level: path}. The tools' own output goes to `log`."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    log = Path(log) if log else folder / f"{stem}-export.log"
    paths = {"F16": convert_hf_to_gguf(merged_dir, folder / f"{stem}-F16.gguf", outtype="f16")}
    with tool_output_to(log):
        for level in levels:
            if level != "F16":
                paths[level] = quantize_gguf(paths["F16"], folder / f"{stem}-{level}.gguf", level)
    return {level: paths[level] for level in levels}


def gguf_record(path: str | Path, level: str) -> dict[str, Any]:
    """{"level", "name", "size_bytes", "sha256"}: how export.json names one file."""
    path = Path(path)
    return {"level": level, "name": path.name, "size_bytes": path.stat().st_size, "sha256": sha256_file(path)}


def refusal_summary(rows: Sequence[dict[str, Any]], answers: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Refusal rates on the refusal set (harmful prompts should be refused, benign look-alikes answered), each with
    its Wilson interval, and the per-prompt answers they come from."""
    replies = {answer["id"]: answer["answer"] for answer in answers}
    missing = [row["id"] for row in rows if row["id"] not in replies]
    if missing:
        raise ValueError(f"No answer for refusal prompts {missing[:5]}: answer the whole refusal set.")
    checked = [{"id": r["id"], "expect": r["expect"], "answer": replies[r["id"]],
                "refused": is_refusal(replies[r["id"]])} for r in rows]  # fmt: skip
    harmful = [r["refused"] for r in checked if r["expect"] == "refuse"]
    benign = [r["refused"] for r in checked if r["expect"] == "answer"]
    harmful_rate = round(sum(harmful) / max(len(harmful), 1), 4)
    benign_rate = round(sum(benign) / max(len(benign), 1), 4)
    return {
        "refusal_rate_harmful": harmful_rate,
        "over_refusal_rate_benign": benign_rate,
        "n": len(checked),
        "n_harmful": len(harmful),
        "n_benign": len(benign),
        "ci95_harmful": wilson_interval(harmful_rate, len(harmful)),
        "ci95_benign": wilson_interval(benign_rate, len(benign)),
        "per_example": checked,
    }


def variant_result(
    test_rows: Sequence[dict[str, Any]], answers: Sequence[dict[str, Any]], refusal_rows: Sequence[dict[str, Any]],
    refusal_answers: Sequence[dict[str, Any]], via: str,
) -> dict[str, Any]:  # fmt: skip
    """One variant's entry of parity.json: per-example scores on the locked test, their mean, the refusal rates."""
    by_id = {answer["id"]: answer["answer"] for answer in answers}
    missing = [row["id"] for row in test_rows if row["id"] not in by_id]
    if missing:
        raise ValueError(f"No answer for locked test ids {missing[:5]}: answer the whole locked test set.")
    per_example = [
        {"id": row["id"], "answer": by_id[row["id"]],
         "score": score_answer(by_id[row["id"]], row["answer"], row["key_facts"])["score"]}
        for row in test_rows
    ]  # fmt: skip
    return {
        "via": via,
        "per_example": per_example,
        "aggregate": aggregate([{"score": row["score"]} for row in per_example]),
        "refusal": refusal_summary(refusal_rows, refusal_answers),
    }


def apply_task_gate(variants: dict[str, dict[str, Any]], max_drop: float = TASK_GATE_MAX_DROP) -> None:
    """Mark each variant (in place) with its score drop from the "hf" reference and whether it passes the task gate."""
    reference = variants["hf"]["aggregate"]["score"]
    for result in variants.values():
        result["drop"] = round(reference - result["aggregate"]["score"], 4)
        result["passes_task_gate"] = result["drop"] <= max_drop


def decide(variants: dict[str, dict[str, Any]], files: dict[str, dict[str, Any]],
           max_drop: float = TASK_GATE_MAX_DROP) -> dict[str, Any]:  # fmt: skip
    """The smallest GGUF file whose variant passes the task gate, with the measured numbers that justify it.

    ValueError when no served variant passes (then F16 should be served and measured too)."""
    reference = variants["hf"]["aggregate"]["score"]
    served = sorted((level for level in variants if level in files), key=lambda level: files[level]["size_bytes"])
    passing = [level for level in served if variants[level]["passes_task_gate"]]
    facts = [
        f"{level} {variants[level]['aggregate']['score']:.3f} (drop {variants[level]['drop']:.3f}, "
        f"{'passes' if variants[level]['passes_task_gate'] else 'fails'}, {files[level]['size_bytes'] / 1e6:.1f} MB)"
        for level in served
    ]
    if not passing:
        raise ValueError(f"No served file passes the task gate (hf {reference:.3f}; " + "; ".join(facts) + ").")
    chosen = passing[0]
    reason = (
        f"{chosen} is the smallest file that passes the task gate (max drop {max_drop}): locked-test score over HTTP "
        f"vs the in-process HF merged model's {reference:.3f}: " + "; ".join(facts) + "."
    )
    return {"chosen": chosen, "reason": reason}


def check_served(server: LlamaServer, probes: Sequence[str], max_tokens: int) -> dict[str, Any]:
    """What a freshly started server does, always in the same order: stream probe 1 (start -> first token), answer
    every probe greedily, and report the file it loaded (its path from the completion, hashed here)."""
    first_token_s = server.client.first_token_s(probes[0], max_tokens, since=server.started_at)
    replies = [server.client.chat(prompt, max_tokens) for prompt in probes]
    return {
        "served_id": server.client.models()[0],
        "served_sha256": sha256_file(replies[0]["model"]),
        "ready_s": server.ready_s,
        "first_token_s": first_token_s,
        "answers": [reply["answer"] for reply in replies],
    }


def rollback_drill(server: LlamaServer, current: dict[str, Any], previous: dict[str, Any], probes: Sequence[str],
                   expected: dict[str, Sequence[str]], max_tokens: int) -> dict[str, Any]:  # fmt: skip
    """Switch the running server to the previous version and back (stop, start on the same port), timing each switch
    and proving it by the hash of the file the server loaded and by the probe answers recorded for that file before.

    current/previous: {"label", "sha256", "path"}; expected: {label: the probe answers recorded for that version}."""
    commands, steps = [], []
    for action, source, target in (("rollback", current, previous), ("restore", previous, current)):
        pid = server.process.pid if server.process else None
        try:
            seconds = server.switch(target["path"], target["label"], target["sha256"])
        except ServerError:
            if action == "rollback":  # leave the current version serving, as before the drill
                server.switch(current["path"], current["label"], current["sha256"])
            raise
        commands += [f"kill -TERM {pid}", server.shell_command(), f"curl -s http://{SERVER_HOST}:{server.port}/v1/models",
                     f"sha256sum {shlex.quote(target['path'])}"]  # fmt: skip
        seen = check_served(server, probes, max_tokens)
        pairs = list(zip(probes, seen["answers"], expected[target["label"]], strict=True))
        steps.append({
            "action": action,
            "from": {"label": source["label"], "sha256": source["sha256"]},
            "to": {"label": target["label"], "sha256": target["sha256"]},
            "seconds": seconds,
            "served_id": seen["served_id"],
            "served_sha256": seen["served_sha256"],
            "first_token_s": seen["first_token_s"],
            "probes": [{"prompt": prompt, "answer": answer, "expected": want} for prompt, answer, want in pairs],
            "answers_match": all(answer == want for _, answer, want in pairs),
        })  # fmt: skip
    passed = all(s["answers_match"] and s["served_sha256"] == s["to"]["sha256"] for s in steps)
    return {"commands": commands, "steps": steps, "passed": passed, "finished_at": now_iso()}


def write_rollback_note(path: str | Path, drill: dict[str, Any], versions: Sequence[dict[str, Any]]) -> Path:
    """rollback.md: the versions that can be served, the exact commands of the drill, and what proved each switch."""
    lines = [
        "# Rollback note (Lab 3: the served GGUF)",
        "",
        "The model is served by llama-cpp-python's OpenAI-compatible server on 127.0.0.1. Rolling back means serving",
        "the previous version's GGUF file on the same port: stop the server, start it on the other file, and check",
        "what it serves before sending traffic to it. The files never change; each is named by its sha256.",
        "",
        "## Versions",
        "",
        "| label | file | sha256 |",
        "|---|---|---|",
        *[f"| {v['label']} | `{Path(v['path']).name}` | `{v['sha256']}` |" for v in versions],
        "",
        "## The exact commands (as the drill ran them)",
        "",
        "```bash",
        *drill["commands"],
        "```",
        "",
        "`/v1/models` lists the served model id `<label>@<first 12 hex digits of the file's sha256>`; `sha256sum` must",
        "print the full hash from the table above.",
        "",
        "## The drill",
        "",
        "| step | from | to | seconds (stop to ready) | served sha256 | probe answers as recorded |",
        "|---|---|---|---|---|---|",
    ]
    for step in drill["steps"]:
        matched = sum(p["answer"] == p["expected"] for p in step["probes"])
        lines.append(f"| {step['action']} | {step['from']['label']} | {step['to']['label']} | {step['seconds']:.2f} | "
                     f"`{step['served_sha256'][:12]}...` | {matched} of {len(step['probes'])} |")  # fmt: skip
    verdict = ("passed: every switch served the file with the expected sha256, and its greedy answers to the probes "
               "equal those recorded for that file beforehand" if drill["passed"] else
               "FAILED: rollback_drill.json shows the step that did not match")  # fmt: skip
    lines += [
        "",
        f"Drill {verdict}.",
        "",
        "Further back (the base model, or another Lab 1 adapter version): Lab 1's `rollback.md` in the evidence",
        "folder.",
        "",
    ]
    path = Path(path)
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def _read_json(folder: Path, name: str) -> dict[str, Any]:
    import json

    return json.loads((folder / name).read_text(encoding="utf-8"))


def _listed(value: Any) -> str:
    return ", ".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)


def _ci(interval: Sequence[float]) -> str:
    return f"[{interval[0]:.3f}, {interval[1]:.3f}]"


def model_card_text(evidence_root: str | Path) -> str:
    """The Hugging Face model card of the served model (YAML front matter, then the sections the Hub shows), built
    from the three packets: Lab 1's, evidence/lab2 and evidence/lab3 (export, parity, server, rollback drill)."""
    import yaml

    from workbook.labs.lineage import section

    root = Path(evidence_root)
    lab1, lab2, lab3 = section(root, "lab1"), section(root, "lab2"), section(root, "lab3")
    m1, r1, card1 = (_read_json(lab1, f"{name}.json") for name in ("manifest", "eval_results", "data_card"))
    m2, r2, rm = (_read_json(lab2, f"{name}.json") for name in ("manifest", "eval_results", "reward_model"))
    export, parity, server, drill = (
        _read_json(lab3, f"{name}.json") for name in ("export", "parity", "server", "rollback_drill"))
    annotators = sorted({str(row.get("annotator")) for row in read_jsonl(lab2 / "picks.jsonl")})
    _, _, base_id = base_checkpoint(m1["model"])
    chosen = parity["decision"]["chosen"]
    files = {f["level"]: f for f in export["files"]}
    front = {
        "license": LICENSES.get(base_id, "other"),
        "base_model": base_id,
        "library_name": "gguf",
        "tags": ["gguf", "llama.cpp", "lora", "qlora", "dpo", "eu-compliance", "post-training-workbook"],
        "language": ["en"],
        "pipeline_tag": "text-generation",
        "model_name": f"{base_id.split('/')[-1]}-compliance-dpo-{chosen}",
    }
    h1, h2 = m1.get("hyperparameters", {}), m2.get("hyperparameters", {})
    a1, a2 = r1["aggregate"], r2["locked_test"]["aggregate"]
    wins, kl, load = r2["win_rate"], r2["kl"], server["load_test"]
    lines = [
        "---", yaml.safe_dump(front, sort_keys=False).strip(), "---", "",
        f"# {front['model_name']}", "",
        f"{base_id} fine-tuned with QLoRA on EU-compliance questions (Lab 1), aligned with DPO on pairs of its own "
        f"answers ranked in Lab 2, merged and exported to GGUF, served as `{files[chosen]['name']}` (Lab 3). "
        f"Generated from the course's evidence packets on {now_iso()[:10]} (student `{m1.get('student_id')}`); "
        "written, not pushed to the Hub.", "",
        "## Intended use", "",
        "Short factual answers about EU compliance rules (GDPR, PSD2, the AI Act, DORA, NIS2) in a course exercise on "
        "post-training and shipping. It is not legal advice and not a production assistant: answers must be checked "
        "against the regulation's text. Served locally with llama.cpp (llama-cpp-python's OpenAI-compatible server "
        "on 127.0.0.1).", "",
        "## Training data", "",
        f"- Supervised fine-tuning: the course's `{card1['name']}` dataset v{card1['version']} (manifest sha256 "
        f"`{card1['sha256']}`): {card1['counts']['train']} training and {card1['counts']['validation']} validation "
        f"question/answer pairs written for the course; the locked test set ({card1['counts']['locked_test']} rows, "
        f"sha256 `{card1['locked_test_sha256']}`) was never trained on.",
        f"- Preferences: {rm['train_pairs']} answer pairs from the Lab 1 model, ranked in `picks.jsonl`; "
        f"{rm['heldout']['n']} held-out pairs labelled by the course authors (`preference_pairs.jsonl`).", "",
        "## Training procedure", "",
        f"1. QLoRA SFT (Lab 1): {m1['model'].get('quantization', {}).get('summary', 'see the Lab 1 manifest')}; LoRA r "
        f"{h1.get('lora_r')}, alpha {h1.get('lora_alpha')}, dropout {h1.get('lora_dropout')}, on "
        f"{', '.join(h1.get('target_modules', []))}; learning rate {h1.get('learning_rate')}, max_steps "
        f"{h1.get('max_steps')}, {h1.get('num_train_epochs')} epochs, batch {h1.get('per_device_train_batch_size')}, "
        f"seed {m1.get('seed')}.",
        f"2. DPO (Lab 2) from the Lab 1 adapter, the SFT model as reference: beta {h2.get('beta')}, loss "
        f"{_listed(h2.get('loss_type'))}, learning rate {h2.get('learning_rate')}, max_steps {h2.get('max_steps')}, "
        f"seed {m2.get('seed')}.",
        f"3. Export (Lab 3): the DPO adapter merged into the fp32 base, saved as float16 safetensors, converted with "
        f"{export['converter']} to F16 GGUF and quantized to Q8_0 and Q4_K_M. Shipped: {chosen}. "
        f"{parity['decision']['reason']}", "",
        "## Evaluation", "",
        f"Locked test set ({a1['baseline']['n']} questions; score = mean of ROUGE-L F1 and key-fact recall, 0 to 1):",
        "",
        "| model | score | ROUGE-L | key-fact recall |", "|---|---|---|---|",
        f"| base model (Lab 1 baseline) | {a1['baseline']['score']:.3f} | {a1['baseline']['rouge_l']:.3f} | "
        f"{a1['baseline']['key_fact_recall']:.3f} |",
        f"| SFT (Lab 1) | {a1['tuned']['score']:.3f} | {a1['tuned']['rouge_l']:.3f} | "
        f"{a1['tuned']['key_fact_recall']:.3f} |",
        f"| SFT, Lab 2's run | {a2['baseline']['score']:.3f} | {a2['baseline']['rouge_l']:.3f} | "
        f"{a2['baseline']['key_fact_recall']:.3f} |",
        f"| DPO (Lab 2) | {a2['tuned']['score']:.3f} | {a2['tuned']['rouge_l']:.3f} | "
        f"{a2['tuned']['key_fact_recall']:.3f} |", "",
        f"DPO vs SFT win rate judged by the reward model: {wins['reward_model']['rate']:.3f} "
        f"(95% CI {_ci(wins['reward_model']['ci95'])}, n {wins['reward_model']['n']}); by the held-out human labels: "
        f"{wins['human_labels']['rate']:.3f} (95% CI {_ci(wins['human_labels']['ci95'])}, n "
        f"{wins['human_labels']['n']}). Mean per-token KL from the SFT reference: {kl['mean_token_kl']:.4f} over "
        f"{kl['n_prompts']} prompts. Reward model held-out accuracy {rm['heldout']['accuracy']:.3f} (95% CI "
        f"{_ci(rm['heldout']['ci95'])}); longer-answer baseline {rm['baselines']['longer_wins']:.3f}, SFT log-prob "
        f"baseline {rm['baselines']['base_logprob']:.3f}.", "",
        f"Parity of the served files with the in-process HF merged model ({TASK_GATE_RULE}; max drop "
        f"{parity['task_gate']['max_drop']}):", "",
        "| variant | via | size (MB) | score | drop | task gate | harmful refused | benign refused |",
        "|---|---|---|---|---|---|---|---|",
    ]  # fmt: skip
    for level, result in parity["variants"].items():
        size = f"{files[level]['size_bytes'] / 1e6:.1f}" if level in files else "-"
        refusal = result["refusal"]
        lines.append(f"| {level} | {result['via']} | {size} | {result['aggregate']['score']:.3f} | "
                     f"{result.get('drop', 0.0):.3f} | {'pass' if result['passes_task_gate'] else 'fail'} | "
                     f"{refusal['refusal_rate_harmful']:.3f} | {refusal['over_refusal_rate_benign']:.3f} |")
    steps = {step["action"]: step["seconds"] for step in drill["steps"]}
    scores = [row["score"] for row in parity["variants"][chosen]["per_example"]]
    standard_error = statistics.stdev(scores) / math.sqrt(len(scores)) if len(scores) > 1 else float("nan")
    shipped_refusal, hf_refusal = (parity["variants"][name]["refusal"]["refusal_rate_harmful"]
                                   for name in (chosen, "hf"))
    lines += [
        "",
        f"Serving ({chosen}, {load['requests']} requests, {load['concurrency']} at a time, up to {load['max_tokens']} "
        f"tokens each, on this run's CPU): latency p50 {load['p50_ms']:.1f} ms, p95 {load['p95_ms']:.1f} ms, "
        f"{load['tokens_per_s']:.2f} tokens/s, {load['errors']} errors; server ready in {server['ready_s']:.2f} s and "
        f"first token {server['first_token_s']:.2f} s after start. Rollback drill "
        f"{'passed' if drill['passed'] else 'FAILED'}: rollback {steps.get('rollback', 0):.2f} s, restore "
        f"{steps.get('restore', 0):.2f} s.", "",
        "## Limitations", "",
        f"- Small evaluation sets: {a1['baseline']['n']} locked-test questions, "
        f"{parity['variants']['hf']['refusal']['n']} refusal prompts, {wins['human_labels']['n']} held-out "
        f"preference pairs: the win-rate intervals above are wide, and the standard error of the shipped file's mean "
        f"locked-test score is {standard_error:.3f}, so smaller score differences are noise.",
        "- The metrics check wording and key facts, not legal correctness; the refusal check is a phrase heuristic.",
        f"- The preferences come from {', '.join(annotators)}: one annotator's taste, not a population's.",
        f"- Refusals: the shipped {chosen} file refused {shipped_refusal:.0%} of the harmful prompts, the HF merged "
        f"model {hf_refusal:.0%}. The task gate looks at the task score only: read these before shipping.",
        f"- Knowledge is limited to what {base_id} knew plus the training questions; questions on rules outside the "
        "dataset get the base model's guesses.",
        "- FAST run: small step counts and short answers (a course smoke test, not a release)." if m1.get("fast")
        else "- A full run of the course's recipe on a small model: a teaching artefact, not a release.",
        "", "## Hashes", "", "| artefact | sha256 |", "|---|---|",
        f"| Lab 1 SFT adapter {m1['adapters'][-1]['version']} | `{m1['adapters'][-1]['sha256']}` |",
        f"| Lab 2 DPO adapter {m2['adapters'][-1]['version']} | `{m2['adapters'][-1]['sha256']}` |",
        f"| merged HF checkpoint (folder) | `{export['merged_sha256']}` |",
        *[f"| `{f['name']}` ({f['level']}) | `{f['sha256']}` |" for f in export["files"]],
        f"| `{export['previous_version']['name']}` (rollback target, {export['previous_version']['label']}) | "
        f"`{export['previous_version']['sha256']}` |",
        "",
    ]  # fmt: skip
    return "\n".join(lines)


def write_model_card(evidence_root: str | Path) -> Path:
    """model_card.md in the Lab 3 section, from the packets (model_card_text)."""
    from workbook.labs.lineage import section

    path = section(evidence_root, "lab3") / "model_card.md"
    path.write_text(model_card_text(evidence_root), encoding="utf-8")
    return path
