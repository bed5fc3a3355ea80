"""Session 72, a full disk under `atri train` and `atri prep`, on a real small tmpfs.

`atri train` said "free some space, then run `atri train --resume`" even when the run
kept no checkpoint (`--resume` then trained afresh), and never said that a kept
checkpoint was what took the space. `atri prep` with room for the datasets but not the
stats picture said "(OSError: [Errno 28] …)" and removed the earlier picture."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from atri.cli import app
from atri.terminal import suggested_command
from tests.dataprep.conftest import FIXTURES
from tests.model.training.test_train_eval import versions_of, write_config


def mounted_tmpfs(folder: Path, size: str) -> Iterator[Path]:
    """`folder` as a tmpfs of `size` while the test runs, unmounted after it."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root and mount")
    folder.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    yield from mounted_tmpfs(tmp_path / "disk", "4m")


def leave_free(disk: Path, kib: int) -> Path:
    """Fill `disk` up to `kib` KiB of free space; returns the filler to remove."""
    filler = disk / "filler"
    filler.write_bytes(bytes(shutil.disk_usage(disk).free - kib * 1024))
    return filler


def flat(output: str) -> str:
    return " ".join(output.split())


# --- atri train -------------------------------------------------------------------

# The tiny model's checkpoint-1 takes about 290 KiB and its version about 120 KiB more:
# with this much free the checkpoint is saved and the version cannot be written.
ROOM_FOR_A_CHECKPOINT_KIB = 340


def train_config(tmp_path: Path, model_dir: Path, adapters: Path) -> Path:
    """A 1-step run that saves a checkpoint at its step, into `adapters`."""
    config = write_config(tmp_path, model_dir, max_steps=1, eval_steps=1, gradient_accumulation=1)
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace("[train]", f'adapters_dir = "{adapters}"\n[train]'))
    adapters.mkdir()
    return config


def test_a_run_that_kept_no_checkpoint_says_it_must_start_again(
    tmp_path: Path, tiny_model_dir: Path, small_disk: Path
) -> None:
    """The tester's 25 MB case: the first checkpoint did not fit, `.runs` was left empty,
    and the sentence advised `--resume`."""
    adapters = small_disk / "adapters"
    config = train_config(tmp_path, tiny_model_dir, adapters)
    leave_free(small_disk, 40)

    failed = CliRunner().invoke(app, ["--config", str(config), "train"])

    said = flat(failed.output)
    assert failed.exit_code == 1, said
    assert "(No space left on device); no version was written" in said
    assert (
        "No checkpoint was kept, so the run must start again: free some space, then run "
        f"`{suggested_command(config, 'train')}`." in said
    )
    assert "--resume" not in said
    assert not [p for p in (adapters / ".runs").iterdir() if p.is_dir()]


def test_a_kept_checkpoint_is_named_with_its_size_and_resumed(
    tmp_path: Path, tiny_model_dir: Path, small_disk: Path
) -> None:
    """The tester's 62 MB case: checkpoint-1 was kept, and the sentence never said that
    it was where the space went."""
    adapters = small_disk / "adapters"
    config = train_config(tmp_path, tiny_model_dir, adapters)
    filler = leave_free(small_disk, ROOM_FOR_A_CHECKPOINT_KIB)

    failed = CliRunner().invoke(app, ["--config", str(config), "train"])

    said = flat(failed.output)
    assert failed.exit_code == 1, said
    [checkpoint] = adapters.glob(".runs/*/checkpoint-1")
    assert f"The checkpoint at step 1 is kept for `--resume` in {checkpoint}" in said
    assert re.search(r"\(the run's checkpoints take \d+ KiB of that disk\)", said), said
    resume = suggested_command(config, "train", "--resume")
    assert f"free some space, then run `{resume}`." in said
    assert versions_of(adapters) == {}

    # The advice holds: with the space back, `--resume` publishes from that checkpoint.
    filler.unlink()
    resumed = CliRunner().invoke(app, ["--config", str(config), "train", "--resume"])
    assert resumed.exit_code == 0, resumed.output
    assert "publishing it from" in flat(resumed.output)
    assert len(versions_of(adapters)) == 1


# --- atri prep --------------------------------------------------------------------

# The datasets of these scripts fit in this much space and their picture (about 35 KiB)
# does not.
ROOM_FOR_THE_DATASETS_KIB = 32
NEW_SCRIPT = """Chapter 1
Natsuki: Did you eat?
Atri: Robots do not need to eat... but crab is delicious.
Natsuki: What are you doing?
Atri: I am preparing breakfast, because I am high-performance!
"""


@pytest.fixture
def prep_here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """`atri prep` under the built-in settings, from `tmp_path`."""
    monkeypatch.delenv("ATRI_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "new.txt").write_text(NEW_SCRIPT, encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize("drawn_by_a_child", [False, True])
def test_prep_keeps_the_earlier_picture_when_the_new_one_does_not_fit(
    prep_here: Path, small_disk: Path, monkeypatch: pytest.MonkeyPatch, drawn_by_a_child: bool
) -> None:
    if drawn_by_a_child:  # big scripts: drawn by a child process, its error read as text
        monkeypatch.setattr("dataprep.output_folder.PLOT_CHILD_BYTES", 0)
    out = small_disk / "dataset"
    first = CliRunner().invoke(app, ["prep", str(FIXTURES / "plain_en.txt"), "--out", str(out)])
    assert first.exit_code == 0, first.output
    picture = (out / "atri_stats.png").read_bytes()
    dataset = (out / "atri_sharegpt.json").read_bytes()
    leave_free(small_disk, ROOM_FOR_THE_DATASETS_KIB)

    second = CliRunner().invoke(app, ["prep", "new.txt", "--out", str(out)])

    said = flat(second.output)
    assert second.exit_code == 0, said  # README: a picture not drawn fails nothing else
    assert (
        "atri_stats.png was not drawn (the disk is full); the datasets and atri_stats.json "
        "are written; the earlier atri_stats.png, of the earlier data, is kept." in said
    )
    assert "Errno" not in said
    assert (out / "atri_stats.png").read_bytes() == picture
    assert (out / "atri_sharegpt.json").read_bytes() != dataset  # the new run's
    assert "crab is delicious" in (out / "atri_sharegpt.json").read_text(encoding="utf-8")
    assert sorted(p.name for p in small_disk.iterdir()) == ["dataset", "filler"]  # no staging
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")]


def test_prep_with_no_earlier_picture_says_the_disk_is_full(
    prep_here: Path, small_disk: Path
) -> None:
    out = small_disk / "dataset"
    leave_free(small_disk, ROOM_FOR_THE_DATASETS_KIB)

    result = CliRunner().invoke(app, ["prep", "new.txt", "--out", str(out)])

    said = flat(result.output)
    assert result.exit_code == 0, said
    assert (
        "atri_stats.png was not drawn (the disk is full); the datasets and atri_stats.json "
        "are written." in said
    )
    assert (out / "atri_sharegpt.json").is_file() and not (out / "atri_stats.png").exists()
