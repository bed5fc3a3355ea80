"""Find and load the base model: a local folder, a hub id, or the offline default
(its GGUF converted to a model folder once, in `offline_gguf.py`).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import logging
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from atri.config import (
    OFFLINE_DEFAULT_BASE,
    Settings,
    positions_in,
    window_past_positions,
)
from atri.errors import ConfigError, UserError
from atri.text_files import json_object
from model.engines.chat_template import check_configured_template
from model.engines.offline_gguf import (
    ModelNotFoundError,
    is_offline_default,
    offline_default_folder,
)

log = logging.getLogger(__name__)


@contextlib.contextmanager
def quiet_peft_wrapping() -> Any:
    """Wrapping a model in peft, without the FutureWarning peft itself causes: it reads
    transformers' deprecated `is_gradient_checkpointing`, which nobody using ATRI can fix."""
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message="`is_gradient_checkpointing` is deprecated", category=FutureWarning
        )
        yield


@dataclass
class LoadedModel:
    model: Any
    tokenizer: Any
    base_id: str
    config_hash: str


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


# Long enough for a slow link, short of huggingface_hub's retries (~50 s and 30 warning
# lines with no network, before the one sentence).
HUB_PROBE_SECONDS = 5.0


def hub_unreachable() -> str | None:
    """Why the Hugging Face hub does not answer (one try, a short timeout); None when it
    does. It goes through the proxies the environment sets, as downloads do."""
    import httpx
    from huggingface_hub import constants

    try:
        httpx.head(constants.ENDPOINT, timeout=HUB_PROBE_SECONDS)
    except httpx.HTTPError as exc:
        return str(exc) or type(exc).__name__
    return None


def hub_source(hub_id: str) -> str:
    """What transformers should load for a hub id: the id itself (downloaded, or found in
    the HF cache) while the hub answers; with no network, its snapshot in the HF cache,
    or one sentence at once where it is not cached."""
    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        return hub_id  # the cache only, as asked: transformers says if it is not there
    why = hub_unreachable()
    if why is None:
        return hub_id
    cached = cached_hub_folder(hub_id, "config.json")
    if cached is not None:
        log.info(
            "The Hugging Face hub does not answer (%s): loading %s from %s.", why, hub_id, cached
        )
        return str(cached)
    raise ModelNotFoundError(
        f'[model] base = "{hub_id}" could not be loaded (the Hugging Face hub at '
        f"{constants.ENDPOINT} does not answer: {why}; and it is not in the local Hugging Face "
        "cache); set it to a local model folder, or check the hub id and your network."
    )


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
        return hub_source(base)
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


class DeviceNotFoundError(ConfigError):
    """`[model] device` names a device this machine's torch cannot use."""


def pick_device(setting: str) -> str:
    """`[model] device`: "auto" is CUDA when present, else the CPU; a device asked for by
    name must be there (torch would fail deep inside the model load otherwise)."""
    import torch

    if setting == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    present = {"cpu": True, "cuda": torch.cuda.is_available(), "mps": mps_available()}
    if not present.get(setting, False):
        raise DeviceNotFoundError(
            f'[model] device = "{setting}" but this machine\'s torch sees no such device; '
            'use "auto" or "cpu".'
        )
    return setting


def mps_available() -> bool:
    import torch

    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


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


class MissingPackageError(UserError):
    """The model's tokenizer (or its shipped code) needs a Python package not installed."""


