"""`atri train` writes the llama.cpp LoRA (`adapter.gguf`) into the version it publishes,
and a conversion that fails costs only that shortcut, never the version."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from atri.config import Settings
from model.adapters.gguf_lora import ADAPTER_GGUF, GGUF_RECORD
from model.adapters.versions import sha256_file
from model.engines.gguf_files import gguf_config_hash, gguf_path
from model.engines.loading import resolve_base
from model.training.publishing import write_gguf_adapter
from tests.model.adapters.make_versions import write_version


@pytest.fixture(scope="module")
def peft_version(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A LoRA version on the offline default, as training saves it."""
    from tests.conftest import _model_cache_dir

    settings = Settings(root=tmp_path_factory.mktemp("base"))
    settings.model.cache_dir = str(_model_cache_dir())
    return write_version(
        tmp_path_factory.mktemp("adapters"),
        "20250101-000001",
        Path(resolve_base(settings)),
        base_model=settings.model.base,
        config_hash=gguf_config_hash(gguf_path(settings)),
        scale=0.01,
    )


def test_the_offline_default_gets_its_gguf_lora(settings: Settings, peft_version: Path) -> None:
    settings.model.engine = "local"  # trained with transformers, served later on a CPU
    folder = settings.path("version")
    shutil.copytree(peft_version, folder)
    written = write_gguf_adapter(settings, folder)
    assert written == folder / ADAPTER_GGUF and written.stat().st_size > 0
    # With the record that lets the worker tell it whole and current, not convert it again.
    record = json.loads((folder / GGUF_RECORD).read_text(encoding="utf-8"))
    assert (record["size"], record["sha256"]) == (written.stat().st_size, sha256_file(written))
    assert record["peft_sha256"]["adapter_model.safetensors"] == sha256_file(
        folder / "adapter_model.safetensors"
    )
    # Not mkstemp's 0600: a vLLM or llama.cpp server running as another user reads it.
    mask = os.umask(0)
    os.umask(mask)
    assert written.stat().st_mode & 0o777 == 0o666 & ~mask


def test_another_base_without_llamacpp_gets_none(
    settings: Settings, peft_version: Path, tiny_model_dir: Path
) -> None:
    settings.model.base = str(tiny_model_dir)
    folder = settings.path("version")
    shutil.copytree(peft_version, folder)
    assert write_gguf_adapter(settings, folder) is None
    assert not (folder / ADAPTER_GGUF).exists()


def test_a_failed_conversion_keeps_the_version(
    settings: Settings, peft_version: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings.model.engine = "llamacpp"
    folder = settings.path("version")
    shutil.copytree(peft_version, folder)
    config = json.loads((folder / "adapter_config.json").read_text(encoding="utf-8"))
    config["use_dora"] = True  # a LoRA llama.cpp cannot apply
    (folder / "adapter_config.json").write_text(json.dumps(config), encoding="utf-8")
    before = sorted(p.name for p in folder.iterdir())
    with caplog.at_level("WARNING"):
        assert write_gguf_adapter(settings, folder) is None
    assert sorted(p.name for p in folder.iterdir()) == before  # nothing lost, nothing half
    assert "the worker converts the version when it loads it" in caplog.text
