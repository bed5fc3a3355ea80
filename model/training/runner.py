"""`atri train`: LoRA with peft under transformers' Trainer, into a new version folder.

The library does the loop (`Trainer`: evaluation, checkpoints, resume, early stopping);
`train()` below reads as the run: check the data and the adapters folder, plan the
hardware and load the base, tokenize, take the run's checkpoint folder (`run_folder`),
wrap the model in LoRA (`lora`), let Trainer train, publish the version (`publishing`).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from atri.config import Settings, TrainSettings
from atri.interrupt import sigterm_as_interrupt
from atri.terminal import suggested_command
from atri.write_failures import what_frees_it, write_failure
from model.adapters.inventory import folder_bytes, size_text
from model.adapters.versions import (
    MANIFEST,
    RUNS_DIR,
    CharacterId,
    remove_stale_temps,
)
from model.character.persona import (
    Persona,
    configured_card_path,
    configured_persona,
    load_persona,
)
from model.engines.chat_template import check_configured_template
from model.training.data_files import (
    held_out_note,
    length_note,
    length_the_model_takes,
    other_character_note,
    other_language_note,
    other_prompt_note,
    resolve_data_files,
    tokenize_files,
    unplaced_note,
)
from model.training.dataset import Collator, RowDataset, pack
from model.training.errors import TrainError
from model.training.hardware import Hardware, load_for_training, plan_hardware
from model.training.held_out_loss import TokenWeightedTrainer
from model.training.lora import peft_model
from model.training.plots import loss_points
from model.training.progress import LastStepLogged, ThroughputMeter, keep_alive_stopped
from model.training.publishing import final_train_loss, publish_version
from model.training.run_folder import (
    TRAINER_STATE,
    checkpoint_step,
    checkpoints,
    early_resume_mismatch,
    finished_state,
    interrupted_dataset,
    interruption_names_checkpoint,
    last_complete_checkpoint,
    remove_dead_trash,
    removed_unless_checkpointed,
    resume_mismatch,
    run_fingerprint,
    run_identity,
    run_lock,
    running_twin,
    saved_checkpoints,
    trash_for,
    unfinished_runs,
    without_base_hash,
    write_run_info,
)
from model.training.sharegpt import load_sharegpt, training_prompt, under_prompt

log = logging.getLogger(__name__)


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


def train(
    settings: Settings,
    *,
    resume: bool = False,
    callbacks: list[Any] | None = None,
    notify: Any = None,
    resume_flags: Sequence[str] = (),
) -> TrainResult:
    """Train one adapter and publish it as a new version; return what happened.

    `notify(message)` receives one-line notes (resume point, skipped samples).
    `resume_flags`: the command line's flags that differ from the config, which the
    `--resume` a failure suggests repeats (it refuses a run under other settings).
    """
    import torch
    from transformers import EarlyStoppingCallback, PrinterCallback, set_seed

    say = notify or (lambda message: log.info("%s", message))
    # Before data and model load.
    check_configured_template(settings.model.chat_template, settings.config_file)
    t = settings.train
    out = adapters_folder(settings)
    resume_command = suggested_command(settings.config_file, "train", "--resume", *resume_flags)
    again_command = suggested_command(settings.config_file, "train", *resume_flags)
    try:
        files = resolve_data_files(settings)
    except TrainError as exc:
        # `atri train --resume` without the flags the run was started with: name its file.
        trained_on = interrupted_dataset(out / RUNS_DIR) if resume else None
        if trained_on is None or Path(trained_on[1]) == settings.path(t.dataset):
            raise
        folder, dataset = trained_on
        raise TrainError(
            f"{str(exc).rstrip('.')} (the interrupted run in {folder} trained on {dataset})."
        ) from None
    if files.eval is not None and files.eval_sha256 == files.train_sha256:
        say(
            f"The held-out file {files.eval} is the training file ({files.train}) again: its "
            "loss shows how well the adapter memorised it, not how it does on unseen "
            "conversations; pass the held-out file with --eval-dataset."
        )
    train_convs = load_sharegpt(files.train, notify=say)
    system_prompt = training_prompt(train_convs, files.train)
    eval_convs = load_sharegpt(files.eval, allow_empty=True, notify=say) if files.eval else None
    # Whom the version is trained as: the configured card's (read now, so a broken card
    # stops the run before the model loads).
    card = load_persona(configured_card_path(settings))
    persona = configured_persona(settings, card)
    character = CharacterId.of(persona.name, persona.aliases)
    template = settings.persona.training_prompt
    # Another character's samples, else samples of this one in a language not chosen
    # now, else under a prompt the key no longer says: one note, the first that holds.
    note = (
        other_character_note(system_prompt, character.name, character.names, files.train, template)
        or other_language_note(
            system_prompt, training_prompts(card, persona, template), settings, files.train
        )
        or other_prompt_note(system_prompt, persona.training_prompt(template), files.train)
    )
    if note:
        say(note)
    if not system_prompt:
        # What `atri prep` writes into every record: left without one, they would learn
        # under the chat template's default ("You are Qwen…") and be served the card.
        system_prompt = persona.training_prompt(settings.persona.training_prompt)
        train_convs = under_prompt(train_convs, system_prompt)
        eval_convs = under_prompt(eval_convs, system_prompt) if eval_convs else eval_convs
        say(
            f"{files.train}: its records have no system prompt, so they train (and the version "
            f'is served) under [persona] training_prompt, as `atri prep` writes it: "{system_prompt}".'
        )
    hw = plan_hardware(t, settings.model.device)
    # What the run is without the model: a second run of it, or settings and data that
    # differ from the run to resume, are said before it loads (minutes on a 7B model);
    # its config hash is compared once it has loaded.
    known = without_base_hash(run_identity(settings, files, "", hw))
    if busy := running_twin(known, out / RUNS_DIR, out):
        raise TrainError(busy)
    if resume and (early := early_resume_mismatch(known, out / RUNS_DIR)):
        raise TrainError(early)
    set_seed(t.seed)
    loaded = load_for_training(settings, hw)
    tokenizer = loaded.tokenizer
    max_len = length_the_model_takes(t.max_seq_length, loaded.model, say)
    train_set, eval_set = tokenize_files(tokenizer, train_convs, eval_convs, max_len, files.train)
    if train_set.truncated or train_set.skipped:
        say(length_note(train_set, max_len))
    if train_set.unplaced or train_set.hidden:
        say(unplaced_note(train_set))
    if note := held_out_note(eval_set, max_len, files.eval):
        say(note)
    if eval_set is not None and not eval_set.samples:
        eval_set = None
    rows = pack(train_set.samples, max_len, seed=t.seed) if t.packing else train_set.samples

    _check_writable(out)  # again: it may have gone while the model loaded
    for stale in remove_stale_temps(out):
        say(f"Removed {stale.name}, left by a training run that did not finish.")
    identity = run_identity(settings, files, loaded.config_hash, hw)
    run_dir = out / RUNS_DIR / run_fingerprint(identity)
    for dead in remove_dead_trash(run_dir.parent):
        say(f"Removed {dead}: run folders that a stopped `atri train` was deleting.")
    left = unfinished_runs(run_dir)
    if resume and not checkpoints(run_dir) and left:
        # Starting afresh would spend the hours again, under a note easily missed, while
        # the run the user meant to continue waits under other settings: say what differs.
        raise TrainError(resume_mismatch(identity, left))
    if left:
        size = sum(b for _, b in left)
        say(
            f"{len(left)} unfinished training run(s) with other settings or data keep "
            f"{size / 2**20:.0f} MiB of checkpoints in {run_dir.parent}: `{resume_command}` "
            "with the same settings and data continues one; delete its folder to free the space."
        )
    published: list[Path] = []  # the version, once it is in place
    # The folder goes into the trash (done, interrupted once published, failed before a
    # checkpoint) only while this run holds the lock, never under another run of these
    # settings that took it meanwhile; the trash is deleted once the lock is let go.
    # Ctrl-C while the lock is waited for touched nothing, and is said so (atri.cli).
    with (
        trash_for(run_dir.parent, published) as trash,
        run_lock(run_dir, out),
        interruption_names_checkpoint(run_dir, published, trash),
        removed_unless_checkpointed(run_dir, trash),
    ):
        checkpoint = last_complete_checkpoint(run_dir, say) if resume else None
        resumed_from: int | None = None
        finished = finished_state(checkpoint) if checkpoint else None
        if checkpoint:
            resumed_from = int(Path(checkpoint).name.rsplit("-", 1)[-1])
            if finished is not None:
                total = finished.get("max_steps")
                end = "all its" if total == resumed_from else f"{resumed_from} of its"
                say(
                    f"The interrupted run had already finished training ({end} {total} "
                    f"steps) before it was stopped; publishing it from {checkpoint} "
                    "without training any further step."
                )
            else:
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
            trash.take(run_dir)
        run_dir.mkdir(parents=True, exist_ok=True)
        write_run_info(run_dir, files, identity)
        trash.empty()  # the discarded run's checkpoints, not kept while this one trains

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
        all_callbacks.append(LastStepLogged())
        trainer = TokenWeightedTrainer(
            model=model,
            args=training_arguments(
                t, hw, run_dir, eval_set is not None, fresh=not checkpoint, train_rows=len(rows)
            ),
            train_dataset=RowDataset(rows),
            eval_dataset=RowDataset(eval_set.samples) if eval_set else None,
            data_collator=Collator(tokenizer.pad_token_id),
            processing_class=tokenizer,
            callbacks=all_callbacks,
        )
        trainer.remove_callback(PrinterCallback)  # our progress bar and summary replace it
        with (
            sigterm_as_interrupt(),
            write_errors_as_sentence(out, run_dir, resume_command, again_command),
            warnings.catch_warnings(),
            token_alignment_logged(),
            keep_alive_stopped(all_callbacks),
        ):
            # transformers 5 renames gradient checkpointing; the old name still works.
            warnings.filterwarnings("ignore", category=FutureWarning)
            if checkpoint and finished is not None:
                output = finished_run(trainer, model, checkpoint, t, eval_set is not None)
            else:
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
                character,
                published,
                say,
            )
        trash.take(run_dir)
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


def finished_run(
    trainer: Any, model: Any, checkpoint: str, t: TrainSettings, has_eval: bool
) -> Any:
    """The run of a checkpoint it had finished at (stopped after its last step, before the
    version was published), as Trainer.train would leave it: the adapter's weights (the
    best checkpoint's with early stopping, as Trainer loads them at the end) and the
    state with its log history, without a step trained. Trainer resumed from it trains
    one step past the end before checking whether the run is over."""
    from peft.utils import load_peft_weights, set_peft_model_state_dict
    from transformers.trainer_callback import TrainerState
    from transformers.trainer_utils import TrainOutput

    state = TrainerState.load_from_json(str(Path(checkpoint) / TRAINER_STATE))
    weights = checkpoint
    best = state.best_model_checkpoint
    if has_eval and t.early_stopping_patience > 0 and best and Path(best).is_dir():
        weights = best
    set_peft_model_state_dict(model, load_peft_weights(weights, device=str(trainer.args.device)))
    trainer.state = state
    losses = [v for _, v in loss_points(state.log_history, "loss")]
    return TrainOutput(
        global_step=state.global_step,
        training_loss=losses[-1] if losses else float("nan"),
        metrics={"train_runtime": 0.0},
    )


def adapters_folder(settings: Settings) -> Path:
    """`[model] adapters_dir`, checked before the model loads: a file there made the run
    end in a traceback after all the loading and tokenizing, and a version folder given
    as --output-dir got the new version (and the run's checkpoints) inside it."""
    out = settings.path(settings.model.adapters_dir)
    if out.exists() and not out.is_dir():
        raise TrainError(
            f"{out} is a file, not a folder: [model] adapters_dir (or --output-dir) must name "
            "the folder versions are written into."
        )
    if (out / MANIFEST).is_file():
        # Versions would go inside it, and its .runs beside its adapter files.
        raise TrainError(
            f"{out} is an adapter version, not the folder of versions: [model] adapters_dir "
            f"(or --output-dir) must name the folder it lies in ({out.parent})."
        )
    if out.is_dir():
        _check_writable(out, make=False)  # nothing is made before the data is checked
    return out


def _check_writable(out: Path, make: bool = True) -> None:
    """A folder the run can write in (made when missing, with `make`), or one sentence: an
    existing read-only one (a mounted volume another user owns) passed the `mkdir` and
    ended the run in a traceback from its first temporary folder, after the model loaded."""
    try:
        if make:
            out.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=out).close()
    except OSError as exc:
        raise TrainError(
            f"Cannot write in the adapters folder {out} ({exc.strerror or exc}); set [model] "
            "adapters_dir (or --output-dir) to a folder you can write."
        ) from None


