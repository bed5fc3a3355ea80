"""Session 64 review of the llama.cpp engine: a KV cache too big for memory, a thread
count beyond the CPUs, a LoRA adapter's GGUF given as the model, and a request
cancelled as the service closes, each said in one sentence or not at all, as fits."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import llama_cpp
import pytest

from atri.config import GenerationSettings, Settings
from atri.errors import ConfigError
from model.adapters.gguf_lora import ensure_gguf_adapter
from model.batching import Batcher
from model.character.prompt import ChatMessages
from model.engines import llamacpp
from model.engines.cpu_threads import usable_cpus
from model.engines.gguf_files import gguf_path
from model.engines.llamacpp import LlamaCppEngine
from model.engines.offline_gguf import ModelNotFoundError
from model.tasks import stop_task
from tests.model.adapters.make_versions import gguf_facts_of, write_version

BASE = "builtin:smollm2-135m"
GREEDY = GenerationSettings(max_new_tokens=8, do_sample=False, repetition_penalty=1.0)
# A prompt of some 1,500 tokens: past the 512 a cold prefix slot takes at once, it is
# read a piece a step, for long enough to be given up while it is.
LONG: ChatMessages = [
    {"role": "system", "content": "You are ATRI."},
    {"role": "user", "content": "Add these up: " + " ".join(str(i) for i in range(500))},
]
GIVEN_UP = "A request was given up"


def llamacpp_settings(root: Path) -> Settings:
    settings = Settings(root=root)
    settings.model.engine = "llamacpp"
    return settings


# Defect 1: a KV cache too big for memory.


async def test_a_kv_cache_too_big_for_memory_is_one_sentence(tmp_path: Path) -> None:
    """It was a RuntimeError ("could not create a context"), a traceback at the CLI.
    llama.cpp refuses the 214 GiB buffer at once (the process stays at a few hundred
    MB: only the cells' bookkeeping is allocated)."""
    settings = llamacpp_settings(tmp_path)
    settings.model.llamacpp_kv_tokens = 10_000_000
    with pytest.raises(ConfigError) as refused:
        await LlamaCppEngine.load(settings)
    # SmolLM2-135M: 30 layers x 3 KV heads x 64 x (K and V) x 2 bytes = 23,040 a token.
    assert str(refused.value) == (
        "[model] llamacpp_kv_tokens = 10000000 asks for a KV cache of 10,000,000 tokens "
        "(about 214.6 GiB), more than llama.cpp could allocate here; set it lower, at least "
        "the context window (8192 tokens, [model] context_window)."
    )


def test_more_kv_cells_than_llama_cpp_counts_are_the_same_sentence(tmp_path: Path) -> None:
    """llama.cpp's n_ctx is 32 bits: 2**32 + 8192 became a cache of 8192 cells while
    the engine counted on billions."""
    with pytest.raises(ConfigError, match=r"KV cache of 4,294,975,488 tokens \(about"):
        LlamaCppEngine(gguf_path(Settings(root=tmp_path)), BASE, "", kv_tokens=2**32 + 8192)


def test_a_gguf_trained_for_a_huge_context_names_the_context_window(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the defaults (context_window = 0, llamacpp_kv_tokens = 0) the cache is twice
    the context the GGUF says it was trained for: as if it said 5,000,000 tokens."""
    monkeypatch.setattr(llama_cpp, "llama_model_n_ctx_train", lambda model: 5_000_000)
    with pytest.raises(ConfigError) as refused:
        LlamaCppEngine(gguf_path(Settings(root=tmp_path)), BASE, "")
    assert str(refused.value) == (
        "llama.cpp could not allocate the KV cache of SmolLM2-135M-Instruct.Q4_1.gguf: "
        "10,000,000 tokens (about 214.6 GiB), twice its context window of 5000000 ([model] "
        "llamacpp_kv_tokens = 0); set [model] context_window lower, or [model] "
        "llamacpp_kv_tokens to fewer tokens, at least the window."
    )


# Defect 2: more threads than CPUs.


def test_threads_beyond_the_cpus_this_process_may_use_are_capped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """10000 went to llama.cpp as they were, which started 10000 threads at the first
    decode (the process practically hung). Checked before any decode here."""
    cpus = len(usable_cpus())
    path = gguf_path(Settings(root=tmp_path))
    with caplog.at_level("WARNING", logger="model.engines.llamacpp"):
        engine = LlamaCppEngine(path, BASE, "", threads=10000)
    try:
        assert engine.threads == cpus
        assert engine._ll.llama_n_threads(engine._ctx) == cpus
        assert engine._ll.llama_n_threads_batch(engine._ctx) == cpus
        assert engine._governor is None  # a number fixes the count
    finally:
        engine._free()
    said = [r.getMessage() for r in caplog.records if "llamacpp_threads" in r.getMessage()]
    assert said == [
        f"[model] llamacpp_threads = 10000 is more than the {cpus} CPUs this process may "
        f"use; llama.cpp decodes on {cpus} threads (more would only take turns on them)"
    ]
    # The CPUs it may run on (its affinity), not the machine's; within them, as set.
    monkeypatch.setattr(llamacpp, "usable_cpus", lambda: [1])
    caplog.clear()
    assert llamacpp.capped_threads(2) == 1
    assert llamacpp.capped_threads(1) == 1
    assert len(caplog.records) == 1


# Defect 4: a LoRA adapter's GGUF as the model.


async def test_a_lora_adapter_gguf_as_the_model_is_one_sentence(
    tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A version's adapter.gguf as [model] gguf: transformers warned, then "llama.cpp
    cannot load this GGUF file", naming neither the key nor what the file is."""
    import transformers

    version = write_version(
        tmp_path / "adapters", "v1", tiny_model_dir, base_model="t", config_hash=""
    )
    adapter = ensure_gguf_adapter(version, gguf_facts_of(tiny_model_dir))

    def never(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("read before it was checked")

    monkeypatch.setattr(transformers.AutoConfig, "from_pretrained", never)
    monkeypatch.setattr(llama_cpp, "llama_model_load_from_file", never)
    settings = llamacpp_settings(tmp_path)
    settings.model.gguf = "adapters/v1/adapter.gguf"
    assert settings.path(settings.model.gguf) == adapter
    with pytest.raises(ModelNotFoundError) as refused:
        await LlamaCppEngine.load(settings)
    assert str(refused.value) == (
        '[model] gguf = "adapters/v1/adapter.gguf" is a LoRA adapter (general.type = '
        "adapter), not a model; point it at the GGUF file of the base model."
    )


# Defect 3: a request cancelled as the service closes.


@contextlib.asynccontextmanager
async def serving(root: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Batcher]:
    """An engine behind a batcher, as the service runs it; its prompts read in pieces of
    32 tokens at first (so a long one is still being read when the test gives it up)."""
    monkeypatch.setattr(llamacpp, "UNREAD_TELL_AFTER_S", 0.2)
    engine = LlamaCppEngine(gguf_path(Settings(root=root)), BASE, "")
    engine.costs.token_s = 1.0
    batcher = Batcher(engine, GREEDY, max_batch=4, window_seconds=0.0, queue_size=8)
    batcher.start()
    try:
        yield batcher
    finally:
        await batcher.stop()
        await engine.close()


async def rows_become(engine: Any, reading: bool) -> None:
    """Return once a row of the engine reads its prompt (`reading`), or once none does."""
    for _ in range(12000):
        if any(run.rows for run in engine._passes) == reading:
            return
        await asyncio.sleep(0.005)
    raise AssertionError("the engine's rows did not change")


@pytest.mark.parametrize("dropped_first", [False, True])
async def test_a_request_cancelled_as_the_service_closes_is_not_said_to_be_given_up(
    dropped_first: bool,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """`/quit` while a memory summary was being read: `ChatService.close` stops the
    summary writer (its request cancelled), the batcher, then the engine, and the log
    said the summary's prompt was too long to be answered in time on this machine.
    The engine drops the row at its next step: after `close` began (a step reading a
    piece), or before it (`dropped_first`), when only the wait before the line (and
    the engine closed meanwhile) keeps it from being said."""
    with caplog.at_level("WARNING", logger="model.engines.llamacpp"):
        async with serving(tmp_path, monkeypatch) as batcher:
            summary = asyncio.create_task(batcher.submit_low(LONG, GREEDY))
            await rows_become(batcher.engine, reading=True)
            await stop_task(summary)  # Summarizer.stop; the batcher and engine follow
            if dropped_first:
                await rows_become(batcher.engine, reading=False)
        await asyncio.sleep(0.5)  # past UNREAD_TELL_AFTER_S
    assert GIVEN_UP not in caplog.text


async def test_a_request_whose_deadline_passed_is_still_said_to_be_given_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The line the warning is for: the engine goes on after the request's deadline
    passed while its long prompt was being read."""
    deadlines: list[asyncio.Timeout] = []

    async def ask(batcher: Batcher) -> None:
        async with asyncio.timeout(None) as deadline:
            deadlines.append(deadline)
            await batcher.submit(LONG)

    with caplog.at_level("WARNING", logger="model.engines.llamacpp"):
        async with serving(tmp_path, monkeypatch) as batcher:
            asking = asyncio.create_task(ask(batcher))
            await rows_become(batcher.engine, reading=True)
            deadlines[0].reschedule(asyncio.get_running_loop().time())
            with pytest.raises(TimeoutError):
                await asking
            await rows_become(batcher.engine, reading=False)  # dropped at its next step
            await asyncio.sleep(0.5)
            said = [r.getMessage() for r in caplog.records if GIVEN_UP in r.getMessage()]
    assert len(said) == 1
    assert "-token prompt" in said[0] and "[model] context_window" in said[0]
