"""Lab 3's model server: llama-cpp-python's OpenAI-compatible server as its own process on 127.0.0.1, a client that
talks to it over HTTP, and a bounded load test.

    with LlamaServer("model-Q4_K_M.gguf", "lab2-dpo", sha256=digest, log_dir=folder) as server:
        reply = server.client.chat("Within how many hours must a GDPR breach be notified?", max_tokens=32)

Every failure says what happened and what to do: a port already in use (and by which process), a model file that is
missing or not GGUF, a server that exits while loading (with its log's last lines), and a server that dies while
answering (the answers collected so far travel with the error). `stop()` always ends the process; an atexit hook and,
on Linux, a parent-death signal end it too when the notebook's kernel exits without calling it.
"""

from __future__ import annotations

import atexit
import importlib.util
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from workbook.core.gguf_export import ENABLE_HINT, GGUFExportUnavailable
from workbook.core.io import now_iso, sha256_file, write_jsonl
from workbook.core.runtime import cpu_threads
from workbook.evidence.schema import SERVER_HOST

HOST = SERVER_HOST  # the server and the client never leave this machine
GGUF_MAGIC = b"GGUF"
SERVER_MODULES = ("llama_cpp", "fastapi", "uvicorn", "sse_starlette", "starlette_context", "pydantic_settings")
# Greedy decoding, as the in-process HF reference decodes. The server's own default repeat_penalty is 1.1, which would
# change the answers, so every request sets it to 1.0 (no penalty).
GREEDY = {"temperature": 0.0, "top_k": 1, "repeat_penalty": 1.0}

_RUNNING: set[LlamaServer] = set()


class ServerError(RuntimeError):
    """The server could not start or stopped answering; the message says why and what to do.

    `answers` holds every answer collected before the failure (none when it failed to start)."""

    def __init__(self, message: str, answers: Sequence[dict[str, Any]] = ()):
        super().__init__(message)
        self.answers = list(answers)


class PortInUse(ServerError):
    """Another process listens on the port."""


class BadModelFile(ServerError):
    """The model file is missing, not a GGUF file, or not the file whose sha256 was recorded."""


class ServerDied(ServerError):
    """The server process exited while answering."""


def server_available() -> bool:
    """True when llama-cpp-python and its server extra import (`make gguf` installs them)."""
    return all(importlib.util.find_spec(name) is not None for name in SERVER_MODULES)


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def port_owner(port: int) -> str | None:
    """'pid N: command line' of the process listening on the port, from /proc (Linux); None when unknown."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "0A":  # 0A: LISTEN
                inodes.add(fields[9])
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if any(os.readlink(fd).removeprefix("socket:[").rstrip("]") in inodes for fd in (proc / "fd").iterdir()):
                command = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
                return f"pid {proc.name}: {command[:160]}"
        except OSError:
            continue
    return None


def check_port(port: int) -> None:
    """PortInUse, naming the process that holds the port and what to do, unless the port is free on 127.0.0.1."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # only a listening socket blocks, not TIME_WAIT
        try:
            probe.bind((HOST, port))
            return
        except OSError:
            pass
    owner = port_owner(port) or "a process this notebook cannot see"
    raise PortInUse(
        f"Port {port} on {HOST} is already in use ({owner}). Stop that process (an old server from an earlier run: "
        f"`kill <pid>`, or restart the notebook's kernel), or choose another port (PORT = None picks a free one)."
    )


def check_gguf(path: str | Path, sha256: str | None = None) -> int:
    """The file's size in bytes after checking it is a GGUF file (and, given a sha256, exactly that file)."""
    path = Path(path)
    if not path.is_file():
        raise BadModelFile(f"The model file {path} does not exist: run the export cells (section 2) first.")
    size = path.stat().st_size
    with path.open("rb") as handle:
        magic = handle.read(4)
    if magic != GGUF_MAGIC:
        raise BadModelFile(
            f"{path} is not a GGUF file (it starts with {magic!r}, not {GGUF_MAGIC!r}; {size} bytes): an interrupted "
            "copy or the wrong file. Delete it and run the export cells again."
        )
    if sha256 is not None and sha256_file(path) != sha256:
        raise BadModelFile(
            f"{path} no longer matches the sha256 recorded when it was exported ({sha256[:12]}...): it changed or was "
            "truncated since. Run the export cells again rather than serve a file nobody can trace."
        )
    return size