def optimizer_steps(t: TrainSettings, train_rows: int) -> int:
    """How many updates a run of `train_rows` rows makes on one device, as Trainer counts."""
    if t.max_steps > 0:
        return t.max_steps
    # A last, short accumulation still makes an update (Trainer rounds up too).
    batches = math.ceil(train_rows / t.batch_size)
    per_epoch = max(math.ceil(batches / t.gradient_accumulation), 1)
    return max(math.ceil(t.epochs * per_epoch), 1)


def warmup_steps(t: TrainSettings, train_rows: int | None) -> float:
    """warmup_ratio of the run's updates, rounded down; without the rows, the ratio
    (which transformers 5 reads as such, rounding up). Rounded up, any run got a warmup
    step, and a one-step run (--max-steps 1, or 16 samples or fewer for an epoch) made its
    only update at a learning rate of 0: a published adapter that changed nothing."""
    if train_rows is None:
        return t.warmup_ratio
    return int(t.warmup_ratio * optimizer_steps(t, train_rows))


def training_arguments(
    t: TrainSettings,
    hw: Hardware,
    run_dir: Path,
    has_eval: bool,
    fresh: bool = True,
    train_rows: int | None = None,
    **extra: Any,
) -> Any:
    from transformers import TrainingArguments

    if hw.gradient_checkpointing:
        # transformers 5.24 renamed it activation checkpointing (the old name warns).
        names = {f.name for f in dataclasses.fields(TrainingArguments)}
        word = "activation" if "activation_checkpointing" in names else "gradient"
        extra[f"{word}_checkpointing"] = True
        extra[f"{word}_checkpointing_kwargs"] = {"use_reentrant": False}
    early = has_eval and t.early_stopping_patience > 0
    return TrainingArguments(
        output_dir=str(run_dir),
        per_device_train_batch_size=t.batch_size,
        per_device_eval_batch_size=t.batch_size,
        gradient_accumulation_steps=t.gradient_accumulation,
        learning_rate=t.learning_rate,
        num_train_epochs=t.epochs,
        max_steps=t.max_steps if t.max_steps > 0 else -1,
        warmup_steps=warmup_steps(t, train_rows),
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


def training_prompts(card: Persona, persona: Persona, template: str) -> dict[str, str]:
    """`[persona] training_prompt` filled in for each language of the card, the one
    `persona` (the card as configured) speaks first."""
    languages = dict.fromkeys([persona.main_language, *card.languages])
    return {lang: card.in_language(lang).training_prompt(template).strip() for lang in languages}


# The line transformers' Trainer writes when it gives the model's config the tokenizer's
# PAD/BOS/EOS ids (`align_special_tokens`), and what it ends with: the ids it changed.
_ALIGNED_TOKENS = "The tokenizer has new PAD/BOS/EOS tokens"
_UPDATED_TOKENS = "Updated tokens: "


class _AlignedTokensLogged(logging.Filter):
    """transformers' line on aligned special tokens, said as ATRI's own at INFO. A base
    without a pad token (Llama-3, Mistral, Llama-2) pads with its EOS (loading), and the
    Trainer then writes that id into the model's config with a line of its own on stderr,
    which read as a warning about the model: padding is masked out of the loss anyway."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if not message.startswith(_ALIGNED_TOKENS):
            return True
        changed = message.rpartition(_UPDATED_TOKENS)[2].rstrip(".") or "-"
        log.info(
            "the model's config takes the tokenizer's special tokens for training: %s", changed
        )
        return False


@contextmanager
def token_alignment_logged() -> Iterator[None]:
    """transformers' aligned-tokens line routed to ATRI's log (`_AlignedTokensLogged`)."""
    logger = logging.getLogger("transformers.trainer_utils")
    routed = _AlignedTokensLogged()
    logger.addFilter(routed)
    try:
        yield
    finally:
        logger.removeFilter(routed)


@contextmanager
def write_errors_as_sentence(
    out: Path,
    run_dir: Path,
    resume: str = "atri train --resume",
    again: str = "atri train",
) -> Iterator[None]:
    """A full disk (or a folder that cannot be written) while saving a checkpoint or the
    adapter is one sentence: nothing was published, so the earlier versions stand. The
    savers say so in their own ways: OSError, safetensors' SafetensorError, tokenizers'
    Exception, and torch's RuntimeError for optimizer.pt (see `write_failure`).

    `--resume` is advised only when `run_dir` keeps a complete checkpoint (the folder
    goes otherwise, see `removed_unless_checkpointed`), naming it and the space the run
    holds; without one the run starts again with `again`."""
    try:
        yield
    except Exception as exc:
        reason = write_failure(exc, out)
        if reason is None:
            raise
        where = exc.filename if isinstance(exc, OSError) and exc.filename else out
        stopped = (
            f"Training stopped writing {where} ({reason}); no version was written "
            f"and the earlier ones in {out} are untouched"
        )
        kept = saved_checkpoints(run_dir)
        if not kept:
            raise TrainError(
                f"{stopped}. No checkpoint was kept, so the run must start again: "
                f"{what_frees_it(reason)}, then run `{again}`."
            ) from None
        # The kept checkpoints may be what filled the disk: say where they are and how big.
        raise TrainError(
            f"{stopped}. The checkpoint at step {checkpoint_step(kept[-1])} is kept for "
            f"`--resume` in {kept[-1]} (the run's checkpoints take "
            f"{size_text(folder_bytes(run_dir))} of that disk): {what_frees_it(reason)}, "
            f"then run `{resume}`."
        ) from None
