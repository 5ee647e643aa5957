"""The GGUF export path: Hugging Face checkpoint -> GGUF (llama.cpp's converter) -> Q4_K_M -> llama-cpp-python.

llama.cpp's `convert_hf_to_gguf.py` ships inside the llama-cpp-python source distribution (vendor/llama.cpp).
llama-cpp-python itself has no binary wheel on PyPI: pip compiles llama.cpp (about 5 minutes on 2 cores, without
the multimodal library the course does not use), so this is a setup step of its own, not part of `make setup`:

    make gguf                      # once: builds llama-cpp-python, installs sentencepiece, fetches the source
    python -m workbook.core.gguf_export  # the same setup, for machines without make (Colab: prefix with !)

`make test` (and so CI) runs `make gguf` first and sets WORKBOOK_REQUIRE_GGUF=1, so the export path is tested on
every run; a bare pytest on a machine without the tools skips it with the command to run.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from workbook.core.config import ROOT
from workbook.core.install import read_tagged, unmet
from workbook.core.runtime import cpu_threads

# The `# gguf:` line of requirements.txt (the converter imports sentencepiece even for BPE tokenizers).
GGUF_PINS = read_tagged("gguf")
LLAMA_CPP_PYTHON = next(pin for pin in GGUF_PINS if pin.startswith("llama-cpp-python=="))
# Build options: no multimodal (llava/mtmd) library, which the export path never loads; and a portable AVX2 build
# rather than -march=native, whose AMX kernels segfault on Q8_0 where the kernel grants no AMX tile state (seen on
# this project's Sapphire Rapids CI machines).
LEAN_BUILD = "-DLLAVA_BUILD=OFF -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON"
SOURCE_DIR = ROOT / "build" / "llama-cpp-python-src"
CONVERTER = "vendor/llama.cpp/convert_hf_to_gguf.py"
ENABLE_HINT = (
    "The GGUF export needs llama-cpp-python (compiled once, a few minutes on 2 cores) and llama.cpp's converter.\n"
    "Enable it with:\n"
    "    make gguf                          # in a terminal at the repository root\n"
    "or, from a notebook cell (Colab included):\n"
    "    !python -m workbook.core.gguf_export\n"
    "then re-run this section."
)


class GGUFExportUnavailable(RuntimeError):
    """The export tools are not installed; the message says how to install them."""


def llama_cpp_installed() -> bool:
    return importlib.util.find_spec("llama_cpp") is not None


def converter_script() -> Path:
    """Path of llama.cpp's convert_hf_to_gguf.py inside the fetched llama-cpp-python source."""
    matches = sorted(SOURCE_DIR.glob(f"*/{CONVERTER}"))
    if not matches:
        raise GGUFExportUnavailable(f"llama.cpp's converter is not in {SOURCE_DIR}.\n{ENABLE_HINT}")
    return matches[-1]


def status() -> dict[str, Any]:
    """What the export path has and lacks: {'ready': bool, 'missing': [...], 'hint': str}."""
    missing = []
    if not llama_cpp_installed():
        missing.append("llama-cpp-python (import llama_cpp)")
    if importlib.util.find_spec("sentencepiece") is None:
        missing.append("sentencepiece (imported by the converter)")
    if not sorted(SOURCE_DIR.glob(f"*/{CONVERTER}")):
        missing.append(f"llama.cpp source with {CONVERTER} under {SOURCE_DIR.relative_to(ROOT)}")
    return {"ready": not missing, "missing": missing, "hint": ENABLE_HINT}


