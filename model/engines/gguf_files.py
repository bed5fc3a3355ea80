"""Which GGUF file the llama.cpp engine serves, whether it is a whole one, and the config
hash transformers gives the model in it (what adapter manifests are matched against).

Apart from the engine so that `atri train` (converting a version's LoRA for the GGUF)
and the benches name the file without loading llama.cpp's engine module."""

from __future__ import annotations

import logging
from pathlib import Path

from atri.config import Settings
from atri.out_of_memory import is_out_of_memory
from model.engines.offline_gguf import (
    OFFLINE_GGUF,
    ModelNotFoundError,
    is_offline_default,
    offline_gguf_dir,
)

log = logging.getLogger(__name__)


def gguf_path(settings: Settings) -> Path:
    """The GGUF file to serve: `[model] gguf`, or the offline default's own file."""
    configured = settings.model.gguf.strip()
    if configured:
        path = settings.path(configured)
        if path.is_dir():
            inside = sorted(p.name for p in path.glob("*.gguf"))
            hint = f" (it holds {', '.join(inside[:3])})" if inside else ""
            raise ModelNotFoundError(
                f'[model] gguf = "{configured}" is a folder{hint}; point it at the GGUF '
                "file of the base model itself."
            )
        if not path.is_file():
            raise ModelNotFoundError(
                f'[model] gguf = "{configured}": no such file; point it at the GGUF file of '
                "the base model."
            )
        check_gguf_file(path, f'[model] gguf = "{configured}"')
        return path
    if is_offline_default(settings.model.base.strip()):
        return offline_gguf_dir() / OFFLINE_GGUF
    raise ModelNotFoundError(
        f'[model] engine = "llamacpp" needs a GGUF file for [model] base = '
        f'"{settings.model.base}": set [model] gguf to its path.'
    )


def check_gguf_file(path: Path, named: str) -> None:
    """A sentence (ModelNotFoundError) for a file that is not a whole GGUF model: another
    format, an empty file, one cut short (transformers and llama.cpp failed on those
    with a traceback, or a crash, deep inside their readers), or a LoRA adapter's GGUF
    (a version's adapter.gguf: transformers warned, then llama.cpp could not load it)."""
    from model.engines.gguf_header import gguf_header

    try:
        with gguf_header(path) as header:
            kind = header.values.get("general.type")
            wanted = header.data_end()
    except (OSError, ValueError) as exc:
        raise ModelNotFoundError(
            f"{named} is not a GGUF file llama.cpp can load ({exc}); point it at the GGUF "
            "file of the base model."
        ) from None
    if kind == "adapter":
        raise ModelNotFoundError(
            f"{named} is a LoRA adapter (general.type = adapter), not a model; point it at "
            "the GGUF file of the base model."
        )
    size = path.stat().st_size
    if size < wanted:
        raise ModelNotFoundError(
            f"{named} is cut short: {size:,} bytes of the {wanted:,} its header lists (a "
            "download or copy that stopped?); download or copy it again."
        )


def gguf_config_hash_or_none(path: Path) -> str | None:
    """`gguf_config_hash`, or None where transformers cannot read the GGUF (an
    architecture it has no GGUF reader for, such as GLM-4's, which llama.cpp serves)."""
    try:
        return gguf_config_hash(path)
    except Exception as exc:
        if is_out_of_memory(exc):
            raise  # not an unreadable GGUF: taken for one, versions were checked by name only
        log.info("%s: transformers cannot read its config (%s)", path.name, exc)
        return None


def gguf_config_hash(path: Path) -> str:
    """The config hash transformers would give the model in this GGUF, so adapter
    manifests written by `atri train` on the same base are recognised."""
    import types

    from transformers import AutoConfig
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

    from model.engines.loading import config_hash

    config = AutoConfig.from_pretrained(path.parent, gguf_file=path.name)
    if not getattr(config, "architectures", None):
        # A saved model names its class; the GGUF does not, transformers picks it.
        config.architectures = [MODEL_FOR_CAUSAL_LM_MAPPING_NAMES[config.model_type]]
    return config_hash(types.SimpleNamespace(config=config))
