"""workbook.labs.adapters: the adapter registry keeps one version per distinct adapter."""

from __future__ import annotations

import json

from workbook.labs.adapters import adapter_versions, save_adapter


def test_adapter_versions_dedupe_by_hash(tmp_path):
    class FakeModel:
        def __init__(self, payload: bytes):
            self.payload = payload

        def save_pretrained(self, folder):
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "adapter_model.safetensors").write_bytes(self.payload)

    first = save_adapter(FakeModel(b"one"), tmp_path, "run-a")
    again = save_adapter(FakeModel(b"one"), tmp_path, "run-a")
    second = save_adapter(FakeModel(b"two"), tmp_path, "run-b")
    assert first == again and first["version"] == "v1" and second["version"] == "v2"
    assert [a["version"] for a in adapter_versions(tmp_path)] == ["v1", "v2"]


def test_the_order_peft_writes_target_modules_in_makes_no_new_version(tmp_path):
    """PEFT keeps target_modules as a set and writes it in hash order, which differs between kernels."""

    class PeftLike:
        def __init__(self, modules: list[str]):
            self.modules = modules

        def save_pretrained(self, folder):
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "adapter_model.safetensors").write_bytes(b"weights")
            config = {"r": 16, "target_modules": self.modules, "peft_type": "LORA"}
            (folder / "adapter_config.json").write_text(json.dumps(config))

    first = save_adapter(PeftLike(["q_proj", "v_proj", "o_proj"]), tmp_path, "run")
    again = save_adapter(PeftLike(["o_proj", "q_proj", "v_proj"]), tmp_path, "run")
    assert again == first
    saved = json.loads((tmp_path / "adapters" / "v1" / "adapter_config.json").read_text())
    assert saved["target_modules"] == ["o_proj", "q_proj", "v_proj"]
