"""Session 56: the llama.cpp engine loads its model on the thread that decodes, and why an
AMX build still loads without llama.cpp's AMX kernels.

Loaded on another thread (as `asyncio.to_thread` did), an AMX build repacked the weights
with that thread's OpenMP team; the engine thread's team was then a second one, libgomp
slept between steps instead of spinning, and a step took 48 ms instead of 7."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import llama_cpp
import numpy as np
import pytest

from atri.config import Settings
from model.engines.cpu_repack import AMX_BUILD
from model.engines.gguf_files import gguf_path
from model.engines.llamacpp import LlamaCppEngine


def engine_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("atri-llamacpp")]


def test_the_model_loads_on_the_thread_that_decodes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: dict[str, set[int]] = {"load": set(), "context": set(), "decode": set()}
    for name, key in [
        ("llama_model_load_from_file", "load"),
        ("llama_init_from_model", "context"),
        ("llama_decode", "decode"),
    ]:
        original = getattr(llama_cpp, name)

        def recording(*args: Any, _original: Any = original, _key: str = key) -> Any:
            seen[_key].add(threading.get_ident())
            return _original(*args)

        monkeypatch.setattr(llama_cpp, name, recording)
    engine = LlamaCppEngine(gguf_path(Settings(root=tmp_path)), "builtin:smollm2-135m", "")
    try:
        engine.next_token_logits(engine.text.encode([{"role": "user", "content": "Hi"}]))
    finally:
        engine.thread.call(engine._free)
    assert len(seen["load"]) == 1
    assert seen["load"] == seen["context"] == seen["decode"]
    assert threading.get_ident() not in seen["load"]


def test_a_load_that_fails_ends_its_thread(tmp_path: Path) -> None:
    before = len(engine_threads())
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF" + b"\0" * 64)
    with pytest.raises(Exception, match="cannot load"):
        LlamaCppEngine(broken, "builtin:smollm2-135m", "")
    for _ in range(100):
        if len(engine_threads()) <= before:
            break
        threading.Event().wait(0.02)
    assert len(engine_threads()) <= before


def perplexity(path: Path, extra_types: bool, text: str) -> float:
    """llama.cpp's perplexity of the model on `text`, loaded with or without its extra
    buffer types (the AMX one among them on an AMX build)."""
    params = llama_cpp.llama_model_default_params()
    params.use_extra_bufts = extra_types
    model = llama_cpp.llama_model_load_from_file(str(path).encode(), params)
    ctx_params = llama_cpp.llama_context_default_params()
    ctx_params.n_ctx = ctx_params.n_batch = ctx_params.n_ubatch = 512
    ctx = llama_cpp.llama_init_from_model(model, ctx_params)
    batch = llama_cpp.llama_batch_init(512, 0, 1)
    try:
        vocab = llama_cpp.llama_model_get_vocab(model)
        raw = text.encode()
        buf = (llama_cpp.llama_token * len(raw))()  # a token holds at least one byte
        n = llama_cpp.llama_tokenize(vocab, raw, len(raw), buf, len(raw), True, False)
        tokens = list(buf[: min(n, 256)])
        batch.n_tokens = len(tokens)
        for i, token in enumerate(tokens):
            batch.token[i], batch.pos[i], batch.logits[i] = token, i, True
            batch.n_seq_id[i], batch.seq_id[i][0] = 1, 0
        assert llama_cpp.llama_decode(ctx, batch) == 0
        n_vocab = llama_cpp.llama_vocab_n_tokens(vocab)
        loss = 0.0
        for i in range(len(tokens) - 1):
            ptr = llama_cpp.llama_get_logits_ith(ctx, i)
            logits = np.ctypeslib.as_array(ptr, shape=(n_vocab,)).astype(np.float64)
            top = logits.max()
            loss += top + np.log(np.exp(logits - top).sum()) - logits[tokens[i + 1]]
        return float(np.exp(loss / (len(tokens) - 1)))
    finally:
        llama_cpp.llama_batch_free(batch)
        llama_cpp.llama_free(ctx)
        llama_cpp.llama_model_free(model)


@pytest.mark.skipif(
    AMX_BUILD not in llama_cpp.llama_print_system_info(), reason="this CPU has no AMX"
)
def test_this_llama_cpp_s_amx_kernels_still_get_4_bit_weights_wrong(tmp_path: Path) -> None:
    """Why the engine leaves them out (AMX_BUILD): on this build the offline Q4_1 model's
    perplexity with them is some ten times what it is without (786 against 74 on a
    Sapphire Rapids VM). When a newer llama-cpp-python fixes them (llama.cpp #19925),
    this fails: loading with them may then pay (faster alone; measure batching and
    batch-invariance first)."""
    text = Path(__file__).resolve().parents[3].joinpath("README.md").read_text()[2000:5000]
    path = gguf_path(Settings(root=tmp_path))
    without = perplexity(path, False, text)
    with_amx = perplexity(path, True, text)
    assert without < 200
    assert with_amx > 3 * without, (with_amx, without)
