"""Write adapter versions the way training does (peft files + manifest.json, renamed
into place), from a model folder, with LoRA weights large enough to change replies."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from model.adapters.versions import MANIFEST, MANIFEST_FORMAT

TARGETS = ["q_proj", "v_proj"]


def base_config_hash(model_dir: Path) -> str:
    from transformers import AutoModelForCausalLM

    from model.engines.loading import config_hash

    return config_hash(AutoModelForCausalLM.from_pretrained(model_dir))


def gguf_facts_of(model_dir: Path) -> dict[str, Any]:
    """What a GGUF LoRA conversion needs of a Llama base (`gguf_lora.facts_from`), from
    its transformers config: the tiny model has no GGUF file."""
    config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    return {
        "arch": "llama",
        "blocks": config["num_hidden_layers"],
        "heads": config["num_attention_heads"],
        "kv_heads": config.get("num_key_value_heads", config["num_attention_heads"]),
    }


def write_version(
    adapters_dir: Path,
    name: str,
    model_dir: Path,
    *,
    base_model: str,
    config_hash: str,
    seed: int = 1,
    scale: float = 1.0,
    rank: int = 4,
    targets: list[str] | None = None,
    eval_rates: tuple[float, float] | None = None,
    **manifest: Any,
) -> Path:
    """A complete version `name`: LoRA on `model_dir`, B weights drawn with `seed`
    (NaN when scale is nan); eval_rates = (adapter, base) OOC rates for eval.json."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(model_dir)
    peft = get_peft_model(
        model, LoraConfig(r=rank, lora_alpha=2 * rank, target_modules=targets or TARGETS)
    )
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for key, param in peft.named_parameters():
            if "lora_B" in key:
                param.copy_(torch.randn(param.shape, generator=generator) * scale)
            elif "lora_A" in key:
                # peft draws A from the global generator: whatever ran before would
                # change the version's replies (an empty smoke reply in some test orders).
                bound = param.shape[1] ** -0.5
                param.copy_((torch.rand(param.shape, generator=generator) * 2 - 1) * bound)
    adapters_dir.mkdir(parents=True, exist_ok=True)
    tmp = adapters_dir / f".tmp-{name}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    peft.save_pretrained(str(tmp))
    data = {
        "format": MANIFEST_FORMAT,
        "version": name,
        "base_model": base_model,
        "base_config_hash": config_hash,
        "dataset_sha256": "0" * 64,
        "settings": {},
        "train_loss": 1.0,
        "eval_loss": None,
        "created_at": "2025-01-01T00:00:00+00:00",
        "target_modules": targets or TARGETS,
        "lora_r": rank,
    }
    data.update(manifest)
    (tmp / MANIFEST).write_text(json.dumps(data), encoding="utf-8")
    if eval_rates is not None:
        adapter_rate, base_rate = eval_rates
        report = {"adapter": {"ooc_rate": adapter_rate}, "base": {"ooc_rate": base_rate}}
        (tmp / "eval.json").write_text(json.dumps(report), encoding="utf-8")
    target = adapters_dir / name
    os.rename(tmp, target)
    return target
