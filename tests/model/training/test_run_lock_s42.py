"""Session 42: a run folder with no checkpoint, judged left by a run that is gone, is
removed only under its run's lock: a run of its settings and data that took the lock
after the look keeps its folder. Each on POSIX and as on Windows (tests/windows_like.py)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from model.training import run_folder
from model.training.run_folder import unfinished_runs
from tests.model.training.test_run_lock_s40 import (
    MODES,
    as_on,  # noqa: F401  (a fixture)
    lock_of,
    start_holder,
)


@MODES
def test_a_run_that_starts_after_the_look_keeps_its_folder(
    tmp_path: Path,
    windows: bool,
    as_on: Any,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Before: `unfinished_runs` asked the lock (free: the run that left the folder was
    # gone) and then removed the folder; a run that took the lock in between lost the
    # folder it was training into (its run.json, a checkpoint being saved).
    as_on(windows)
    runs = tmp_path / ".runs"
    left = runs / "aaaa"
    left.mkdir(parents=True)
    (left / "run.json").write_text("{}", encoding="utf-8")
    started: list[subprocess.Popen[str]] = []
    look = run_folder.being_trained

    def a_run_starts_after_the_look(folder: Path) -> bool:
        trained = look(folder)
        if folder == left and not started:
            started.append(start_holder(left, windows))  # takes the lock, then goes on
        return trained

    monkeypatch.setattr(run_folder, "being_trained", a_run_starts_after_the_look)
    try:
        assert unfinished_runs(runs / "current") == []
        assert (left / "run.json").is_file()
        assert lock_of(left).is_file()
    finally:
        for process in started:
            process.kill()
            process.wait()

    # Its run gone (killed outright), the folder is a dead one's: removed, with its lock
    # file (which Windows keeps: see atri.locks).
    assert unfinished_runs(runs / "current") == []
    assert not left.exists()
    assert lock_of(left).exists() == windows


@MODES
def test_a_dead_runs_folder_without_a_lock_file_goes_without_leaving_one(
    tmp_path: Path,
    windows: bool,
    as_on: Any,  # noqa: F811
) -> None:
    as_on(windows)
    runs = tmp_path / ".runs"
    (runs / "aaaa").mkdir(parents=True)  # left by a run from before lock files
    (runs / "bbbb" / "checkpoint-1").mkdir(parents=True)
    assert unfinished_runs(runs / "current") == [(runs / "bbbb", 0)]
    # The removal locks `aaaa.lock` (made for it); Windows cannot remove that file after.
    expected = ["aaaa.lock", "bbbb"] if windows else ["bbbb"]
    assert sorted(p.name for p in runs.iterdir()) == expected
