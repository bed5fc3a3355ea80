"""Session 74's trainer slips.

- `atri train --dataset data/dataset/atri_sharegpt_eval.json` (the held-out split, which
  tab completion offers) trained and published a version scored on nothing, which the
  worker took at once and prune then kept over the good one: it is refused, exit 2.
- `atri adapters list` named a bare `atri train --resume` for the checkpoints of a run
  started with flags, which `--resume` then refused (other settings): it names the run's
  recorded flags, built as Ctrl-C's command is, and a run being trained now as such.
- A checkpoint save stopped by a limit on file size (EFBIG) said "free some space".
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import atri.cli
from atri.cli import app
from atri.config import Settings
from dataprep.writers import DATASET_INFO, dataset_info
from model.adapters.versions import RUNS_DIR
from model.training.data_files import resolve_data_files
from model.training.errors import HeldOutAsTrainingError
from model.training.hardware import plan_hardware
from model.training.run_folder import (
    FLAG_KEYS,
    TRAINER_STATE,
    flag_name,
    identity_differences,
    lock_file,
    run_fingerprint,
    run_identity,
    without_base_hash,
    write_run_info,
)
from tests.cli_output import says
from tests.model.training.sharegpt import write, zh_dataset

REPO = Path(__file__).resolve().parents[3]
runner = CliRunner(env={"COLUMNS": "400", "ATRI_ADMIN_TOKEN": None, "ATRI_CONFIG": None})


def prep_folder(folder: Path, registered: bool = True) -> tuple[Path, Path]:
    """A training file and its held-out split, as `atri prep` writes them."""
    train, held_out = folder / "atri_sharegpt.json", folder / "atri_sharegpt_eval.json"
    write(train, zh_dataset(16))
    write(held_out, zh_dataset(4))
    if registered:
        info = dataset_info(["sharegpt"], stem="atri")
        (folder / DATASET_INFO).write_text(json.dumps(info), encoding="utf-8")
    return train, held_out


def write_config(tmp_path: Path, model_dir: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        f'[model]\nbase = "{model_dir}"\nadapters_dir = "adapters"\n'
        '[worker]\nurl = "http://127.0.0.1:9"\n'
        '[train]\ndataset = "data/dataset/atri_sharegpt.json"\n',
        encoding="utf-8",
    )
    return path


# 1. The held-out split as the training file.


def test_training_on_the_held_out_split_is_refused_before_the_model_loads(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    config = write_config(tmp_path, tiny_model_dir)
    train, held_out = prep_folder(tmp_path / "data" / "dataset")
    command = [sys.executable, "-m", "atri", "--config", str(config), "train"]
    done = subprocess.run(
        [*command, "--dataset", "data/dataset/atri_sharegpt_eval.json", "--max-steps", "1"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "400"},
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert done.returncode == 2, done.stdout + done.stderr
    said = done.stderr
    assert says(
        said,
        f"error: {held_out} is the held-out split of atri_sharegpt.json (registered as "
        f"atri_eval in its folder's {DATASET_INFO})",
    )
    assert says(said, f"pass --dataset {train} (or set [train] dataset to it)")
    assert says(said, "copy it to a name without _eval.")
    assert not (tmp_path / "adapters").exists() or not any(
        p for p in (tmp_path / "adapters").iterdir() if not p.name.startswith(".")
    )


def settings_for(tmp_path: Path, dataset: Path) -> Settings:
    settings = Settings(root=tmp_path)
    settings.train.dataset = str(dataset)
    return settings


def test_a_held_out_file_named_beside_its_training_file_is_refused(tmp_path: Path) -> None:
    train, held_out = prep_folder(tmp_path, registered=False)

    with pytest.raises(HeldOutAsTrainingError) as refused:
        resolve_data_files(settings_for(tmp_path, held_out))

    assert "is the held-out split of atri_sharegpt.json (named after it with _eval)" in str(
        refused.value
    )
    assert f"--dataset {train}" in str(refused.value)


def test_a_held_out_file_registered_under_another_name_is_refused(tmp_path: Path) -> None:
    write(tmp_path / "mine.json", zh_dataset(8))
    write(tmp_path / "kept_back.json", zh_dataset(2))
    info = {"mine": {"file_name": "mine.json"}, "mine_eval": {"file_name": "kept_back.json"}}
    (tmp_path / DATASET_INFO).write_text(json.dumps(info), encoding="utf-8")

    with pytest.raises(HeldOutAsTrainingError, match=r"held-out split of mine\.json"):
        resolve_data_files(settings_for(tmp_path, tmp_path / "kept_back.json"))


def test_the_training_file_and_a_renamed_copy_of_the_held_out_one_train(tmp_path: Path) -> None:
    train, held_out = prep_folder(tmp_path)
    copy = tmp_path / "atri_sharegpt_heldout.json"
    copy.write_bytes(held_out.read_bytes())
    lone = tmp_path / "other" / "notes_eval.json"  # no training file beside it
    write(lone, zh_dataset(2))

    assert resolve_data_files(settings_for(tmp_path, train)).eval == held_out
    assert resolve_data_files(settings_for(tmp_path, copy)).train == copy
    assert resolve_data_files(settings_for(tmp_path, lone)).train == lone


# 2. `atri adapters list`'s command for leftover checkpoints.

RUN_FLAGS = ["--max-steps", "6", "--batch-size", "1", "--grad-accum", "1", "--max-seq-length", "64"]


def flagged_settings(config: Path, flags: list[str]) -> Settings:
    """The settings `atri train FLAGS` runs with: the command's own flag handling."""
    seen: list[Settings] = []

    def capture(settings: Settings, resume: bool, one_run: Any = None) -> None:
        seen.append(settings)
        raise SystemExit(0)

    original = atri.cli._train
    atri.cli._train = capture  # type: ignore[assignment]
    try:
        result = runner.invoke(app, ["--config", str(config), "train", *flags])
    finally:
        atri.cli._train = original  # type: ignore[assignment]
    assert result.exit_code == 0 and seen, result.output
    return seen[0]


