"""The synthetic GGUF the engine bench measures batching on: a file llama.cpp loads, with
the offline model's tokenizer and chat template, that decodes every token asked for."""

from __future__ import annotations

from pathlib import Path

from atri.config import GenerationSettings
from bench.synthetic_gguf import SHAPES, parameter_count, write_synthetic_gguf
from model.engines.llamacpp import LlamaCppEngine
from model.engines.offline_gguf import OFFLINE_GGUF, offline_gguf_dir


def test_a_tiny_synthetic_gguf_loads_and_decodes_every_token(tmp_path: Path) -> None:
    tokenizer = offline_gguf_dir() / OFFLINE_GGUF
    path = write_synthetic_gguf(SHAPES["tiny"], tokenizer, tmp_path / "tiny.gguf")
    engine = LlamaCppEngine(path, "synthetic", "", max_batch=4)
    try:
        chat = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi!"}]
        assert "<|im_start|>assistant" in engine.text.render(chat)
        assert engine.text.detokenize(engine.text.tokenize("Hello ATRI")) == "Hello ATRI"
        greedy = GenerationSettings(max_new_tokens=12, do_sample=False, repetition_penalty=1.0)
        replies = engine.generate_sync([chat, chat, chat], greedy, None, min_new=12)
        assert [r.new_tokens for r in replies] == [12, 12, 12]
        assert len({r.text for r in replies}) == 1  # greedy: the same prompt, the same noise
    finally:
        engine._free()
    assert parameter_count(SHAPES["1.5b"]) > 1.3e9  # Qwen2.5-1.5B's shape, SmolLM2's vocab
