"""Build tiny random chat models on disk, with no hub access (tens of ms): a Llama, and a
Qwen2 (biased q/k/v projections, tied embeddings), the two architectures users tune.

The tokenizer is a byte-level BPE trained here on a few lines, so any text, Chinese
included, round-trips; its chat template is ChatML, like Qwen's and SmolLM2's. The
Qwen2's template is Qwen2.5's own shape: a default system message when none is given.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

CHATML_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

QWEN_TEMPLATE = (
    "{% if messages[0]['role'] != 'system' %}<|im_start|>system\nYou are Qwen, created by "
    "Alibaba Cloud. You are a helpful assistant.<|im_end|>\n{% endif %}"
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

TRAINING_TEXT = [
    "hello world, I am ATRI, a high-performance robot girl.",
    "你好，我是亚托莉！我可是高性能的机器人哦。夏生，今天去海边吧。",
    "The sea, the town, the summer. 螃蟹很好吃！",
]
# More CJK for the Qwen2 tokenizer, so common characters and words get tokens of their own.
CJK_TEXT = [
    "你是亚托莉。请以亚托莉的身份和口吻与{{user}}聊天，不要跳出角色。",
    "夏生，我们去海边吧！亚托莉最喜欢大海和螃蟹了。",
    "アトリです。高性能ですから！夏生さん、今日もよろしくお願いします。",
    "我可是高性能的机器人哦，什么都难不倒我。今天的天空真蓝啊。",
]


def build_tokenizer(lines: list[str], vocab_size: int, template: str) -> Any:
    """A byte-level BPE trained on `lines`, with ChatML's special tokens."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    raw = Tokenizer(models.BPE())
    raw.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    raw.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    raw.train_from_iterator(lines * 4, trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=raw, eos_token="<|im_end|>", pad_token="<|endoftext|>"
    )
    tokenizer.chat_template = template
    return tokenizer


def tiny_shape(tokenizer: Any, hidden_size: int, intermediate_size: int) -> dict[str, Any]:
    """The config fields every tiny fixture shares: two layers, grouped-query attention."""
    return {
        "vocab_size": len(tokenizer),
        "hidden_size": hidden_size,
        "intermediate_size": intermediate_size,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "max_position_embeddings": 4096,
        "eos_token_id": tokenizer.eos_token_id,
        "pad_token_id": tokenizer.pad_token_id,
        "bos_token_id": None,
    }


# Qwen2.5-0.5B-Instruct's shape, for benchmarks that need a real model's compute profile.
QWEN_05B_SHAPE = {
    "hidden_size": 896,
    "intermediate_size": 4864,
    "num_hidden_layers": 24,
    "num_attention_heads": 14,
    "num_key_value_heads": 2,
}


def build_tiny_qwen2(
    folder: Path,
    seed: int = 0,
    shape: dict[str, int] | None = None,
    extra_text: list[str] | None = None,
    vocab_size: int = 1024,
    tokenizer_dir: Path | None = None,
) -> Path:
    """A 2-layer Qwen2: q/k/v projections with biases, output head tied to the embeddings.

    `shape` overrides the config's sizes (e.g. QWEN_05B_SHAPE); `extra_text` and
    `vocab_size` train the tokenizer on more text, so that text tokenizes about as
    compactly as a real tokenizer would do it; `tokenizer_dir` takes a real tokenizer
    from disk instead (the vocabulary then sizes the embeddings).
    """
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    if tokenizer_dir is not None:
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    else:
        lines = TRAINING_TEXT + CJK_TEXT + list(extra_text or [])
        tokenizer = build_tokenizer(lines, vocab_size, QWEN_TEMPLATE)
    fields = {**tiny_shape(tokenizer, 32, 64), **(shape or {})}
    config = Qwen2Config(**fields, tie_word_embeddings=True)
    torch.manual_seed(seed)
    model = Qwen2ForCausalLM(config)
    with torch.no_grad():  # random biases, so a wrong bias path changes the outputs
        for layer in model.model.layers:
            for proj in (layer.self_attn.q_proj, layer.self_attn.k_proj, layer.self_attn.v_proj):
                proj.bias.normal_(0, 0.5)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def build_tiny_model(
    folder: Path,
    seed: int = 0,
    hidden_size: int = 32,
    intermediate_size: int = 64,
    sliding_window: int | None = None,
    tokenizer: Any = None,
) -> Path:
    """A Llama; with `sliding_window`, a Mistral whose attention sees that many tokens;
    `tokenizer`: one of another chat template (the ChatML one built here otherwise)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM, MistralConfig, MistralForCausalLM

    if tokenizer is None:
        tokenizer = build_tokenizer(TRAINING_TEXT, 512, CHATML_TEMPLATE)

    shape = {**tiny_shape(tokenizer, hidden_size, intermediate_size), "tie_word_embeddings": False}
    torch.manual_seed(seed)
    model: LlamaForCausalLM | MistralForCausalLM
    if sliding_window:
        model = MistralForCausalLM(MistralConfig(sliding_window=sliding_window, **shape))
    else:
        model = LlamaForCausalLM(LlamaConfig(**shape))
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