def load_pretrained(settings: Settings, source: str, **model_kwargs: Any) -> tuple[Any, Any]:
    """(model, tokenizer) from `source` under the [model] trust_remote_code choice; a
    missing model, one without tokenizer files, one whose weights file is cut off, one
    that needs its own code, or one whose tokenizer needs a package not installed is one
    sentence."""
    from safetensors import SafetensorError
    from transformers import AutoModelForCausalLM, AutoTokenizer

    trust = settings.model.trust_remote_code
    base = settings.model.base
    tokenizer = None
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, trust_remote_code=trust)
        # Before the weights, which take minutes to load for a 7B model.
        prepare_tokenizer(
            tokenizer, settings.model.chat_template, base.strip() or OFFLINE_DEFAULT_BASE
        )
        model = AutoModelForCausalLM.from_pretrained(
            source, trust_remote_code=trust, **model_kwargs
        )
    except OSError as exc:
        raise ModelNotFoundError(
            f'[model] base = "{base}" could not be loaded ({exc}); set it to a '
            "local model folder, or check the hub id and your network."
        ) from None
    except SafetensorError as exc:
        # A download cut off or a damaged copy: safetensors' own words, then a traceback.
        raise ModelNotFoundError(
            f'[model] base = "{base}": the weights in {source} cannot be read ({exc}); a file '
            "is cut off or damaged, so copy or download the model again."
        ) from None
    except ImportError as exc:
        # Remote code importing a package not installed (InternLM3's and Baichuan2's
        # tokenizers import sentencepiece): transformers' ImportError, 70 lines deep.
        package = _missing_package(str(exc), source)
        if package is None:
            raise
        raise _package_error(base, package, tokenizer is None) from None
    except ValueError as exc:
        if "does not recognize this architecture" in str(exc):
            # A model newer than the installed transformers (or a config.json typo).
            import transformers

            kind = json.dumps(_model_type(source))
            raise ModelNotFoundError(
                f'[model] base = "{base}" is a model of type {kind}, which transformers '
                f"{transformers.__version__} does not know: a model newer than it needs a "
                "newer transformers; else check model_type in its config.json."
            ) from None
        if "Unrecognized configuration class" in str(exc):
            # A model that is no causal LM (T5, an encoder): transformers names the
            # config class, then lists every causal architecture it has, 60 lines long.
            kind = json.dumps(_model_type(source))
            raise ModelNotFoundError(
                f'[model] base = "{base}" is a model of type {kind}, which is not a causal '
                "language model (a chat model that writes its reply token by token, as "
                "Qwen, Llama or Gemma do): choose one of those."
            ) from None
        if tokenizer is None and not trust and _tokenizer_ships_code(source):
            # Its tokenizer is its own code: without it transformers tries another reader
            # and says what that one lacks, not why.
            raise _remote_code_error(base) from None
        package = _missing_package(str(exc), source) if tokenizer is None else None
        if package is not None:
            raise _package_error(base, package, True) from None
        if tokenizer is None and (trust or "trust_remote_code" not in str(exc)):
            # A folder of weights and config.json alone: transformers' several lines
            # about backends, then a traceback.
            raise ModelNotFoundError(
                f'[model] base = "{base}": no tokenizer could be loaded from {source}; copy '
                "in the tokenizer files the model ships with (tokenizer.json, or "
                "tokenizer.model, and tokenizer_config.json)."
            ) from None
        if trust or "trust_remote_code" not in str(exc):
            raise
        raise _remote_code_error(base) from None
    return model, tokenizer


def _remote_code_error(base: str) -> RemoteCodeError:
    return RemoteCodeError(
        f'[model] base = "{base}" runs Python code shipped with the model; set [model] '
        "trust_remote_code = true if you trust its source."
    )


def _package_error(base: str, package: str, tokenizer: bool) -> MissingPackageError:
    needs = "this model's tokenizer needs" if tokenizer else "this model's code needs"
    return MissingPackageError(
        f'[model] base = "{base}": {needs} the Python package {package}: pip install {package}'
    )


# transformers' words for a remote module's missing imports: "...requires the following
# packages that were not found in your environment: sentencepiece. Run `pip install ...`".
_NEEDS_PACKAGES = "requires the following packages"


def _missing_package(message: str, source: str) -> str | None:
    """The package a tokenizer failed for want of, as transformers' `message` names it,
    or None. Without sentencepiece, transformers falls back to reading tokenizer.model
    as a tiktoken file and names tiktoken: sentencepiece is what such a folder needs.
    A folder with no tokenizer file at all gets the same words about both packages,
    which then say nothing: the folder lacks files, not packages."""
    if _NEEDS_PACKAGES in message:
        listed = message.split("environment:", 1)[-1].split(". Run", 1)[0]
        return listed.strip().rstrip(".") or None
    if "sentencepiece" not in message.lower() and "tiktoken" not in message:
        return None
    folder = Path(source)
    if (folder / "tokenizer.model").is_file() and not _installed("sentencepiece"):
        return "sentencepiece"
    tiktoken_file = any(folder.glob("*.tiktoken")) if folder.is_dir() else False
    if tiktoken_file and not _installed("tiktoken"):
        return "tiktoken"
    return None


