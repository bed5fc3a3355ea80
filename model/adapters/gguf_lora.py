"""Convert a peft LoRA version into the GGUF LoRA file llama.cpp loads (`adapter.gguf`).

Each version is converted once, into its own folder, beside the peft files, with a
record (`adapter.gguf.json`) of the file's size and sha256 and of the peft files and base
it came from: an `adapter.gguf` cut short, corrupt, or older than the peft files beside
it is converted again rather than handed to llama.cpp (which refused it with a
misleading reason). Tensor names come from the `gguf` library's name map for the base GGUF's architecture, so
nothing is downloaded. Two facts of llama.cpp's own converter are repeated here:

- llama.cpp scales a LoRA by `alpha / r`; an rsLoRA (`alpha / sqrt(r)`) is written with
  the alpha that gives the same scale;
- the HF -> GGUF converter reorders the rows of the Llama q and k projections for its
  rotary layout, so a LoRA's B matrices on those layers (rows = outputs) are reordered
  the same way.
"""

from __future__ import annotations

import errno
import json
import logging
import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from atri.files import give_new_file_mode, owned, owned_prefix, remove_dead_leftovers
from model.adapters.initialization import check_converted
from model.adapters.versions import (
    AdapterError,
    AdapterWriteError,
    sha256_file,
    write_json_atomic,
)

log = logging.getLogger(__name__)

ADAPTER_GGUF = "adapter.gguf"
# What a conversion wrote and from what: an adapter.gguf that does not match it is not used.
GGUF_RECORD = "adapter.gguf.json"
RECORD_FORMAT = "atri-adapter-gguf"
# Raised when the conversion's output changes, so files converted before are redone.
CONVERSION = 1
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


_MISSING = "is missing"


def ensure_gguf_adapter(version_dir: Path, facts: dict[str, Any]) -> Path:
    """`version_dir/adapter.gguf`, converted from the peft files when missing, or when it
    does not match its record (cut short, corrupt, converted from other peft files or for
    another base); the reason is logged."""
    target = version_dir / ADAPTER_GGUF
    why = _why_convert(version_dir, facts)
    if why is None:
        return target
    if why != _MISSING:
        log.warning("%s %s; converting the peft files again.", target, why)
    # Hashed before they are read: peft files changed meanwhile fail the next check.
    sources = _peft_hashes(version_dir)
    tensors, alpha = _lora_tensors(version_dir, facts)
    try:
        size, digest = _write(target, facts["arch"], tensors, alpha)
        record = {
            "format": RECORD_FORMAT,
            "conversion": CONVERSION,
            "size": size,
            "sha256": digest,
            "peft_sha256": sources,
            "base": facts,
        }
        write_json_atomic(version_dir / GGUF_RECORD, record)
    except OSError as exc:  # a read-only folder (a volume mounted so), a full disk
        # numpy's short write on a full disk carries no errno ("24576 requested and 14320
        # written"): a folder that may not be written fails with EACCES or EROFS.
        full = exc.errno in (errno.ENOSPC, errno.EDQUOT, None)
        fix = "free some disk space" if full else "make the folder writable"
        raise AdapterWriteError(
            f"{target} {why}, and no new one can be converted from the peft files: writing "
            f"in {version_dir} failed ({exc.strerror or exc}); {fix}."
        ) from None
    return target


def _why_convert(version_dir: Path, facts: dict[str, Any]) -> str | None:
    """Why `adapter.gguf` must be converted (again), or None when it is whole and was
    converted from these peft files for this base by this converter."""
    target = version_dir / ADAPTER_GGUF
    if not target.is_file():
        return _MISSING
    try:
        record = json.loads((version_dir / GGUF_RECORD).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return f"has no record of its conversion ({GGUF_RECORD})"
    except (OSError, ValueError):
        return f"has an unreadable record of its conversion ({GGUF_RECORD})"
    if not isinstance(record, dict) or record.get("format") != RECORD_FORMAT:
        return f"has an unreadable record of its conversion ({GGUF_RECORD})"
    if record.get("conversion") != CONVERSION:
        return "was converted by another version of ATRI's converter"
    if record.get("base") != facts:
        return "was converted for another base model"
    try:
        size = target.stat().st_size
        if size != record.get("size"):
            return f"is {size} bytes where its conversion wrote {record.get('size')} (cut short?)"
        if record.get("peft_sha256") != _peft_hashes(version_dir):
            return "is older than the peft files beside it (they changed since its conversion)"
        if sha256_file(target) != record.get("sha256"):
            return "is corrupt (its sha256 differs from its conversion's)"
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc})"
    return None


def _peft_hashes(version_dir: Path) -> dict[str, str]:
    """sha256 of each peft file a conversion reads."""
    try:
        return {name: sha256_file(version_dir / name) for name in (PEFT_CONFIG, PEFT_WEIGHTS)}
    except OSError as exc:
        raise AdapterError(f"{version_dir}: cannot read the peft adapter ({exc}).") from None


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
    try:
        check_converted(config)
    except AdapterError as exc:
        raise AdapterError(f"{version_dir}: {exc}") from None
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


def _write(target: Path, arch: str, tensors: dict[str, Any], alpha: float) -> tuple[int, str]:
    """Write beside the target and rename: a reader never sees half a file, and after a
    power cut the old file or the new one is there. What a conversion killed outright
    left (never read: only ADAPTER_GGUF is) goes first, and the work file is held while
    it is written (see atri.files.owned). Returns the size and sha256."""
    remove_dead_leftovers(target.parent, _WORK_PREFIX)
    with owned(lambda: _new_work_file(target.parent)) as work:
        return _write_into(str(work), target, arch, tensors, alpha)


def _new_work_file(folder: Path) -> Path:
    fd, tmp = tempfile.mkstemp(prefix=owned_prefix(_WORK_PREFIX), suffix=".gguf", dir=folder)
    os.close(fd)
    return Path(tmp)


def _write_into(
    tmp: str, target: Path, arch: str, tensors: dict[str, Any], alpha: float
) -> tuple[int, str]:
    import gguf
    import numpy as np

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
        with open(tmp, "rb") as written:
            os.fsync(written.fileno())
        size, digest = Path(tmp).stat().st_size, sha256_file(Path(tmp))
        give_new_file_mode([Path(tmp)])  # not mkstemp's 0600: vLLM may read it as another user
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return size, digest
