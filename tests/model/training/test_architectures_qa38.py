"""QA round 38: LoRA training and serving on architectures other than Llama and Qwen2,
built offline at tiny sizes: GPT-2 (Conv1D projections), GPT-NeoX, Phi-3, Gemma2."""

from __future__ import annotations

import json
import logging
import warnings
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from atri.cli import app
from atri.config import GenerationSettings
from tests.model.training.test_train_eval import write_config
from tests.tiny_model import CHATML_TEMPLATE, TRAINING_TEXT, build_tokenizer


def build_tiny_gpt2(folder: Path) -> Path:
    """A 2-layer GPT-2: its c_attn, c_proj and c_fc are Conv1D, weights stored (in, out)."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    tokenizer = build_tokenizer(TRAINING_TEXT, 512, CHATML_TEMPLATE)
    config = GPT2Config(
        vocab_size=len(tokenizer),
        n_embd=32,
        n_head=4,
        n_layer=2,
        n_positions=4096,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=None,
    )
    torch.manual_seed(0)
    model = GPT2LMHeadModel(config)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def only_version(adapters: Path) -> Path:
    (version,) = [p for p in adapters.iterdir() if not p.name.startswith(".")]
    return version


def test_a_gpt2_adapter_is_taken_by_the_engine(tmp_path: Path) -> None:
    """Before, every GPT-2 adapter was refused with "The adapter changes
    transformer.h.0.attn.c_attn, which the base model does not have": the layer-size
    check knew only layers with in_features, and GPT-2's Conv1D has none."""
    from model.engines.loading import LoadedModel, config_hash
    from model.engines.local import LocalEngine

    model_dir = build_tiny_gpt2(tmp_path / "gpt2")
    config = write_config(tmp_path, model_dir, max_steps=2, batch_size=2, max_seq_length=256)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trained = CliRunner().invoke(app, ["--config", str(config), "train"])
    assert trained.exit_code == 0, trained.output
    # Before, peft warned that it set fan_in_fan_out itself, at training and every load.
    assert not [w for w in caught if "fan_in_fan_out" in str(w.message)]
    version = only_version(tmp_path / "adapters")
    adapter_config = json.loads((version / "adapter_config.json").read_text(encoding="utf-8"))
    assert adapter_config["fan_in_fan_out"] is True

    from transformers import AutoModelForCausalLM, AutoTokenizer

    model: Any = AutoModelForCausalLM.from_pretrained(model_dir)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    tokenizer.padding_side = "left"
    engine = LocalEngine(LoadedModel(model, tokenizer, str(model_dir), config_hash(model)), 4096)
    assert engine.module_dims["transformer.h.0.attn.c_attn"] == (32, 96)
    engine.load_adapter_sync(version, version.name)
    engine.activate_sync(version.name)
    assert engine.active_adapter == version.name


def test_a_gemma2_turns_the_prefix_cache_off_from_its_config_without_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Before, Gemma-2 (a sliding-window layer every other layer) ran a warm-up over the
    whole system prompt at its first batch, then logged "WARNING prefix cache turned off"
    at every start of serve, worker and eval, for a model the cache is never for."""
    import torch
    from transformers import AutoTokenizer, Gemma2Config, Gemma2ForCausalLM

    from model.engines.loading import LoadedModel, config_hash
    from model.engines.local import LocalEngine

    tokenizer = build_tokenizer(TRAINING_TEXT, 512, CHATML_TEMPLATE)
    config = Gemma2Config(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=8,
        sliding_window=16,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=None,
    )
    torch.manual_seed(0)
    model = Gemma2ForCausalLM(config).eval()
    tokenizer.save_pretrained(tmp_path)
    tokenizer = AutoTokenizer.from_pretrained(tmp_path)
    tokenizer.padding_side = "left"
    settings = GenerationSettings(max_new_tokens=4, do_sample=False)
    batch = [[{"role": "system", "content": TRAINING_TEXT[1]}, {"role": "user", "content": t}]
             for t in ("hello", "你好")]  # fmt: skip

    plain = LocalEngine(LoadedModel(model, tokenizer, "gemma2", config_hash(model)), 4096, False)
    expected = [g.text for g in plain.generate_sync(batch, settings)]
    with caplog.at_level(logging.INFO):
        engine = LocalEngine(LoadedModel(model, tokenizer, "gemma2", config_hash(model)), 4096)
        assert not engine.prefix_cache.enabled  # before any batch
        assert [g.text for g in engine.generate_sync(batch, settings)] == expected
    assert "sliding-window" in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_full_attention_models_keep_the_prefix_cache() -> None:
    from transformers import GPT2Config, GPT2LMHeadModel, Phi3Config, Phi3ForCausalLM

    from model.engines.prefix_cache import PrefixCache

    gpt2 = GPT2LMHeadModel(GPT2Config(vocab_size=64, n_embd=32, n_head=4, n_layer=2))
    assert PrefixCache(gpt2).enabled
    phi3 = Phi3Config(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=4, pad_token_id=0)  # fmt: skip
    assert PrefixCache(Phi3ForCausalLM(phi3)).enabled
