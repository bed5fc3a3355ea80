"""What Windows lacks or does differently, for running the Windows code paths here.

`msvcrt` (install it with `as_windows_locking`): byte-range locking as Windows' msvcrt
gives it: `locking(fd, LK_NBLCK, n)` raises PermissionError while another process holds
those bytes, LK_UNLCK releases them. Built on Linux's open file description locks
(F_OFD_SETLK), which like Windows' belong to the open file (a handle, on Windows: another
one, even in the same process, is refused), are kept when another handle on the file is
closed (POSIX's `lockf` drops them all) and are released when the process dies; `fcntl`
itself is then hidden, as on Windows.
"""

from __future__ import annotations

import errno
import fcntl
import os
import struct
import subprocess  # noqa: F401  (before `msvcrt` is there: else it takes this for Windows)
import sys
import types

# msvcrt's values for `locking`'s mode.
LK_UNLCK, LK_LOCK, LK_NBLCK, LK_RLCK, LK_NBRLCK = range(5)


def locking(fd: int, mode: int, nbytes: int) -> None:
    start = os.lseek(fd, 0, os.SEEK_CUR)  # msvcrt locks from the file's position
    if mode == LK_UNLCK:
        _ofd_lock(fd, fcntl.F_UNLCK, start, nbytes)
    elif mode == LK_NBLCK:
        try:
            _ofd_lock(fd, fcntl.F_WRLCK, start, nbytes)
        except OSError:
            raise PermissionError(errno.EACCES, "Permission denied") from None
    else:
        raise NotImplementedError(f"msvcrt.locking mode {mode}")


def _ofd_lock(fd: int, kind: int, start: int, length: int) -> None:
    # struct flock: l_type, l_whence, l_start, l_len, l_pid (0, as OFD locks want it).
    fcntl.fcntl(fd, fcntl.F_OFD_SETLK, struct.pack("hhqqi4x", kind, os.SEEK_SET, start, length, 0))


def msvcrt_module() -> types.ModuleType:
    module = types.ModuleType("msvcrt")
    module.__dict__.update(locking=locking, LK_UNLCK=LK_UNLCK, LK_LOCK=LK_LOCK, LK_NBLCK=LK_NBLCK)
    return module


# The first statement of a child process (`python -c`) that stands in for Windows.
AS_WINDOWS = "from tests.windows_like import as_windows_locking; as_windows_locking();"


def as_windows_locking() -> None:
    """From now on in this process, no `fcntl` to import and an `msvcrt` with `locking`
    (a child process's first step; a test in this one uses monkeypatch)."""
    sys.modules["fcntl"] = None  # type: ignore[assignment]
    sys.modules["msvcrt"] = msvcrt_module()
