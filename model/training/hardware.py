"""Where and how a run trains: the hardware plan (device, precision, 4-bit QLoRA,
gradient checkpointing) picked from `auto` settings, and the base model loaded to fit it."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from typing import Any

from atri.config import Settings, TrainSettings
from model.training.errors import TrainError


@dataclass(frozen=True)
class Hardware:
    device: str
    precision: str  # "fp32", "bf16" or "fp16"
    quantize_4bit: bool
    gradient_checkpointing: bool

    def describe(self) -> str:
        quant = ", 4-bit QLoRA" if self.quantize_4bit else ""
        ckpt = ", gradient checkpointing" if self.gradient_checkpointing else ""
        return f"{self.device}, {self.precision}{quant}{ckpt}"


def plan_hardware(train: TrainSettings, device_setting: str) -> Hardware:
    """Pick device, precision, QLoRA and gradient checkpointing from `auto` settings."""
    from model.engines.loading import gpu_half_precision, pick_device

    device = pick_device(device_setting)  # a device asked for by name must be there
    gpu = device == "cuda"
    precision: str = train.precision
    if precision == "auto":
        precision = gpu_half_precision() if gpu else "fp32"
    if precision == "fp16" and not gpu:
        raise TrainError('[train] precision = "fp16" needs a CUDA GPU; use "fp32" or "bf16".')
    has_bnb = importlib.util.find_spec("bitsandbytes") is not None
    quantize = train.quantization == "4bit" or (train.quantization == "auto" and gpu and has_bnb)
    if quantize and not (gpu and has_bnb):
        raise TrainError(
            '[train] quantization = "4bit" needs a CUDA GPU and the bitsandbytes package '
            "(ATRI's gpu extra: pip install 'atri[gpu]'); "
            'use "auto" or "none".'
        )
    checkpointing = train.gradient_checkpointing == "on" or (
        train.gradient_checkpointing == "auto" and gpu
    )
    return Hardware(device, precision, quantize, checkpointing)


def load_for_training(settings: Settings, hw: Hardware) -> Any:
    """The base model (a `LoadedModel`) in the dtype training wants, 4-bit when asked."""
    from model.engines.loading import LoadedModel, config_hash, load_base_model

    if not hw.quantize_4bit:
        chosen = settings.model_copy(deep=True)
        chosen.model.device = hw.device  # type: ignore[assignment]
        chosen.model.dtype = {"fp32": "float32", "bf16": "bfloat16", "fp16": "float16"}[  # type: ignore[assignment]
            hw.precision
        ]
        return load_base_model(chosen)
    import torch
    from peft import prepare_model_for_kbit_training
    from transformers import BitsAndBytesConfig

    from model.engines.loading import load_pretrained, resolve_base

    source = resolve_base(settings)
    compute = torch.bfloat16 if hw.precision == "bf16" else torch.float16
    quant = BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=compute,
    )
    model, tokenizer = load_pretrained(
        settings, source, quantization_config=quant, dtype=compute, device_map={"": 0}
    )
    base_hash = config_hash(model)  # quantisation is not part of the hash
    model = prepare_model_for_kbit_training(
        model, use_gradient_checkpointing=hw.gradient_checkpointing
    )
    base_id = settings.model.base.strip()
    return LoadedModel(model=model, tokenizer=tokenizer, base_id=base_id, config_hash=base_hash)
