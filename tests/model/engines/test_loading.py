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
from model.engines import loading, offline_gguf
from model.engines.loading import (
    DeviceNotFoundError,
    RemoteCodeError,
    device_map,
    gpu_half_precision,
    load_base_model,
    native_bf16,
    pick_device,
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


# The offline default's cache: checked against the GGUF on every load, converted again
# where an older transformers wrote it with the wrong end-of-text token.

IM_START, IM_END = 1, 2  # SmolLM2's ids; its GGUF ends text on <|im_end|>


def cache_files(folder: Path, eos_id: int = IM_END, eos_text: str = "<|im_end|>") -> Path:
    """The JSON files of a converted offline model whose EOS is `eos_id` / `eos_text`
    (transformers 5.0-5.17 wrote <|im_start|>, id 1)."""
    folder.mkdir(parents=True)
    files = {
        "config.json": {"model_type": "llama", "eos_token_id": eos_id, "pad_token_id": eos_id},
        "generation_config.json": {"eos_token_id": eos_id},
        "tokenizer_config.json": {"eos_token": eos_text, "pad_token": eos_text},
    }
    for name, content in files.items():
        (folder / name).write_text(json.dumps(content), encoding="utf-8")
    (folder / "model.safetensors").write_bytes(b"weights")
    return folder


class FakeConverter:
    """Stands in for the ~30 s dequantisation: writes the JSON files of a conversion with
    the given EOS, and may first run `meanwhile` (another process's doing)."""

    def __init__(self, eos_id: int = IM_END, eos_text: str = "<|im_end|>") -> None:
        self.eos = (eos_id, eos_text)
        self.calls: list[Path] = []
        self.meanwhile: Any = None

    def __call__(self, source: Path, out: Path) -> None:
        self.calls.append(out)
        if self.meanwhile:
            self.meanwhile()
        shutil.rmtree(out)
        cache_files(out, *self.eos)
        (out / "converted-here").write_text("", encoding="utf-8")


def eos_of(folder: Path) -> Any:
    return json.loads((folder / "config.json").read_text(encoding="utf-8"))["eos_token_id"]


def leftovers(cache: Path) -> list[str]:
    return sorted(p.name for p in cache.iterdir() if p.name != offline_gguf.OFFLINE_CACHE_NAME)


def test_the_packaged_gguf_ends_text_on_im_end() -> None:
    source = offline_gguf.offline_gguf_dir() / offline_gguf.OFFLINE_GGUF
    assert offline_gguf.gguf_eos(source) == (IM_END, "<|im_end|>")


def test_the_eos_is_read_past_string_and_number_arrays(tmp_path: Path) -> None:
    import gguf

    path = tmp_path / "small.gguf"
    writer = gguf.GGUFWriter(path, "llama")
    writer.add_tokenizer_model("gpt2")
    writer.add_token_list(["<unk>", "<s>", "</s>", "héllo"])
    writer.add_token_scores([0.0, 0.5, 1.0, 2.0])
    writer.add_token_merges(["h é", "hé llo"])
    writer.add_eos_token_id(3)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.close()
    assert offline_gguf.gguf_eos(path) == (3, "héllo")
    path.write_bytes(path.read_bytes()[:60])  # cut inside the tokens
    assert offline_gguf.gguf_eos(path) is None
    path.write_bytes(b"")
    assert offline_gguf.gguf_eos(path) is None


@pytest.mark.parametrize("stale_in", ["config.json", "generation_config.json", "tokenizer"])
def test_a_cache_with_the_wrong_eos_is_converted_again(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    stale_in: str,
) -> None:
    target = cache_files(tmp_path / "cache" / offline_gguf.OFFLINE_CACHE_NAME)
    if stale_in == "tokenizer":
        (target / "tokenizer_config.json").write_text('{"eos_token": "<|im_start|>"}')
    else:
        (target / stale_in).write_text(json.dumps({"eos_token_id": IM_START}))
    convert = FakeConverter()
    monkeypatch.setattr(offline_gguf, "convert_offline", convert)
    with caplog.at_level("INFO", logger=offline_gguf.__name__):
        assert offline_gguf.offline_default_folder(tmp_path / "cache") == target
    assert len(convert.calls) == 1 and (target / "converted-here").is_file()
    assert offline_gguf.cache_problem(target, (IM_END, "<|im_end|>")) is None
    [line] = [r.getMessage() for r in caplog.records]
    assert "again" in line and ("token 1" in line or "<|im_start|>" in line)
    assert leftovers(tmp_path / "cache") == []
    # The next load keeps it.
    assert offline_gguf.offline_default_folder(tmp_path / "cache") == target
    assert len(convert.calls) == 1


def test_a_good_cache_is_kept_untouched(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = cache_files(tmp_path / "cache" / offline_gguf.OFFLINE_CACHE_NAME)
    before = {p.name: p.stat().st_mtime_ns for p in [target, *target.iterdir()]}
    convert = FakeConverter()
    monkeypatch.setattr(offline_gguf, "convert_offline", convert)
    assert offline_gguf.offline_default_folder(tmp_path / "cache") == target
    assert convert.calls == []
    assert {p.name: p.stat().st_mtime_ns for p in [target, *target.iterdir()]} == before
    assert leftovers(tmp_path / "cache") == []


def test_a_missing_cache_is_converted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    convert = FakeConverter()
    monkeypatch.setattr(offline_gguf, "convert_offline", convert)
    with caplog.at_level("INFO", logger=offline_gguf.__name__):
        target = offline_gguf.offline_default_folder(tmp_path / "cache")
    assert len(convert.calls) == 1 and eos_of(target) == IM_END
    assert [r.getMessage() for r in caplog.records] == [
        f"Converting the offline default model to safetensors in {target} (once)."
    ]
    assert leftovers(tmp_path / "cache") == []


@pytest.mark.parametrize("stale", [False, True])
def test_another_process_converting_at_once_leaves_one_good_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stale: bool
) -> None:
    """The other process renames its good copy in while this one converts: it is kept
    (it may be loading from it) and this copy is dropped."""
    cache = tmp_path / "cache"
    target = cache / offline_gguf.OFFLINE_CACHE_NAME
    if stale:
        cache_files(target, IM_START, "<|im_start|>")

    def other_process_wins() -> None:
        theirs = cache_files(cache / ".theirs")
        (theirs / "theirs").write_text("", encoding="utf-8")
        if stale:
            shutil.rmtree(target)
        theirs.rename(target)

    convert = FakeConverter()
    convert.meanwhile = other_process_wins
    monkeypatch.setattr(offline_gguf, "convert_offline", convert)
    assert offline_gguf.offline_default_folder(cache) == target
    assert (target / "theirs").is_file() and eos_of(target) == IM_END
    assert leftovers(cache) == []


def test_a_converter_that_still_gets_it_wrong_is_one_sentence(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An environment still on transformers 5.17 would convert again on every start."""
    target = cache_files(
        tmp_path / "cache" / offline_gguf.OFFLINE_CACHE_NAME, IM_START, "<|im_start|>"
    )
    monkeypatch.setattr(offline_gguf, "convert_offline", FakeConverter(IM_START, "<|im_start|>"))
    with pytest.raises(offline_gguf.StaleConverterError, match=r"transformers>=5\.18"):
        offline_gguf.offline_default_folder(tmp_path / "cache")
    assert eos_of(target) == IM_START and not (target / "converted-here").exists()
    assert leftovers(tmp_path / "cache") == []


@pytest.mark.parametrize("device", ["cuda", "mps"])
def test_a_device_this_machine_lacks_is_one_sentence_for_serving_and_training(
    monkeypatch: pytest.MonkeyPatch, device: str
) -> None:
    """torch failed deep inside from_pretrained ("Torch not compiled with CUDA enabled")."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    settings = Settings.model_validate({"model": {"device": device}})
    with pytest.raises(DeviceNotFoundError, match=rf'\[model\] device = "{device}" but this'):
        load_base_model(settings)
    with pytest.raises(DeviceNotFoundError):
        plan_hardware(TrainSettings(), device)
    assert pick_device("auto") == "cpu"
