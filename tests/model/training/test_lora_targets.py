"""Which layers get LoRA on models that name their projections otherwise than Llama."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from atri.cli import app
from atri.config import TrainSettings
from model.training.errors import TrainError
from model.training.lora import ALL_LINEAR, lora_targets
from tests.model.training.test_train_eval import write_config
from tests.tiny_model import CHATML_TEMPLATE, TRAINING_TEXT, build_tokenizer

DEFAULT = TrainSettings().target_modules
LLAMA_NAMES = sorted(DEFAULT)


def tiny(kind: str) -> Any:
    """A 2-layer random model of each naming scheme, built in memory."""
    from transformers import (
        GPT2Config,
        GPT2LMHeadModel,
        GPTNeoXConfig,
        GPTNeoXForCausalLM,
        LlamaConfig,
        LlamaForCausalLM,
        Phi3Config,
        Phi3ForCausalLM,
    )

    shape = {"vocab_size": 64, "hidden_size": 32, "num_attention_heads": 4}
    if kind == "llama":
        return LlamaForCausalLM(LlamaConfig(**shape, intermediate_size=64, num_hidden_layers=2))
    if kind == "phi3":  # fused qkv_proj and gate_up_proj
        return Phi3ForCausalLM(
            Phi3Config(**shape, intermediate_size=64, num_hidden_layers=2, pad_token_id=0)
        )
    if kind == "gpt_neox":  # query_key_value, dense, dense_h_to_4h; its head is embed_out
        return GPTNeoXForCausalLM(GPTNeoXConfig(**shape, intermediate_size=64, num_hidden_layers=2))
    # GPT-2's projections are Conv1D, not Linear: peft wraps them too.
    return GPT2LMHeadModel(GPT2Config(vocab_size=64, n_embd=32, n_head=4, n_layer=2))


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("llama", LLAMA_NAMES),
        ("phi3", ["down_proj", "gate_up_proj", "o_proj", "qkv_proj"]),
        ("gpt_neox", ["dense", "dense_4h_to_h", "dense_h_to_4h", "query_key_value"]),
        ("gpt2", ["c_attn", "c_fc", "c_proj"]),
    ],
)
def test_the_default_covers_attention_and_feed_forward_whatever_their_names(
    kind: str, expected: list[str]
) -> None:
    model = tiny(kind)
    targets, note = lora_targets(model, list(DEFAULT))
    assert sorted(targets) == expected  # never the output head
    # A model with Llama's names is told nothing; another is told what was chosen.
    assert (note == "") == (kind == "llama")
    assert lora_targets(model, [ALL_LINEAR]) == (expected, "")


def test_a_list_of_ones_own_is_kept_to() -> None:
    phi3 = tiny("phi3")
    assert lora_targets(phi3, ["qkv_proj"]) == (["qkv_proj"], "")
    targets, note = lora_targets(phi3, ["qkv_proj", "q_proj"])
    assert targets == ["qkv_proj"]
    assert (
        note
        == "[train] target_modules ['q_proj'] match no layer of this model; training ['qkv_proj'] only."
    )
    with pytest.raises(TrainError, match=r"its linear layers are \['down_proj', 'gate_up_proj'"):
        lora_targets(phi3, ["q_proj", "v_proj"])


def test_a_phi3_trains_on_every_projection_with_the_default(tmp_path: Path) -> None:
    """Before, the default trained Phi-3's o_proj and down_proj only: half its attention
    and feed-forward layers had no LoRA."""
    from transformers import Phi3Config, Phi3ForCausalLM

    tokenizer = build_tokenizer(TRAINING_TEXT, 512, CHATML_TEMPLATE)
    config = Phi3Config(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=None,
    )
    model_dir = tmp_path / "phi3"
    Phi3ForCausalLM(config).save_pretrained(model_dir)
    tokenizer.save_pretrained(model_dir)
    result = CliRunner().invoke(
        app, ["--config", str(write_config(tmp_path, model_dir, max_steps=1)), "train"]
    )
    assert result.exit_code == 0, result.output
    assert "names its layers otherwise" in " ".join(result.output.split())
    (version,) = [p for p in (tmp_path / "adapters").iterdir() if not p.name.startswith(".")]
    manifest = json.loads((version / "manifest.json").read_text(encoding="utf-8"))
    assert sorted(manifest["target_modules"]) == ["down_proj", "gate_up_proj", "o_proj", "qkv_proj"]
