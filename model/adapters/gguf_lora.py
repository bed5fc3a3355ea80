"""Convert a peft LoRA version into the GGUF LoRA file llama.cpp loads (`adapter.gguf`).

Each version is converted once, into its own folder, beside the peft files. Tensor
names come from the `gguf` library's name map for the base GGUF's architecture, so
nothing is downloaded. Two facts of llama.cpp's own converter are repeated here:

- llama.cpp scales a LoRA by `alpha / r`; an rsLoRA (`alpha / sqrt(r)`) is written with
  the alpha that gives the same scale;
- the HF -> GGUF converter reorders the rows of the Llama q and k projections for its
  rotary layout, so a LoRA's B matrices on those layers (rows = outputs) are reordered
  the same way.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from atri.files import give_new_file_mode, owned_prefix, remove_dead_leftovers
from model.adapters.versions import AdapterError

ADAPTER_GGUF = "adapter.gguf"
# The hidden file a conversion writes before renaming it to ADAPTER_GGUF.
_WORK_PREFIX = ".adapter-"
PEFT_CONFIG = "adapter_config.json"
PEFT_WEIGHTS = "adapter_model.safetensors"
PEFT_PREFIX = "base_model.model."
# Architectures whose GGUF q/k rows were reordered by the HF converter (LlamaModel.permute).
PERMUTED_ARCHS = frozenset({"llama"})


def gguf_facts(base_gguf: Path) -> dict[str, Any]:
    """What the conversion needs from the base GGUF file (see `facts_from`), read from
    its header alone."""
    from model.engines.gguf_header import gguf_header

    try:
        with gguf_header(base_gguf) as header:
            values = dict(header.values)
    except (OSError, ValueError) as exc:
        raise AdapterError(f"{base_gguf}: not a readable GGUF file ({exc}).") from exc
    return facts_from(lambda key: str(values.get(key, "")), str(base_gguf))


def facts_from(meta: Callable[[str], str], where: str) -> dict[str, Any]:
    """Architecture, blocks, heads and KV heads, from a reader of the base's GGUF
    metadata ("" for a key it lacks): the file's header (`gguf_facts`), or a loaded
    llama.cpp model's (`LlamaCppEngine.adapter_facts`)."""
    arch = meta("general.architecture")

    def number(key: str) -> int:
        value = meta(key)
        if not value.isdigit():
            raise AdapterError(f"{where}: the GGUF has no {key} field.")
        return int(value)

    if not arch:
        raise AdapterError(f"{where}: the GGUF has no general.architecture field.")
    return {
        "arch": arch,
        "blocks": number(f"{arch}.block_count"),
        "heads": number(f"{arch}.attention.head_count"),
        "kv_heads": number(f"{arch}.attention.head_count_kv"),
    }


def ensure_gguf_adapter(version_dir: Path, facts: dict[str, Any]) -> Path:
    """`version_dir/adapter.gguf`, converted from the peft files when missing."""
    target = version_dir / ADAPTER_GGUF
    if target.is_file():
        return target
    tensors, alpha = _lora_tensors(version_dir, facts)
    _write(target, facts["arch"], tensors, alpha)
    return target


def _permute(rows: Any, heads: int) -> Any:
    """llama.cpp's convert_hf_to_gguf LlamaModel.permute, on the output rows."""
    return (
        rows.reshape(heads, 2, rows.shape[0] // heads // 2, *rows.shape[1:])
        .swapaxes(1, 2)
        .reshape(rows.shape)
    )


def _lora_tensors(version_dir: Path, facts: dict[str, Any]) -> tuple[dict[str, Any], float]:
    import gguf
    from safetensors.torch import load_file

    try:
        config = json.loads((version_dir / PEFT_CONFIG).read_text(encoding="utf-8"))
        weights = load_file(str(version_dir / PEFT_WEIGHTS))
    except (OSError, ValueError) as exc:
        raise AdapterError(f"{version_dir}: cannot read the peft adapter ({exc}).") from None
    for key, why in (
        ("rank_pattern", "per-layer ranks"),
        ("alpha_pattern", "per-layer alphas"),
        ("use_dora", "DoRA"),
        ("modules_to_save", "fully trained modules"),
    ):
        if config.get(key):
            raise AdapterError(
                f"{version_dir}: the adapter uses {why} ({key}), which a llama.cpp LoRA "
                "cannot hold; train it without, or serve it with the local engine."
            )
    r = int(config["r"])
    alpha = float(config.get("lora_alpha", r))
    if config.get("use_rslora"):
        alpha *= math.sqrt(r)  # llama.cpp scales by alpha / r
    arch = _arch(facts["arch"])
    names = gguf.get_tensor_name_map(arch, facts["blocks"])
    tensors: dict[str, Any] = {}
    for key, tensor in weights.items():
        if not key.startswith(PEFT_PREFIX) or not key.endswith(
            (".lora_A.weight", ".lora_B.weight")
        ):
            raise AdapterError(
                f"{version_dir}: tensor {key} is not a LoRA A/B matrix of a linear layer; "
                "a llama.cpp LoRA cannot hold it."
            )
        module, part = key[len(PEFT_PREFIX) :].rsplit(".", 2)[:2]
        mapped = names.get_name(module)
        if mapped is None:
            raise AdapterError(f"{version_dir}: no GGUF tensor for layer {module}.")
        data = tensor.float().numpy()
        if part == "lora_B" and facts["arch"] in PERMUTED_ARCHS:
            if module.endswith("q_proj"):
                data = _permute(data, facts["heads"])
            elif module.endswith("k_proj"):
                data = _permute(data, facts["kv_heads"])
        suffix = "lora_a" if part == "lora_A" else "lora_b"
        tensors[f"{mapped}.weight.{suffix}"] = data
    if not tensors:
        raise AdapterError(f"{version_dir}: the adapter holds no LoRA weights.")
    return tensors, alpha


def _arch(name: str) -> Any:
    import gguf

    for arch, arch_name in gguf.MODEL_ARCH_NAMES.items():
        if arch_name == name:
            return arch
    raise AdapterError(f"the gguf library does not know the architecture {name!r}.")


def _write(target: Path, arch: str, tensors: dict[str, Any], alpha: float) -> None:
    """Write beside the target and rename: a reader never sees half a file. What a
    conversion killed outright left (never read: only ADAPTER_GGUF is) goes first."""
    import gguf
    import numpy as np

    remove_dead_leftovers(target.parent, _WORK_PREFIX)
    fd, tmp = tempfile.mkstemp(prefix=owned_prefix(_WORK_PREFIX), suffix=".gguf", dir=target.parent)
    os.close(fd)
    try:
        writer = gguf.GGUFWriter(tmp, arch)
        writer.add_string("general.type", "adapter")
        writer.add_string("adapter.type", "lora")
        writer.add_float32("adapter.lora.alpha", alpha)
        for name, data in sorted(tensors.items()):
            writer.add_tensor(name, np.ascontiguousarray(data, dtype=np.float32))
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
        give_new_file_mode([Path(tmp)])  # not mkstemp's 0600: vLLM may read it as another user
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
