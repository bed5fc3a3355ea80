"""A random-weight llama-architecture GGUF of a real model's shape, written on this machine.

Why: the offline default (SmolLM2-135M) is small enough that one decode step is bound by
the CPU's arithmetic, so decoding 8 users together has little weight traffic to share;
the users of the llama.cpp engine serve 0.5B-7B models, where a step is bound by reading
the weights from memory and batching should pay. Nothing is downloaded to measure that:
this writes a model of the wanted shape with random weights (F16, norms F32) with the
`gguf` library's writer, and takes the tokenizer (vocabulary, merges, token types,
special ids) and the chat template from the offline SmolLM2 GGUF, so ATRI's prompts and
chat template work unchanged. Random weights: good for throughput only, the text is noise.

The shapes follow Qwen2.5's published configs (hidden size, layers, heads, KV heads,
intermediate size; embeddings tied to the output layer as theirs are), without Qwen's
q/k/v biases (a few thousand numbers a layer) and with SmolLM2's 49,152-token vocabulary
instead of Qwen's 151,936, so the output layer is a third of Qwen's (at 1.5B about 5%
of the weights instead of 15%).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class Shape:
    hidden: int
    layers: int
    heads: int
    kv_heads: int
    intermediate: int
    context: int = 8192


# Qwen2.5-0.5B and -1.5B (their config.json); "tiny" is for tests.
SHAPES = {
    "0.5b": Shape(hidden=896, layers=24, heads=14, kv_heads=2, intermediate=4864),
    "1.5b": Shape(hidden=1536, layers=28, heads=12, kv_heads=2, intermediate=8960),
    "tiny": Shape(hidden=64, layers=2, heads=4, kv_heads=2, intermediate=128, context=2048),
}
# Metadata copied from the tokenizer's GGUF: everything the tokenizer and template need.
TOKENIZER_PREFIX = "tokenizer."


def _tensors(shape: Shape, vocab: int) -> list[tuple[str, tuple[int, ...]]]:
    """(name, numpy shape) of every tensor, in llama.cpp's llama naming."""
    head = shape.hidden // shape.heads
    kv = head * shape.kv_heads
    h, ff = shape.hidden, shape.intermediate
    out: list[tuple[str, tuple[int, ...]]] = [("token_embd.weight", (vocab, h))]
    for i in range(shape.layers):
        out += [
            (f"blk.{i}.attn_norm.weight", (h,)),
            (f"blk.{i}.attn_q.weight", (h, h)),
            (f"blk.{i}.attn_k.weight", (kv, h)),
            (f"blk.{i}.attn_v.weight", (kv, h)),
            (f"blk.{i}.attn_output.weight", (h, h)),
            (f"blk.{i}.ffn_norm.weight", (h,)),
            (f"blk.{i}.ffn_gate.weight", (ff, h)),
            (f"blk.{i}.ffn_up.weight", (ff, h)),
            (f"blk.{i}.ffn_down.weight", (h, ff)),
        ]
    out.append(("output_norm.weight", (h,)))
    return out


def parameter_count(shape: Shape, vocab: int = 49152) -> int:
    return sum(int(np.prod(dims)) for _, dims in _tensors(shape, vocab))


def write_synthetic_gguf(shape: Shape, tokenizer_gguf: Path, target: Path, seed: int = 0) -> Path:
    """Write a random llama model of `shape` with `tokenizer_gguf`'s tokenizer to `target`
    (F16 weights, F32 norms), one tensor at a time so memory holds one tensor at most."""
    import gguf

    reader = gguf.GGUFReader(str(tokenizer_gguf))
    vocab = len(reader.fields["tokenizer.ggml.tokens"].data)
    writer = gguf.GGUFWriter(str(target), "llama")
    writer.add_name(f"synthetic llama {parameter_count(shape, vocab) / 1e9:.2f}B (random)")
    writer.add_context_length(shape.context)
    writer.add_embedding_length(shape.hidden)
    writer.add_block_count(shape.layers)
    writer.add_feed_forward_length(shape.intermediate)
    writer.add_head_count(shape.heads)
    writer.add_head_count_kv(shape.kv_heads)
    writer.add_rope_dimension_count(shape.hidden // shape.heads)
    writer.add_rope_freq_base(1_000_000.0)
    writer.add_layer_norm_rms_eps(1e-6)
    writer.add_vocab_size(vocab)
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_F16)
    for key, field in reader.fields.items():
        if key.startswith(TOKENIZER_PREFIX):
            kind = field.types[0]
            sub = field.types[-1] if kind == gguf.GGUFValueType.ARRAY else None
            writer.add_key_value(key, field.contents(), kind, sub)
    tensors = _tensors(shape, vocab)
    for name, dims in tensors:
        dtype = np.float32 if len(dims) == 1 else np.float16
        writer.add_tensor_info(name, dims, np.dtype(dtype), int(np.prod(dims)) * dtype().nbytes)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    rng = np.random.default_rng(seed)
    for _, dims in tensors:
        if len(dims) == 1:
            writer.write_tensor_data(np.ones(dims, dtype=np.float32))
        else:
            # Scaled so each layer's output keeps about the input's size (no overflow).
            scale = 1.0 / np.sqrt(dims[1])
            data = rng.standard_normal(dims, dtype=np.float32) * np.float32(scale)
            writer.write_tensor_data(data.astype(np.float16))
    writer.close()
    return target
