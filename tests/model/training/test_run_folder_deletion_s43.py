"""Session 43: a run folder is deleted after its run's lock is let go, not under it. It
was deleted under the lock (checkpoints: GBs on a slow disk), and another `atri train`
of those settings, which waits about a second for the lock, said that another run was
training while nothing was: a folder was being deleted. Now it is renamed into a hidden
trash folder under the lock and deleted after; one that a killed process left goes on a
later run."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from model.training import run_folder
from model.training.errors import TrainingInterrupted
from model.training.run_folder import (
    TRASH_PREFIX,
    remove_dead_trash,
    run_lock,
    trash_for,
    unfinished_runs,
)
from tests.model.training.test_published_run_lock_s42 import another_run_tries
from tests.model.training.test_run_lock_s40 import (
    MODES,
    as_on,  # noqa: F401  (a fixture)
    lock_of,
)
from tests.model.training.test_train_eval import REPO, write_config

# Long enough for any machine to reach the other side; the deletion goes on at once.
WAIT_SECONDS = 60.0


def slow_deletion_of(
    monkeypatch: pytest.MonkeyPatch, holds: str, meanwhile: Callable[[], None]
) -> list[Path]:
    """shutil.rmtree, where the first deletion of a tree holding a file named `holds`
    (a checkpoint's: not one checkpoint alone) runs `meanwhile` first; what it deleted."""
    real = shutil.rmtree
    slow: list[Path] = []

    def rmtree(path: Any, *args: Any, **kwargs: Any) -> None:
        tree = Path(path)
        if not slow and not tree.name.startswith("checkpoint-") and any(tree.rglob(holds)):
            slow.append(tree)
            meanwhile()
        real(path, *args, **kwargs)

    monkeypatch.setattr(shutil, "rmtree", rmtree)
    return slow


@MODES
def test_a_run_gets_its_lock_while_a_dead_runs_folder_is_deleted(
    tmp_path: Path,
    windows: bool,
    as_on: Any,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    as_on(windows)
    runs = tmp_path / ".runs"
    left = runs / "aaaa"  # no checkpoint: removed by the next run's look at the others
    left.mkdir(parents=True)
    (left / "big.bin").write_bytes(b"0" * 4096)
    deleting, go_on = threading.Event(), threading.Event()

    def wait_for_the_other_run() -> None:
        deleting.set()
        go_on.wait(WAIT_SECONDS)

    slow = slow_deletion_of(monkeypatch, "big.bin", wait_for_the_other_run)
    counted: list[Any] = []
    look = threading.Thread(target=lambda: counted.append(unfinished_runs(runs / "current")))
    look.start()
    try:
        assert deleting.wait(WAIT_SECONDS)
        # Before: TrainError "Another `atri train` (process …) is already training …".
        with run_lock(left, tmp_path):
            assert not left.exists()  # the folder's run starts afresh
    finally:
        go_on.set()
        look.join(WAIT_SECONDS)
    assert counted == [[]]
    assert slow[0].name.startswith(TRASH_PREFIX)  # deleted there, not under the lock
    # Nothing is left: no trash, no lock file (Windows keeps lock files: atri.locks).
    assert [p.name for p in runs.iterdir()] == (["aaaa.lock"] if windows else [])


@contextmanager
def lock_args(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Path]]:
    """The run folder `atri train` locks (runner.run_lock's first argument)."""
    import model.training.runner as runner

    real = runner.run_lock
    seen: list[Path] = []

    @contextmanager
    def recorded(run_dir: Path, out: Path) -> Iterator[None]:
        seen.append(run_dir)
        with real(run_dir, out):
            yield

    monkeypatch.setattr(runner, "run_lock", recorded)
    yield seen


def test_a_finished_runs_checkpoints_are_deleted_after_its_lock_is_let_go(
    tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """And Ctrl-C during that deletion says the version is complete; the next run deletes
    the rest, and says so."""
    import model.training.runner as runner
    from atri.config import load_settings

    config = write_config(
        tmp_path, tiny_model_dir, max_steps=2, eval_steps=1, gradient_accumulation=1
    )
    tries: list[str] = []
    with lock_args(monkeypatch) as locked:

        def another_run_then_ctrl_c() -> None:
            tries.append(another_run_tries(locked[0]))
            raise KeyboardInterrupt

        with monkeypatch.context() as m:
            slow = slow_deletion_of(m, "trainer_state.json", another_run_then_ctrl_c)
            with pytest.raises(TrainingInterrupted) as stopped:
                runner.train(load_settings(config))
    [run] = locked
    # Before: "Another `atri train` (process …) is already training …": the deletion ran
    # under the lock.
    assert tries == ["got in"]
    assert stopped.value.version is not None and (stopped.value.version / "manifest.json").is_file()
    assert not run.exists() and not lock_of(run).exists()
    [trash] = slow
    assert trash.parent == run.parent and trash.name.startswith(TRASH_PREFIX)
    assert trash.is_dir()  # cut off by Ctrl-C

    said: list[str] = []
    runner.train(load_settings(config), notify=said.append)
    assert f"Removed {trash}: run folders that a stopped `atri train` was deleting." in said
    assert list(run.parent.iterdir()) == []


HOLDER = (
    "import sys, time; from pathlib import Path;"
    "from model.training.run_folder import trash_for;"
    "run = Path(sys.argv[1]); trash = trash_for(run.parent); taken = trash.__enter__();"
    "taken.take(run); print(taken.folder, flush=True); time.sleep(120)"
)


def test_trash_is_left_alone_while_its_process_lives_and_removed_once_it_is_killed(
    tmp_path: Path,
) -> None:
    run = tmp_path / ".runs" / "aaaa"
    (run / "checkpoint-1").mkdir(parents=True)
    (run / "checkpoint-1" / "trainer_state.json").write_text("{}", encoding="utf-8")
    deleting = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(run)],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert deleting.stdout is not None
        trash = Path(deleting.stdout.readline().strip())
        assert (trash / "0-aaaa" / "checkpoint-1").is_dir() and not run.exists()
        assert remove_dead_trash(run.parent) == []  # its process is deleting it
        assert unfinished_runs(run.parent / "current") == []  # nor is it a run to resume
    finally:
        deleting.send_signal(signal.SIGKILL)
        deleting.wait()
    assert remove_dead_trash(run.parent) == [trash]
    assert list(run.parent.iterdir()) == []


def test_ctrl_c_while_trash_is_deleted_ends_a_run_that_is_over(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    version = tmp_path / "v1"
    (tmp_path / ".runs" / "aaaa").mkdir(parents=True)

    def ctrl_c(*args: Any, **kwargs: Any) -> None:
        raise KeyboardInterrupt

    for published, version_said in (([version], version), ([], None)):
        with monkeypatch.context() as m:
            m.setattr(run_folder.shutil, "rmtree", ctrl_c)
            with (
                pytest.raises(KeyboardInterrupt) as stopped,  # a plain one would end pytest
                trash_for(tmp_path / ".runs", published) as trash,
            ):
                trash.take(tmp_path / ".runs" / "aaaa")
        assert isinstance(stopped.value, TrainingInterrupted)
        assert (stopped.value.step, stopped.value.version) == (None, version_said)
    # Not a run's (`published` not given): Ctrl-C as it came.
    with monkeypatch.context() as m:
        m.setattr(run_folder.shutil, "rmtree", ctrl_c)
        with pytest.raises(KeyboardInterrupt) as raw, trash_for(tmp_path / ".runs"):
            pass
    assert type(raw.value) is KeyboardInterrupt
