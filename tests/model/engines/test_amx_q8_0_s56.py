"""Session 56: on a CPU with AMX a Q8_0 file keeps llama.cpp's AMX buffer type, which
computes that type right (perplexity 73.0 against 73.3) and faster (one user 101 tok/s
against 60 on a 2-core Sapphire Rapids VM); every other file loads without it, as
before (its 4-bit kernels are wrong in this llama.cpp, test_llamacpp_threads_s56).

The choice is tested on any machine with the build's system info said to have AMX; the
AMX kernels themselves only where the CPU has them."""

from __future__ import annotations

import logging
from pathlib import Path

import llama_cpp
import pytest

from atri.config import GenerationSettings, Settings
from model.engines.cpu_repack import AMX_BUILD, AMX_CHECKED_IN, amx_pays
from model.engines.gguf_files import gguf_path
from model.engines.llamacpp import LlamaCppEngine
from tests.model.engines.test_llamacpp import QUESTIONS, chat
from tests.model.engines.test_llamacpp_amx_s54 import (
    WITH_AMX,
    WITHOUT_AMX,
    file_loads_asking_extra_types,
)

GREEDY = GenerationSettings(max_new_tokens=24, do_sample=False, repetition_penalty=1.0)


def requantised(source: Path, folder: Path, ftype: int) -> Path:
    target = folder / f"base.{ftype}.gguf"
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = ftype
    params.allow_requantize = True
    assert llama_cpp.llama_model_quantize(str(source).encode(), str(target).encode(), params) == 0
    return target


@pytest.fixture(scope="module")
def offline(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return gguf_path(Settings(root=tmp_path_factory.mktemp("offline")))


@pytest.fixture(scope="module")
def q8_0_copy(offline: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The offline GGUF requantised to Q8_0 (a second or two), as a user's Q8_0 file."""
    return requantised(offline, tmp_path_factory.mktemp("q8_0"), llama_cpp.LLAMA_FTYPE_MOSTLY_Q8_0)


def test_only_a_file_of_types_amx_computes_right_keeps_it(
    offline: Path, q8_0_copy: Path, tmp_path: Path
) -> None:
    assert amx_pays(q8_0_copy)
    assert not amx_pays(offline)  # Q4_1, its output Q8_0: one wrong type is enough
    f16 = requantised(offline, tmp_path, llama_cpp.LLAMA_FTYPE_MOSTLY_F16)
    assert not amx_pays(f16)  # right, but slower for several users
    assert not amx_pays(tmp_path / "missing.gguf")
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF" + b"\0" * 16)
    assert not amx_pays(broken)


def test_an_amx_build_loads_a_q8_0_file_with_the_extra_types_and_others_without(
    offline: Path, q8_0_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert file_loads_asking_extra_types(monkeypatch, q8_0_copy, WITH_AMX) == [True]
    assert file_loads_asking_extra_types(monkeypatch, offline, WITH_AMX) == [False]


def test_another_llama_cpp_python_keeps_amx_off_for_a_q8_0_file_too(
    q8_0_copy: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Session 57: 0.3.36 crashed in the AMX kernels on this Q8_0 file; only a release
    whose kernels were checked (AMX_CHECKED_IN, the one constraints.txt pins) uses them."""
    assert llama_cpp.__version__ in AMX_CHECKED_IN  # what the tests above measured
    monkeypatch.setattr(llama_cpp, "__version__", "0.3.36")
    with caplog.at_level(logging.INFO, logger="model.engines.cpu_repack"):
        assert file_loads_asking_extra_types(monkeypatch, q8_0_copy, WITH_AMX) == [False]
    told = [r.getMessage() for r in caplog.records if "AMX kernels stay off" in r.getMessage()]
    assert told and "0.3.36" in told[0] and "0.3.16" in told[0], told


def test_a_q8_0_file_batches_as_alone_with_amx_where_the_cpu_has_it(q8_0_copy: Path) -> None:
    """The AMX kernels differ for one row and several (VNNI and tiles): for Q8_0 they give
    the same scores, so greedy replies batched equal replies alone. Without AMX the file
    loads with llama.cpp's usual kernels, which batch as alone too."""
    engine = LlamaCppEngine(q8_0_copy, "builtin:smollm2-135m", "", max_batch=4)
    try:
        assert engine.amx == (AMX_BUILD in llama_cpp.llama_print_system_info())
        alone = [engine.generate_sync([chat(q)], GREEDY)[0].text for q in QUESTIONS]
        batched = [g.text for g in engine.generate_sync([chat(q) for q in QUESTIONS], GREEDY)]
    finally:
        engine.thread.call(engine._free)
    assert batched == alone
    assert all(text.strip() for text in batched)


@pytest.mark.parametrize(
    ("info", "better"), [(WITH_AMX, "a Q8_0 file"), (WITHOUT_AMX, "a Q4_0 file")]
)
def test_the_q4_1_warning_names_the_file_to_get_on_this_cpu(
    offline: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    info: bytes,
    better: str,
) -> None:
    monkeypatch.setattr(llama_cpp, "llama_print_system_info", lambda: info)
    engine = LlamaCppEngine(offline, "builtin:smollm2-135m", "", max_batch=2)
    engine.thread.call(engine._free)
    (warning,) = [r.getMessage() for r in caplog.records if "no batched kernel" in r.getMessage()]
    assert better in warning
