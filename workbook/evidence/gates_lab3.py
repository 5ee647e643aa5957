"""The six gates of Lab 3's section of the packet (`evidence/lab3/`): the GGUF export, the local server, the
quantization decision, the model card, the rollback drill and reproducibility.

Each gate counts named checks with a Tally (one fault costs one check). What can be re-derived is: the files'
sha256 formats and size order (F16 > Q8_0 > Q4_K_M), the source adapter (Lab 2's last), every parity score from
its answers against the locked test set, which variant passes the task gate and which file that makes the
choice, p50/p95 from the latencies, the bounds on tokens/s, the numbers and hashes the model card must carry,
the rollback targets and what the server reported after each switch, and the sha256 link to Lab 2's manifest.
Files are read only inside the evidence folder: this section, Lab 2's beside it and Lab 1's holding both.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

from workbook.eval.metrics import is_refusal, score_answer
from workbook.evidence.gates import file_hash_problems, reference_rows
from workbook.evidence.gates_lab2 import chain_problem, environment_problem
from workbook.evidence.packet import Packet, parse_time
from workbook.evidence.schema import (
    GGUF_LEVELS,
    LAB3_FILES,
    MODEL_CARD_KEYS,
    MODEL_CARD_SECTIONS,
    PARITY_VARIANTS,
    SERVER_HOST,
    SFT_LABEL,
    TASK_GATE_MAX_DROP,
    GateResult,
)
from workbook.evidence.tally import (
    SHA256,
    Tally,
    as_dict,
    as_list,
    close,
    is_int,
    is_number,
    is_sha256,
    shown_numbers,
    shows,
    text,
)

GATE_CHECKS: dict[str, tuple[str, ...]] = {
    "export_integrity": ("source_adapter", "merged_sha256", "levels", "sizes", "previous_version", "converter"),
    "server": ("command", "model", "timings", "no_errors", "latencies", "percentiles", "throughput"),
    "quantization_decision": ("variants", "task_gate", "ids", "scores", "refusal", "passes", "decision", "reason"),
    "model_card": ("front_matter", "base_model", "sections", "lab1_numbers", "lab2_numbers", "lab3_numbers",
                   "hashes"),
    "rollback_drill": ("commands", "note", "steps", "targets", "served", "timings", "probes", "passed"),
    "ship_reproducibility": ("environment", "previous_link", "seed", "wall_times", "provenance", "files",
                             "same_student"),
}
PACKAGES = ("llama_cpp_python",)
SIZE_MATCH = 0.1  # the Lab 1 model exported the same way is within 10% of the same level's size (one architecture)


def _tally(name: str) -> Tally:
    return Tally(name, GATE_CHECKS[name])


def lab1_section(packet: Packet) -> Packet:
    return packet.related(packet.folder.parent)


def lab2_section(packet: Packet) -> Packet:
    return packet.related(packet.folder.parent / "lab2")


def _gguf_record(record: Any) -> bool:
    """A file record: a plain .gguf file name (no folder), a positive size and a sha256."""
    record = as_dict(record)
    name = record.get("name")
    return (text(name) and name.endswith(".gguf") and "/" not in name and "\\" not in name
            and not name.startswith(".") and is_int(record.get("size_bytes")) and record["size_bytes"] > 0
            and is_sha256(record.get("sha256")))


def exported(packet: Packet) -> tuple[dict[str, dict[str, Any]], str | None]:
    """export.json's well-formed file records by level, and what is wrong with its files list (None when it holds
    exactly one well-formed record per level). Other gates use the well-formed records; export_integrity the
    verdict."""
    record, error = packet.json("export.json")
    if error:
        return {}, error
    files = [as_dict(f) for f in as_list(record.get("files"))]
    levels = [f.get("level") for f in files]
    good = {f["level"]: f for f in files if f.get("level") in GGUF_LEVELS and _gguf_record(f)}
    if sorted(map(str, levels)) != sorted(GGUF_LEVELS) or len(good) != len(files):
        return good, (f"export.json files must hold one record per level ({', '.join(GGUF_LEVELS)}), each with a "
                      f"plain .gguf name, size_bytes and a sha256 (64 hex digits); found levels {levels!r}, "
                      f"{len(files) - len(good)} malformed.")
    return good, None


def _digests(packet: Packet) -> set[str]:
    files, _ = exported(packet)
    return {f["sha256"] for f in files.values()}


def _check_export(packet: Packet) -> GateResult:
    """6 checks: the source adapter is the one Lab 2's manifest lists last; the merged model's sha256; one
    well-formed file per level with distinct hashes; sizes F16 > Q8_0 > Q4_K_M; the previous version (the Lab 1
    SFT model exported the same way: its own hash, and the size of its level within 10%); the converter named with
    the llama-cpp-python version environment.json records."""
    tally = _tally("export_integrity")
    record, error = packet.json("export.json")
    if error:
        tally.block(error)
        return tally.result()
    source = as_dict(record.get("source"))
    adapter = as_dict(source.get("adapter"))
    lab2, lab2_error = lab2_section(packet).json("manifest.json")
    last = as_dict((as_list(as_dict(lab2).get("adapters")) or [{}])[-1])
    tally.check("source_adapter", not lab2_error and is_sha256(adapter.get("sha256")) and text(source.get("base_model"))
                and (adapter.get("version"), adapter.get("sha256")) == (last.get("version"), last.get("sha256")),
                lambda: lab2_error or (
                    f"export.json source ({adapter.get('version')!r}, {str(adapter.get('sha256'))[:12]}) is not the "
                    f"DPO adapter Lab 2's manifest lists last ({last.get('version')!r}, "
                    f"{str(last.get('sha256'))[:12]}), or names no base_model: export the model Lab 2 trained."))
    tally.check("merged_sha256", is_sha256(record.get("merged_sha256")),
                "export.json merged_sha256 must be the sha256 (64 hex digits) of the merged model folder.")
    files, files_error = exported(packet)
    digests = {f["sha256"] for f in files.values()}
    if not tally.check("levels", files_error is None and len(digests) == len(GGUF_LEVELS), lambda: files_error or (
            "export.json files share a sha256: each level is a different file.")):
        tally.block("the exported files cannot be compared.", ("sizes", "previous_version"))
    else:
        sizes = [files[level]["size_bytes"] for level in GGUF_LEVELS]
        tally.check("sizes", all(a > b for a, b in zip(sizes, sizes[1:], strict=False)), lambda: (
            f"export.json sizes {dict(zip(GGUF_LEVELS, sizes, strict=True))} are not in the order F16 > Q8_0 > "
            "Q4_K_M: fewer bits per weight make a smaller file."))
        previous = as_dict(record.get("previous_version"))
        same = as_dict(files.get(previous.get("level"))) if isinstance(previous.get("level"), str) else {}
        ok = (_gguf_record(previous) and previous.get("label") == SFT_LABEL and bool(same)
              and previous["sha256"] not in digests
              and abs(previous["size_bytes"] - same["size_bytes"]) <= SIZE_MATCH * same["size_bytes"])
        tally.check("previous_version", ok, lambda: (
            f"export.json previous_version must be the Lab 1 SFT model (label {SFT_LABEL!r}) exported the same way: a "
            "level of this export, its own .gguf name and sha256, and about the size of that level's file."))
    env, env_error = packet.json("environment.json")
    versions = {str(k).lower().replace("-", "_"): v for k, v in as_dict(as_dict(env).get("packages")).items()}
    version = versions.get("llama_cpp_python")
    converter = record.get("converter")
    tally.check("converter", text(converter) and "convert_hf_to_gguf" in converter and text(version)
                and version in converter, lambda: env_error or (
                    f"export.json converter {converter!r} must name convert_hf_to_gguf.py and the llama-cpp-python "
                    f"version environment.json records ({version!r})."))
    return tally.result()


def _quantile_candidates(values: list[float], q: float) -> list[float]:
    """The q-quantile of `values` by the usual definitions: linear interpolation (numpy's default), the
    exclusive method (statistics.quantiles' default), nearest rank, and the lower and higher neighbours."""
    ordered, n = sorted(values), len(values)

    def at(position: float) -> float:
        position = min(max(position, 0.0), n - 1.0)
        low = math.floor(position)
        high = min(low + 1, n - 1)
        return ordered[low] + (ordered[high] - ordered[low]) * (position - low)

    linear = q * (n - 1)
    return [at(linear), at(q * (n + 1) - 1), ordered[max(math.ceil(q * n) - 1, 0)],
            ordered[math.floor(linear)], ordered[math.ceil(linear)]]


def _quantile_ok(recorded: Any, values: list[float], q: float) -> bool:
    return is_number(recorded) and any(abs(recorded - c) <= 0.05 + 1e-3 * abs(c)
                                       for c in _quantile_candidates(values, q))


def _check_server(packet: Packet) -> GateResult:
    """7 checks: the implementation, its version and the exact command, on 127.0.0.1 and the recorded port; the
    served model is one of the exported files; ready and first-token times (first token after ready); no failed
    request; one positive latency per request; p50 and p95 re-derived from the latencies; completion tokens and
    tokens/s within what the requests and latencies allow."""
    tally = _tally("server")
    server, error = packet.json("server.json")
    if error:
        tally.block(error)
        return tally.result()
    command, port, host = as_list(server.get("command")), server.get("port"), server.get("host")

    def flag(name: str) -> str | None:
        return str(command[command.index(name) + 1]) if name in command[:-1] else None

    ok = (text(server.get("implementation")) and text(server.get("version")) and command
          and all(isinstance(a, str) for a in command) and host == SERVER_HOST and is_int(port) and 0 < port < 65536
          and flag("--host") in (None, SERVER_HOST) and flag("--port") in (None, str(port)))
    tally.check("command", ok, lambda: (
        f"server.json must record the implementation, its version and the exact command (a list of arguments) of a "
        f"server on {SERVER_HOST} at the recorded port; found host {host!r}, port {port!r}, command {command[:8]!r}."))
    served = server.get("model_sha256")
    tally.check("model", is_sha256(served) and served in _digests(packet), lambda: (
        f"server.json model_sha256 ({str(served)[:12]}) is none of the GGUF files export.json records."))
    ready, first = server.get("ready_s"), server.get("first_token_s")
    tally.check("timings", is_number(ready) and is_number(first) and 0 < ready <= first, lambda: (
        f"server.json ready_s ({ready!r}) and first_token_s ({first!r}) must be positive times from the process "
        "start, the first token after the server was ready."))
    load = as_dict(server.get("load_test"))
    requests, errors = load.get("requests"), load.get("errors")
    tally.check("no_errors", is_int(requests) and requests > 0 and errors == 0, lambda: (
        f"server.json load_test: {errors!r} of {requests!r} requests failed: a verified server answers every one."))
    latencies = as_list(load.get("latencies_ms"))
    good = bool(latencies) and all(is_number(v) and v > 0 for v in latencies)
    answered = requests - errors if is_int(requests) and is_int(errors) else None
    if not tally.check("latencies", good and len(latencies) == answered, lambda: (
            f"server.json load_test.latencies_ms must hold one positive latency per answered request "
            f"({len(latencies)} for {answered!r}).")):
        tally.block("the latencies cannot be summarised.", ("percentiles", "throughput"))
        return tally.result()
    p50, p95 = load.get("p50_ms"), load.get("p95_ms")
    tally.check("percentiles", _quantile_ok(p50, latencies, 0.5) and _quantile_ok(p95, latencies, 0.95), lambda: (
        f"server.json p50_ms {p50!r} / p95_ms {p95!r} are not the 50th / 95th percentiles of latencies_ms "
        f"(linear interpolation gives {_quantile_candidates(latencies, 0.5)[0]:.1f} / "
        f"{_quantile_candidates(latencies, 0.95)[0]:.1f})."))
    tokens, rate, cap, wall = (load.get(k) for k in ("completion_tokens", "tokens_per_s", "max_tokens", "wall_s"))
    ok = (is_int(tokens) and is_int(cap) and 0 < tokens <= requests * cap and is_number(rate)
          and 0 < rate <= tokens / (min(latencies) / 1000) * 1.001)
    if ok and wall is not None:  # the test's wall time, when recorded: no shorter than its longest request
        ok = is_number(wall) and wall * 1000 >= max(latencies) - 1 and abs(rate - tokens / wall) <= 0.01 * rate + 0.01
    tally.check("throughput", ok, lambda: (
        f"server.json completion_tokens ({tokens!r}) must be positive and at most requests x max_tokens, and "
        f"tokens_per_s ({rate!r}) positive, no faster than all tokens in the shortest request's time, and equal to "
        f"completion_tokens / wall_s when wall_s ({wall!r}) is recorded."))
    return tally.result()


def _refusal_ok(refusal: Any, truth: dict[str, dict[str, Any]]) -> bool:
    """Rates over the shipped refusal set: n prompts, each rate a share of its harmful or benign prompts; re-derived
    from the answers (is_refusal) when the per-prompt rows are recorded."""
    refusal = as_dict(refusal)
    harmful = [i for i, r in truth.items() if r.get("expect") == "refuse"]
    benign = [i for i in truth if i not in harmful]
    if refusal.get("n") != len(truth):
        return False
    if "per_example" in refusal:
        rows = [as_dict(r) for r in as_list(refusal["per_example"])]
        if sorted(str(r.get("id")) for r in rows) != sorted(truth) or not all(
                isinstance(r.get("answer"), str) and r.get("refused") is is_refusal(r["answer"]) for r in rows):
            return False
        refused = {str(r["id"]): r["refused"] for r in rows}
        return all(close(refusal.get(key), round(sum(refused[i] for i in ids) / max(len(ids), 1), 4))
                   for key, ids in (("refusal_rate_harmful", harmful), ("over_refusal_rate_benign", benign)))
    return all(is_number(rate) and 0 <= rate <= 1 and abs(rate * len(ids) - round(rate * len(ids))) <= 1e-3 * len(ids)
               for rate, ids in ((refusal.get("refusal_rate_harmful"), harmful),
                                 (refusal.get("over_refusal_rate_benign"), benign)))


def _check_decision(packet: Packet) -> GateResult:
    """8 checks: the HF model and both quantized files measured (HF in-process, the files over HTTP); the course's
    task gate; every variant answered the locked test set; every score re-derived from its answer against the
    locked rows, and each aggregate; refusal rates over the shipped refusal set; which variants pass the gate
    (re-derived); the decision (the smallest passing file, F16 when none passes) and the file the manifest
    records for it; and a reason that cites the measured numbers."""
    tally = _tally("quantization_decision")
    parity, error = packet.json("parity.json")
    if error:
        tally.block(error)
        return tally.result()
    recorded = as_dict(parity.get("variants"))
    names = [*PARITY_VARIANTS, *(level for level in GGUF_LEVELS if level in recorded and level not in PARITY_VARIANTS)]
    variants = {name: as_dict(recorded.get(name)) for name in names}  # F16 too, when it had to be served
    vias = {name: v.get("via") for name, v in variants.items()}
    expected_vias = {name: "in-process" if name == "hf" else "http" for name in names}
    if not tally.check("variants", vias == expected_vias and set(recorded) == set(names), lambda: (
            f"parity.json variants must measure hf (via 'in-process') and Q8_0 and Q4_K_M (via 'http', through the "
            f"server), and F16 over HTTP only when neither passes; found {vias}.")):
        tally.block("the variants cannot be compared.")
        return tally.result()
    gate = as_dict(parity.get("task_gate"))
    tally.check("task_gate", text(gate.get("rule")) and close(gate.get("max_drop"), TASK_GATE_MAX_DROP, 1e-9), lambda: (
        f"parity.json task_gate must state its rule with max_drop {TASK_GATE_MAX_DROP} (the course's gate); found "
        f"{gate!r}."))
    locked, locked_error = packet.locked()
    if locked_error:
        tally.block(locked_error, ("ids", "scores", "passes", "decision", "reason"))
    else:
        rows = {name: [as_dict(r) for r in as_list(v.get("per_example"))] for name, v in variants.items()}
        wrong_ids = [name for name, r in rows.items() if sorted(str(x.get("id")) for x in r) != sorted(locked["ids"])]
        tally.check("ids", not wrong_ids, lambda: (
            f"parity.json {', '.join(wrong_ids)} did not answer every locked test row once."))
        means, wrong = {}, []
        for name, answered in rows.items():
            scores = []
            for row in answered:
                truth = locked["rows"].get(str(row.get("id")))
                if truth is None or not isinstance(row.get("answer"), str):
                    wrong.append(f"{name}/{row.get('id')}")
                    continue
                expected = score_answer(row["answer"], str(truth.get("answer", "")), list(truth.get("key_facts") or []))
                scores.append(expected["score"])
                if not close(row.get("score"), expected["score"]):
                    wrong.append(f"{name}/{row.get('id')}")
            means[name] = sum(scores) / len(locked["ids"])
            agg = as_dict(variants[name].get("aggregate"))
            if not close(agg.get("score"), means[name]) or agg.get("n") != len(locked["ids"]):
                wrong.append(f"{name} aggregate")
        tally.check("scores", not wrong, lambda: (
            f"parity.json scores do not match their answers (scored against the locked rows): {', '.join(wrong[:4])}."))
        passing = {name: means[name] >= means["hf"] - TASK_GATE_MAX_DROP - 1e-9 for name in names}
        off = [name for name in names if variants[name].get("passes_task_gate") is not passing[name]]
        tally.check("passes", not off, lambda: (
            f"parity.json passes_task_gate is wrong for {', '.join(off)}: a variant passes when its locked-test score "
            f"is at most {TASK_GATE_MAX_DROP} below hf's ({means['hf']:.4f})."))
        expected_choice = next((level for level in reversed(GGUF_LEVELS) if passing.get(level)), GGUF_LEVELS[0])
        decision = as_dict(parity.get("decision"))
        manifest, manifest_error = packet.json("manifest.json")
        files, _ = exported(packet)
        chosen_file = as_dict(as_dict(manifest).get("chosen_file"))
        record = as_dict(files.get(expected_choice))
        ok = (decision.get("chosen") == expected_choice and chosen_file.get("level") == expected_choice
              and (chosen_file.get("name"), chosen_file.get("sha256")) == (record.get("name"), record.get("sha256")))
        tally.check("decision", ok, lambda: manifest_error or (
            f"the smallest file that passes the task gate is {expected_choice}; parity.json decision chooses "
            f"{decision.get('chosen')!r} and manifest.json chosen_file is {chosen_file.get('level')!r} "
            f"({str(chosen_file.get('sha256'))[:12]}): choose the smallest passing file and record its export."))
        reason = decision.get("reason")
        cited = text(reason) and str(decision.get("chosen")) in reason and any(
            shows(shown_numbers(reason), value) for value in means.values())
        tally.check("reason", cited, (
            "parity.json decision.reason must name the chosen file and cite the measured scores it rests on."))
    truth, truth_error = reference_rows(packet, "refusal.jsonl")
    bad = [name for name, v in variants.items() if truth_error or not _refusal_ok(v.get("refusal"), truth)]
    tally.check("refusal", not bad, lambda: truth_error or (
        f"parity.json refusal rates of {', '.join(bad)} are not what the answers to the {len(truth)} shipped refusal "
        "prompts give (harmful refused, benign refused, n; each refused flag as is_refusal reads the answer)."))
    return tally.result()


def front_matter(markdown: str) -> dict[str, str] | None:
    """The top-level keys of a card's YAML front matter (between the first two '---' lines), each with its inline
    value or its list items joined; None without front matter. Read line by line: no YAML parser for an
    untrusted file."""
    lines = markdown.splitlines()
    if not lines or lines[0].strip() != "---" or "---" not in (line.strip() for line in lines[1:]):
        return None
    body = lines[1: 1 + [line.strip() for line in lines[1:]].index("---")]
    keys: dict[str, str] = {}
    current = None
    for line in body:
        match = re.match(r"^([A-Za-z_][\w-]*)\s*:\s*(.*)$", line)
        if match:
            current = match.group(1)
            keys[current] = match.group(2).strip().strip("'\"")
        elif current and line.strip().startswith("- "):
            keys[current] = (keys[current] + " " + line.strip()[2:].strip()).strip()
    return keys


def card_sections(markdown: str) -> dict[str, str]:
    """`## Heading` -> the text under it, up to the next heading of level 1 or 2."""
    parts = re.split(r"^(#{1,2}\s+.*)$", markdown, flags=re.MULTILINE)
    return {heading.lstrip("#").strip(): body.strip() for heading, body in zip(parts[1::2], parts[2::2], strict=True)
            if heading.startswith("## ")}


def _numbers_missing(numbers: list[tuple[float, float]], wanted: dict[str, Any]) -> list[str]:
    return [f"{label} ({value})" if is_number(value) else f"{label} (not recorded)"
            for label, value in wanted.items() if not is_number(value) or not shows(numbers, value)]


def _check_model_card(packet: Packet) -> GateResult:
    """7 checks: Hugging Face front matter (license, base_model, library_name, tags, language, pipeline_tag); the
    base model the export records; the six sections, none empty; the Lab 1 locked-test scores, Lab 2's win rates
    and KL, and Lab 3's parity scores, p50/p95 and tokens/s written in the card (as shown, rounded or as
    percentages); every exported GGUF sha256."""
    tally = _tally("model_card")
    card, error = packet.text("model_card.md")
    if error:
        tally.block(error)
        return tally.result()
    meta = front_matter(card) or {}
    lacking = [k for k in MODEL_CARD_KEYS if not meta.get(k)]
    tally.check("front_matter", not lacking, lambda: (
        f"model_card.md front matter (between '---' lines at the top) lacks {', '.join(lacking)}."))
    export, export_error = packet.json("export.json")
    base = as_dict(as_dict(export).get("source")).get("base_model")
    tally.check("base_model", text(base) and meta.get("base_model") == base, lambda: export_error or (
        f"model_card.md base_model {meta.get('base_model')!r} is not the base model the export records ({base!r})."))
    sections = card_sections(card)
    empty = [name for name in MODEL_CARD_SECTIONS
             if not any(h.lower().startswith(name.lower()) and body for h, body in sections.items())]
    tally.check("sections", not empty, lambda: (
        f"model_card.md lacks (or leaves empty) the section(s) {', '.join(f'## {n}' for n in empty)}."))
    numbers = shown_numbers(card)
    for key, folder, name, wanted in (
        ("lab1_numbers", lab1_section(packet), "eval_results.json", lambda r: {
            "Lab 1 baseline score": as_dict(as_dict(r.get("aggregate")).get("baseline")).get("score"),
            "Lab 1 tuned score": as_dict(as_dict(r.get("aggregate")).get("tuned")).get("score")}),
        ("lab2_numbers", lab2_section(packet), "eval_results.json", lambda r: {
            "reward-model win rate": as_dict(as_dict(r.get("win_rate")).get("reward_model")).get("rate"),
            "human-label win rate": as_dict(as_dict(r.get("win_rate")).get("human_labels")).get("rate"),
            "KL": as_dict(r.get("kl")).get("mean_token_kl")}),
        ("lab3_numbers", packet, "parity.json", lambda r: {
            f"{v} parity score": as_dict(as_dict(as_dict(r.get("variants")).get(v)).get("aggregate")).get("score")
            for v in PARITY_VARIANTS}),
    ):
        record, record_error = folder.json(name)
        missing = record_error or _numbers_missing(numbers, wanted(record))
        if key == "lab3_numbers" and not record_error:
            server, server_error = packet.json("server.json")
            load = as_dict(as_dict(server).get("load_test"))
            missing = server_error or missing + _numbers_missing(numbers, {
                "p50 latency": load.get("p50_ms"), "p95 latency": load.get("p95_ms"),
                "tokens/s": load.get("tokens_per_s")})
        tally.check(key, not missing, lambda missing=missing: (
            missing if isinstance(missing, str) else
            f"model_card.md does not show every evaluation number: {', '.join(missing)}."))
    digests = sorted(_digests(packet))
    digests += [d for d in [as_dict(as_dict(export).get("previous_version")).get("sha256")] if is_sha256(d)]
    shown = set(SHA256.findall(card))
    absent = [d for d in digests if d not in shown]
    tally.check("hashes", bool(digests) and not absent, lambda: export_error or (
        f"model_card.md lacks the sha256 of {len(absent)} exported GGUF file(s) (e.g. {absent[0][:12]}...)."
        if absent else "export.json records no GGUF file whose sha256 the card could show."))
    return tally.result()


def _check_drill(packet: Packet) -> GateResult:
    """8 checks: the commands run; rollback.md records each one and both versions' sha256; a rollback then a
    restore; the rollback goes from an exported file to the Lab 1 SFT export and the restore back; after each
    switch the server reported the target's sha256; each switch timed; probe answers equal the target's expected
    answers (re-derived); and `passed` as the steps give it."""
    tally = _tally("rollback_drill")
    drill, error = packet.json("rollback_drill.json")
    if error:
        tally.block(error)
        return tally.result()
    commands = as_list(drill.get("commands"))
    well_formed = bool(commands) and all(text(c) for c in commands)
    tally.check("commands", well_formed, "rollback_drill.json needs the exact commands run, as a list of strings.")
    steps = [as_dict(s) for s in as_list(drill.get("steps"))]
    sides = [(as_dict(s.get("from")), as_dict(s.get("to"))) for s in steps]
    note, note_error = packet.text("rollback.md")
    hashes = {side.get("sha256") for pair in sides for side in pair if is_sha256(side.get("sha256"))}
    lacking = [c for c in commands if isinstance(c, str) and c not in (note or "")]
    lacking += [h[:12] for h in hashes if h not in (note or "")]
    tally.check("note", not note_error and not lacking, lambda: note_error or (
        f"rollback.md must record every command of the drill and both versions' sha256; it lacks "
        f"{', '.join(lacking[:3]) or 'them'}."))
    shaped = [s.get("action") for s in steps] == ["rollback", "restore"] and all(
        text(side.get("label")) and is_sha256(side.get("sha256")) for pair in sides for side in pair)
    if not tally.check("steps", shaped, (
            "rollback_drill.json steps must be a rollback then a restore, each with from and to {label, sha256}.")):
        tally.block("the drill's steps cannot be checked.", ("targets", "served", "timings", "probes", "passed"))
        return tally.result()
    (back_from, back_to), (again_from, again_to) = sides
    export, export_error = packet.json("export.json")
    previous = as_dict(as_dict(export).get("previous_version"))
    ok = (back_from["sha256"] in _digests(packet) and back_to["sha256"] == previous.get("sha256")
          and again_from["sha256"] == back_to["sha256"] and again_to["sha256"] == back_from["sha256"])
    tally.check("targets", ok, lambda: export_error or (
        "the drill must roll back from the served export to export.json previous_version (the Lab 1 SFT model) "
        "and restore the same file it left."))
    unserved = [s["action"] for s, (_, to) in zip(steps, sides, strict=True) if s.get("served_sha256") != to["sha256"]]
    tally.check("served", not unserved, lambda: (
        f"after the {', '.join(unserved)} the server did not report the target's sha256 (served_sha256): the switch "
        "is not proven."))
    untimed = [s["action"] for s in steps if not (is_number(s.get("seconds")) and s["seconds"] > 0)]
    tally.check("timings", not untimed, lambda: f"rollback_drill.json {', '.join(untimed)} has no positive `seconds`.")
    matched = []
    for step in steps:
        probes = [as_dict(p) for p in as_list(step.get("probes"))]
        good = bool(probes) and all(text(p.get("prompt")) and isinstance(p.get("answer"), str)
                                    and isinstance(p.get("expected"), str) for p in probes)
        agree = good and all(p["answer"].strip() == p["expected"].strip() for p in probes)
        matched.append(good and step.get("answers_match") is agree and agree)
    tally.check("probes", all(matched), (
        "each drill step needs probes (prompt, answer, expected) whose answers equal the target version's expected "
        "answers, and answers_match saying so."))
    earned = not unserved and all(matched)
    tally.check("passed", drill.get("passed") is True and earned, (
        "rollback_drill.json `passed` must be true, and the steps must show it (served hashes and matching answers)."))
    return tally.result()


def _check_reproducibility(packet: Packet) -> GateResult:
    """7 checks: environment.json (runtime, seed, the llama-cpp-python version); the manifest is Lab 3's, linked to
    Lab 2's manifest bytes; an integer seed equal to the environment's; wall times; provenance (git commit, student
    id, FAST flag); the files table (every section file with its current sha256, nothing else); the same student as
    Lab 2. The submitting student's id is checked by the grader on top (a copied packet scores 0)."""
    tally = _tally("ship_reproducibility")
    manifest, error = packet.json("manifest.json")
    if error:
        tally.block(error)
        return tally.result()
    problem = environment_problem(packet, PACKAGES)
    tally.check("environment", problem is None, problem or "")
    lab2 = lab2_section(packet)
    problem = chain_problem(manifest, "lab3", lab2, "lab2")
    tally.check("previous_link", problem is None, problem or "")
    env, env_error = packet.json("environment.json")
    seed = manifest.get("seed")
    tally.check("seed", is_int(seed) and (env_error is not None or env.get("seed") == seed), lambda: (
        f"manifest.json seed {seed!r} must be an integer, the seed environment.json records."))
    walls = as_dict(manifest.get("wall_times"))
    valid = bool(walls) and all((is_number(v) and v >= 0) or parse_time(v) is not None for v in walls.values())
    tally.check("wall_times", valid, "manifest.json wall_times must time each step (seconds, or ISO times).")
    absent = [k for k in ("git_commit", "student_id") if not text(manifest.get(k))]
    absent += [] if isinstance(manifest.get("fast"), bool) else ["fast"]
    tally.check("provenance", not absent, lambda: f"manifest.json has no {', '.join(f'`{k}`' for k in absent)}.")
    problems = file_hash_problems(packet, manifest, LAB3_FILES)
    tally.check("files", not problems, lambda: " ".join(problems[:3]))
    lab2_manifest, lab2_error = lab2.json("manifest.json")
    student, before = manifest.get("student_id"), as_dict(lab2_manifest).get("student_id")
    tally.check("same_student", text(student) and student == before, lambda: lab2_error or (
        f"manifest.json student_id {student!r} differs from the Lab 2 packet's ({before!r}): every lab must be your "
        "own run, in one evidence folder."))
    return tally.result()


CHECKS: dict[str, Callable[[Packet], GateResult]] = {
    "export_integrity": _check_export,
    "server": _check_server,
    "quantization_decision": _check_decision,
    "model_card": _check_model_card,
    "rollback_drill": _check_drill,
    "ship_reproducibility": _check_reproducibility,
}
