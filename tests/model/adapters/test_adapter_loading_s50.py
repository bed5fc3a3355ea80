"""Adapters of real-world shapes at load time: peft's own refusals as one sentence, an
adapter whose tensors peft did not match refused, and a version a loaded one conflicts
with refused as that conflict, not as its own fault."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from atri.config import Settings
from atri.errors import ConfigError
from model.adapters.reload import Reloader
from model.adapters.versions import MANIFEST, MANIFEST_FORMAT
from model.engines.local import LocalEngine
from tests.model.adapters.make_versions import base_config_hash
from tests.model.conftest import V1, V2, V3


def peft_adapter(
    model_dir: Path, out: Path, *, seed: int = 1, resize: int = 0, **lora: Any
) -> Path:
    """A peft folder as save_pretrained writes it, LoRA B (and saved modules) drawn with
    `seed` so the adapter changes the model; `resize`: the vocabulary it was trained with."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    if resize:
        model.resize_token_embeddings(resize)  # an added-tokens workflow
    lora.setdefault("target_modules", ["q_proj", "v_proj"])
    peft = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, **lora))
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for key, param in peft.named_parameters():
            if "lora_B" in key or "modules_to_save" in key or "trainable_tokens" in key:
                param.add_(torch.randn(param.shape, generator=generator))
    shutil.rmtree(out, ignore_errors=True)
    peft.save_pretrained(str(out))
    return out


def as_version(folder: Path, model_dir: Path) -> Path:
    data = {
        "format": MANIFEST_FORMAT,
        "version": folder.name,
        "base_model": str(model_dir),
        "base_config_hash": base_config_hash(model_dir),
        "created_at": "2025-01-01T00:00:00+00:00",
    }
    (folder / MANIFEST).write_text(json.dumps(data), encoding="utf-8")
    return folder


def reloader(settings: Settings, engine: LocalEngine) -> Reloader:
    adapters = settings.path(settings.model.adapters_dir)
    return Reloader(settings.reload, adapters, settings.root, engine, "You are ATRI.", "hello")


# --- peft's refusals (a04) -------------------------------------------------------------


async def test_resized_vocabulary_adapter_at_start_is_one_sentence(
    reload_settings: Settings, tiny_model_dir: Path, tmp_path: Path
) -> None:
    folder = peft_adapter(
        tiny_model_dir,
        tmp_path / "resized",
        resize=600,
        modules_to_save=["embed_tokens", "lm_head"],
    )
    reload_settings.model.adapter = str(folder)
    with pytest.raises(ConfigError) as caught:
        await LocalEngine.load(reload_settings)
    message = str(caught.value)
    assert "\n" not in message
    assert "embed_tokens.weight" in message or "lm_head.weight" in message
    assert "[600, 32]" in message and "another vocabulary" in message


async def test_target_modules_the_base_lacks_at_start_is_one_sentence(
    reload_settings: Settings, tiny_model_dir: Path, tmp_path: Path
) -> None:
    folder = peft_adapter(tiny_model_dir, tmp_path / "wrong-targets")
    config = json.loads((folder / "adapter_config.json").read_text())
    config["target_modules"] = ["wq", "wv"]
    (folder / "adapter_config.json").write_text(json.dumps(config))
    reload_settings.model.adapter = str(folder)
    with pytest.raises(ConfigError) as caught:
        await LocalEngine.load(reload_settings)
    assert "\n" not in str(caught.value)
    assert "wq" in str(caught.value)


async def test_resized_vocabulary_version_is_refused_in_one_line_and_live_kept(
    reload_settings: Settings, tiny_model_dir: Path, adapters_dir: Path
) -> None:
    as_version(peft_adapter(tiny_model_dir, adapters_dir / V1), tiny_model_dir)
    resized = peft_adapter(
        tiny_model_dir, adapters_dir / V2, resize=600, modules_to_save=["embed_tokens", "lm_head"]
    )
    as_version(resized, tiny_model_dir)
    engine = await LocalEngine.load(reload_settings)
    try:
        job = reloader(reload_settings, engine)
        assert (await job.reload(V1)).ok
        result = await job.reload(V2)
        assert not result.ok
        assert "\n" not in result.message
        assert "another vocabulary" in result.message
        assert engine.adapter_version == V1
        assert list(engine.model.peft_config) == [V1]
    finally:
        await engine.close()


# --- tensors peft did not match (a02) ----------------------------------------------------


