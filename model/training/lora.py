"""Which layers of the base get LoRA (`[train] target_modules`, checked against the
model's own linear layers) and the peft model that wraps them."""

from __future__ import annotations

from typing import Any

from atri.config import ALL_LINEAR, TrainSettings
from model.training.errors import TrainError

# Output heads under the names models give them, for remote code whose head
# get_output_embeddings does not return (ChatGLM's output_layer).
_HEAD_NAMES = {"lm_head", "output_layer", "embed_out"}


def _is_linear(module: Any) -> bool:
    """A layer LoRA can wrap: Linear, bitsandbytes' Linear4bit, GPT-2's Conv1D."""
    import torch

    kind = type(module).__name__
    return isinstance(module, torch.nn.Linear) or kind.startswith("Linear") or kind == "Conv1D"


def linear_layer_names(model: Any) -> set[str]:
    """The last name of every linear layer LoRA can wrap in the text model, the output
    head and another tower's layers (`other_towers`) left out."""
    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    elsewhere = set(other_towers(model))
    names = set()
    for name, module in model.named_modules():
        if not _is_linear(module) or name in elsewhere:
            continue
        last = name.rsplit(".", 1)[-1]
        if module is not head and last not in _HEAD_NAMES:
            names.add(last)
    return names


def other_towers(model: Any) -> list[str]:
    """The linear layers outside the text decoder (`get_decoder`) but the output head: a
    vision encoder's and its projector's (Gemma 3, Qwen2.5-VL). Their q_proj and fc1 share
    the decoder's names, so LoRA went on them too, where text gives them no gradient."""
    try:
        decoder = model.get_decoder()
    except Exception:  # remote code without one: everything is the text model
        return []
    if decoder is None or decoder is model:
        return []
    inside = {id(module) for module in decoder.modules()}
    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    return [
        name
        for name, module in model.named_modules()
        if _is_linear(module)
        and id(module) not in inside
        and module is not head
        and name.rsplit(".", 1)[-1] not in _HEAD_NAMES
    ]


def lora_targets(model: Any, wanted: list[str]) -> tuple[list[str], str]:
    """The modules that get LoRA, and a sentence to say about the choice ("" if none).

    Left at its default (Llama/Qwen-style names), a model that lacks any of those names
    calls its projections otherwise (Phi-3's fused qkv_proj and gate_up_proj, Baichuan's
    W_pack, ChatGLM's and GPT-NeoX's query_key_value): training only the names it happens
    to share would leave out attention or feed-forward layers, so every linear layer gets
    LoRA instead, as with "all-linear". A list of one's own is kept to; its names the
    model lacks are said, and TrainError names the model's layers if none matches."""
    linear = linear_layer_names(model)
    if wanted == [ALL_LINEAR]:
        return sorted(linear), ""
    found = [m for m in wanted if m in linear]
    if wanted == TrainSettings().target_modules and len(found) < len(wanted):
        return sorted(linear), (
            f"This model names its layers otherwise than [train] target_modules' default "
            f"(it has {sorted(linear)}): LoRA goes on all of them; set target_modules to "
            "choose."
        )
    if not found:
        raise TrainError(
            f"[train] target_modules = {wanted} matches no layer of this model; its linear "
            f'layers are {sorted(linear)} (or set ["{ALL_LINEAR}"]).'
        )
    unknown = [m for m in wanted if m not in found]
    note = (
        f"[train] target_modules {unknown} match no layer of this model; training {found} only."
        if unknown
        else ""
    )
    return found, note


def peft_model(model: Any, t: TrainSettings) -> tuple[Any, list[str], str]:
    """The model with LoRA layers, their module names and what to say about them."""
    from peft import LoraConfig, get_peft_model

    from model.engines.loading import quiet_peft_wrapping

    targets, note = lora_targets(model, list(t.target_modules))
    config = LoraConfig(
        r=t.lora_r,
        lora_alpha=t.lora_alpha,
        lora_dropout=t.lora_dropout,
        target_modules=targets,
        exclude_modules=other_towers(model) or None,
        bias="none",
        task_type="CAUSAL_LM",
        # GPT-2's Conv1D stores its weight (in, out); peft corrected a False here with a
        # warning at every train and every load of the adapter.
        fan_in_fan_out=_all_conv1d(model, targets),
    )
    model.config.use_cache = False
    wide = rank_note(model, targets, t.lora_r)
    note = " ".join(n for n in (note, wide, experts_note(model)) if n)
    with quiet_peft_wrapping():
        return get_peft_model(model, config), targets, note


def fused_expert_weights(model: Any) -> list[str]:
    """The names of a mixture-of-experts model's fused expert weights: one 3-D parameter
    per projection holding every expert (Mixtral's, Qwen-MoE's `mlp.experts.gate_up_proj`
    and `down_proj` in transformers 5), which no linear layer wraps."""
    names = set()
    for _, module in model.named_modules():
        if "Expert" not in type(module).__name__:  # not a convolution's 3-D weight
            continue
        for name, parameter in module.named_parameters(recurse=False):
            if parameter.ndim == 3:
                names.add(name)
    return sorted(names)


def experts_note(model: Any) -> str:
    """A sentence for a mixture-of-experts model: LoRA goes on linear layers, and its
    experts' feed-forward weights are not layers, so the adapter leaves them as they are.
    Said, not silent: the note on the default's names read as if everything were covered."""
    fused = fused_expert_weights(model)
    if not fused:
        return ""
    return (
        f"This is a mixture-of-experts model whose experts' feed-forward weights ({fused}) "
        "are fused parameters, not layers: LoRA trains its attention (and any shared "
        "expert's layers), and leaves the experts as they are."
    )


def rank_note(model: Any, targets: list[str], rank: int) -> str:
    """A sentence when `rank` is above the width (the smaller of its inputs and outputs) of
    layers that get LoRA: there the adapter holds more weights than the layer itself and
    learns nothing a rank of that width would not, while training slower ("" if none)."""
    widths: dict[str, int] = {}
    for name, module in model.named_modules():
        last = name.rsplit(".", 1)[-1]
        weight = getattr(module, "weight", None)
        if last not in targets or weight is None or len(getattr(weight, "shape", ())) != 2:
            continue
        ins = getattr(module, "in_features", None) or weight.shape[0]
        outs = getattr(module, "out_features", None) or weight.shape[1]
        widths[last] = min(widths.get(last, ins), ins, outs)
    narrow = {n: w for n, w in sorted(widths.items()) if rank > w}
    if not narrow:
        return ""
    shown = ", ".join(f"{n} ({w})" for n, w in narrow.items())
    if len(narrow) < len(widths):
        advice = "the other layers use the rank in full"
    else:
        advice = f"lower lora_r (--lora-r) to {max(widths.values())} or less"
    return (
        f"[train] lora_r = {rank} is above the width of {shown}: there LoRA has more weights "
        "than the layer and learns nothing a rank of that width would not, only slower and "
        f"into a larger adapter; {advice}."
    )


def _all_conv1d(model: Any, targets: list[str]) -> bool:
    """Whether every layer that gets LoRA is a Conv1D (GPT-2's c_attn, c_proj, c_fc)."""
    kinds = {
        type(module).__name__
        for name, module in model.named_modules()
        if name.rsplit(".", 1)[-1] in targets
    }
    return kinds == {"Conv1D"}
