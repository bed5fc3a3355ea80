"""On a CPU with AMX the model loads without llama.cpp's extra buffer types. There the
AMX kernel took the weights (Q4_1, Q4_0…), and in this llama.cpp its 4-bit kernels compute
wrong numbers (test_llamacpp_threads_s56 measures it; a row of a batch also got other
numbers than the same row alone, and 8 of test_llamacpp*.py failed on such a machine).
These tests show the choice on any machine, with the build's system info said to have
AMX or not."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import llama_cpp
import pytest

from atri.config import Settings
from model.engines.gguf_files import gguf_path
from model.engines.llamacpp import LlamaCppEngine

# As this Sapphire Rapids VM's native build printed it (AMX_INT8 is only listed when set).
WITH_AMX = b"CPU : AVX2 = 1 | AVX512 = 1 | AMX_INT8 = 1 | REPACK = 1 | "
WITHOUT_AMX = b"CPU : AVX2 = 1 | AVX512 = 1 | REPACK = 1 | "


def loads_asking_extra_types(
    monkeypatch: pytest.MonkeyPatch, root: Path, info: bytes
) -> list[bool]:
    """Whether each model load the engine made asked for the extra buffer types, with
    llama.cpp's system info reading `info`."""
    return file_loads_asking_extra_types(monkeypatch, gguf_path(Settings(root=root)), info)


def file_loads_asking_extra_types(
    monkeypatch: pytest.MonkeyPatch, path: Path, info: bytes
) -> list[bool]:
    """`loads_asking_extra_types` of the GGUF file `path`."""
    asked: list[bool] = []
    load = llama_cpp.llama_model_load_from_file

    def recording(name: bytes, params: Any) -> Any:
        asked.append(bool(params.use_extra_bufts))
        return load(name, params)

    monkeypatch.setattr(llama_cpp, "llama_print_system_info", lambda: info)
    monkeypatch.setattr(llama_cpp, "llama_model_load_from_file", recording)
    engine = LlamaCppEngine(path, "builtin:smollm2-135m", "", max_batch=2)
    engine.thread.call(engine._free)
    return asked


def test_with_amx_the_model_loads_without_extra_buffer_types(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert loads_asking_extra_types(monkeypatch, tmp_path, WITH_AMX) == [False]


def test_without_amx_llama_cpp_keeps_its_extra_buffer_types(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Elsewhere they are what repacks Q4_0 and IQ4_NL weights for batching."""
    assert loads_asking_extra_types(monkeypatch, tmp_path, WITHOUT_AMX) == [True]
