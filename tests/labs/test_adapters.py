"""workbook.labs.adapters: the adapter registry keeps one version per distinct adapter."""

from __future__ import annotations

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
