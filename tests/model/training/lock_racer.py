"""A process racing others for one `atri train` lock (`run_lock`): from a barrier that
starts them all at once, each tries again and again for a while; whenever it gets in,
it checks that no other racer is in and that the lock file names it, then lets go.

At the end it puts on `results` what it saw: {"pid", "in" (times it got in), "refused"
(times it was refused), "both" (times another racer was in with it), "stolen" (what the
lock file named instead of it, while it held the lock), "messages" (the refusals' first
few)}.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any


def race(windows: bool, run_dir: str, seconds: float, barrier: Any, results: Any) -> None:
    if windows:
        from tests.windows_like import as_windows_locking

        as_windows_locking()
    from atri import locks
    from model.training.errors import TrainError
    from model.training.run_folder import LOCK_SUFFIX, run_lock

    # One try each time (the default looks again for a second): as many tries as can be.
    locks.PATIENCE_SECONDS = 0.0
    run = Path(run_dir)
    lock = run.with_name(f"{run.name}{LOCK_SUFFIX}")
    inside = run.parent / "inside"
    me = os.getpid()
    seen: dict[str, Any] = {"pid": me, "in": 0, "refused": 0, "both": 0, "stolen": []}
    messages: list[str] = []
    barrier.wait()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with run_lock(run, run.parent):
                seen["in"] += 1
                try:
                    inside.mkdir()
                except FileExistsError:
                    seen["both"] += 1
                    continue
                try:
                    time.sleep(0.001)  # long enough for the others to try meanwhile
                    try:
                        named = lock.read_text(encoding="utf-8").strip()
                    except OSError:
                        named = "(no lock file)"
                    if named != str(me):
                        seen["stolen"].append(named)
                finally:
                    inside.rmdir()
        except TrainError as exc:
            seen["refused"] += 1
            if len(messages) < 5:
                messages.append(str(exc))
    seen["messages"] = messages
    results.put(seen)
