"""Session 41: `adapters/.runs/<run>.lock` goes with its run's folder (one per settings
and data piled up for ever), never while a run holds it, and never so that two runs get
in. The race itself: test_run_lock_s40's racers, whose run folder never exists, so that
every turn ends by removing the lock file (without the inode check in atri.locks they
got in together)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from model.training.run_folder import run_lock, unfinished_runs
from tests.model.training.test_run_lock_s40 import (
    MODES,
    as_on,  # noqa: F401  (a fixture)
    interrupted,
    lock_of,
    start_holder,
)


@MODES
def test_a_run_whose_folder_is_gone_leaves_no_lock_file(
    tmp_path: Path,
    windows: bool,
    as_on: Any,  # noqa: F811
) -> None:
    as_on(windows)
    run_dir = tmp_path / ".runs" / "0123456789abcdef"
    with run_lock(run_dir, tmp_path):
        run_dir.mkdir()
        (run_dir / "checkpoint-1").mkdir()
        shutil.rmtree(run_dir)  # published: its checkpoints go
    # Windows cannot remove a file another process may have open: there it stays.
    assert lock_of(run_dir).exists() == windows

    kept = tmp_path / ".runs" / "fedcba9876543210"
    with run_lock(kept, tmp_path):
        (kept / "checkpoint-1").mkdir(parents=True)  # interrupted: kept for --resume
    assert lock_of(kept).is_file()


def test_lock_files_of_runs_gone_are_swept_not_one_held(tmp_path: Path) -> None:
    """Lock files left by earlier runs (every run left its own) go at the next run's
    look at the unfinished ones; one held by a run about to make its folder stays."""
    runs = tmp_path / ".runs"
    left = interrupted(runs, "aaaa", lora_r=16)
    for name in ("aaaa", "bbbb", "cccc"):
        lock_of(runs / name).write_text("", encoding="utf-8")
    starting = start_holder(runs / "dddd", windows=False)  # its folder not made yet
    try:
        assert [folder for folder, _ in unfinished_runs(runs / "current")] == [left]
        assert sorted(p.name for p in runs.iterdir()) == ["aaaa", "aaaa.lock", "dddd.lock"]
    finally:
        starting.kill()
        starting.wait()
    unfinished_runs(runs / "current")
    assert sorted(p.name for p in runs.iterdir()) == ["aaaa", "aaaa.lock"]


def test_on_windows_no_lock_file_is_swept(tmp_path: Path, as_on: Any) -> None:  # noqa: F811
    as_on(True)
    runs = tmp_path / ".runs"
    runs.mkdir()
    lock_of(runs / "bbbb").write_text("", encoding="utf-8")
    unfinished_runs(runs / "current")
    assert (runs / "bbbb.lock").is_file()
