"""Where an unfinished run lives and how it resumes.

A run's checkpoints go in `<adapters_dir>/.runs/<fingerprint>/` (the fingerprint: same
base, data and settings, same folder), beside `<fingerprint>.lock`, locked by the process
training into it (see atri.locks) and removed with the folder (on POSIX: see
atri.locks.discard); `--resume` continues from its last complete checkpoint. A folder
goes by a rename into a hidden trash folder beside it under its run's lock, and is
deleted once the lock is let go (`trash_for`).
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import re
import shutil
import tempfile
import time
import zipfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from atri import locks
from atri.config import Settings
from atri.files import owned, owned_prefix, remove_dead_leftovers
from atri.locks import LockHeld, discard, exclusive, holder, is_locked
from model.adapters.versions import write_json_atomic
from model.training.data_files import DataFiles
from model.training.dataset_index import sibling_eval_file
from model.training.errors import DatasetError, TrainError, TrainingInterrupted
from model.training.hardware import Hardware

RUN_INFO = "run.json"
LOCK_SUFFIX = ".lock"
CHECKPOINT = re.compile(r"checkpoint-\d+")
TRAINER_STATE = "trainer_state.json"  # what Trainer writes last into a checkpoint
# The hidden folders run folders are moved into to be deleted (see `trash_for`).
TRASH_PREFIX = ".deleting-"
# The [train] keys `atri train` takes as flags: `--max-steps`, or the name TRAIN_FLAGS
# gives; what `--resume` must be given again where a run differs from the config.
FLAG_KEYS = (
    "dataset",
    "eval_dataset",
    "max_steps",
    "epochs",
    "learning_rate",
    "batch_size",
    "gradient_accumulation",
    "max_seq_length",
    "lora_r",
    "eval_steps",
    "packing",
    "precision",
    "quantization",
)
TRAIN_FLAGS = {"learning_rate": "lr", "gradient_accumulation": "grad-accum"}


def flag_name(key: str) -> str:
    """`atri train`'s flag for the [train] key `key`: "--max-steps", "--lr"."""
    return f"--{TRAIN_FLAGS.get(key, key.replace('_', '-'))}"


def resume_flags(
    settings: Settings, values: dict[str, Any], output_dir: Path | None = None
) -> list[str]:
    """The flags that give a run `values` ([train] keys, None for unset) where they differ
    from `settings`, as `--resume` must be given them again: it refuses a run whose
    settings differ from its checkpoint's, and a resume without `--output-dir` looks for
    the checkpoints in [model] adapters_dir. What the flags of a Ctrl-C's command and
    `atri adapters list`'s are built with."""
    flags: list[str] = []
    for key, value in values.items():
        if value is None:
            continue
        configured = getattr(settings.train, key)
        if key in {"dataset", "eval_dataset"}:
            value = Path(value).resolve()
            if configured and settings.path(configured).resolve() == value:
                continue
        elif value == configured:
            continue
        if isinstance(value, bool):
            flags.append(flag_name(key) if value else f"--no-{flag_name(key)[2:]}")
        else:
            flags += [flag_name(key), str(value)]
    served = settings.path(settings.model.adapters_dir).resolve()
    if output_dir is not None and output_dir.resolve() != served:
        flags += ["--output-dir", str(output_dir.resolve())]
    return flags


def recorded_flags(run_dir: Path, settings: Settings) -> list[str]:
    """The flags that give `atri train --resume` the settings and files the run in
    `run_dir` recorded, where they differ from `settings`: a bare `--resume` of a run
    started with flags is refused. [] when it recorded none (an older ATRI)."""
    info = _run_info(run_dir)
    recorded = info.get("identity")
    trained = recorded.get("settings") if isinstance(recorded, dict) else None
    # The files by their paths (the identity holds their hashes); a held-out file the
    # training file's own brings needs no flag.
    files = {k: info.get(k) for k in ("dataset", "eval_dataset") if isinstance(info.get(k), str)}
    if files.get("eval_dataset") == str(_held_out_without_flag(settings, files.get("dataset"))):
        del files["eval_dataset"]
    values = {**(trained if isinstance(trained, dict) else {}), **files}
    return resume_flags(settings, {k: values[k] for k in FLAG_KEYS if k in values})


