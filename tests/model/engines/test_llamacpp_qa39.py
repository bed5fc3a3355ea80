"""QA round 39 on `[model] engine = "llamacpp"` as a fan runs it: a CPU and the GGUF of a
Chinese chat model. Tiny random-weight GGUFs of other shapes and templates are written
here (the offline GGUF's tokenizer, `bench/synthetic_gguf.py`'s way), nothing downloaded."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from atri.config import GenerationSettings, Settings
from model.character.prompt import ChatMessages
from model.engines.chat_template import ChatTemplateError
from model.engines.llamacpp import LlamaCppEngine, gguf_path
from model.engines.loading import OFFLINE_GGUF, ModelNotFoundError, offline_gguf_dir

GREEDY = GenerationSettings(max_new_tokens=24, do_sample=False, repetition_penalty=1.0)
HELLO: ChatMessages = [
    {"role": "system", "content": "你是亚托莉。"},
    {"role": "user", "content": "你好！"},
]
# The tiny shape every synthetic GGUF here has (as bench/synthetic_gguf.py's "tiny").
HIDDEN, LAYERS, HEADS, KV_HEADS, FFN = 64, 2, 4, 2, 128
KEEP = object()  # the tokenizer's own chat template


@pytest.fixture(scope="module")
def tokenizer_fields() -> Any:
    """The offline GGUF's tokenizer metadata (read once: a few seconds)."""
    import gguf

    reader = gguf.GGUFReader(str(offline_gguf_dir() / OFFLINE_GGUF))
    return {k: f for k, f in reader.fields.items() if k.startswith("tokenizer.")}


@pytest.fixture(scope="module")
def write_gguf(tokenizer_fields: Any) -> Callable[..., Path]:
    def write(target: Path, arch: str = "llama", template: Any = KEEP) -> Path:
        """A random `arch` model of the tiny shape with the offline tokenizer and
        `template` as its chat template (None: none)."""
        import gguf

        vocab = len(tokenizer_fields["tokenizer.ggml.tokens"].data)
        writer = gguf.GGUFWriter(str(target), arch)
        writer.add_context_length(2048)
        writer.add_embedding_length(HIDDEN)
        writer.add_block_count(LAYERS)
        writer.add_feed_forward_length(FFN)
        writer.add_head_count(HEADS)
        writer.add_head_count_kv(KV_HEADS)
        writer.add_rope_freq_base(1_000_000.0)
        writer.add_layer_norm_rms_eps(1e-6)  # stored in 32 bits, as llama.cpp's converter does
        writer.add_vocab_size(vocab)
        for key, field in tokenizer_fields.items():
            if key == "tokenizer.chat_template" and template is not KEEP:
                continue
            kind = field.types[0]
            sub = field.types[-1] if kind == gguf.GGUFValueType.ARRAY else None
            writer.add_key_value(key, field.contents(), kind, sub)
        if template is not KEEP and template is not None:
            writer.add_chat_template(template)
        head = HIDDEN // HEADS
        rng = np.random.default_rng(0)
        tensors: list[tuple[str, tuple[int, ...]]] = [("token_embd.weight", (vocab, HIDDEN))]
        for i in range(LAYERS):
            tensors += [
                (f"blk.{i}.attn_norm.weight", (HIDDEN,)),
                (f"blk.{i}.attn_q.weight", (HIDDEN, HIDDEN)),
                (f"blk.{i}.attn_k.weight", (head * KV_HEADS, HIDDEN)),
                (f"blk.{i}.attn_v.weight", (head * KV_HEADS, HIDDEN)),
                (f"blk.{i}.attn_output.weight", (HIDDEN, HIDDEN)),
                (f"blk.{i}.ffn_norm.weight", (HIDDEN,)),
                (f"blk.{i}.ffn_gate.weight", (FFN, HIDDEN)),
                (f"blk.{i}.ffn_up.weight", (FFN, HIDDEN)),
                (f"blk.{i}.ffn_down.weight", (HIDDEN, FFN)),
            ]
            if arch == "qwen2":
                tensors += [
                    (f"blk.{i}.attn_q.bias", (HIDDEN,)),
                    (f"blk.{i}.attn_k.bias", (head * KV_HEADS,)),
                    (f"blk.{i}.attn_v.bias", (head * KV_HEADS,)),
                ]
        tensors.append(("output_norm.weight", (HIDDEN,)))
        for name, dims in tensors:
            if len(dims) == 1:
                data = np.ones(dims, np.float32) if "norm" in name else np.zeros(dims, np.float32)
            else:
                data = (rng.standard_normal(dims, np.float32) / np.sqrt(dims[1])).astype(np.float16)
            writer.add_tensor(name, data)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
        return target

    return write


