"""Session 42: `exclusive_folder` where the file system refuses a flock of a folder (NFS
answers EBADF: its flock needs a descriptor open for writing, and a folder opens
read-only) locks the file `.<folder>.lock` beside it, as on Windows; where it refuses
every lock, a sentence says why instead of a bare errno."""

from __future__ import annotations

import errno
import fcntl
import os
import stat
import threading
from pathlib import Path

import pytest

from atri import locks


def refuse_flock(monkeypatch: pytest.MonkeyPatch, code: int, *, folders_only: bool) -> None:
    real = fcntl.flock

    def flock(fd: int, operation: int) -> None:
        if not folders_only or stat.S_ISDIR(os.fstat(fd).st_mode):
            raise OSError(code, os.strerror(code))
        real(fd, operation)

    monkeypatch.setattr(fcntl, "flock", flock)


@pytest.mark.parametrize("code", [errno.EBADF, errno.ENOLCK, errno.EOPNOTSUPP])
def test_a_folder_that_cannot_be_flocked_is_locked_by_a_file_beside_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int
) -> None:
    refuse_flock(monkeypatch, code, folders_only=True)
    out = tmp_path / "out"
    out.mkdir()
    beside = tmp_path / ".out.lock"
    entered = threading.Event()

    def second_holder() -> None:
        with locks.exclusive_folder(out):
            entered.set()

    with locks.exclusive_folder(out):
        assert locks.is_locked(beside) and locks.holder(beside) == os.getpid()
        waiting = threading.Thread(target=second_holder)
        waiting.start()
        assert not entered.wait(0.5)  # held: the second waits
    assert entered.wait(10)  # let go: it gets in
    waiting.join(10)
    assert not locks.is_locked(beside)


def test_a_file_system_with_no_locks_at_all_is_told_in_a_sentence(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    refuse_flock(monkeypatch, errno.ENOLCK, folders_only=False)
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(OSError) as refused, locks.exclusive_folder(out):
        pass
    assert refused.value.filename == str(out)
    assert refused.value.strerror == (
        "its file system gives no lock (No locks available) to keep two processes from "
        "writing into it at once; use a folder on a local disk"
    )


def test_other_errors_of_a_folder_lock_are_not_taken_for_no_locks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    refuse_flock(monkeypatch, errno.EIO, folders_only=True)
    (tmp_path / "out").mkdir()
    with pytest.raises(OSError) as failed, locks.exclusive_folder(tmp_path / "out"):
        pass
    assert failed.value.errno == errno.EIO
    assert not (tmp_path / ".out.lock").exists()
