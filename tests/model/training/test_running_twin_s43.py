"""Session 43: a second `atri train` is told that another one trains only when a run
holds the lock: another process looking at it (`is_locked`, `discard`: an `atri train`
starting) holds it for an instant, and that was taken for a run training."""

from __future__ import annotations

import fcntl
import json
import os
import threading
from pathlib import Path

from model.training.run_folder import running_twin
from tests.model.training.test_run_lock_s40 import interrupted, lock_of, start_holder

# How long the look holds the lock here: an instant, stretched so the test sees it.
LOOK_SECONDS = 0.3


def test_a_look_at_the_lock_is_no_run_training(tmp_path: Path) -> None:
    runs = tmp_path / ".runs"
    run = interrupted(runs, "aaaa", lora_r=8)
    known = json.loads((run / "run.json").read_text(encoding="utf-8"))["identity"]
    lock = lock_of(run)
    lock.touch()
    look = os.open(lock, os.O_RDWR)  # as `is_locked` takes it: no process id written
    fcntl.flock(look, fcntl.LOCK_EX)
    let_go = threading.Timer(LOOK_SECONDS, fcntl.flock, (look, fcntl.LOCK_UN))
    let_go.start()
    try:
        # Before: "Another `atri train` is already training on this data with these
        # settings into …; wait for it to finish or stop it."
        assert running_twin(known, runs, tmp_path) == ""
    finally:
        let_go.join()
        os.close(look)

    holder = start_holder(run, windows=False)  # a run that trains: said, naming it
    try:
        assert running_twin(known, runs, tmp_path) == (
            f"Another `atri train` (process {holder.pid}) is already training on this data "
            f"with these settings into {tmp_path}; wait for it to finish or stop it."
        )
    finally:
        holder.kill()
        holder.wait()
