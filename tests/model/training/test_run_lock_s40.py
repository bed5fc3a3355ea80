"""One `atri train` at a time per checkpoint folder, told by a lock the system releases
with its process (atri.locks), not by the process id in a lock file: two runs racing
for it never both get in nor take each other's lock, a run killed outright does not
hold it, and a process that reused a dead run's id does not either. Each on POSIX
(flock) and as on Windows (msvcrt's byte lock; see tests/windows_like.py)."""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from model.training.errors import TrainError
from model.training.run_folder import (
    LOCK_SUFFIX,
    early_resume_mismatch,
    run_lock,
    unfinished_runs,
)
from tests.model.training.lock_racer import race
from tests.windows_like import AS_WINDOWS, msvcrt_module

REPO = Path(__file__).resolve().parents[3]
HOLDER = (
    "import sys, time; from pathlib import Path;"
    "from model.training.run_folder import run_lock;"
    "run = Path(sys.argv[1]); held = run_lock(run, run.parent); held.__enter__();"
    "print('locked', flush=True); time.sleep(120)"
)
MODES = pytest.mark.parametrize("windows", [False, True], ids=["posix", "windows"])


@pytest.fixture
def as_on(monkeypatch: pytest.MonkeyPatch) -> Any:
    def switch(windows: bool) -> None:
        if windows:  # this process too: no fcntl, msvcrt's locking
            monkeypatch.setitem(sys.modules, "fcntl", None)
            monkeypatch.setitem(sys.modules, "msvcrt", msvcrt_module())

    return switch


def lock_of(run_dir: Path) -> Path:
    return run_dir.with_name(f"{run_dir.name}{LOCK_SUFFIX}")


def dead_pid() -> int:
    gone = subprocess.Popen([sys.executable, "-c", ""])
    gone.wait()
    return gone.pid


def start_holder(run_dir: Path, windows: bool) -> subprocess.Popen[str]:
    """Another process that takes `run_dir`'s train lock and keeps it until killed."""
    holder = subprocess.Popen(
        [sys.executable, "-c", (AS_WINDOWS if windows else "") + HOLDER, str(run_dir)],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert holder.stdout is not None
    line = holder.stdout.readline()
    if line.strip() != "locked":
        holder.kill()
        raise AssertionError(line + holder.communicate()[0])
    return holder


def size(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())


def interrupted(runs: Path, name: str, lora_r: int) -> Path:
    """A run folder with a checkpoint, recording lora_r among its settings."""
    folder = runs / name
    (folder / "checkpoint-1").mkdir(parents=True)
    (folder / "checkpoint-1" / "w.bin").write_bytes(b"12345")
    identity = {"base": "b", "dataset": "d", "eval_dataset": None, "settings": {"lora_r": lora_r}}
    (folder / "run.json").write_text(json.dumps({"identity": identity}), encoding="utf-8")
    return folder


@MODES
def test_runs_racing_for_the_lock_never_both_get_in_nor_take_a_held_lock(
    tmp_path: Path, windows: bool
) -> None:
    # Before: the lock file was made with O_EXCL and its process id written after; one
    # read empty (just made) or naming a dead process was unlinked. A racer that read it
    # so unlinked the lock another racer had just taken: both trained into the same
    # checkpoint folder, and the first to finish unlinked the other's lock.
    racers, seconds = 4, 4.0
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(racers + 1)
    results = context.Queue()
    run_dir = tmp_path / ".runs" / "0123456789abcdef"
    run_dir.parent.mkdir()
    lock_of(run_dir).write_text(str(dead_pid()), encoding="utf-8")  # a killed run's
    processes = [
        context.Process(target=race, args=(windows, str(run_dir), seconds, barrier, results))
        for _ in range(racers)
    ]
    for process in processes:
        process.start()
    seen: list[dict[str, Any]] = []
    try:
        barrier.wait(timeout=120)
        while len(seen) < racers:
            seen.append(results.get(timeout=seconds + 60))
    finally:
        barrier.abort()  # a racer that died never reached it: the others stop waiting
        for process in processes:
            process.join(timeout=60)
            if process.exitcode is None:
                process.kill()
    assert [process.exitcode for process in processes] == [0] * racers

    assert [(s["both"], s["stolen"]) for s in seen] == [(0, [])] * racers, seen
    assert all(s["in"] > 0 for s in seen)  # each got its turn,
    assert sum(s["refused"] for s in seen) > 0  # and was turned away while another held it
    racing = {str(s["pid"]) for s in seen}
    for message in (m for s in seen for m in s["messages"]):
        named = message.split("(process ", 1)[1].split(")", 1)[0] if "(process " in message else ""
        assert not named or named in racing, message
        assert "is already training on this data with these settings into" in message


@MODES
def test_a_run_killed_outright_does_not_hold_the_lock(
    tmp_path: Path, windows: bool, as_on: Any
) -> None:
    runs = tmp_path / ".runs"
    training = interrupted(runs, "aaaa", lora_r=16)
    holder = start_holder(training, windows)
    as_on(windows)
    try:
        with pytest.raises(TrainError) as refused, run_lock(training, tmp_path):
            pass
        assert f"Another `atri train` (process {holder.pid}) is already training" in str(
            refused.value
        )
        # Being trained with other settings: neither counted nor offered to --resume.
        assert unfinished_runs(runs / "current") == []
        assert early_resume_mismatch({"settings": {"lora_r": 8}}, runs) == ""
    finally:
        holder.kill()
        holder.wait()

    assert unfinished_runs(runs / "current") == [(training, size(training))]
    assert "lora_r 16 in the checkpoint, 8 now" in early_resume_mismatch(
        {"base": "b", "dataset": "d", "eval_dataset": None, "settings": {"lora_r": 8}}, runs
    )
    with run_lock(training, tmp_path):
        assert lock_of(training).read_text(encoding="utf-8") == str(os.getpid())
    assert lock_of(training).is_file()  # left, empty: another run may be opening it
    assert lock_of(training).read_text(encoding="utf-8") == ""


@MODES
def test_a_lock_file_naming_a_process_that_holds_no_lock_is_free(
    tmp_path: Path, windows: bool, as_on: Any
) -> None:
    # Before: a run killed outright left its process id in the lock file, and a process
    # later given that id (here: one that runs, but never took the lock) kept the run
    # folder "being trained" for ever: `atri train` refused it, and the interrupted run
    # was neither counted nor named to `--resume` with other settings.
    as_on(windows)
    runs = tmp_path / ".runs"
    left = interrupted(runs, "aaaa", lora_r=16)
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        lock_of(left).write_text(str(other.pid), encoding="utf-8")
        assert unfinished_runs(runs / "current") == [(left, size(left))]
        known = {"base": "b", "dataset": "d", "eval_dataset": None, "settings": {"lora_r": 8}}
        assert "lora_r 16 in the checkpoint, 8 now" in early_resume_mismatch(known, runs)
        with run_lock(left, tmp_path):
            assert lock_of(left).read_text(encoding="utf-8") == str(os.getpid())
    finally:
        other.kill()
        other.wait()
