"""Session 42: `atri train` removes its run folder only while it holds the run's lock.
Ctrl-C just after the version was published removed the folder after the lock was let
go: a same-settings `atri train --resume` taking the lock in that instant lost the
checkpoints it was loading. A Ctrl-C while the lock is being waited for touches nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from typer.testing import CliRunner

from atri.cli import app
from tests.cli_output import says
from tests.model.training.test_run_lock_s40 import lock_of, start_holder
from tests.model.training.test_train_eval import REPO, write_config

# Another `atri train` of the same run, trying its lock once: what it got.
ANOTHER_RUN = """
import sys
from pathlib import Path
from atri import locks
from model.training.errors import TrainError
from model.training.run_folder import run_lock
locks.PATIENCE_SECONDS = 0.0
run = Path(sys.argv[1])
try:
    with run_lock(run, run.parent):
        print("got in")
except TrainError as refused:
    print(refused)
"""


def another_run_tries(run_dir: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-c", ANOTHER_RUN, str(run_dir)],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return " ".join(done.stdout.split())


def test_ctrl_c_after_publishing_removes_the_run_folder_under_its_lock(
    tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import model.training.run_folder as run_folder
    import model.training.runner as runner
    from atri.config import load_settings
    from model.training.errors import TrainingInterrupted

    config = write_config(
        tmp_path, tiny_model_dir, max_steps=2, eval_steps=1, gradient_accumulation=1
    )
    real = runner.publish_version
    published: list[Path] = []
    ctrl_c: list[Path] = []
    tries: list[str] = []  # what another run got, trying the lock as the folder went
    take = run_folder.Trash.take

    def publish(*args: Any, **kwargs: Any) -> Path:
        published.append(real(*args, **kwargs))
        return published[-1]

    def ctrl_c_then_another_run(trash: run_folder.Trash, run_dir: Path) -> None:
        """The first removal after publishing meets Ctrl-C, and the run folder's removal
        after it meets another `atri train` of the run trying its lock."""
        if published and not ctrl_c:
            ctrl_c.append(run_dir)
            raise KeyboardInterrupt
        if ctrl_c and run_dir == ctrl_c[0]:
            tries.append(another_run_tries(run_dir))
        take(trash, run_dir)

    with monkeypatch.context() as m:
        m.setattr(runner, "publish_version", publish)
        m.setattr(run_folder.Trash, "take", ctrl_c_then_another_run)
        with pytest.raises(TrainingInterrupted) as stopped:
            runner.train(load_settings(config))
    [run] = ctrl_c
    assert run.parent.name == ".runs"
    assert stopped.value.version == published[0]
    # Before: "got in" (the lock was let go first, the folder removed under the other run).
    assert tries == [
        f"Another `atri train` (process {os.getpid()}) is already training on this data "
        f"with these settings into {run.parent}; wait for it to finish or stop it."
    ]
    assert not run.exists() and not lock_of(run).exists()  # done: neither is left
    assert list(run.parent.iterdir()) == []  # nor the trash it went into


def test_ctrl_c_while_waiting_for_the_lock_touches_no_checkpoint(
    tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Said before: "`--resume` continues from step 1", of the checkpoint another run
    was training into."""
    import atri.locks as locks
    import model.training.runner as runner

    config = write_config(tmp_path, tiny_model_dir, max_steps=1)
    holders: list[subprocess.Popen[str]] = []
    real = runner.run_lock

    @contextmanager
    def held_by_another(run_dir: Path, out: Path) -> Iterator[None]:
        (run_dir / "checkpoint-1").mkdir(parents=True)  # another run's, training now
        (run_dir / "checkpoint-1" / "trainer_state.json").write_text("{}", encoding="utf-8")
        holders.append(start_holder(run_dir, windows=False))

        def ctrl_c(seconds: float) -> None:
            raise KeyboardInterrupt

        monkeypatch.setattr(
            locks, "time", SimpleNamespace(monotonic=locks.time.monotonic, sleep=ctrl_c)
        )
        with real(run_dir, out):
            yield

    monkeypatch.setattr(runner, "run_lock", held_by_another)
    try:
        result = CliRunner().invoke(app, ["--config", str(config), "train"])
        [holder] = holders
        assert holder.poll() is None
    finally:
        for holder in holders:
            holder.kill()
            holder.wait()
    assert result.exit_code == 130, result.output
    assert says(
        result.output,
        "Interrupted before training began; no version was written and no checkpoint was touched.",
    )
    [run] = (tmp_path / "adapters").glob(".runs/*/")
    assert [p.name for p in run.iterdir()] == ["checkpoint-1"]
