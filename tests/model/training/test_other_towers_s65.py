"""A multimodal base (Gemma 3 as published, with its SigLIP vision tower): the vision
encoder's q_proj/k_proj/v_proj share the decoder's names, so LoRA went on them too, dead
weights that text never trains. Only the text decoder gets LoRA."""

from __future__ import annotations

from atri.config import TrainSettings
from model.training.lora import other_towers, peft_model


def tiny_gemma3_with_vision() -> object:
    import transformers as t

    text = t.Gemma3TextConfig(
        vocab_size=64,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=16,
        sliding_window=32,
    )
    vision = t.SiglipVisionConfig(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        image_size=28,
        patch_size=14,
    )
    config = t.Gemma3Config(
        text_config=text.to_dict(),
        vision_config=vision.to_dict(),
        mm_tokens_per_image=4,
        image_token_index=3,
        boi_token_index=4,
        eoi_token_index=5,
    )
    return t.Gemma3ForConditionalGeneration(config)


def test_only_the_text_decoder_gets_lora() -> None:
    model = tiny_gemma3_with_vision()
    assert any("vision_tower" in name for name in other_towers(model))
    wrapped, targets, _ = peft_model(model, TrainSettings())
    assert "q_proj" in targets and "gate_proj" in targets
    lora = [name for name, _ in wrapped.named_parameters() if "lora_A" in name]
    assert lora and not any("vision_tower" in name for name in lora)
    assert any("language_model" in name for name in lora)


def test_a_text_model_has_no_other_tower() -> None:
    from transformers import LlamaConfig, LlamaForCausalLM

    shape = {"vocab_size": 64, "hidden_size": 16, "num_attention_heads": 2}
    llama = LlamaForCausalLM(LlamaConfig(**shape, intermediate_size=32, num_hidden_layers=1))
    assert other_towers(llama) == []
