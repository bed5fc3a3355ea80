"""Is `[model] gguf` the model `[model] base` names, and which adapters fit it?

`atri train` records in each adapter version the config hash of the Hugging Face base
it trained on. A GGUF converted from that base does not give transformers the same
config back: llama.cpp's converter stores floats such as `rms_norm_eps` in 32 bits
(1e-06 comes back as 9.99999997e-07), writes the tokenizer's pad id into the config, and
leaves out keys such as Qwen2's `max_window_layers`. The hash of the GGUF alone then
refused every version trained on a real base. So the llama.cpp engine also accepts the
hash of the base's own config.json, where this machine has it (a local folder, or the
hub id's copy in the Hugging Face cache: nothing is downloaded), once the GGUF's shape
(architecture, layers, widths, heads, vocabulary) is checked to be that model's; a GGUF of another
model stops the worker at start with the two shapes side by side.
"""

from __future__ import annotations

import json
import logging
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

from atri.config import Settings
from model.engines.loading import cached_hub_folder, config_hash, is_hub_id
from model.engines.offline_gguf import (
    OFFLINE_GGUF,
    ModelNotFoundError,
    is_offline_default,
    offline_gguf_dir,
)

log = logging.getLogger(__name__)

# (what a sentence calls it, the GGUF key after "<arch>.", the config.json keys it goes by)
_SHAPE = (
    ("layers", "block_count", ("num_hidden_layers", "n_layer", "num_layers")),
    ("hidden size", "embedding_length", ("hidden_size", "n_embd", "d_model")),
    ("feed-forward size", "feed_forward_length", ("intermediate_size", "ffn_hidden_size")),
    ("attention heads", "attention.head_count", ("num_attention_heads", "n_head")),
    ("KV heads", "attention.head_count_kv", ("num_key_value_heads", "multi_query_group_num")),
)
_VOCAB_KEYS = ("vocab_size", "padded_vocab_size")
# llama.cpp's `general.architecture` for the Hugging Face `model_type`s its converter
# writes (convert_hf_to_gguf.py; Mistral and Mixtral as llama). Only these are told
# apart: a name outside the table (a newer model, another converter) is not judged.
_GGUF_ARCHITECTURE = {
    "llama": "llama",
    "mistral": "llama",
    "mixtral": "llama",
    "qwen2": "qwen2",
    "qwen2_moe": "qwen2moe",
    "qwen3": "qwen3",
    "qwen3_moe": "qwen3moe",
    "gemma": "gemma",
    "gemma2": "gemma2",
    "gemma3": "gemma3",
    "gemma3_text": "gemma3",
    "phi3": "phi3",
}


def gguf_shape(path: Path) -> dict[str, int | str]:
    """The GGUF's shape from its header: "architecture" (llama.cpp's name), the `_SHAPE`
    names and "vocabulary" (the tokenizer's token count), those it states."""
    from model.engines.gguf_header import gguf_header

    with gguf_header(path) as header:
        arch = header.values.get("general.architecture")
        shape: dict[str, int | str] = {}
        if isinstance(arch, str) and arch in _GGUF_ARCHITECTURE.values():
            shape["architecture"] = arch
        for name, key, _ in _SHAPE:
            value = header.values.get(f"{arch}.{key}")
            if isinstance(value, int) and not isinstance(value, bool):
                shape[name] = value
        tokens = header.array_length("tokenizer.ggml.tokens")
        if tokens:
            shape["vocabulary"] = tokens
    return shape


def config_shape(config: dict[str, Any]) -> dict[str, int | str]:
    """A config.json's shape, in `gguf_shape`'s names (those it states); its
    architecture as llama.cpp names it, where `_GGUF_ARCHITECTURE` knows its model_type."""
    text = config.get("text_config")
    if isinstance(text, dict):  # a model with a vision part: its language model's
        config = {**config, **text}
    shape: dict[str, int | str] = {}
    architecture = _GGUF_ARCHITECTURE.get(str(config.get("model_type")))
    if architecture:
        shape["architecture"] = architecture
    for name, keys in [(n, k) for n, _, k in _SHAPE] + [("vocabulary", _VOCAB_KEYS)]:
        value = next((config[k] for k in keys if isinstance(config.get(k), int)), None)
        if value is not None:
            shape[name] = value
    if "KV heads" not in shape and "attention heads" in shape:
        shape["KV heads"] = shape["attention heads"]  # transformers' default
    return shape


