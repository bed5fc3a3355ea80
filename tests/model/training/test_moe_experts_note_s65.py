"""A mixture-of-experts base (Mixtral, Qwen-MoE): transformers 5 keeps each layer's
experts as fused 3-D parameters, which no linear layer wraps, so LoRA went on attention
alone while the only note ("LoRA goes on all of them") read as if all were covered."""

from __future__ import annotations

from atri.config import TrainSettings
from model.training.lora import experts_note, peft_model


def tiny_mixtral() -> object:
    from transformers import MixtralConfig, MixtralForCausalLM

    return MixtralForCausalLM(
        MixtralConfig(
            vocab_size=64,
            hidden_size=16,
            intermediate_size=32,
            num_hidden_layers=1,
            num_attention_heads=2,
            num_key_value_heads=1,
            num_local_experts=4,
            num_experts_per_tok=2,
        )
    )


def test_a_moe_model_says_its_experts_are_left_as_they_are() -> None:
    _, targets, note = peft_model(tiny_mixtral(), TrainSettings())
    assert targets == ["k_proj", "o_proj", "q_proj", "v_proj"]
    assert "mixture-of-experts model" in note and "['down_proj', 'gate_up_proj']" in note


def test_a_dense_model_says_nothing_of_experts() -> None:
    from transformers import LlamaConfig, LlamaForCausalLM

    shape = {"vocab_size": 64, "hidden_size": 16, "num_attention_heads": 2}
    llama = LlamaForCausalLM(LlamaConfig(**shape, intermediate_size=32, num_hidden_layers=1))
    assert experts_note(llama) == ""
