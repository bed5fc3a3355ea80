"""A Q4_1 GGUF (the offline default's own) loads without llama.cpp's extra buffer
types. On a CPU with AMX the AMX kernel took its weights and gave a row of a batch other
numbers than the same row alone: on such a machine (a Sapphire Rapids VM) the engine's
greedy replies batched differed from alone, and 8 of test_llamacpp*.py failed. Those
tests show it on an AMX machine; these show the choice on any."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import llama_cpp
import pytest

from atri.config import Settings
from model.engines.gguf_files import gguf_path
from model.engines.llamacpp import LlamaCppEngine, _file_type


def loaded_with(monkeypatch: pytest.MonkeyPatch, path: Path) -> list[bool]:
    """Whether each model load the engine made asked for the extra buffer types."""
    asked: list[bool] = []
    load = llama_cpp.llama_model_load_from_file

    def recording(name: bytes, params: Any) -> Any:
        asked.append(bool(params.use_extra_bufts))
        return load(name, params)

    monkeypatch.setattr(llama_cpp, "llama_model_load_from_file", recording)
    engine = LlamaCppEngine(path, "builtin:smollm2-135m", "", max_batch=2)
    try:
        assert engine.weight_type == "Q4_1"
    finally:
        engine._free()
    return asked


def test_the_offline_q4_1_file_loads_without_extra_buffer_types(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = gguf_path(Settings(root=tmp_path))
    assert _file_type(path) == llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_1
    assert loaded_with(monkeypatch, path) == [False]


def test_a_file_whose_type_cannot_be_read_keeps_llama_cpps_choice(tmp_path: Path) -> None:
    """No header to read (not a GGUF, empty): None, so the load is llama.cpp's default
    and its own error says what is wrong with the file."""
    empty = tmp_path / "empty.gguf"
    empty.write_bytes(b"")
    other = tmp_path / "other.gguf"
    other.write_bytes(b"PK\x03\x04 not a gguf")
    assert _file_type(empty) is None
    assert _file_type(other) is None
    assert _file_type(tmp_path / "missing.gguf") is None
