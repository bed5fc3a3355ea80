"""One process at a time: an exclusive lock that the system releases when its process
ends, however it ends (SIGKILL, a power cut), so nothing is ever left holding it.

The lock is taken on a lock file (made when missing), or on POSIX on a folder itself
(on a lock file beside it where its file system refuses that: NFS).
A lock file is removed only by `discard`, on POSIX, by a process that holds its lock:
one that opened the file before it went and locks it after finds, by its inode, that
the name is no longer that file's, and locks the file of that name anew; so two
processes never hold two different files of one name. On Windows a lock file stays
(an open file cannot be removed there, and one closed can be opened again at once). POSIX takes it with `flock`; Windows, which has no `fcntl`, with msvcrt's byte
lock, on a byte well past the holder's process id that the file holds while locked:
other processes may not read a byte locked there.

A process id in a file is no proof of anything (the process may be gone and its id
given to another), and the lock itself is taken before the id is written: whether a
file is held is asked of the lock (`is_locked`), the id only named to the user.
"""

from __future__ import annotations

import contextlib
import errno
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# The byte msvcrt locks: past any process id written at the file's start.
LOCK_BYTE = 4096
# Where there is no flock (Windows): how often a process waiting for the lock looks again.
POLL_SECONDS = 0.1
# How long a try that finds the lock held looks again before it gives up: another
# process may be probing it (`is_locked` holds it for an instant), and one that has just
# taken it writes its process id right after.
PATIENCE_SECONDS = 1.0
# Windows opens a file as text unless told otherwise: the process id goes in as given.
_BINARY = getattr(os, "O_BINARY", 0)
# What a file system that gives no flock (on a folder, or at all: NFS without its lock
# service, some FUSE mounts) answers one.
_NO_LOCKS = {errno.EBADF, errno.ENOLCK, errno.EOPNOTSUPP}


class LockHeld(Exception):
    """Another process holds the lock; `holder` is its process id, as its file names it
    (None when it names none)."""

    def __init__(self, path: Path, holder: int | None) -> None:
        super().__init__(f"{path} is locked by process {holder or '?'}")
        self.path = path
        self.holder = holder