def convert_hf_to_gguf(model_dir: str | Path, outfile: str | Path, outtype: str = "f16") -> Path:
    """Run llama.cpp's converter on a merged Hugging Face checkpoint folder; returns the GGUF path."""
    model_dir, outfile = Path(model_dir), Path(outfile)
    if not (model_dir / "config.json").is_file():
        raise ValueError(
            f"{model_dir} has no config.json: pass a full (merged) checkpoint folder, not an adapter folder. "
            "Merge a LoRA adapter first with merge_and_unload() and save_pretrained()."
        )
    if outtype not in {"f32", "f16", "bf16", "q8_0", "auto"}:
        raise ValueError(f"outtype {outtype!r} is not one the converter writes: f32, f16, bf16, q8_0 or auto.")
    outfile.parent.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, str(converter_script()), str(model_dir), "--outfile", str(outfile), "--outtype", outtype]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0 or not outfile.is_file():
        tail = "\n".join((result.stderr or result.stdout).splitlines()[-15:])
        raise RuntimeError(f"convert_hf_to_gguf.py failed (exit {result.returncode}):\n{tail}")
    return outfile


def quantize_gguf(source: str | Path, target: str | Path, level: str = "Q4_K_M", threads: int | None = None) -> Path:
    """Quantize a GGUF file with llama.cpp's own quantizer (llama_model_quantize, as the llama-quantize tool does)."""
    if not llama_cpp_installed():
        raise GGUFExportUnavailable(ENABLE_HINT)
    import llama_cpp

    ftype = getattr(llama_cpp, f"LLAMA_FTYPE_MOSTLY_{level}", None)
    if ftype is None:
        prefix = "LLAMA_FTYPE_MOSTLY_"
        known = sorted(n.removeprefix(prefix) for n in dir(llama_cpp) if n.startswith(prefix))
        raise ValueError(f"Unknown GGUF level {level!r}. llama.cpp knows: {', '.join(known)}.")
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = ftype
    params.nthread = threads or cpu_threads()
    Path(target).parent.mkdir(parents=True, exist_ok=True)
    code = llama_cpp.llama_model_quantize(str(source).encode(), str(target).encode(), params)
    if code != 0 or not Path(target).is_file():
        raise RuntimeError(f"llama_model_quantize returned {code} for {source} -> {target} ({level}).")
    return Path(target)


def load_llama(path: str | Path, n_ctx: int = 512, threads: int | None = None) -> Any:
    """A llama_cpp.Llama on a GGUF file, quiet, CPU only."""
    if not llama_cpp_installed():
        raise GGUFExportUnavailable(ENABLE_HINT)
    from llama_cpp import Llama

    threads = threads or cpu_threads()
    return Llama(model_path=str(path), n_ctx=n_ctx, n_threads=threads, n_gpu_layers=0, verbose=False, seed=0)


def llama_reply(llm: Any, prompt: str, max_tokens: int) -> str:
    """Greedy chat answer from llama.cpp, with the chat template stored in the GGUF file."""
    response = llm.create_chat_completion(
        messages=[{"role": "user", "content": prompt}], max_tokens=max_tokens, temperature=0.0, top_k=1
    )
    return response["choices"][0]["message"]["content"].strip()


def fetch_source() -> Path:
    """Download the llama-cpp-python sdist (no build) and unpack it under build/, for the converter."""
    if sorted(SOURCE_DIR.glob(f"*/{CONVERTER}")):
        return converter_script()
    SOURCE_DIR.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-binary", ":all:", "--no-deps", "-q", "-d", tmp,
             LLAMA_CPP_PYTHON],
            check=True,
        )  # fmt: skip
        (archive,) = Path(tmp).glob("*.tar.gz")
        with tarfile.open(archive) as tar:
            tar.extractall(SOURCE_DIR, filter="data")
    return converter_script()


def setup() -> None:
    """Install the `# gguf:` pins that are missing (compiling llama-cpp-python) and fetch the converter source."""
    missing = unmet(dict(pin.split("==", 1) for pin in GGUF_PINS))
    if missing:
        print(f"Installing {' '.join(missing)} (llama-cpp-python compiles llama.cpp: about 5 minutes on 2 cores)...")
        env = {**os.environ, "CMAKE_ARGS": os.environ.get("CMAKE_ARGS", LEAN_BUILD)}
        # --no-cache-dir: pip's wheel cache ignores CMAKE_ARGS, and would hand back a wheel built with other options
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-cache-dir", *missing], check=True, env=env)
    print("Converter:", fetch_source())


if __name__ == "__main__":
    setup()
