"""A finished run published as a new version: adapter, loss curve, manifest (and
`adapter.gguf` for the llama.cpp engine) written into a hidden folder, then renamed in."""

from __future__ import annotations

import datetime as dt
import logging
import math
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from atri.config import Settings
from atri.files import give_new_file_mode
from atri.interrupt import interruptions_held
from model.adapters.versions import (
    LOSS_PLOT,
    MANIFEST,
    MANIFEST_FORMAT,
    NAMED_AFTER,
    CharacterId,
    next_version,
    publish,
    temp_folder,
    write_json_atomic,
)
from model.training.data_files import DataFiles
from model.training.errors import TrainError
from model.training.hardware import Hardware
from model.training.plots import loss_points, plot_loss

log = logging.getLogger(__name__)


def final_train_loss(history: list[dict[str, Any]], fallback: float) -> float:
    """Train loss in the manifest and the summary: the last logged value, the one the
    loss curve ends at and the progress line last showed (itself the mean over that
    logging interval, as Trainer logs it), not the whole run's average (which the first,
    untrained steps would dominate)."""
    losses = [v for _, v in loss_points(history, "loss")]
    return losses[-1] if losses else fallback


def publish_version(
    settings: Settings,
    model: Any,
    files: DataFiles,
    loaded: Any,
    hw: Hardware,
    targets: list[str],
    history: list[dict[str, Any]],
    train_loss: float,
    eval_loss: float | None,
    system_prompt: str,
    character: CharacterId,
    published: list[Path],
    say: Callable[[str], None] | None = None,
) -> Path:
    """Write adapter, loss curve and manifest into a hidden folder, then rename it in and
    add it to `published`: a Ctrl-C comes after both or before both, never between (the
    run would say nothing was written while the version is in place, and `--resume`
    would publish it a second time). `say`: where a loss curve that could not be drawn
    is told (the log's warning without it)."""
    out = settings.path(settings.model.adapters_dir)
    version, after = next_version(out)

    def build(tmp: Path) -> None:
        model.save_pretrained(str(tmp))
        try:
            plot_loss(history, tmp / LOSS_PLOT, title=f"LoRA adapter {version}")
        except Exception as exc:  # a picture is no reason to throw the training away
            (tmp / LOSS_PLOT).unlink(missing_ok=True)
            (say or log.warning)(
                f"{LOSS_PLOT} was not drawn ({type(exc).__name__}: {exc}); the adapter and "
                "its manifest are written."
            )
        manifest = {
            **manifest_head(version, settings.model.base, loaded.config_hash, after),
            "dataset_sha256": files.train_sha256,
            "eval_dataset_sha256": files.eval_sha256,
            # Where its held-out set was: `atri eval` scores the version on that file
            # (checked by hash), not whatever [train] names by the time it runs.
            "eval_dataset_file": str(files.eval.resolve()) if files.eval else None,
            "settings": settings.train.model_dump(),
            "hardware": {
                "device": hw.device,
                "precision": hw.precision,
                "quantization": "4bit" if hw.quantize_4bit else "none",
                "gradient_checkpointing": hw.gradient_checkpointing,
            },
            "train_loss": _finite(train_loss),
            "eval_loss": _finite(eval_loss) if eval_loss is not None else None,
            "base_eval_loss": next((v for _, v in loss_points(history, "eval_loss")), None),
            "created_at": now_stamp(),
            "target_modules": targets,
            "lora_r": settings.train.lora_r,
            # What the adapter learned to answer under: wherever it is live, the worker,
            # `atri eval` and the reload smoke test give it exactly this prompt.
            "system_prompt": system_prompt,
            "chat_template": loaded.tokenizer.chat_template,
            # Whom it was trained as (the configured card's names): a worker serving
            # another character refuses it, and `atri eval` passes it over by default.
            **character.manifest_fields(),
        }
        write_json_atomic(tmp / MANIFEST, manifest)
        write_gguf_adapter(settings, tmp)

    return publish_built(out, version, build, published)


def manifest_head(
    version: str, base_model: str, base_config_hash: str, after: str = ""
) -> dict[str, Any]:
    """The fields every version's manifest.json opens with: what it is, the version its
    name continues (`after`, see `next_version`; only when there is one), and the base
    model (and its config hash) the reload job checks before it goes live."""
    return {
        "format": MANIFEST_FORMAT,
        "version": version,
        **({NAMED_AFTER: after} if after else {}),
        "base_model": base_model,
        "base_config_hash": base_config_hash,
    }


def now_stamp() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def publish_built(
    out: Path, version: str, build: Callable[[Path], None], published: list[Path]
) -> Path:
    """Build a version in a hidden folder in `out` (`build` writes its files there), then
    rename it in as `version` and add it to `published`: a reader (the worker's reload
    job) never sees half a version, and a failure or a Ctrl-C leaves nothing behind. The
    rename and the record come both or neither (the run would say nothing was written
    while the version is in place, and `--resume` would publish it a second time)."""
    with temp_folder(out, version) as tmp:
        try:
            build(tmp)
            give_new_file_mode([f for f in tmp.rglob("*") if f.is_file()])
            with interruptions_held():
                version_dir = publish(tmp, out, version)
                published.append(version_dir)
            return version_dir
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise


def write_gguf_adapter(settings: Settings, folder: Path) -> Path | None:
    """`adapter.gguf` beside the peft files, for the llama.cpp engine, so the worker's
    reload job need not convert the version. Written when the engine is llamacpp (its
    GGUF is configured) or the base is the offline default (its GGUF ships with it, and
    converting a LoRA takes a second), since that model is served on a CPU; any other
    base has no known GGUF. A failure costs only the shortcut: the version is kept and
    the reload job converts it when it loads it."""
    from model.engines.offline_gguf import is_offline_default

    if settings.model.engine != "llamacpp" and not is_offline_default(settings.model.base.strip()):
        return None
    try:
        from model.adapters.gguf_lora import ensure_gguf_adapter, gguf_facts
        from model.engines.gguf_files import gguf_path

        return ensure_gguf_adapter(folder, gguf_facts(gguf_path(settings)))
    except Exception as exc:  # the version is complete without it
        log.warning(
            "No adapter.gguf written for the llama.cpp engine (%s); the worker converts the "
            "version when it loads it.",
            exc,
        )
        return None


def _finite(value: float) -> float:
    if not math.isfinite(value):
        raise TrainError(
            "Training diverged (the loss is not a finite number); lower --lr and try again."
        )
    return value