def _held_out_without_flag(settings: Settings, dataset: str | None) -> Path | None:
    """The held-out file `atri train --dataset DATASET` scores without --eval-dataset."""
    if settings.train.eval_dataset:
        return settings.path(settings.train.eval_dataset)
    try:
        return sibling_eval_file(
            Path(dataset) if dataset else settings.path(settings.train.dataset)
        )
    except DatasetError:  # registered but missing: nothing the flags can say
        return None


def write_run_info(run_dir: Path, files: DataFiles, identity: dict[str, Any]) -> None:
    """The run's run.json: its identity, and the files it trains on, which `--resume`
    without `--dataset` and `atri adapters list` name."""
    write_json_atomic(
        run_dir / RUN_INFO,
        {
            "dataset": str(files.train),
            "eval_dataset": str(files.eval) if files.eval else None,
            "started": time.time(),
            "identity": identity,
        },
    )


def _run_info(folder: Path) -> dict[str, Any]:
    """A run folder's run.json ({} when it has none readable)."""
    try:
        data = json.loads((folder / RUN_INFO).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def run_identity(
    settings: Settings, files: DataFiles, base_hash: str, hw: Hardware
) -> dict[str, Any]:
    """What makes a run the same run: base, data, [train] settings and hardware. Kept in
    the run's run.json, so `--resume` with other settings can name what differs."""
    payload = {
        "base": settings.model.base,
        "base_config_hash": base_hash,
        "dataset": files.train_sha256,
        "eval_dataset": files.eval_sha256,
        "settings": settings.train.model_dump(exclude={"dataset", "eval_dataset"}),
        "hardware": hw.__dict__,
    }
    identity: dict[str, Any] = json.loads(json.dumps(payload, sort_keys=True, default=str))
    return identity


def run_fingerprint(identity: dict[str, Any]) -> str:
    """Names a run's checkpoint folder: same base, data and settings → same folder."""
    text = json.dumps(identity, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _shown(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False) if value is not None else "none"


def identity_differences(
    saved: dict[str, Any], now: dict[str, Any], trained_on: str | None = None
) -> list[str]:
    """What differs between a checkpoint's run and this one, each as "learning_rate 0.0002
    in the checkpoint, 0.0001 now"; `trained_on`, the checkpoint's training file, is
    named when its contents differ (a --resume without the --dataset it was started with)."""
    found = []
    if saved.get("base") != now.get("base"):
        found.append(
            f"[model] base {_shown(saved.get('base'))} in the checkpoint, "
            f"{_shown(now.get('base'))} now"
        )
    elif "base_config_hash" in now and saved.get("base_config_hash") != now["base_config_hash"]:
        found.append("the base model's config.json (another build of it now)")
    for key, what in (("dataset", "the training file"), ("eval_dataset", "the held-out file")):
        old, new = saved.get(key), now.get(key)
        if old == new:
            continue
        if old is None or new is None:
            found.append(
                f"{what}: {'none' if old is None else 'one'} in the checkpoint, "
                f"{'none' if new is None else 'one'} now"
            )
        else:
            of = f" of {trained_on}" if trained_on and key == "dataset" else ""
            found.append(
                f"{what}'s contents (sha256 {str(old)[:12]}{of} in the checkpoint, "
                f"{str(new)[:12]} now)"
            )
    for group, prefix in (("settings", ""), ("hardware", "hardware ")):
        old_group, new_group = saved.get(group) or {}, now.get(group) or {}
        for key in sorted(set(old_group) | set(new_group)):
            if old_group.get(key) != new_group.get(key):
                old = _shown(old_group[key]) if key in old_group else "not recorded"
                found.append(
                    f"{prefix}{key} {old} in the checkpoint, {_shown(new_group.get(key))} now"
                )
    return found


def resume_mismatch(identity: dict[str, Any], left: list[tuple[Path, int]]) -> str:
    """Why `--resume` finds no run with this identity although `left` (interrupted runs
    with other settings or data) holds one: the newest of them and what differs, in one
    sentence ("" when there is none)."""
    if not left:
        return ""

    def started(folder: Path) -> float:
        value = _run_info(folder).get("started")
        if isinstance(value, int | float):
            return float(value)
        try:
            return folder.stat().st_mtime
        except OSError:
            return 0.0

    newest = max((folder for folder, _ in left), key=started)
    saved = saved_checkpoints(newest)  # not one whose saving was cut off
    step = f" (checkpoint at step {checkpoint_step(saved[-1])})" if saved else ""
    others = len(left) - 1
    more = f", and {others} other interrupted run{'s' * (others != 1)} beside it" if others else ""
    recorded = _run_info(newest).get("identity")
    if isinstance(recorded, dict):
        trained_on = _run_info(newest).get("dataset")
        differs = identity_differences(
            recorded, identity, trained_on if isinstance(trained_on, str) else None
        )
        shown = "; ".join(differs[:6]) + (
            f"; and {len(differs) - 6} more" if len(differs) > 6 else ""
        )
        why = f"was started with other settings or data ({shown or 'not recorded'})"
    else:
        why = "does not record its settings (an older ATRI started it), and they differ from these"
    return (
        f"--resume: the interrupted run in {newest}{step}{more} {why}; nothing was trained "
        "or deleted: rerun with that run's settings and data to continue it, or without "
        "--resume to start a new run (its checkpoints are kept)."
    )


def without_base_hash(identity: dict[str, Any]) -> dict[str, Any]:
    """A run's identity as known before the base model loads (its config hash comes from
    the loaded model): what `early_resume_mismatch` compares."""
    return {k: v for k, v in identity.items() if k != "base_config_hash"}


def recorded_identity(folder: Path) -> dict[str, Any] | None:
    """The identity a run folder's run.json records (None from an older ATRI, or unread)."""
    recorded = _run_info(folder).get("identity")
    return recorded if isinstance(recorded, dict) else None


def early_resume_mismatch(known: dict[str, Any], runs_dir: Path) -> str:
    """Why `--resume` cannot continue any run in `runs_dir`, told from `known` (the
    identity without the base's config hash) before the base model loads and the data is
    tokenized, which takes minutes on a 7B model: "" when a run there may be this one
    (all but the config hash match, or it records no settings), or when there is none to
    resume (the run then starts afresh); the config hash is compared after loading."""
    left: list[tuple[Path, int]] = []
    for folder in sorted(runs_dir.glob("*")) if runs_dir.is_dir() else []:
        if not folder.is_dir() or not checkpoints(folder):
            continue
        recorded = recorded_identity(folder)
        if recorded is None or not identity_differences(recorded, known):
            return ""
        if being_trained(folder):
            continue  # being trained right now, with other settings
        if (size := _folder_bytes(folder)) is None:
            continue
        left.append((folder, size))
    return resume_mismatch(known, left)


def running_twin(known: dict[str, Any], runs_dir: Path, out: Path) -> str:
    """The sentence `run_lock` says, told before the base model loads: another live
    `atri train` holds a run in `runs_dir` whose identity matches `known` (all but the
    base's config hash). It stopped only once the model had loaded and the data was
    tokenized, minutes on a 7B model. "" when none does (`run_lock` still checks)."""
    for folder in sorted(runs_dir.glob("*")) if runs_dir.is_dir() else []:
        if not folder.is_dir():
            continue
        # The lock is probed only for a run of this identity: a probe holds the lock for
        # an instant, which a run starting meanwhile waits out (PATIENCE_SECONDS).
        recorded = recorded_identity(folder)
        if recorded is None or identity_differences(recorded, known):
            continue
        if _held_by_a_run(folder):
            return _another_run(holder(lock_file(folder)), out)
    return ""


def _held_by_a_run(run_dir: Path) -> bool:
    """`being_trained`, and still after PATIENCE_SECONDS: a process looking at the lock
    (`is_locked`, `discard`: another `atri train` starting) holds it for an instant, which
    told a run starting then that another was training."""
    deadline = time.monotonic() + locks.PATIENCE_SECONDS
    while being_trained(run_dir):
        if time.monotonic() >= deadline:
            return True
        time.sleep(locks.POLL_SECONDS / 5)
    return False


def _another_run(process_id: int | None, out: Path) -> str:
    process = f" (process {process_id})" if process_id else ""
    return (
        f"Another `atri train`{process} is already training on this data "
        f"with these settings into {out}; wait for it to finish or stop it."
    )


def interrupted_dataset(runs_dir: Path) -> tuple[Path, str] | None:
    """The newest interrupted run in `runs_dir` that records its training file, and that
    file's path: what `--resume` without `--dataset` meant (None if there is none)."""
    found: list[tuple[float, Path, str]] = []
    for folder in sorted(runs_dir.glob("*")) if runs_dir.is_dir() else []:
        if not folder.is_dir() or not checkpoints(folder):
            continue
        data = _run_info(folder)
        dataset, started = data.get("dataset"), data.get("started")
        if isinstance(dataset, str) and dataset:
            found.append(
                (float(started) if isinstance(started, int | float) else 0.0, folder, dataset)
            )
    if not found:
        return None
    _, folder, dataset = max(found)
    return folder, dataset


def finished_state(checkpoint: str | Path) -> dict[str, Any] | None:
    """The checkpoint's trainer state when its run had ended there (all its steps done, or
    stopped early), else None. Trainer resumed from such a checkpoint trains one more
    step before it checks whether the run is over."""
    try:
        state = json.loads((Path(checkpoint) / TRAINER_STATE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(state, dict):
        return None
    callbacks = state.get("stateful_callbacks")
    control = callbacks.get("TrainerControl") if isinstance(callbacks, dict) else None
    args = control.get("args") if isinstance(control, dict) else None
    stopped = isinstance(args, dict) and args.get("should_training_stop") is True
    step, total = state.get("global_step"), state.get("max_steps")
    done = isinstance(step, int) and isinstance(total, int) and 0 < total <= step
    return state if stopped or done else None


def unfinished_runs(run_dir: Path) -> list[tuple[Path, int]]:
    """The checkpoint folders beside `run_dir` (other settings or data) that no running
    `atri train` holds, with their size in bytes: an interrupted run keeps its
    checkpoints for `--resume`, and nothing else would ever tell the user they are there.
    A folder with no checkpoint in it (left by a run that failed before its first, before
    runs cleaned up after themselves) holds nothing to resume: it is removed, not counted;
    so is a lock file whose run folder is gone (runs left theirs before session 41)."""
    found = []
    for folder in sorted(run_dir.parent.glob("*")) if run_dir.parent.is_dir() else []:
        if folder.name.endswith(LOCK_SUFFIX) and folder.is_file():
            if not folder.with_name(folder.name.removesuffix(LOCK_SUFFIX)).is_dir():
                discard(folder)  # not while a run holds it, about to make its folder
            continue
        if folder == run_dir or not folder.is_dir() or folder.name.startswith(TRASH_PREFIX):
            continue
        if being_trained(folder):
            continue  # being trained right now
        if not checkpoints(folder):
            _remove_unless_trained(folder)
            continue
        if (size := _folder_bytes(folder)) is None:
            continue
        found.append((folder, size))
    return found


def _remove_unless_trained(folder: Path) -> None:
    """Remove the run folder `folder`, which held no checkpoint when looked at, under its
    run's lock: a run of its settings and data may have taken that lock since and be
    training into it (then it stays). Its lock file goes after it."""
    with trash_for(folder.parent) as trash:
        with contextlib.suppress(LockHeld, OSError), exclusive(lock_file(folder), wait=False):
            if not checkpoints(folder):  # none saved by a run that came and went meanwhile
                trash.take(folder)
        _discard_unless_folder(folder)


class Trash:
    """A hidden folder that run folders are moved into, to be deleted (see `trash_for`)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._numbers = itertools.count()

    def take(self, run_dir: Path) -> None:
        """Move `run_dir` in: a rename, instant however much it holds. Where it cannot be
        renamed (Windows, while a file in it is open), it is deleted where it is."""
        try:
            run_dir.rename(self.folder / f"{next(self._numbers)}-{run_dir.name}")
        except FileNotFoundError:
            pass
        except OSError:
            shutil.rmtree(run_dir, ignore_errors=True)

    def empty(self) -> None:
        for taken in list(self.folder.iterdir()):
            shutil.rmtree(taken, ignore_errors=True)


@contextmanager
def trash_for(runs_dir: Path, published: list[Path] | None = None) -> Iterator[Trash]:
    """A trash folder in `runs_dir` for the block, deleted with what it took at its end.
    A run folder goes into it under its run's lock, and the lock is let go before the
    deletion: deleting checkpoints (GBs on a slow disk) under it kept another `atri
    train` of those settings waiting and then told it that a run was training. Held
    while it lives (atri.files.owned); one left by a process killed meanwhile goes on a
    later run (`remove_dead_trash`). Ctrl-C during the deletion stops it (a later run
    deletes the rest); `published`, of the run that deletes it: a Ctrl-C then ends a run
    that is over, with its version in place when `published` holds one."""
    runs_dir.mkdir(parents=True, exist_ok=True)
    prefix = owned_prefix(TRASH_PREFIX)
    with owned(lambda: Path(tempfile.mkdtemp(prefix=prefix, dir=runs_dir))) as folder:
        try:
            yield Trash(folder)
        except BaseException as ended:
            with contextlib.suppress(KeyboardInterrupt):  # what ended the block tells
                shutil.rmtree(folder, ignore_errors=True)
            if isinstance(ended, TrainingInterrupted) and folder.exists():
                ended.checkpoints_left = True  # a second Ctrl-C stopped the deletion
            raise
        try:
            shutil.rmtree(folder, ignore_errors=True)
        except KeyboardInterrupt:
            if published is None:
                raise
            raise TrainingInterrupted(
                None, published[0] if published else None, checkpoints_left=folder.exists()
            ) from None


def remove_dead_trash(runs_dir: Path) -> list[Path]:
    """Delete the trash folders in `runs_dir` whose process was killed while it deleted
    them (see `trash_for`); return them."""
    return remove_dead_leftovers(runs_dir, TRASH_PREFIX) if runs_dir.is_dir() else []


def _folder_bytes(folder: Path) -> int | None:
    """The bytes of the files in `folder` (None when it was removed while being counted)."""
    try:
        return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
    except OSError:
        return None


def lock_file(run_dir: Path) -> Path:
    """The file `atri train` locks while it trains into `run_dir` (left there after)."""
    return run_dir.with_name(f"{run_dir.name}{LOCK_SUFFIX}")


def being_trained(run_dir: Path) -> bool:
    """Whether an `atri train` trains into `run_dir` now: its lock is held (the process
    id in the lock file may belong to a process that reused a dead run's id)."""
    return is_locked(lock_file(run_dir))


@contextmanager
def run_lock(run_dir: Path, out: Path) -> Iterator[None]:
    """One run at a time per checkpoint folder: a second `atri train` on the same data
    and settings would delete or resume the first one's checkpoints under it. The system
    releases the lock when its process ends, so a run killed outright does not hold it."""
    lock = lock_file(run_dir)
    lock.parent.mkdir(parents=True, exist_ok=True)
    with ExitStack() as held:
        # Last, once the lock is let go: done, or failed before its first checkpoint, its
        # folder is gone and with it what the lock guards (one file per settings and data
        # piled up otherwise).
        held.callback(_discard_unless_folder, run_dir)
        try:
            held.enter_context(exclusive(lock, wait=False))
        except LockHeld as busy:
            raise TrainError(_another_run(busy.holder, out)) from None
        except OSError as exc:
            raise TrainError(
                f"Cannot lock {lock} ({exc.strerror or exc}); set [model] adapters_dir (or "
                "--output-dir) to a folder you can write."
            ) from None
        yield


def _discard_unless_folder(run_dir: Path) -> None:
    if not run_dir.exists():
        discard(lock_file(run_dir))


@contextmanager
def interruption_names_checkpoint(
    run_dir: Path, published: list[Path], trash: Trash
) -> Iterator[None]:
    """Ctrl-C while the run has its folder becomes TrainingInterrupted with the step of
    its last complete checkpoint: "`--resume` continues" was said even when the run was
    stopped before its first checkpoint (saved every eval_steps), with nothing kept.
    Once the version is in place (`published` holds it), the run is done: its
    checkpoints go, or `--resume` would publish it a second time. Used inside `run_lock`,
    so the folder goes while the run still holds its lock."""
    try:
        yield
    except TrainingInterrupted:
        raise
    except KeyboardInterrupt:
        if published:
            trash.take(run_dir)
            raise TrainingInterrupted(None, published[0]) from None
        done = saved_checkpoints(run_dir)
        raise TrainingInterrupted(checkpoint_step(done[-1]) if done else None) from None


@contextmanager
def removed_unless_checkpointed(run_dir: Path, trash: Trash) -> Iterator[None]:
    """A run that fails before its first checkpoint (a config error peft finds, Ctrl-C
    while the model is wrapped) leaves no folder behind: nothing in it could be resumed,
    and every later run would count it as an unfinished one. Checkpoints are never
    touched here: those are for `--resume`."""
    try:
        yield
    except BaseException:
        if not saved_checkpoints(run_dir):
            trash.take(run_dir)
        raise


def checkpoints(run_dir: Path) -> list[Path]:
    """The checkpoint folders in `run_dir`, by step (none if it does not exist), those
    whose saving was cut off included (`saved_checkpoints` leaves them out)."""
    if not run_dir.is_dir():
        return []
    found = [p for p in run_dir.iterdir() if p.is_dir() and CHECKPOINT.fullmatch(p.name)]
    return sorted(found, key=checkpoint_step)


def saved_checkpoints(run_dir: Path) -> list[Path]:
    """The checkpoints whose saving finished (Trainer writes trainer_state.json last): a
    run stopped while it saved its first left a `checkpoint-1` of a README alone, said
    "nothing to resume" and kept the folder (`removed_unless_checkpointed`), which every
    later run then counted as one to resume."""
    return [c for c in checkpoints(run_dir) if (c / TRAINER_STATE).is_file()]


def checkpoint_step(folder: Path) -> int:
    return int(folder.name.rsplit("-", 1)[1])


def last_complete_checkpoint(run_dir: Path, say: Any) -> str | None:
    """The newest checkpoint to resume from. Trainer writes trainer_state.json last, so a
    checkpoint without a readable one was cut off (Ctrl-C or a full disk while saving),
    and so is one whose weights or optimizer state are shorter than they say (a disk
    that lost what was not yet flushed): it is removed, and the one before it is used."""
    for folder in reversed(checkpoints(run_dir)):
        try:
            json.loads((folder / TRAINER_STATE).read_text(encoding="utf-8"))
            complete = _files_complete(folder)
        except (OSError, ValueError, KeyError, TypeError, IndexError):  # a header cut off
            complete = False
        if not complete:
            say(f"Removed {folder.name}, a checkpoint whose saving was cut off.")
            shutil.rmtree(folder, ignore_errors=True)
            continue
        return str(folder)
    return None


def _files_complete(folder: Path) -> bool:
    """Whether each weights file (safetensors) is as long as its header says, and each
    torch.save file (optimizer.pt, rng_state.pth: zip archives) ends with its index."""
    for path in folder.iterdir():
        if path.suffix == ".safetensors" and not _safetensors_complete(path):
            return False
        if path.suffix in (".pt", ".pth") and not zipfile.is_zipfile(path):
            return False
    return True


def _safetensors_complete(path: Path) -> bool:
    """A safetensors file: an 8-byte header length, the JSON header, then the data up to
    the largest end offset the header names."""
    with path.open("rb") as f:
        head = f.read(8)
        if len(head) < 8:
            return False
        header_len = int.from_bytes(head, "little")
        header = json.loads(f.read(header_len))
    ends = [
        int(entry["data_offsets"][1])
        for name, entry in header.items()
        if name != "__metadata__" and isinstance(entry, dict)
    ]
    return path.stat().st_size >= 8 + header_len + max(ends, default=0)
