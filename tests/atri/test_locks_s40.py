"""atri.locks between real processes, on POSIX (flock) and as on Windows (msvcrt's byte
lock; see tests/windows_like.py): a process waiting for the lock (`atri prep`) goes on
when its holder is killed outright, a held lock is told by the lock and names its holder,
and the lock file stays (removing it could let two processes lock two files)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from atri import locks
from tests.windows_like import AS_WINDOWS, msvcrt_module

REPO = Path(__file__).resolve().parents[2]
TAKE = (
    "import sys, time; from pathlib import Path; from atri.locks import exclusive;"
    "held = exclusive(Path(sys.argv[1]), wait=True); held.__enter__();"
    "print('locked', flush=True); time.sleep(float(sys.argv[2]))"
)


def taker(path: Path, windows: bool, hold: float) -> subprocess.Popen[str]:
    """A process that waits for the lock on `path`, says 'locked', holds it `hold` s."""
    return subprocess.Popen(
        [sys.executable, "-c", (AS_WINDOWS if windows else "") + TAKE, str(path), str(hold)],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


@pytest.mark.parametrize("windows", [False, True], ids=["posix", "windows"])
def test_a_wait_for_the_lock_ends_when_its_holder_is_killed(
    tmp_path: Path, windows: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if windows:  # this process too
        monkeypatch.setitem(sys.modules, "fcntl", None)
        monkeypatch.setitem(sys.modules, "msvcrt", msvcrt_module())
    path = tmp_path / ".data.lock"
    assert not locks.is_locked(path)  # none there: free, and none made by asking
    assert not path.exists()
    holder = taker(path, windows, 120)
    waiter = None
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        assert locks.is_locked(path) and locks.holder(path) == holder.pid
        with pytest.raises(locks.LockHeld) as refused, locks.exclusive(path, wait=False):
            pass
        assert refused.value.holder == holder.pid
        waiter = taker(path, windows, 0)
        time.sleep(1.5)
        assert waiter.poll() is None  # waits while the holder runs
        holder.kill()
        said, _ = waiter.communicate(timeout=30)
        assert waiter.returncode == 0 and said == "locked\n", said
    finally:
        for process in (holder, waiter):
            if process is not None:
                process.kill()
                process.wait()
    assert path.is_file() and not locks.is_locked(path)
    with locks.exclusive(path, wait=False):
        assert locks.holder(path) == os.getpid()
    assert locks.holder(path) is None  # let go: it names nobody
