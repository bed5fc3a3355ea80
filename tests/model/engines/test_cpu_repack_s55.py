"""Session 55: on a CPU with AMX the engine loads a GGUF without llama.cpp's extra buffer
types (test_llamacpp_amx_s54), which also turned off the repacking of Q4_0 weights. Their
matrices now get the CPU_REPACK type by name. On this Sapphire Rapids VM, the offline
model requantised to Q4_0, 64 greedy tokens: one user 88-93 tok/s repacked against 69-75
(8 users 189-195 against 190-193), replies batched equal to alone both ways.

These tests run on any machine: the system info is said to have AMX where the choice is
tested, and the repack type is the build's own."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import llama_cpp
import pytest
from gguf import GGMLQuantizationType

from atri.config import GenerationSettings, Settings
from model.engines import cpu_repack
from model.engines.cpu_repack import repack_buffer_type, repack_overrides, repacked_tensors
from model.engines.gguf_files import gguf_path
from model.engines.gguf_header import gguf_header
from model.engines.llamacpp import LlamaCppEngine
from tests.model.engines.test_llamacpp import QUESTIONS, chat
from tests.model.engines.test_llamacpp_amx_s54 import WITH_AMX

GREEDY = GenerationSettings(max_new_tokens=24, do_sample=False, repetition_penalty=1.0)


@pytest.fixture(scope="module")
def q4_0_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The offline GGUF requantised to Q4_0 (a few seconds), as a user's Q4_0 file."""
    source = gguf_path(Settings(root=tmp_path_factory.mktemp("offline")))
    target = tmp_path_factory.mktemp("q4_0") / "base.q4_0.gguf"
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_0
    params.allow_requantize = True
    assert llama_cpp.llama_model_quantize(str(source).encode(), str(target).encode(), params) == 0
    return target


@pytest.fixture
def amx_engine(q4_0_copy: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LlamaCppEngine]:
    """The engine on the Q4_0 copy, llama.cpp's system info saying AMX."""
    monkeypatch.setattr(llama_cpp, "llama_print_system_info", lambda: WITH_AMX)
    engine = LlamaCppEngine(q4_0_copy, "builtin:smollm2-135m", "", max_batch=4)
    yield engine
    engine._free()


def test_the_q4_0_matrices_are_named_and_nothing_else(q4_0_copy: Path) -> None:
    """Every 2-D Q4_0 tensor but the token embeddings (read a row at a time), with rows in
    eights; a name the repack type has no layout for would crash llama.cpp's load."""
    named = repacked_tensors(q4_0_copy)
    with gguf_header(q4_0_copy) as header:
        table = {t.name: t for t in header.tensors()}
    assert named and "token_embd.weight" not in named
    assert {table[name].kind for name in named} == {GGMLQuantizationType.Q4_0}
    assert all(len(table[n].dims) == 2 and table[n].dims[1] % 8 == 0 for n in named)
    others = [
        t
        for name, t in table.items()
        if name not in named and name != "token_embd.weight" and len(t.dims) == 2
    ]
    assert all(t.kind != GGMLQuantizationType.Q4_0 or t.dims[1] % 8 for t in others)


def test_the_offline_q4_1_file_has_nothing_to_repack(tmp_path: Path) -> None:
    path = gguf_path(Settings(root=tmp_path))
    assert repacked_tensors(path) == []
    assert repack_overrides(llama_cpp, path) is None


def test_the_repack_type_is_found_where_the_build_repacks() -> None:
    found = repack_buffer_type(llama_cpp)
    assert (found is not None) == (b"REPACK = 1" in llama_cpp.llama_print_system_info())


def test_a_pattern_names_one_tensor_whole(q4_0_copy: Path) -> None:
    """llama.cpp searches each name with each pattern: `blk.1.` must not name `blk.11.`."""
    overrides = repack_overrides(llama_cpp, q4_0_copy)
    if repack_buffer_type(llama_cpp) is None:  # a build without the repack type
        assert overrides is None
        return
    assert overrides is not None
    patterns = [p.decode() for p in overrides._patterns]
    for name in overrides.tensors:
        assert [p for p in patterns if re.search(p, name)] == [f"^{re.escape(name)}$"]


def test_an_amx_build_loads_the_q4_0_matrices_repacked_and_batches_as_alone(
    amx_engine: LlamaCppEngine, q4_0_copy: Path
) -> None:
    if repack_buffer_type(llama_cpp) is None:
        assert amx_engine.repacked is None
    else:
        assert amx_engine.repacked is not None
        assert amx_engine.repacked.tensors == repacked_tensors(q4_0_copy)
    alone = [amx_engine.generate_sync([chat(q)], GREEDY)[0].text for q in QUESTIONS]
    batched = [g.text for g in amx_engine.generate_sync([chat(q) for q in QUESTIONS], GREEDY)]
    assert batched == alone
    assert all(text.strip() for text in batched)


def test_an_amx_build_asks_the_overrides_and_no_extra_types(
    q4_0_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The overrides reach llama.cpp's load beside use_extra_bufts = False; where none are
    found (here: said so), the load is as before, without repacking."""
    seen: list[tuple[bool, int | None]] = []
    load = llama_cpp.llama_model_load_from_file

    def recording(name: bytes, params: Any) -> Any:
        seen.append((bool(params.use_extra_bufts), params.tensor_buft_overrides))
        return load(name, params)

    monkeypatch.setattr(llama_cpp, "llama_print_system_info", lambda: WITH_AMX)
    monkeypatch.setattr(llama_cpp, "llama_model_load_from_file", recording)
    engine = LlamaCppEngine(q4_0_copy, "builtin:smollm2-135m", "", max_batch=2)
    expected = engine.repacked.pointer if engine.repacked is not None else None
    engine._free()
    monkeypatch.setattr(cpu_repack, "repack_buffer_type", lambda _: None)
    engine = LlamaCppEngine(q4_0_copy, "builtin:smollm2-135m", "", max_batch=2)
    assert engine.repacked is None
    engine._free()
    assert seen == [(False, expected), (False, None)]