def served_alias(label: str, sha256: str) -> str:
    """The model id the server announces: the version's label and the first 12 hex digits of its file's sha256."""
    return f"{label}@{sha256[:12]}"


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100), interpolating linearly between the closest ranks (numpy's default)."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def _die_with_parent() -> None:
    """In the child, before exec: on Linux ask for SIGTERM when the parent (the notebook's kernel) exits."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class LlamaServer:
    """llama-cpp-python's OpenAI-compatible server on one GGUF file, as its own process, on 127.0.0.1 only."""

    def __init__(
        self,
        model: str | Path,
        label: str,
        *,
        sha256: str | None = None,
        port: int | None = None,
        threads: int | None = None,
        n_ctx: int = 1024,
        log_dir: str | Path | None = None,
        ready_timeout: float = 120.0,
        request_timeout: float = 120.0,
    ):
        self.model, self.label, self.sha256 = Path(model), label, sha256
        self.port = port or free_port()
        self.threads, self.n_ctx = threads or cpu_threads(), n_ctx
        self.log_dir = Path(log_dir) if log_dir else self.model.parent
        self.ready_timeout, self.request_timeout = ready_timeout, request_timeout
        self.process: subprocess.Popen[bytes] | None = None
        self.started_at = 0.0  # time.perf_counter() at process start
        self.ready_s: float | None = None
        self.client = Client(self.port, timeout=request_timeout, server=self)

    @property
    def alias(self) -> str:
        return served_alias(self.label, self.sha256) if self.sha256 else self.label

    @property
    def command(self) -> list[str]:
        return [
            sys.executable, "-m", "llama_cpp.server", "--model", str(self.model), "--model_alias", self.alias,
            "--host", HOST, "--port", str(self.port), "--n_threads", str(self.threads),
            "--n_threads_batch", str(self.threads), "--n_ctx", str(self.n_ctx), "--seed", "0",
        ]  # fmt: skip

    @property
    def log_path(self) -> Path:
        return self.log_dir / f"server-{self.label}-{self.port}.log"

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def start(self) -> float:
        """Start the process and wait until /v1/models answers; returns seconds from start to ready."""
        if not server_available():
            raise GGUFExportUnavailable(ENABLE_HINT)
        if self.sha256 is None:
            self.sha256 = sha256_file(self.model) if self.model.is_file() else None
        check_gguf(self.model, self.sha256)
        for other in list(_RUNNING):  # a server this kernel started earlier on the same port: replace it
            if other.port == self.port and other is not self:
                print(f"Stopping the server this notebook started earlier on port {self.port} ({other.alias}).")
                other.stop()
        check_port(self.port)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("wb") as log:
            self.started_at = time.perf_counter()
            self.process = subprocess.Popen(
                self.command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
            )  # fmt: skip
        _RUNNING.add(self)
        deadline = self.started_at + self.ready_timeout
        while time.perf_counter() < deadline:
            if not self.alive:
                code = self.process.returncode
                self.stop()
                raise ServerError(
                    f"The server exited while loading {self.model.name} (exit code {code}). The last lines of its log "
                    f"({self.log_path}):\n{self.log_tail()}\nA corrupt or truncated GGUF file is the usual cause: "
                    "run the export cells again."
                )
            if self.alias in self.client.models(quiet=True):
                self.ready_s = round(time.perf_counter() - self.started_at, 3)
                return self.ready_s
            time.sleep(0.1)
        self.stop()
        raise ServerError(
            f"The server on port {self.port} did not answer /v1/models within {self.ready_timeout:.0f} s (stopped). "
            f"The last lines of its log ({self.log_path}):\n{self.log_tail()}"
        )

    def stop(self) -> None:
        """End the process (SIGTERM, then SIGKILL after 10 s); safe to call at any time, also twice."""
        _RUNNING.discard(self)
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)

    def switch(self, model: str | Path, label: str, sha256: str) -> float:
        """Serve another file on the same port (stop, start): returns the seconds from stop to ready."""
        start = time.perf_counter()
        self.stop()
        self.model, self.label, self.sha256 = Path(model), label, sha256
        self.start()
        return round(time.perf_counter() - start, 3)

    def shell_command(self) -> str:
        return shlex.join(self.command)

    def __enter__(self) -> LlamaServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@atexit.register
def _stop_all() -> None:
    for server in list(_RUNNING):
        server.stop()