@contextlib.contextmanager
def exclusive(path: Path, *, wait: bool) -> Iterator[None]:
    """Hold the lock on the file `path` (made when missing) for the `with` block, with
    this process's id written in it meanwhile. `wait`: until whoever holds it lets go;
    else LockHeld, naming the holder, when it is still held after PATIENCE_SECONDS."""
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | _BINARY, 0o666)
        try:
            taken: bool | None = _take(fd, wait)
            if taken and not still_named(fd, path):
                _release(fd)  # `discard` removed it meanwhile: lock the file of that name
                taken = None
        except BaseException:
            os.close(fd)
            raise
        if taken:
            break
        os.close(fd)
        if taken is False:
            raise LockHeld(path, holder(path))
    try:
        try:
            _write_pid(fd, str(os.getpid()))
            yield
        finally:
            with contextlib.suppress(OSError):
                _write_pid(fd, "")  # nobody holds it now
            _release(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def exclusive_folder(folder: Path) -> Iterator[None]:
    """Hold the lock on `folder` for the `with` block, waiting for whoever holds it. POSIX
    locks the folder itself; where a folder cannot be locked (Windows cannot open one as a
    file; NFS refuses a flock of one), the lock file `.<folder>.lock` beside it. OSError
    with a sentence for the user when neither can be locked."""
    fd = _locked_folder(folder)
    if fd is not None:
        try:
            yield
        finally:
            os.close(fd)  # releases it
        return
    with contextlib.ExitStack() as held:
        try:
            held.enter_context(exclusive(folder.parent / f".{folder.name}.lock", wait=True))
        except OSError as exc:
            if exc.errno not in _NO_LOCKS:
                raise
            raise OSError(
                exc.errno,
                f"its file system gives no lock ({exc.strerror or exc}) to keep two "
                "processes from writing into it at once; use a folder on a local disk",
                str(folder),
            ) from None
        yield


def _locked_folder(folder: Path) -> int | None:
    """A descriptor of `folder` holding its lock, taken once whoever holds it lets go; None
    where a folder cannot be locked: no flock (Windows), or a file system that refuses one
    on a folder (NFS: EBADF, its flock needs a descriptor open for writing)."""
    if flock_module() is None:
        return None
    fd = os.open(folder, os.O_RDONLY)
    try:
        _take(fd, wait=True)
    except BaseException as exc:
        os.close(fd)
        if isinstance(exc, OSError) and exc.errno in _NO_LOCKS:
            return None
        raise
    return fd


def discard(path: Path) -> bool:
    """Remove the lock file `path` when no process holds it (a run whose folder is gone
    leaves nothing for it to guard); whether it was removed. POSIX only: it is removed
    while this holds its lock (see the module's note); on Windows it stays."""
    if flock_module() is None:
        return False
    try:
        fd = os.open(path, os.O_RDWR | _BINARY)
    except OSError:
        return False
    try:
        if not _try(fd):
            return False  # held: in use
        try:
            if not still_named(fd, path):
                return False  # another process removed it first
            os.unlink(path)
            return True
        except OSError:
            return False
        finally:
            _release(fd)
    finally:
        os.close(fd)


def still_named(fd: int, path: Path) -> bool:
    """Whether `path` still names the file open as `fd` (not removed, nor replaced by
    another file of that name, since it was opened)."""
    try:
        return os.path.samestat(os.fstat(fd), os.stat(path))
    except OSError:
        return False


def flock_module() -> Any:
    """The fcntl module where there is one (POSIX), else None (Windows). Imported when
    asked: a test hides it to stand in for Windows."""
    try:
        import fcntl
    except ImportError:
        return None
    return fcntl


def is_locked(path: Path) -> bool:
    """Whether a process holds the lock on the file `path` now: tried, and let go at once
    when free (a process trying it meanwhile waits PATIENCE_SECONDS for that). A file
    that is missing or cannot be opened is no lock."""
    try:
        fd = os.open(path, os.O_RDWR | _BINARY)
    except OSError:
        return False
    try:
        if _try(fd):
            _release(fd)
            return False
        return True
    finally:
        os.close(fd)


def holder(path: Path) -> int | None:
    """The process id the lock file `path` names: its holder's while it is held."""
    try:
        text = path.read_text(encoding="ascii").strip()
    except (OSError, ValueError):
        return None
    return int(text) if text.isdigit() and int(text) > 0 else None


def _take(fd: int, wait: bool) -> bool:
    if wait:
        fcntl = flock_module()
        if fcntl is None:
            while not _try(fd):
                time.sleep(POLL_SECONDS)
            return True
        fcntl.flock(fd, fcntl.LOCK_EX)
        return True
    deadline = time.monotonic() + PATIENCE_SECONDS
    while not _try(fd):
        if time.monotonic() >= deadline:
            return False
        time.sleep(POLL_SECONDS / 5)
    return True


def _try(fd: int) -> bool:
    """Take the lock if it is free, without waiting."""
    fcntl = flock_module()
    if fcntl is None:
        import msvcrt

        os.lseek(fd, LOCK_BYTE, os.SEEK_SET)  # msvcrt locks from the file's position
        try:
            # A name typeshed gives msvcrt on Windows only (mypy runs on Linux).
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined]
        except OSError:  # another process holds it
            return False
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _release(fd: int) -> None:
    fcntl = flock_module()
    if fcntl is None:
        import msvcrt

        os.lseek(fd, LOCK_BYTE, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)  # type: ignore[attr-defined]
        return
    fcntl.flock(fd, fcntl.LOCK_UN)


def _write_pid(fd: int, text: str) -> None:
    os.ftruncate(fd, 0)
    os.lseek(fd, 0, os.SEEK_SET)
    os.write(fd, text.encode("ascii"))
