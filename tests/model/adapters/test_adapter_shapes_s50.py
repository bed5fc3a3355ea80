"""Adapter shapes met in the wild that the checks let through: unconverted PiSSA/OLoRA/
CorDA adapters, tensors under names peft does not load, a trainer's output folder, a
bare folder naming another base. Files only; no model is loaded."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from model.adapters.gguf_lora import _lora_tensors
from model.adapters.validation import (
    check_adapter_folder,
    check_module_shapes,
    check_trained_on,
    read_version,
)
from model.adapters.versions import MANIFEST, MANIFEST_FORMAT, AdapterError
from tests.model.adapters.test_validation import write_safetensors

MODULE = "model.layers.0.self_attn.q_proj"
PEFT_KEY = f"base_model.model.{MODULE}"
PEFT_TENSORS = {f"{PEFT_KEY}.lora_A.weight": [4, 32], f"{PEFT_KEY}.lora_B.weight": [32, 4]}
VERSION = "20250101-000001"


def write_adapter(
    folder: Path, tensors: dict[str, list[int]] | None = None, **config: object
) -> Path:
    """A peft LoRA folder of zeros: adapter_config.json (r = 4 unless told) and weights."""
    folder.mkdir(parents=True, exist_ok=True)
    data = {"peft_type": "LORA", "r": 4, "lora_alpha": 8, "target_modules": ["q_proj"]}
    data.update(config)
    (folder / "adapter_config.json").write_text(json.dumps(data))
    write_safetensors(folder / "adapter_model.safetensors", tensors or PEFT_TENSORS)
    return folder


def write_version(adapters: Path, **config: object) -> Path:
    folder = write_adapter(adapters / VERSION, **config)
    manifest = {
        "format": MANIFEST_FORMAT,
        "version": VERSION,
        "base_model": "some/base",
        "base_config_hash": "0" * 16,
    }
    (folder / MANIFEST).write_text(json.dumps(manifest))
    return folder


UNCONVERTED = ["pissa", "pissa_niter_4", "olora", "corda"]


@pytest.mark.parametrize("init", UNCONVERTED)
def test_an_unconverted_pissa_like_version_is_refused(tmp_path: Path, init: str) -> None:
    """Loading one makes peft subtract its start from the base weights in place: the
    base model and every other version would change until a restart."""
    write_version(tmp_path, init_lora_weights=init)
    with pytest.raises(AdapterError) as caught:
        read_version(tmp_path, VERSION)
    message = str(caught.value)
    assert message.startswith(f"Version {VERSION}: ")
    assert f'init_lora_weights = "{init}"' in message
    assert "path_initial_model_for_weight_conversion" in message
    with pytest.raises(AdapterError, match="path_initial_model_for_weight_conversion"):
        check_adapter_folder(write_adapter(tmp_path / "bare", init_lora_weights=init))


@pytest.mark.parametrize("init", [True, "gaussian", False])
def test_a_converted_or_plain_lora_is_accepted(tmp_path: Path, init: object) -> None:
    """peft writes init_lora_weights = true into the config of a converted adapter."""
    write_version(tmp_path, init_lora_weights=init)
    assert read_version(tmp_path, VERSION).name == VERSION


@pytest.mark.parametrize("init", UNCONVERTED)
def test_the_gguf_conversion_refuses_an_unconverted_pissa_like_adapter(
    tmp_path: Path, init: str
) -> None:
    folder = write_adapter(tmp_path / "v", init_lora_weights=init)
    facts = {"arch": "llama", "blocks": 2, "heads": 4, "kv_heads": 2}
    with pytest.raises(AdapterError, match="path_initial_model_for_weight_conversion"):
        _lora_tensors(folder, facts)


RENAMED = {
    # A script that saved model.state_dict() filtered on "lora": peft's adapter name stays in.
    "default_infix": lambda key: key.replace(".weight", ".default.weight"),
    # Names of the base model's own modules, without the PeftModel's prefix.
    "no_prefix": lambda key: key.removeprefix("base_model.model."),
}


@pytest.mark.parametrize("label", list(RENAMED))
def test_tensors_peft_would_not_load_are_refused(tmp_path: Path, label: str) -> None:
    """peft loads no tensor of such a file: the version went live changing nothing."""
    rename = RENAMED[label]
    tensors = {rename(key): shape for key, shape in PEFT_TENSORS.items()}
    folder = write_version(tmp_path)
    write_safetensors(folder / "adapter_model.safetensors", tensors)
    with pytest.raises(AdapterError) as caught:
        read_version(tmp_path, VERSION)
    message = str(caught.value)
    assert message.startswith(f"Version {VERSION}: ")
    assert "no LoRA tensor" in message and "base_model.model.<module>.lora_A.weight" in message
    assert repr(rename(f"{PEFT_KEY}.lora_A.weight")) in message  # what it found
    assert "model.save_pretrained" in message
    if label == "default_infix":
        assert "'default'" in message
    with pytest.raises(AdapterError, match="no LoRA tensor"):
        check_adapter_folder(write_adapter(tmp_path / "bare", tensors))
    with pytest.raises(AdapterError, match="no LoRA tensor"):
        check_module_shapes(tensors, {MODULE: (32, 32)})


def test_peft_names_pass_the_name_check(tmp_path: Path) -> None:
    check_adapter_folder(write_adapter(tmp_path / "bare"))
    check_module_shapes(PEFT_TENSORS, {MODULE: (32, 32)})


def test_a_trainers_output_folder_names_its_checkpoints(tmp_path: Path) -> None:
    """HF Trainer / LLaMA-Factory keep each saved adapter in a checkpoint-<step>/ folder."""
    out = tmp_path / "saves" / "lora" / "sft"
    for step in (500, 1000, 50):
        write_adapter(out / f"checkpoint-{step}")
    (out / "checkpoint-7").mkdir()  # no adapter in it: not named
    (out / "trainer_state.json").write_text("{}")
    with pytest.raises(AdapterError) as caught:
        check_adapter_folder(out)
    message = str(caught.value)
    assert "checkpoint-50, checkpoint-500 and checkpoint-1000" in message
    assert "(checkpoint-1000 the latest)" in message
    assert "copy the version folder whole" not in message
    assert "checkpoint-7" not in message


def test_a_folder_without_checkpoints_is_still_told_to_copy_whole(tmp_path: Path) -> None:
    folder = write_adapter(tmp_path / "v")
    (folder / "adapter_config.json").unlink()
    with pytest.raises(AdapterError, match="copy the version folder whole"):
        check_adapter_folder(folder)


class Base:
    """The loaded base, as check_trained_on sees an engine."""

    config_hash = "0" * 16

    def __init__(self, base_id: str) -> None:
        self.base_id = base_id

    def accepts_config_hash(self, value: str) -> bool:
        return value == self.config_hash


@pytest.mark.parametrize(
    ("trained_on", "loaded"),
    [
        ("meta-llama/Meta-Llama-3-8B-Instruct", "meta-llama/Llama-3.1-8B-Instruct"),
        ("Qwen/Qwen2.5-7B", "Qwen/Qwen2.5-7B-Instruct"),
        ("/root/models/Qwen2.5-7B-Instruct", "builtin:smollm2-135m"),
    ],
)
def test_a_bare_folder_naming_another_base_is_served_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, trained_on: str, loaded: str
) -> None:
    """Its shapes match, so it loads (a local path and a hub name of one model differ in
    form too), but the user is told which base its config names."""
    folder = write_adapter(tmp_path / "lora", base_model_name_or_path=trained_on)
    with caplog.at_level(logging.WARNING):
        check_trained_on(folder, Base(loaded))
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 1
    assert repr(trained_on) in warned[0] and repr(loaded) in warned[0]


@pytest.mark.parametrize(
    ("trained_on", "loaded"),
    [
        ("Qwen/Qwen2.5-7B-Instruct", "Qwen/Qwen2.5-7B-Instruct"),
        ("Qwen/Qwen2.5-7B-Instruct", "/srv/models/qwen2.5-7b-instruct/"),
        ("unsloth/qwen2.5-7b-instruct-bnb-4bit", "Qwen/Qwen2.5-7B-Instruct"),
        ("C:\\models\\Qwen2.5-7B-Instruct", "./models/Qwen2.5-7B-Instruct-Q4_K_M.gguf"),
        ("", "Qwen/Qwen2.5-7B-Instruct"),
        (None, "Qwen/Qwen2.5-7B-Instruct"),
        # The offline default is SmolLM2-135M-Instruct, the name peft records for it.
        ("HuggingFaceTB/SmolLM2-135M-Instruct", "builtin:smollm2-135m"),
    ],
)
def test_a_bare_folder_naming_the_loaded_base_in_another_form_is_not_warned_of(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, trained_on: str | None, loaded: str
) -> None:
    folder = write_adapter(tmp_path / "lora", base_model_name_or_path=trained_on)
    with caplog.at_level(logging.WARNING):
        check_trained_on(folder, Base(loaded))
    assert not [r for r in caplog.records if r.levelno == logging.WARNING]