class Client:
    """An OpenAI-compatible client (httpx) for a server on 127.0.0.1; `server` lets it tell a dead server apart."""

    def __init__(self, port: int, *, timeout: float = 120.0, server: LlamaServer | None = None):
        import httpx

        self.port, self.timeout, self.server = port, timeout, server
        self.http = httpx.Client(base_url=f"http://{HOST}:{port}", timeout=timeout, trust_env=False)

    def models(self, quiet: bool = False) -> list[str]:
        """The model ids /v1/models lists ([] when quiet and nothing answers)."""
        import httpx

        try:
            response = self.http.get("/v1/models", timeout=5)
            response.raise_for_status()
        except httpx.HTTPError:
            if quiet:
                return []
            raise
        return [model["id"] for model in response.json()["data"]]

    def chat(self, prompt: str, max_tokens: int, timeout: float | None = None) -> dict[str, Any]:
        """One greedy chat completion: {"answer", "model" (the file the server loaded), "completion_tokens",
        "seconds"}."""
        start = time.perf_counter()
        response = self.http.post(
            "/v1/chat/completions",
            json={"messages": [{"role": "user", "content": prompt}], "max_tokens": max_tokens, **GREEDY},
            timeout=timeout or self.timeout,
        )
        response.raise_for_status()
        body = response.json()
        return {
            "answer": (body["choices"][0]["message"]["content"] or "").strip(),
            "model": body.get("model"),
            "completion_tokens": body.get("usage", {}).get("completion_tokens", 0),
            "seconds": round(time.perf_counter() - start, 4),
        }

    def first_token_s(self, prompt: str, max_tokens: int, since: float) -> float:
        """Stream one completion; seconds from `since` (a time.perf_counter() value) to its first content token."""
        messages = [{"role": "user", "content": prompt}]
        payload = {"messages": messages, "max_tokens": max_tokens, "stream": True, **GREEDY}
        with self.http.stream("POST", "/v1/chat/completions", json=payload) as response:
            response.raise_for_status()
            for line in response.iter_lines():
                if line.startswith("data:") and '"content"' in line:
                    return round(time.perf_counter() - since, 3)
        raise ServerError("The streamed completion ended without a content token.")

    def _failed(self, error: Exception, done: list[dict[str, Any]], total: object, save_to: Path | None) -> ServerError:
        kept = f"The {len(done)} answers collected before it are kept"
        if save_to is not None:
            write_jsonl(save_to, done)
            kept += f" in {save_to}"
        server = self.server
        if server is not None and not server.alive:
            code = server.process.returncode if server.process else None
            return ServerDied(
                f"The server ({server.alias}, port {self.port}) died while answering prompt {len(done) + 1} of "
                f"{total} (exit code {code}). {kept} (error.answers). The last lines of its log ({server.log_path}):"
                f"\n{server.log_tail()}\nStart the server again and re-run this cell.",
                done,
            )
        return ServerError(
            f"Prompt {len(done) + 1} of {total} failed while the server was still running "
            f"({type(error).__name__}: {error}). {kept} (error.answers). A timeout means a slow or overloaded machine: "
            "raise request_timeout, or lower max_tokens.",
            done,
        )

    def ask_all(
        self, rows: Iterable[dict[str, Any]], max_tokens: int, prompt_key: str = "question",
        save_to: str | Path | None = None,
    ) -> list[dict[str, Any]]:  # fmt: skip
        """Answer each row's prompt over HTTP, in order: [{"id", "answer", "completion_tokens", "seconds",
        "timestamp"}]. If the server fails midway, ServerError/ServerDied carries (and save_to keeps) the answers so
        far."""
        import httpx

        total = len(rows) if isinstance(rows, Sequence) else "?"
        done: list[dict[str, Any]] = []
        for row in rows:
            try:
                reply = self.chat(row[prompt_key], max_tokens)
            except httpx.HTTPError as error:
                raise self._failed(error, done, total, Path(save_to) if save_to else None) from error
            done.append({"id": row["id"], "answer": reply["answer"], "completion_tokens": reply["completion_tokens"],
                         "seconds": reply["seconds"], "timestamp": now_iso()})  # fmt: skip
        return done


def load_test(
    client: Client, prompts: Sequence[str], requests: int, concurrency: int, max_tokens: int, timeout: float = 120.0
) -> dict[str, Any]:
    """A bounded load test: `requests` greedy completions (prompts in turn), at most `concurrency` in flight, each with
    a timeout. Latency percentiles interpolate linearly; tokens_per_s = completion tokens / wall time of the test."""
    import httpx

    def one(index: int) -> tuple[float, int] | None:
        try:
            reply = client.chat(prompts[index % len(prompts)], max_tokens, timeout=timeout)
        except httpx.HTTPError:
            return None
        return reply["seconds"] * 1000, reply["completion_tokens"]

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        results = list(pool.map(one, range(requests)))
    wall = round(time.perf_counter() - start, 3)
    ok = [r for r in results if r is not None]
    latencies = [round(ms, 1) for ms, _ in ok]
    tokens = sum(n for _, n in ok)
    return {
        "requests": requests,
        "concurrency": concurrency,
        "max_tokens": max_tokens,
        "timeout_s": timeout,
        "latencies_ms": latencies,
        "p50_ms": round(percentile(latencies, 50), 1) if latencies else None,
        "p95_ms": round(percentile(latencies, 95), 1) if latencies else None,
        "completion_tokens": tokens,
        "wall_s": wall,
        "tokens_per_s": round(tokens / wall, 2),
        "errors": requests - len(ok),
    }
