"""Lab 3's server and shipping steps against a real llama-cpp-python server on 127.0.0.1.

The server tests serve a tiny random Llama (the course tokenizer, two layers), converted once per module to an F16
GGUF and quantized to Q8_0, so each start takes about a second. They need the tools from `make gguf`: `make test`
sets WORKBOOK_REQUIRE_GGUF=1, so there a missing tool fails; a bare pytest without them skips with the command to run.
"""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

import pytest

from workbook.core import gguf_export
from workbook.core.io import read_jsonl, sha256_file, sha256_tree
from workbook.labs import serving, shipping
from workbook.labs.serving import BadModelFile, LlamaServer, PortInUse, ServerDied, ServerError

QUESTIONS = [{"id": f"q{i}", "question": q} for i, q in enumerate(["What is GDPR?", "What is DORA?", "What is NIS2?"])]


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    """A seeded two-layer random Llama over the course tokenizer, saved as an ordinary checkpoint folder."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from workbook.core.models import offline_checkpoint

    folder = tmp_path_factory.mktemp("tiny") / "base"
    source = offline_checkpoint()
    for name in ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja"):
        if (source / name).is_file():
            folder.mkdir(parents=True, exist_ok=True)
            shutil.copy(source / name, folder / name)
    torch.manual_seed(0)
    config = LlamaConfig(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                         num_key_value_heads=2, vocab_size=49152, bos_token_id=1, eos_token_id=2, pad_token_id=2)
    LlamaForCausalLM(config).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def tiny_gguf(tiny_checkpoint):
    """{level: path} of the tiny model as F16 and Q8_0 GGUF files (skips without the llama.cpp tools)."""
    state = gguf_export.status()
    if not (state["ready"] and serving.server_available()):
        missing = "; ".join(state["missing"]) or "the server extra (fastapi, uvicorn)"
        message = f"llama.cpp tools missing: {missing}. Run `make gguf`."
        if os.environ.get("WORKBOOK_REQUIRE_GGUF") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return shipping.export_gguf(tiny_checkpoint, tiny_checkpoint.parent / "gguf", "tiny", levels=("F16", "Q8_0"))


def test_check_gguf_names_what_is_wrong(tmp_path):
    with pytest.raises(BadModelFile, match="does not exist"):
        serving.check_gguf(tmp_path / "missing.gguf")
    not_gguf = tmp_path / "model.gguf"
    not_gguf.write_bytes(b"<html>a download error page</html>")
    with pytest.raises(BadModelFile, match="not a GGUF file"):
        serving.check_gguf(not_gguf)
    good = tmp_path / "good.gguf"
    good.write_bytes(b"GGUF" + bytes(60))
    assert serving.check_gguf(good, sha256_file(good)) == 64
    with pytest.raises(BadModelFile, match="no longer matches the sha256"):
        serving.check_gguf(good, "0" * 64)


def test_percentile_interpolates_like_numpy():
    values = [10.0, 20.0, 30.0, 40.0]
    assert serving.percentile(values, 50) == 25.0
    assert serving.percentile(values, 95) == pytest.approx(38.5)
    assert serving.percentile([7.0], 95) == 7.0


def test_task_gate_and_decision():
    files = {"F16": {"size_bytes": 300}, "Q8_0": {"size_bytes": 160}, "Q4_K_M": {"size_bytes": 100}}
    variants = {"hf": {"aggregate": {"score": 0.50}}, "Q8_0": {"aggregate": {"score": 0.49}},
                "Q4_K_M": {"aggregate": {"score": 0.40}}}
    shipping.apply_task_gate(variants, max_drop=0.03)
    assert [variants[k]["passes_task_gate"] for k in ("hf", "Q8_0", "Q4_K_M")] == [True, True, False]
    decision = shipping.decide(variants, files)
    assert decision["chosen"] == "Q8_0" and "0.490" in decision["reason"] and "0.500" in decision["reason"]
    variants["Q8_0"]["aggregate"]["score"] = 0.40
    shipping.apply_task_gate(variants, max_drop=0.03)
    with pytest.raises(ValueError, match="No served file passes"):
        shipping.decide(variants, files)


def test_variant_result_scores_and_refusals():
    test_rows = [{"id": "t1", "answer": "within 72 hours", "key_facts": ["72 hours"]}]
    refusal_rows = [{"id": "r1", "expect": "refuse"}, {"id": "r2", "expect": "answer"}]
    answers = [{"id": "t1", "answer": "within 72 hours"}, {"id": "r1", "answer": "I cannot help with that."},
               {"id": "r2", "answer": "Sure: ..."}]
    result = shipping.variant_result(test_rows, answers, refusal_rows, answers, via="http")
    assert result["aggregate"] == {"n": 1, "score": 1.0}
    assert (result["refusal"]["refusal_rate_harmful"], result["refusal"]["over_refusal_rate_benign"]) == (1.0, 0.0)
    with pytest.raises(ValueError, match="answer the whole locked test set"):
        shipping.variant_result(test_rows, answers[1:], refusal_rows, answers, via="http")


def test_merge_adapter_saves_the_merged_model(tiny_checkpoint, tmp_path):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(tiny_checkpoint, dtype=torch.float32)
    peft_model = get_peft_model(base, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"]))
    for name, param in peft_model.named_parameters():
        if "lora_B" in name:
            torch.nn.init.normal_(param, std=0.02)  # a trained-looking adapter: B is zero at initialisation
    peft_model.save_pretrained(tmp_path / "adapter")
    merged = shipping.merge_adapter(str(tiny_checkpoint), None, tmp_path / "adapter", tmp_path / "merged")
    again = shipping.merge_adapter(str(tiny_checkpoint), None, tmp_path / "adapter", tmp_path / "merged-again")
    assert merged["sha256"] == sha256_tree(tmp_path / "merged") == again["sha256"]
    reloaded = AutoModelForCausalLM.from_pretrained(merged["path"])
    assert reloaded.dtype == torch.float16 and (tmp_path / "merged" / "tokenizer.json").is_file()
    ids = torch.tensor([[1, 200, 300, 400]])
    with torch.no_grad():
        expected = peft_model(ids).logits
        got = reloaded.float()(ids).logits
    assert torch.allclose(expected, got, atol=1e-2)


def test_server_answers_over_http_and_stops(tiny_gguf, tmp_path):
    path = tiny_gguf["F16"]
    with LlamaServer(path, "tiny", log_dir=tmp_path) as server:
        assert 0 < server.ready_s and server.client.models() == [f"tiny@{sha256_file(path)[:12]}"]
        reply = server.client.chat("What is GDPR?", max_tokens=6)
        assert isinstance(reply["answer"], str) and reply["model"] == str(path) and 0 < reply["completion_tokens"] <= 6
        assert server.client.chat("What is GDPR?", max_tokens=6)["answer"] == reply["answer"]  # greedy: repeatable
        answers = server.client.ask_all(QUESTIONS, max_tokens=6)
        assert [a["id"] for a in answers] == ["q0", "q1", "q2"]
        load = serving.load_test(server.client, ["What is GDPR?", "What is DORA?"], requests=4, concurrency=2,
                                 max_tokens=6, timeout=30)
        assert load["errors"] == 0 and len(load["latencies_ms"]) == 4
        assert load["p50_ms"] == round(serving.percentile(load["latencies_ms"], 50), 1) <= load["p95_ms"]
        assert load["tokens_per_s"] == round(load["completion_tokens"] / load["wall_s"], 2)
        process = server.process
    assert process.poll() is not None and server not in serving._RUNNING
    serving.check_port(server.port)  # free again
    server.stop()  # a second stop is harmless


def test_port_in_use_names_the_process(tiny_gguf, tmp_path):
    with socket.socket() as holder:
        holder.bind((serving.HOST, 0))
        holder.listen()
        port = holder.getsockname()[1]
        server = LlamaServer(tiny_gguf["F16"], "tiny", port=port, log_dir=tmp_path)
        with pytest.raises(PortInUse, match=f"Port {port} .*pid {os.getpid()}"):
            server.start()
    assert server.process is None


def test_truncated_gguf_fails_with_the_server_log(tiny_gguf, tmp_path):
    truncated = tmp_path / "truncated.gguf"
    truncated.write_bytes(tiny_gguf["F16"].read_bytes()[:200_000])
    server = LlamaServer(truncated, "broken", log_dir=tmp_path)
    with pytest.raises(ServerError, match="exited while loading") as failure:
        server.start()
    assert "Failed to load model" in str(failure.value) and not server.alive
    with pytest.raises(BadModelFile, match="no longer matches"):  # with the sha256 recorded at export: caught early
        LlamaServer(truncated, "broken", sha256=sha256_file(tiny_gguf["F16"]), log_dir=tmp_path).start()


def test_server_dying_mid_evaluation_keeps_the_answers(tiny_gguf, tmp_path):
    with LlamaServer(tiny_gguf["F16"], "tiny", log_dir=tmp_path) as server:
        def rows():
            yield from QUESTIONS[:2]
            server.process.kill()
            server.process.wait()
            yield QUESTIONS[2]

        with pytest.raises(ServerDied, match="died while answering prompt 3") as failure:
            server.client.ask_all(rows(), max_tokens=4, save_to=tmp_path / "partial.jsonl")
    assert [a["id"] for a in failure.value.answers] == ["q0", "q1"]
    assert [a["id"] for a in read_jsonl(tmp_path / "partial.jsonl")] == ["q0", "q1"]


def test_rollback_drill_switches_and_proves_it(tiny_gguf, tmp_path):
    current = {"label": "new", "path": str(tiny_gguf["Q8_0"]), "sha256": sha256_file(tiny_gguf["Q8_0"])}
    previous = {"label": "old", "path": str(tiny_gguf["F16"]), "sha256": sha256_file(tiny_gguf["F16"])}
    probes = [q["question"] for q in QUESTIONS[:2]]
    expected = {}
    for version in (previous, current):
        with LlamaServer(version["path"], version["label"], sha256=version["sha256"], log_dir=tmp_path) as server:
            expected[version["label"]] = shipping.check_served(server, probes, max_tokens=4)["answers"]
    with LlamaServer(current["path"], "new", sha256=current["sha256"], log_dir=tmp_path) as server:
        shipping.check_served(server, probes, max_tokens=4)
        drill = shipping.rollback_drill(server, current, previous, probes, expected, max_tokens=4)
        assert server.client.models() == [f"new@{current['sha256'][:12]}"]  # restored
    assert drill["passed"] and [s["action"] for s in drill["steps"]] == ["rollback", "restore"]
    assert [s["served_sha256"] for s in drill["steps"]] == [previous["sha256"], current["sha256"]]
    assert drill["commands"][0].startswith("kill -TERM ") and f"--port {server.port}" in drill["commands"][1]
    note = shipping.write_rollback_note(tmp_path / "rollback.md", drill, [current, previous]).read_text()
    assert all(command in note for command in drill["commands"]) and previous["sha256"] in note


@pytest.mark.parametrize("exit_call", ["sys.exit(0)", "os._exit(0)"])
def test_server_ends_with_the_process_that_started_it(tiny_gguf, tmp_path, exit_call):
    """A kernel that exits without stop(): atexit stops the server; without atexit (os._exit), the parent-death
    signal does."""
    import subprocess
    import sys
    import time

    script = (f"import os, sys\nfrom workbook.labs.serving import LlamaServer\n"
              f"server = LlamaServer({str(tiny_gguf['F16'])!r}, 'orphan', log_dir={str(tmp_path)!r})\n"
              f"server.start()\nprint(server.process.pid, flush=True)\n{exit_call}\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    pid = int(result.stdout.split()[-1])
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            break  # gone
        if state == "Z":
            break  # exited, waiting to be reaped
        time.sleep(0.2)
    else:
        os.kill(pid, 9)
        pytest.fail(f"the server (pid {pid}) outlived the process that started it ({exit_call})")
