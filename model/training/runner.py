"""`atri train`: LoRA with peft under transformers' Trainer, into a new version folder.

The library does the loop (`Trainer`: evaluation, checkpoints, resume, early stopping);
this module only says what is specific to ATRI: which data, which device and precision,
where checkpoints live (`<adapters_dir>/.runs/<fingerprint>/`, never a visible version),
and how the finished adapter is published (a hidden build folder renamed into place).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import math
import os
import re
import shutil
import signal
import threading
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from atri.config import Settings, TrainSettings
from atri.errors import UserError
from model.adapters.versions import (
    LOSS_PLOT,
    MANIFEST,
    MANIFEST_FORMAT,
    RUNS_DIR,
    next_version_name,
    pid_alive,
    publish,
    remove_stale_temps,
    sha256_file,
    temp_folder,
    write_json_atomic,
)
from model.training.dataset import (
    Collator,
    Conversation,
    RowDataset,
    TokenizedSet,
    common_system_prompt,
    held_out_file,
    load_sharegpt,
    pack,
    tokenize_dataset,
)
from model.training.plots import loss_points, plot_loss
from model.training.progress import ThroughputMeter

log = logging.getLogger(__name__)

# Train loss in the manifest: the mean of the last few logged values, not the whole
# run's average (which the first, untrained steps would dominate).
FINAL_LOSS_WINDOW = 3
RUN_INFO = "run.json"
LOCK_SUFFIX = ".lock"
CHECKPOINT = re.compile(r"checkpoint-\d+")
TRAINER_STATE = "trainer_state.json"  # what Trainer writes last into a checkpoint


class TrainError(UserError):
    """A training request that cannot run as asked; str() is one sentence saying why."""


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


@dataclass
class DataFiles:
    train: Path
    eval: Path | None
    train_sha256: str
    eval_sha256: str | None


@dataclass
class TrainResult:
    version_dir: Path
    manifest: dict[str, Any]
    hardware: Hardware
    steps: int
    train_samples: int
    eval_samples: int
    truncated: int
    skipped: int
    rows: int
    train_runtime: float
    tokens_per_second: float
    resumed_from_step: int | None
    log_history: list[dict[str, Any]] = field(default_factory=list)


def plan_hardware(train: TrainSettings, device_setting: str) -> Hardware:
    """Pick device, precision, QLoRA and gradient checkpointing from `auto` settings."""
    import torch

    from model.engines.loading import gpu_half_precision, pick_device

    device = pick_device(device_setting)
    gpu = device == "cuda"
    if device_setting == "cuda" and not torch.cuda.is_available():
        raise TrainError('[model] device = "cuda" but no CUDA GPU is visible; use "auto" or "cpu".')
    precision: str = train.precision
    if precision == "auto":
        precision = gpu_half_precision() if gpu else "fp32"
    if precision == "fp16" and not gpu:
        raise TrainError('[train] precision = "fp16" needs a CUDA GPU; use "fp32" or "bf16".')
    has_bnb = importlib.util.find_spec("bitsandbytes") is not None
    quantize = train.quantization == "4bit" or (train.quantization == "auto" and gpu and has_bnb)
    if quantize and not (gpu and has_bnb):
        raise TrainError(
            '[train] quantization = "4bit" needs a CUDA GPU and the bitsandbytes package; '
            'use "auto" or "none".'
        )
    checkpointing = train.gradient_checkpointing == "on" or (
        train.gradient_checkpointing == "auto" and gpu
    )
    return Hardware(device, precision, quantize, checkpointing)


def resolve_data_files(settings: Settings) -> DataFiles:
    t = settings.train
    train_file = settings.path(t.dataset)
    if train_file.is_dir():
        raise TrainError(f"{train_file} is a folder; pass the sharegpt file in it (--dataset).")
    if not train_file.is_file():
        raise TrainError(
            f"{train_file}: dataset file not found; run `atri prep` first or pass --dataset."
        )
    eval_file = held_out_file(settings)
    if eval_file is not None and eval_file.is_dir():
        raise TrainError(
            f"{eval_file} is a folder; pass the held-out sharegpt file in it (--eval-dataset)."
        )
    if eval_file is not None and not eval_file.is_file():
        raise TrainError(f"{eval_file}: eval dataset file not found; fix --eval-dataset.")
    return DataFiles(
        train=train_file,
        eval=eval_file,
        train_sha256=sha256_file(train_file),
        eval_sha256=sha256_file(eval_file) if eval_file else None,
    )


def adapters_folder(settings: Settings) -> Path:
    """`[model] adapters_dir`, checked before the model loads: a file there made the run
    end in a traceback after all the loading and tokenizing."""
    out = settings.path(settings.model.adapters_dir)
    if out.exists() and not out.is_dir():
        raise TrainError(
            f"{out} is a file, not a folder: [model] adapters_dir (or --output-dir) must name "
            "the folder versions are written into."
        )
    return out


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

    from model.engines.loading import load_pretrained, prepare_tokenizer, resolve_base

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
    prepare_tokenizer(tokenizer, settings.model.chat_template)
    base_hash = config_hash(model)  # quantisation is not part of the hash
    model = prepare_model_for_kbit_training(
        model, use_gradient_checkpointing=hw.gradient_checkpointing
    )
    base_id = settings.model.base.strip()
    return LoadedModel(model=model, tokenizer=tokenizer, base_id=base_id, config_hash=base_hash)


# `[train] target_modules = ["all-linear"]` (peft's word): every linear layer of the
# blocks, the output head excepted.
ALL_LINEAR = "all-linear"
# Output heads under the names models give them, for remote code whose head
# get_output_embeddings does not return (ChatGLM's output_layer).
_HEAD_NAMES = {"lm_head", "output_layer", "embed_out"}


def linear_layer_names(model: Any) -> set[str]:
    """The last name of every linear layer LoRA can wrap (Linear, bitsandbytes' Linear4bit,
    GPT-2's Conv1D), the output head left out."""
    import torch

    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    names = set()
    for name, module in model.named_modules():
        kind = type(module).__name__
        if not (
            isinstance(module, torch.nn.Linear) or kind.startswith("Linear") or kind == "Conv1D"
        ):
            continue
        last = name.rsplit(".", 1)[-1]
        if module is not head and last not in _HEAD_NAMES:
            names.add(last)
    return names


def lora_targets(model: Any, wanted: list[str]) -> tuple[list[str], str]:
    """The modules that get LoRA, and a sentence to say about the choice ("" if none).

    Left at its default (Llama/Qwen-style names), a model that lacks any of those names
    calls its projections otherwise (Phi-3's fused qkv_proj and gate_up_proj, Baichuan's
    W_pack, ChatGLM's and GPT-NeoX's query_key_value): training only the names it happens
    to share would leave out attention or feed-forward layers, so every linear layer gets
    LoRA instead, as with "all-linear". A list of one's own is kept to; its names the
    model lacks are said, and TrainError names the model's layers if none matches."""
    linear = linear_layer_names(model)
    if wanted == [ALL_LINEAR]:
        return sorted(linear), ""
    found = [m for m in wanted if m in linear]
    if wanted == TrainSettings().target_modules and len(found) < len(wanted):
        return sorted(linear), (
            f"This model names its layers otherwise than [train] target_modules' default "
            f"(it has {sorted(linear)}): LoRA goes on all of them; set target_modules to "
            "choose."
        )
    if not found:
        raise TrainError(
            f"[train] target_modules = {wanted} matches no layer of this model; its linear "
            f'layers are {sorted(linear)} (or set ["{ALL_LINEAR}"]).'
        )
    unknown = [m for m in wanted if m not in found]
    note = (
        f"[train] target_modules {unknown} match no layer of this model; training {found} only."
        if unknown
        else ""
    )
    return found, note


def run_fingerprint(settings: Settings, files: DataFiles, base_hash: str, hw: Hardware) -> str:
    """Identifies a training run: same base, data and settings → same checkpoint folder."""
    payload = {
        "base": settings.model.base,
        "base_config_hash": base_hash,
        "dataset": files.train_sha256,
        "eval_dataset": files.eval_sha256,
        "settings": settings.train.model_dump(exclude={"dataset", "eval_dataset"}),
        "hardware": hw.__dict__,
    }
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def tokenize_files(
    tokenizer: Any,
    train: list[Conversation],
    evaluation: list[Conversation] | None,
    max_len: int,
    train_file: Path | None = None,
) -> tuple[TokenizedSet, TokenizedSet | None]:
    train_set = tokenize_dataset(tokenizer, train, max_len)
    if not train_set.samples and train_set.unplaced and not train_set.skipped:
        raise TrainError(unplaced_note(train_set))
    if not train_set.samples:
        longest = train_set.longest_skipped or (0, 0)
        where = f" of {train_file}" if train_file else ""
        raise TrainError(
            f"No training conversation fits max_seq_length = {max_len} tokens even with only "
            f"its last exchange: the longest (record {longest[0]}{where}) needs "
            f"{train_set.needs(longest)}, the shortest {train_set.needs(train_set.shortest_skipped)}; "
            "raise [train] max_seq_length (--max-seq-length) or shorten the system prompt."
        )
    eval_set = tokenize_dataset(tokenizer, evaluation, max_len) if evaluation else None
    if eval_set is not None and not eval_set.samples:
        eval_set = None
    return train_set, eval_set


def unplaced_note(train_set: TokenizedSet) -> str:
    """One sentence for the replies training cannot find in the rendered chats: they go
    without loss, and a conversation with none found is left out."""
    hidden, left = train_set.hidden, train_set.unplaced
    parts = []
    if hidden:
        parts.append(
            f"{hidden} repl{'ies' if hidden != 1 else 'y'} in the conversations kept "
            f"stay{'s' * (hidden == 1)} as context without loss"
        )
    if left:
        parts.append(
            f"{left} conversation{'s' * (left != 1)} with no reply it shows "
            f"{'are' if left != 1 else 'is'} left out"
        )
    return (
        "The base model's chat template hides or rewrites some of the character's replies, so "
        f"training cannot find them to put loss on them: {' and '.join(parts)}; a [model] "
        "chat_template that shows every reply trains on them."
    )


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """A polite kill (SIGTERM) unwinds like Ctrl-C, so the build folder is cleaned up."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def write_errors_as_sentence(out: Path) -> Iterator[None]:
    """A full disk (or a folder that cannot be written) while saving a checkpoint or the
    adapter is one sentence: nothing was published, so the earlier versions stand."""
    try:
        yield
    except OSError as exc:
        where = exc.filename or out
        raise TrainError(
            f"Training stopped writing {where} ({exc.strerror or exc}); no version was written "
            f"and the earlier ones in {out} are untouched: free some space, then run "
            "`atri train --resume`."
        ) from None


def unfinished_runs(run_dir: Path) -> list[tuple[Path, int]]:
    """The checkpoint folders beside `run_dir` (other settings or data) that no running
    `atri train` holds, with their size in bytes: an interrupted run keeps its
    checkpoints for `--resume`, and nothing else would ever tell the user they are there."""
    found = []
    for folder in sorted(run_dir.parent.glob("*")) if run_dir.parent.is_dir() else []:
        if folder == run_dir or not folder.is_dir():
            continue
        try:
            holder = int(folder.with_name(f"{folder.name}{LOCK_SUFFIX}").read_text() or 0)
        except (OSError, ValueError):
            holder = 0
        if holder and pid_alive(holder):
            continue  # being trained right now
        try:
            size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
        except OSError:  # removed while being counted
            continue
        found.append((folder, size))
    return found


@contextmanager
def run_lock(run_dir: Path, out: Path) -> Iterator[None]:
    """One run at a time per checkpoint folder: a second `atri train` on the same data
    and settings would delete or resume the first one's checkpoints under it. The lock
    file names its process, so a run killed outright does not hold it."""
    lock = run_dir.with_name(f"{run_dir.name}{LOCK_SUFFIX}")
    lock.parent.mkdir(parents=True, exist_ok=True)
    while True:
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            try:
                holder = int(lock.read_text(encoding="utf-8").strip() or 0)
            except (OSError, ValueError):
                holder = 0
            if holder and holder != os.getpid() and pid_alive(holder):
                raise TrainError(
                    f"Another `atri train` (process {holder}) is already training on this data "
                    f"with these settings into {out}; wait for it to finish or stop it."
                ) from None
            lock.unlink(missing_ok=True)  # its run died
            continue
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(str(os.getpid()))
        break
    try:
        yield
    finally:
        lock.unlink(missing_ok=True)


def checkpoints(run_dir: Path) -> list[Path]:
    """The checkpoint folders saved in `run_dir`, by step (none if it does not exist)."""
    if not run_dir.is_dir():
        return []
    found = [p for p in run_dir.iterdir() if p.is_dir() and CHECKPOINT.fullmatch(p.name)]
    return sorted(found, key=checkpoint_step)


def checkpoint_step(folder: Path) -> int:
    return int(folder.name.rsplit("-", 1)[1])


def last_complete_checkpoint(run_dir: Path, say: Any) -> str | None:
    """The newest checkpoint to resume from. Trainer writes trainer_state.json last, so a
    checkpoint without a readable one was cut off (Ctrl-C or a full disk while saving):
    it is removed, and the one before it is used."""
    for folder in reversed(checkpoints(run_dir)):
        try:
            json.loads((folder / TRAINER_STATE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            say(f"Removed {folder.name}, a checkpoint whose saving was cut off.")
            shutil.rmtree(folder, ignore_errors=True)
            continue
        return str(folder)
    return None


def training_arguments(
    t: TrainSettings, hw: Hardware, run_dir: Path, has_eval: bool, fresh: bool = True, **extra: Any
) -> Any:
    from transformers import TrainingArguments

    if hw.gradient_checkpointing:
        extra.update(
            gradient_checkpointing=True, gradient_checkpointing_kwargs={"use_reentrant": False}
        )
    early = has_eval and t.early_stopping_patience > 0
    return TrainingArguments(
        output_dir=str(run_dir),
        per_device_train_batch_size=t.batch_size,
        per_device_eval_batch_size=t.batch_size,
        gradient_accumulation_steps=t.gradient_accumulation,
        learning_rate=t.learning_rate,
        num_train_epochs=t.epochs,
        max_steps=t.max_steps if t.max_steps > 0 else -1,
        warmup_steps=t.warmup_ratio,
        lr_scheduler_type="cosine",
        logging_strategy="steps",
        logging_steps=t.logging_steps,
        logging_first_step=True,
        eval_strategy="steps" if has_eval else "no",
        eval_steps=t.eval_steps,
        # The first held-out loss is the base model's (LoRA starts as a no-op): the
        # curve then shows how far the adapter moved from it.
        eval_on_start=has_eval and fresh,
        save_strategy="steps",
        save_steps=t.eval_steps,
        save_total_limit=2,
        load_best_model_at_end=early,
        metric_for_best_model="eval_loss" if early else None,
        greater_is_better=False if early else None,
        bf16=hw.precision == "bf16",
        fp16=hw.precision == "fp16",
        use_cpu=hw.device == "cpu",
        seed=t.seed,
        report_to="none",
        disable_tqdm=True,
        remove_unused_columns=False,
        label_names=["labels"],
        include_num_input_tokens_seen="non_padding",
        dataloader_pin_memory=hw.device == "cuda",
        **extra,
    )


def peft_model(model: Any, t: TrainSettings) -> tuple[Any, list[str], str]:
    """The model with LoRA layers, their module names and what to say about them."""
    from peft import LoraConfig, get_peft_model

    targets, note = lora_targets(model, list(t.target_modules))
    config = LoraConfig(
        r=t.lora_r,
        lora_alpha=t.lora_alpha,
        lora_dropout=t.lora_dropout,
        target_modules=targets,
        bias="none",
        task_type="CAUSAL_LM",
    )
    model.config.use_cache = False
    return get_peft_model(model, config), targets, note


def train(
    settings: Settings,
    *,
    resume: bool = False,
    callbacks: list[Any] | None = None,
    notify: Any = None,
) -> TrainResult:
    """Train one adapter and publish it as a new version; return what happened.

    `notify(message)` receives one-line notes (resume point, skipped samples).
    """
    import torch
    from transformers import EarlyStoppingCallback, PrinterCallback, Trainer, set_seed

    say = notify or (lambda message: log.info("%s", message))
    t = settings.train
    files = resolve_data_files(settings)
    out = adapters_folder(settings)
    train_convs = load_sharegpt(files.train, notify=say)
    eval_convs = load_sharegpt(files.eval, allow_empty=True, notify=say) if files.eval else None
    hw = plan_hardware(t, settings.model.device)
    set_seed(t.seed)
    loaded = load_for_training(settings, hw)
    tokenizer = loaded.tokenizer
    train_set, eval_set = tokenize_files(
        tokenizer, train_convs, eval_convs, t.max_seq_length, files.train
    )
    system_prompt = common_system_prompt(train_convs)
    if train_set.truncated or train_set.skipped:
        say(
            f"{train_set.truncated} conversations lost their oldest turns to fit "
            f"max_seq_length = {t.max_seq_length}; {train_set.skipped} were too long even so "
            "and are left out."
        )
    if train_set.unplaced or train_set.hidden:
        say(unplaced_note(train_set))
    rows = (
        pack(train_set.samples, t.max_seq_length, seed=t.seed) if t.packing else train_set.samples
    )

    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise TrainError(
            f"Cannot make the adapters folder {out} ({exc.strerror or exc}); set [model] "
            "adapters_dir (or --output-dir) to a folder you can write."
        ) from None
    for stale in remove_stale_temps(out):
        say(f"Removed {stale.name}, left by a training run that did not finish.")
    run_dir = out / RUNS_DIR / run_fingerprint(settings, files, loaded.config_hash, hw)
    left = unfinished_runs(run_dir)
    if left:
        size = sum(b for _, b in left)
        say(
            f"{len(left)} unfinished training run(s) with other settings or data keep "
            f"{size / 2**20:.0f} MiB of checkpoints in {run_dir.parent}: `atri train --resume` "
            "with the same settings and data continues one; delete its folder to free the space."
        )
    with run_lock(run_dir, out):
        checkpoint = last_complete_checkpoint(run_dir, say) if resume else None
        resumed_from: int | None = None
        if checkpoint:
            resumed_from = int(Path(checkpoint).name.rsplit("-", 1)[-1])
            say(f"Resuming from step {resumed_from} ({checkpoint}).")
        else:
            if resume:
                say("No interrupted run with these settings and data to resume; starting afresh.")
            elif saved := checkpoints(run_dir):
                # Its checkpoints go now: say so, or the hours they hold vanish unnoticed.
                say(
                    f"Starting afresh without --resume: the interrupted run with these settings "
                    f"and data (checkpoint at step {checkpoint_step(saved[-1])}) is discarded."
                )
            shutil.rmtree(run_dir, ignore_errors=True)
        run_dir.mkdir(parents=True, exist_ok=True)
        write_json_atomic(run_dir / RUN_INFO, {"dataset": str(files.train), "started": time.time()})

        model, targets, note = peft_model(loaded.model, t)
        if note:
            say(note)
        meter = next((c for c in callbacks or [] if isinstance(c, ThroughputMeter)), None)
        all_callbacks = list(callbacks or [])
        if meter is None:
            meter = ThroughputMeter()
            all_callbacks.append(meter)
        if eval_set is not None and t.early_stopping_patience > 0:
            all_callbacks.append(EarlyStoppingCallback(t.early_stopping_patience))
        trainer = Trainer(
            model=model,
            args=training_arguments(t, hw, run_dir, eval_set is not None, fresh=not checkpoint),
            train_dataset=RowDataset(rows),
            eval_dataset=RowDataset(eval_set.samples) if eval_set else None,
            data_collator=Collator(tokenizer.pad_token_id),
            processing_class=tokenizer,
            callbacks=all_callbacks,
        )
        trainer.remove_callback(PrinterCallback)  # our progress bar and summary replace it
        with sigterm_as_interrupt(), write_errors_as_sentence(out), warnings.catch_warnings():
            # transformers 5 renames gradient checkpointing; the old name still works.
            warnings.filterwarnings("ignore", category=FutureWarning)
            output = trainer.train(resume_from_checkpoint=checkpoint)
            history = list(trainer.state.log_history)
            eval_loss: float | None = None
            if eval_set is not None:
                last = [
                    v for step, v in loss_points(history, "eval_loss") if step == output.global_step
                ]
                reuse = last and t.early_stopping_patience == 0  # else the best was reloaded
                eval_loss = last[-1] if reuse else float(trainer.evaluate()["eval_loss"])
                history = list(trainer.state.log_history)
            runtime = float(output.metrics.get("train_runtime", 0.0))
            train_loss = final_train_loss(history, float(output.training_loss))
            version = publish_version(
                settings,
                model,
                files,
                loaded,
                hw,
                targets,
                history,
                train_loss,
                eval_loss,
                system_prompt,
            )
        shutil.rmtree(run_dir, ignore_errors=True)
    del trainer
    if hw.device == "cuda":
        torch.cuda.empty_cache()
    return TrainResult(
        version_dir=version,
        manifest=json.loads((version / MANIFEST).read_text(encoding="utf-8")),
        hardware=hw,
        steps=int(output.global_step),
        train_samples=len(train_set.samples),
        eval_samples=len(eval_set.samples) if eval_set else 0,
        truncated=train_set.truncated,
        skipped=train_set.skipped,
        rows=len(rows),
        train_runtime=runtime,
        tokens_per_second=meter.tokens_per_second,
        resumed_from_step=resumed_from,
        log_history=history,
    )


def final_train_loss(history: list[dict[str, Any]], fallback: float) -> float:
    losses = [v for _, v in loss_points(history, "loss")]
    if not losses:
        return fallback
    tail = losses[-FINAL_LOSS_WINDOW:]
    return sum(tail) / len(tail)


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
) -> Path:
    """Write adapter, loss curve and manifest into a hidden folder, then rename it in."""
    import datetime as dt

    out = settings.path(settings.model.adapters_dir)
    version = next_version_name(out)
    tmp = temp_folder(out, version)
    try:
        model.save_pretrained(str(tmp))
        plot_loss(history, tmp / LOSS_PLOT, title=f"LoRA adapter {version}")
        manifest = {
            "format": MANIFEST_FORMAT,
            "version": version,
            "base_model": settings.model.base,
            "base_config_hash": loaded.config_hash,
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
            "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "target_modules": targets,
            "lora_r": settings.train.lora_r,
            # What the adapter learned to answer under: wherever it is live, the worker,
            # `atri eval` and the reload smoke test give it exactly this prompt.
            "system_prompt": system_prompt,
            "chat_template": loaded.tokenizer.chat_template,
        }
        write_json_atomic(tmp / MANIFEST, manifest)
        write_gguf_adapter(settings, tmp)
        return publish(tmp, out, version)
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
    from model.engines.loading import is_offline_default

    if settings.model.engine != "llamacpp" and not is_offline_default(settings.model.base.strip()):
        return None
    try:
        from model.adapters.gguf_lora import ensure_gguf_adapter, gguf_facts
        from model.engines.llamacpp import gguf_path

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