def base_config_file(settings: Settings) -> Path | None:
    """`[model] base`'s config.json on this machine (a local folder's, or the hub id's
    in the Hugging Face cache); None where there is none here or for the offline
    default (its GGUF is its own base)."""
    base = settings.model.base.strip()
    if is_offline_default(base):
        return None
    local = settings.path(base)
    if local.is_dir():
        found = local / "config.json"
        return found if found.is_file() else None
    if is_hub_id(base):
        folder = cached_hub_folder(base, "config.json")
        return folder / "config.json" if folder else None
    return None


def base_config_hash(config_file: Path, trust_remote_code: bool) -> str | None:
    """The config hash `atri train` records for the model of `config_file` (as
    transformers reads it); None where transformers cannot read it."""
    from transformers import AutoConfig

    try:
        config = AutoConfig.from_pretrained(
            config_file.parent, local_files_only=True, trust_remote_code=trust_remote_code
        )
    except Exception as exc:  # a model type this transformers lacks, remote code, ...
        log.info("%s: transformers cannot read it (%s)", config_file, exc)
        return None
    return config_hash(types.SimpleNamespace(config=config))


def shape_mismatch(gguf: dict[str, int | str], base: dict[str, int | str]) -> str:
    """The shape facts the two differ in, as "layers 24 (the base: 28)", or "". Another
    architecture of the same widths (a llama GGUF for a Qwen2 base) loads and babbles."""
    names = [name for name, _, _ in _SHAPE] + ["vocabulary", "architecture"]
    return ", ".join(
        f"{name} {_told(gguf[name])} (the base: {_told(base[name])})"
        for name in names
        if name in gguf and name in base and gguf[name] != base[name]
    )


def _told(value: int | str) -> str:
    return f"{value:,}" if isinstance(value, int) else value


def base_hashes(
    settings: Settings, path: Path, gguf_hash_of: Callable[[Path], str | None]
) -> list[str]:
    """The config hashes of adapter manifests this GGUF serves, the base's own first:
    that of `[model] base`'s config.json, and that of the GGUF as transformers reads it
    (`gguf_hash_of`, seconds for a large vocabulary: asked once the shapes agree); [] where the base's config is not on this machine (any hash then: a
    version's base is still checked by name, and llama.cpp checks its shapes). Raises
    ModelNotFoundError when the GGUF is not shaped as the base (another model, another
    size of it)."""
    base = settings.model.base.strip()
    shape = gguf_shape(path)
    config_file = base_config_file(settings)
    if config_file is not None:
        try:
            config = json.loads(config_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            config = {}
        base_shape = config_shape(config if isinstance(config, dict) else {})
    elif is_offline_default(base) and settings.model.gguf.strip():
        base_shape = gguf_shape(offline_gguf_dir() / OFFLINE_GGUF)
    else:
        base_shape = {}
    differs = shape_mismatch(shape, base_shape)
    if differs:
        named = base or "builtin:smollm2-135m"
        raise ModelNotFoundError(
            f'[model] gguf = "{settings.model.gguf}" is not a GGUF of [model] base = '
            f'"{named}": {differs}; point gguf at a GGUF converted from that base, or base '
            "at the model the GGUF was made from."
        )
    if is_offline_default(base):
        # The offline default's safetensors copy is converted from its GGUF: one config.
        gguf_hash = gguf_hash_of(path)
        return [gguf_hash] if gguf_hash else []
    own = base_config_hash(config_file, settings.model.trust_remote_code) if config_file else None
    if not own:
        return []  # the GGUF's hash alone would refuse every version trained on the base
    gguf_hash = gguf_hash_of(path)
    return [own] + ([gguf_hash] if gguf_hash and gguf_hash != own else [])