@pytest.mark.parametrize(
    "rename",
    [
        pytest.param(lambda k: k.replace(".weight", ".default.weight"), id="adapter-name-infix"),
        pytest.param(lambda k: k.removeprefix("base_model.model."), id="no-peft-prefix"),
    ],
)
async def test_adapter_whose_tensors_peft_does_not_match_is_refused(
    reload_settings: Settings, tiny_model_dir: Path, adapters_dir: Path, rename: Any
) -> None:
    from safetensors.torch import load_file, save_file

    folder = as_version(peft_adapter(tiny_model_dir, adapters_dir / V1), tiny_model_dir)
    weights = folder / "adapter_model.safetensors"
    tensors = load_file(weights)
    # One layer's tensors renamed: the validation's check (no tensor under peft's names at
    # all) lets it by, so the engine's own look at what peft matched is what refuses it.
    first = min(tensors).rsplit(".lora_", 1)[0]
    renamed = {(rename(k) if k.startswith(first + ".") else k): t for k, t in tensors.items()}
    save_file(renamed, weights, metadata={"format": "pt"})
    engine = await LocalEngine.load(reload_settings)
    try:
        result = await reloader(reload_settings, engine).reload(V1)
        assert not result.ok
        assert "lora_A" in result.message and "match no layer" in result.message
        assert "\n" not in result.message
        assert engine.adapter_version == ""
        # Nothing of it is left half loaded.
        assert not getattr(engine.model, "peft_config", {})
    finally:
        await engine.close()


# --- a version refused for another loaded beside it (a03) ---------------------------------


async def test_plain_version_after_trainable_tokens_names_the_conflict_and_is_not_held(
    reload_settings: Settings, tiny_model_dir: Path, adapters_dir: Path
) -> None:
    as_version(peft_adapter(tiny_model_dir, adapters_dir / V1, seed=7), tiny_model_dir)
    tokens = peft_adapter(tiny_model_dir, adapters_dir / V2, trainable_token_indices=[5, 6])
    as_version(tokens, tiny_model_dir)
    as_version(peft_adapter(tiny_model_dir, adapters_dir / V3, seed=3), tiny_model_dir)
    reload_settings.reload.keep_previous = 1
    engine = await LocalEngine.load(reload_settings)
    try:
        job = reloader(reload_settings, engine)
        for version in (V1, V2, V1):  # V2 stays loaded as the previous version
            assert (await job.reload(version)).ok
        result = await job.reload(V3)
        assert not result.ok
        assert "\n" not in result.message
        assert f"beside {V2}" in result.message and "trainable_token_indices" in result.message
        assert "not at fault" in result.message
        assert V3 not in job.failed and V3 not in job.refused_files
        assert engine.adapter_version == V1
        assert V3 not in engine.model.peft_config
    finally:
        await engine.close()


async def test_trainable_tokens_version_beside_saved_embeddings_names_the_conflict(
    reload_settings: Settings, tiny_model_dir: Path, adapters_dir: Path
) -> None:
    saved = peft_adapter(
        tiny_model_dir, adapters_dir / V1, modules_to_save=["embed_tokens", "lm_head"]
    )
    as_version(saved, tiny_model_dir)
    tokens = peft_adapter(tiny_model_dir, adapters_dir / V2, trainable_token_indices=[5, 6])
    as_version(tokens, tiny_model_dir)
    engine = await LocalEngine.load(reload_settings)
    try:
        job = reloader(reload_settings, engine)
        assert (await job.reload(V1)).ok
        result = await job.reload(V2)
        assert not result.ok
        assert f"beside {V1}" in result.message and "modules_to_save" in result.message
        assert V2 not in job.failed and V2 not in job.refused_files
        assert engine.adapter_version == V1
        assert engine.prefix_cache.enabled  # no failed forward pass switched it off
    finally:
        await engine.close()


# --- a peft folder without ATRI's manifest in the adapters folder (a05) -------------------


async def test_bare_peft_folder_is_named_by_the_job_once_and_by_an_admin_reload(
    reload_settings: Settings,
    tiny_model_dir: Path,
    adapters_dir: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    peft_adapter(tiny_model_dir, adapters_dir / V1)  # named as a version, no manifest.json
    peft_adapter(tiny_model_dir, adapters_dir / "llama-factory-out")
    engine = await LocalEngine.load(reload_settings)
    try:
        job = reloader(reload_settings, engine)
        with caplog.at_level("WARNING", logger="model.adapters.reload"):
            assert await job.check() is None
            assert await job.check() is None
        said = [r.getMessage() for r in caplog.records if "manifest.json" in r.getMessage()]
        assert len(said) == 1  # once, not at every look
        assert V1 in said[0] and "llama-factory-out" in said[0]
        result = await job.reload()
        assert not result.ok and result.code == "no_version"
        assert "manifest.json" in result.message and V1 in result.message
        assert "atri adapters adopt" in result.message and "[model] adapter" in result.message
        assert "\n" not in result.message
        assert result.reason.startswith(V1)  # for a bot to add to its own line
    finally:
        await engine.close()