def _installed(package: str) -> bool:
    return importlib.util.find_spec(package) is not None


def _tokenizer_ships_code(source: str) -> bool:
    """Whether the folder's tokenizer_config.json maps the tokenizer to its own code."""
    return bool(json_object(Path(source) / "tokenizer_config.json").get("auto_map"))


def _model_type(source: str) -> str:
    """The model_type a model folder's config.json names ("unknown" when unread)."""
    kind = json_object(Path(source) / "config.json").get("model_type")
    return kind if isinstance(kind, str) else "unknown"


def device_map(device: str) -> dict[str, str] | None:
    """Load weights straight onto a GPU: no full copy in host RAM first."""
    return None if device == "cpu" else {"": device}


def check_window_fits(settings: Settings, built_for: int) -> None:
    """`[model] context_window` at most the positions the model was built for (0:
    unknown, any window)."""
    problem = window_past_positions(settings, built_for)
    if problem is not None:
        raise ConfigError(problem)


def load_base_model(settings: Settings) -> LoadedModel:
    """Load tokenizer and model for `[model] base` onto the configured device."""
    # Before the slow part.
    check_configured_template(settings.model.chat_template, settings.config_file)
    device = pick_device(settings.model.device)
    source = resolve_base(settings)
    # Before the weights: a 7B model loaded for minutes, then the window was refused.
    check_window_fits(settings, positions_in(Path(source) / "config.json"))
    dtype = pick_dtype(settings.model.dtype, device)
    model, tokenizer = load_pretrained(settings, source, dtype=dtype, device_map=device_map(device))
    model.eval()
    base_id = settings.model.base.strip() or OFFLINE_DEFAULT_BASE
    return LoadedModel(
        model=model, tokenizer=tokenizer, base_id=base_id, config_hash=config_hash(model)
    )


class NoChatTemplateError(UserError):
    """The base model has no chat template and the config gives none."""


class NoPadTokenError(UserError):
    """The base model's tokenizer has no special token at all to pad batches with."""


def prepare_tokenizer(tokenizer: Any, chat_template: str = "", base: str = "") -> None:
    """Batched generation needs a pad token and left padding; every path (train, serve,
    eval) renders chats with the model's own template, or `[model] chat_template`. A
    template that refuses ATRI's chats (a system prompt, then the user) is one sentence
    here, naming `base` (`[model] base`), not a failure in every chat.

    A tokenizer without a pad token pads with its end-of-text token, else with another
    of its special tokens (unknown, beginning of text, the template's turn markers):
    padded positions are masked out of attention and out of the labels, so which token
    fills them is never read nor learnt, and decoding drops special tokens. Without one
    (a batch of training padded with None) it is one sentence."""
    from model.engines.chat_template import declared_special_tokens, render_chat

    if chat_template.strip():
        tokenizer.chat_template = chat_template
    whose = f'[model] base = "{base}"' if base else "The base model"
    if not getattr(tokenizer, "chat_template", None):
        raise NoChatTemplateError(
            f"{whose} has no chat template in its tokenizer; choose a chat (instruct) "
            "model for [model] base, or give its template as [model] chat_template in "
            "config.toml."
        )
    if tokenizer.pad_token is None:
        pad = tokenizer.eos_token or tokenizer.unk_token or tokenizer.bos_token
        tokenizer.pad_token = pad or min(declared_special_tokens(tokenizer), default=None)
    if tokenizer.pad_token is None:
        raise NoPadTokenError(
            f"{whose} has a tokenizer without any special token (no padding, end-of-text "
            "or turn marker token) to pad a batch with; choose a chat (instruct) model for "
            "[model] base."
        )
    tokenizer.padding_side = "left"
    probe = [{"role": "system", "content": "-"}, {"role": "user", "content": "-"}]
    render_chat(tokenizer, probe, True, base)
