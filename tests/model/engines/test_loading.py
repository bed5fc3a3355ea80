"""Base-model loading decisions: bf16 only where the GPU runs it natively, the
trust_remote_code key, and loading straight onto the device."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import torch

from atri.config import Settings, TrainSettings
from model.engines import loading
from model.engines.loading import (
    RemoteCodeError,
    device_map,
    gpu_half_precision,
    load_base_model,
    native_bf16,
    pick_dtype,
)
from model.training.hardware import plan_hardware


def fake_gpu(monkeypatch: pytest.MonkeyPatch, *, native: bool, emulated: bool) -> list[Any]:
    """A CUDA GPU as this torch reports it: `is_bf16_supported()` counts emulation unless
    asked with including_emulation=False. Returns the arguments each call received."""
    calls: list[Any] = []

    def is_bf16_supported(including_emulation: bool = True) -> bool:
        calls.append(including_emulation)
        return native or (including_emulation and emulated)

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", is_bf16_supported)
    return calls


def test_an_emulating_gpu_gets_fp16_for_serving_and_training(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = fake_gpu(monkeypatch, native=False, emulated=True)  # T4, V100, RTX 20xx
    assert torch.cuda.is_bf16_supported()  # what torch says when not asked precisely
    assert not native_bf16()
    assert calls[-1] is False
    assert gpu_half_precision() == "fp16"
    assert pick_dtype("auto", "cuda") is torch.float16
    assert plan_hardware(TrainSettings(quantization="none"), "cuda").precision == "fp16"
    # An explicit choice is the user's.
    assert pick_dtype("bfloat16", "cuda") is torch.bfloat16


def test_a_native_bf16_gpu_gets_bf16(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_gpu(monkeypatch, native=True, emulated=True)  # Ampere and later
    assert pick_dtype("auto", "cuda") is torch.bfloat16
    assert plan_hardware(TrainSettings(quantization="none"), "cuda").precision == "bf16"
    assert pick_dtype("auto", "cpu") is torch.float32


def test_a_torch_without_the_emulation_argument_is_asked_plainly(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: False)
    assert gpu_half_precision() == "fp16"
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)
    assert gpu_half_precision() == "bf16"


def test_no_gpu_means_no_bf16_question(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert not native_bf16()


def test_weights_load_straight_onto_the_device(
    monkeypatch: pytest.MonkeyPatch, tiny_settings: Settings
) -> None:
    assert device_map("cpu") is None
    assert device_map("cuda") == {"": "cuda"}
    seen: dict[str, Any] = {}
    real = loading.load_pretrained

    def spy(settings: Settings, source: str, **kwargs: Any) -> tuple[Any, Any]:
        seen.update(kwargs)
        return real(settings, source, **kwargs)

    monkeypatch.setattr(loading, "load_pretrained", spy)
    loaded = load_base_model(tiny_settings)
    assert seen == {"dtype": torch.float32, "device_map": None}
    assert loaded.model.device.type == "cpu"


def custom_code_model(tiny_model_dir: Path, folder: Path) -> Path:
    """The tiny model, marked as a hub model that ships its own modelling code."""
    shutil.copytree(tiny_model_dir, folder)
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    config["model_type"] = "atri_custom"
    config["auto_map"] = {
        "AutoConfig": "configuration_custom.CustomConfig",
        "AutoModelForCausalLM": "modeling_custom.CustomModel",
    }
    (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
    return folder


def test_a_model_with_its_own_code_is_one_sentence(
    tiny_settings: Settings, tiny_model_dir: Path, tmp_path: Path
) -> None:
    tiny_settings.model.base = str(custom_code_model(tiny_model_dir, tmp_path / "custom"))
    assert tiny_settings.model.trust_remote_code is False
    with pytest.raises(RemoteCodeError, match=r"set \[model\] trust_remote_code = true"):
        load_base_model(tiny_settings)
