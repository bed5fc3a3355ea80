"""The adapters registry on plain files: no model, no torch."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest

from atri.config import OFFLINE_DEFAULT_BASE
from model.adapters.validation import (
    EvalFigures,
    adapter_config,
    check_module_shapes,
    eval_figures,
    same_base,
    tensor_shapes,
)
from model.adapters.versions import (
    AdapterError,
    complete_versions,
    version_folder,
    version_order,
)

KEY = "base_model.model.model.layers.0.self_attn.q_proj"


def write_safetensors(path: Path, tensors: dict[str, list[int]]) -> None:
    """A valid F32 safetensors file of zeros with these shapes."""
    header: dict[str, object] = {}
    offset = 0
    for name, shape in tensors.items():
        size = 4 * shape[0] * shape[1]
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + bytes(offset))


def test_tensor_shapes_reads_the_header_and_catches_truncation(tmp_path: Path) -> None:
    path = tmp_path / "adapter_model.safetensors"
    write_safetensors(path, {f"{KEY}.lora_A.weight": [4, 32], f"{KEY}.lora_B.weight": [32, 4]})
    assert tensor_shapes(path) == {f"{KEY}.lora_A.weight": [4, 32], f"{KEY}.lora_B.weight": [32, 4]}
    data = path.read_bytes()
    path.write_bytes(data[:-10])
    with pytest.raises(AdapterError, match="truncated"):
        tensor_shapes(path)
    path.write_bytes(data[:50])  # cut inside the header
    with pytest.raises(AdapterError, match="truncated or not a safetensors file"):
        tensor_shapes(path)
    path.write_bytes(b"PK\x03\x04 not safetensors at all")
    with pytest.raises(AdapterError, match="not a safetensors file"):
        tensor_shapes(path)


def test_module_shapes_must_fit_the_base() -> None:
    modules = {"model.layers.0.self_attn.q_proj": (32, 32)}
    check_module_shapes({f"{KEY}.lora_A.weight": [4, 32], f"{KEY}.lora_B.weight": [32, 4]}, modules)
    with pytest.raises(AdapterError, match="another model size"):
        check_module_shapes({f"{KEY}.lora_A.weight": [4, 48]}, modules)
    with pytest.raises(AdapterError, match="does not have"):
        check_module_shapes({f"{KEY.replace('q_proj', 'x_proj')}.lora_A.weight": [4, 32]}, modules)


def test_version_names_stay_inside_the_adapters_folder(tmp_path: Path) -> None:
    adapters = tmp_path / "adapters"
    (adapters / "20250101-000001").mkdir(parents=True)
    (tmp_path / "outside").mkdir()
    (adapters / "20250101-000002").symlink_to(tmp_path / "outside")
    assert version_folder(adapters, "20250101-000001") == (adapters / "20250101-000001").resolve()
    odd = (
        "..",
        "../outside",
        "20250101-000001/..",
        ".tmp-20250101-000003-1",
        "",
        "20250101-000001\n",
    )
    for name in odd:
        with pytest.raises(AdapterError, match="not an adapter version name"):
            version_folder(adapters, name)
    with pytest.raises(AdapterError, match="outside the adapters folder"):
        version_folder(adapters, "20250101-000002")
    with pytest.raises(AdapterError, match="does not exist"):
        version_folder(adapters, "20250101-000009")


def test_complete_versions_skip_temp_and_incomplete_folders(tmp_path: Path) -> None:
    names = ("20250101-000002", "20250101-000001-2", "20250101-000001", ".tmp-x-1", "notes")
    for name in (*names, "20250101-000004\n"):  # `$` alone would accept the newline
        folder = tmp_path / name
        folder.mkdir()
        for file in ("manifest.json", "adapter_config.json", "adapter_model.safetensors"):
            (folder / file).write_text("{}")
    (tmp_path / "20250101-000003").mkdir()  # no files yet
    assert complete_versions(tmp_path) == [
        "20250101-000001",
        "20250101-000001-2",
        "20250101-000002",
    ]
    assert complete_versions(tmp_path / "missing") == []
    assert version_order("") < version_order("20250101-000001") < version_order("20250101-000001-2")


def test_same_base_compares_folders_by_where_they_point(tmp_path: Path) -> None:
    (tmp_path / "models" / "qwen").mkdir(parents=True)
    assert same_base("", OFFLINE_DEFAULT_BASE, tmp_path)
    assert same_base("models/qwen", str(tmp_path / "models" / "qwen"), tmp_path)
    assert not same_base("models/qwen", OFFLINE_DEFAULT_BASE, tmp_path)
    assert not same_base("Qwen/Qwen2.5-7B-Instruct", "Qwen/Qwen2.5-7B", tmp_path)


def test_eval_rates(tmp_path: Path) -> None:
    assert eval_figures(tmp_path) == EvalFigures(None, None, None)
    (tmp_path / "eval.json").write_text(json.dumps({"adapter": {"ooc_rate": 0.1}, "base": {}}))
    assert eval_figures(tmp_path) == EvalFigures(0.1, None, None)
    report = {"adapter": {"ooc_rate": 0.1}, "base": {"ooc_rate": 0.2}, "probes": 21}
    (tmp_path / "eval.json").write_text(json.dumps(report))
    assert eval_figures(tmp_path) == EvalFigures(0.1, 0.2, 21)
    (tmp_path / "eval.json").write_text("{")
    with pytest.raises(AdapterError, match=r"eval\.json"):
        eval_figures(tmp_path)


def test_a_missing_adapter_config_is_named_as_missing(tmp_path: Path) -> None:
    with pytest.raises(AdapterError, match=r"adapter_config\.json is missing: copy the version"):
        adapter_config(tmp_path)
    (tmp_path / "adapter_config.json").write_text("{", encoding="utf-8")
    with pytest.raises(AdapterError, match="cannot be read as JSON"):
        adapter_config(tmp_path)