def known_identity(settings: Settings) -> dict[str, Any]:
    """What `--resume` compares with the run's record before the model loads."""
    hardware = plan_hardware(settings.train, settings.model.device)
    return without_base_hash(run_identity(settings, resolve_data_files(settings), "", hardware))


@pytest.fixture
def interrupted_run(tmp_path: Path, tiny_model_dir: Path) -> tuple[Path, Path]:
    """The config, and the run folder an `atri train RUN_FLAGS` stopped after its first
    checkpoint leaves: its run.json as the run writes it, a checkpoint."""
    config = write_config(tmp_path, tiny_model_dir)
    prep_folder(tmp_path / "data" / "dataset")
    settings = flagged_settings(config, RUN_FLAGS)
    identity = known_identity(settings) | {"base_config_hash": "c0ffee"}
    run = tmp_path / "adapters" / RUNS_DIR / run_fingerprint(identity)
    (run / "checkpoint-1").mkdir(parents=True)
    (run / "checkpoint-1" / TRAINER_STATE).write_text("{}", encoding="utf-8")
    write_run_info(run, resolve_data_files(settings), identity)
    return config, run


def listed_command(config: Path) -> str:
    result = runner.invoke(app, ["--config", str(config), "adapters", "list"])
    assert result.exit_code == 0, result.output
    line = next(line for line in result.output.splitlines() if RUNS_DIR in line)
    commands = re.findall(r"`([^`]*)`", line)
    assert len(commands) == 1, line
    return str(commands[0])


def test_the_listed_resume_command_carries_the_runs_flags(
    interrupted_run: tuple[Path, Path],
) -> None:
    config, run = interrupted_run
    recorded = json.loads((run / "run.json").read_text(encoding="utf-8"))["identity"]

    command = listed_command(config)

    assert command.startswith("atri --config") and " train --resume " in command
    flags = shlex.split(command)[shlex.split(command).index("--resume") + 1 :]
    assert flags == RUN_FLAGS
    # Copied as it is, it is the run: nothing `--resume` compares differs.
    resumed = flagged_settings(config, ["--resume", *flags])
    assert identity_differences(without_base_hash(recorded), known_identity(resumed)) == []


@pytest.fixture
def lock_holder(interrupted_run: tuple[Path, Path]) -> Iterator[None]:
    """Another process training into the run: it holds the run's lock."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
                import sys
                from pathlib import Path
                from atri.locks import exclusive
                with exclusive(Path({str(lock_file(interrupted_run[1]))!r}), wait=False):
                    print("held", flush=True)
                    sys.stdin.read()
            """),
        ],
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    try:
        yield
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=30)


def test_a_run_being_trained_now_gets_no_resume_command(
    interrupted_run: tuple[Path, Path], lock_holder: None
) -> None:
    config, run = interrupted_run

    result = runner.invoke(app, ["--config", str(config), "adapters", "list"])

    assert result.exit_code == 0, result.output
    assert says(result.output, f"{run.parent}: ")
    assert says(result.output, "of checkpoints of a run being trained now")
    assert "--resume" not in result.output


def test_every_flag_key_is_a_flag_of_atri_train() -> None:
    """The flags the listing builds from a run's record are flags `atri train` takes."""
    result = runner.invoke(app, ["train", "--help"])
    for key in FLAG_KEYS:
        assert says(result.output, flag_name(key)), key


# 3. A limit on file size while a checkpoint is saved.

SAVE_UNDER_A_SIZE_LIMIT = """
import json, resource, signal, sys
from pathlib import Path

import torch
from safetensors.torch import save_file

from model.training.errors import TrainError
from model.training.runner import write_errors_as_sentence

out, kept = Path(sys.argv[1]), sys.argv[2] == "kept"
run_dir = out / ".runs" / "f00d"
(run_dir / "checkpoint-1").mkdir(parents=True)
if kept:
    (run_dir / "checkpoint-1" / "trainer_state.json").write_text("{}")
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # the write fails with EFBIG instead
resource.setrlimit(resource.RLIMIT_FSIZE, (65536, 65536))
(run_dir / "checkpoint-2").mkdir()
try:
    with write_errors_as_sentence(out, run_dir, "atri train --resume", "atri train"):
        # What Trainer's checkpoint saves the adapter with: Rust's error (os error 27).
        save_file({"w": torch.zeros(64, 1024)}, str(run_dir / "checkpoint-2" / "a.safetensors"))
except TrainError as exc:
    print(json.dumps(str(exc)))
"""


@pytest.mark.skipif(sys.platform == "win32", reason="no RLIMIT_FSIZE on Windows")
@pytest.mark.parametrize("kept", ["kept", "none"])
def test_a_file_size_limit_is_told_apart_from_a_full_disk(tmp_path: Path, kept: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", SAVE_UNDER_A_SIZE_LIMIT, str(tmp_path / "adapters"), kept],
        env={**os.environ, "PYTHONPATH": str(REPO), "PYTHONDONTWRITEBYTECODE": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0 and done.stdout.strip(), done.stderr
    said = json.loads(done.stdout)

    assert "(File too large)" in said
    assert "free some space" not in said
    advice = "raise the limit on file size that stopped it (`ulimit -f`, systemd's LimitFSIZE=)"
    then = "atri train --resume" if kept == "kept" else "atri train"
    assert f"{advice}, then run `{then}`." in said