def llamacpp_settings(root: Path, gguf: str, base: str = "") -> Settings:
    settings = Settings(root=root)
    settings.model.engine = "llamacpp"
    settings.model.gguf = gguf
    settings.model.base = base
    return settings


async def test_a_folder_a_foreign_file_and_a_cut_gguf_are_one_sentence_each(
    tmp_path: Path, write_gguf: Callable[..., Path]
) -> None:
    """Each stopped the worker with transformers' traceback from its GGUF reader (or,
    for a folder, said there was no such file)."""
    (tmp_path / "models").mkdir()
    whole = write_gguf(tmp_path / "models" / "qwen.gguf").read_bytes()
    (tmp_path / "notes.gguf").write_text("not a model\n")
    (tmp_path / "header-cut.gguf").write_bytes(whole[:100])
    (tmp_path / "download-cut.gguf").write_bytes(whole[: len(whole) // 2])
    cases = {
        "models": r'"models" is a folder \(it holds qwen\.gguf\); point it at the GGUF file',
        "notes.gguf": r"is not a GGUF file llama\.cpp can load \(it does not start with GGUF's",
        "header-cut.gguf": r"is not a GGUF file llama\.cpp can load \(its header is cut short\)",
        "download-cut.gguf": rf"is cut short: {len(whole) // 2:,} bytes of the {len(whole):,}",
    }
    for name, sentence in cases.items():
        with pytest.raises(ModelNotFoundError, match=sentence):
            await LlamaCppEngine.load(llamacpp_settings(tmp_path, name))


async def test_a_gguf_template_that_refuses_atris_chats_is_one_sentence_at_start(
    tmp_path: Path, write_gguf: Callable[..., Path]
) -> None:
    """The worker started, then every request failed with a traceback in the log and her
    error line to the user."""
    template = "{% for m in messages %}{{ m.content | nosuchfilter }}{% endfor %}"
    write_gguf(tmp_path / "odd.gguf", template=template)
    settings = llamacpp_settings(tmp_path, "odd.gguf")
    settings.model.base = "builtin:smollm2-135m"
    with pytest.raises(ChatTemplateError, match=r"No filter named 'nosuchfilter'.*\[model\] chat"):
        LlamaCppEngine(gguf_path(settings), "x", "")
    write_gguf(tmp_path / "none.gguf", template=None)
    with pytest.raises(ModelNotFoundError, match="the GGUF holds no chat template"):
        LlamaCppEngine(gguf_path(llamacpp_settings(tmp_path, "none.gguf")), "x", "")


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaCppEngine]:
    settings = Settings(root=tmp_path_factory.mktemp("qa39"))
    engine = LlamaCppEngine(gguf_path(settings), "builtin:smollm2-135m", "", max_batch=4)
    yield engine
    engine._free()


def test_a_reply_cut_inside_a_character_shows_no_replacement_character(
    engine: LlamaCppEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A token is bytes and a Chinese character three of them: a reply cut by its token
    cap in the middle of one ended in U+FFFD, and so could a stop check's window."""
    text = "你好，我是亚托莉！"
    tokens = engine.text.tokenize(text)
    for end in range(1, len(tokens) + 1):
        part = engine.text.detokenize(tokens[:end])
        assert "\ufffd" not in part and text.startswith(part)
    assert engine.text.detokenize(tokens) == text

    # End to end: the model writes the text, its cap ends it inside a character.
    def replaced(n: int) -> str:  # how the first n tokens read before
        return b"".join(engine.text._piece(t) for t in tokens[:n]).decode("utf-8", "replace")

    cut = max(n for n in range(1, len(tokens)) if "\ufffd" in replaced(n))
    script = iter(tokens)
    monkeypatch.setattr(engine, "_sample", lambda *_: next(script))
    gen = GenerationSettings(max_new_tokens=cut, do_sample=False, repetition_penalty=1.0)
    (reply,) = engine.generate_sync([HELLO], gen)
    assert reply.new_tokens == cut and "\ufffd" not in reply.text
    assert reply.text and text.startswith(reply.text)
