"""Writing a file whole or not at all, for every command that replaces a user's file
(adapter manifests and eval reports, memory and persona exports, dataprep's datasets,
Discord's command-sync state)."""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TextIO

from atri.locks import flock_module, still_named

# Windows' OpenProcess right to read a process's exit code, the exit code a running
# process reports, and the error for a process of another user.
_PROCESS_QUERY_LIMITED_INFORMATION = 0x1000
_STILL_ACTIVE = 259
_ERROR_ACCESS_DENIED = 5
# How a work item is opened to lock it: read-only (a folder opens no other way), and
# never waiting (a FIFO given a leftover's name would block a reader forever).
_PROBE_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)


def write_text_atomic(path: Path, text: str) -> None:
    """Replace `path` whole or not at all with `text` (see `replacing`)."""
    with replacing(path) as file:
        file.write(text)


@contextlib.contextmanager
def replacing(path: Path, new_file_mode: int = 0o666) -> Iterator[TextIO]:
    """A file to write `path`'s new text into, a part at a time, that replaces `path`
    whole or not at all when the block ends. It is a hidden file of this write's own
    beside it (same filesystem, so the rename is atomic; two processes writing one path
    never share a temporary), reaches the disk before the rename (after a power cut the
    old file or the new one is there, never an empty one), and gets the mode the file had
    (a backup made private with `chmod 600` stays so) or, for a new file,
    `new_file_mode` less the umask (0o600 for one only its owner should read). A
    failed write (a full disk) or block leaves the old file and no temporary behind; one
    killed outright is removed by the next write beside it."""
    prefix = f".{path.name}."
    remove_dead_leftovers(path.parent, prefix)

    def make() -> Path:
        tmp = path.with_name(f"{owned_prefix(prefix)}{secrets.token_hex(4)}.tmp")
        # 0o666 as open() asks by default: the umask applies, as to any new file.
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, new_file_mode))
        return tmp

    with owned(make) as tmp:
        try:
            with open(tmp, "w", encoding="utf-8") as file:
                yield file
                file.flush()
                os.fsync(file.fileno())
            with contextlib.suppress(FileNotFoundError):
                os.chmod(tmp, path.stat().st_mode & 0o7777)
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise


def pid_alive(pid: int) -> bool:
    """Whether process `pid` still runs: where no lock can tell (see `claimed`), a hidden
    work folder named after a process that is gone was left by a run killed outright
    (SIGKILL, a power cut)."""
    if sys.platform == "win32":
        return _windows_pid_alive(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _windows_pid_alive(pid: int) -> bool:
    """Windows' os.kill(pid, 0) is no probe: signal 0 there is CTRL_C_EVENT, sent to a
    console process group, and it fails or succeeds whether `pid` runs or not."""
    import ctypes

    kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)  # type: ignore[attr-defined]
    kernel32.OpenProcess.restype = ctypes.c_void_p
    handle = kernel32.OpenProcess(_PROCESS_QUERY_LIMITED_INFORMATION, False, pid)
    if not handle:
        return ctypes.get_last_error() == _ERROR_ACCESS_DENIED  # type: ignore[attr-defined]
    try:
        code = ctypes.c_ulong()
        if not kernel32.GetExitCodeProcess(ctypes.c_void_p(handle), ctypes.byref(code)):
            return True
        return code.value == _STILL_ACTIVE
    finally:
        kernel32.CloseHandle(ctypes.c_void_p(handle))


def owned_prefix(prefix: str) -> str:
    """`prefix` with this process's id, for a hidden work file or folder (`mkstemp`'s,
    `mkdtemp`'s prefix) that `remove_dead_leftovers` may later remove."""
    return f"{prefix}{os.getpid()}-"


# Work items `owned` makes before it judges by process id instead (see there).
OWNED_TRIES = 5


class _Lost(Exception):
    """Another process judging leftovers took the lock on a work item in the instant
    between its making and its maker's taking it: it is removed as dead."""


@contextlib.contextmanager
def owned(make: Callable[[], Path]) -> Iterator[Path]:
    """A hidden work file or folder that `make` creates (named by `owned_prefix`, so that
    `dead_leftovers` and `claimed` know it), held for the `with` block: a lock on it that
    the system lets go when this process ends, however it ends. While held it is never
    taken for a leftover, whatever its process id reads as from where it is judged
    (another container's, or a number the system has since given to another process);
    once let go it is one. The block removes or renames it as it needs."""
    for _ in range(OWNED_TRIES - 1):
        path = make()
        try:
            fd = _hold(path)
        except _Lost:
            continue  # the judge that took it removes it: make another
        break
    else:
        # A file system whose file ids never match (some FUSE and overlay mounts) lost
        # every one: the last is judged by its process id, as where no lock can be had.
        path, fd = make(), None
    try:
        yield path
    finally:
        if fd is not None:
            os.close(fd)  # lets go of the lock


def _hold(path: Path) -> int | None:
    """An open descriptor holding the lock on `path`; None where no lock can be had (no
    flock on Windows, nor on NFS, which refuses an exclusive flock of a descriptor opened
    read-only): its process id judges it there. _Lost when a judge took it first, or
    removed it before this took it."""
    fcntl = flock_module()
    if fcntl is None:
        return None
    try:
        fd = os.open(path, _PROBE_FLAGS)
    except FileNotFoundError:
        raise _Lost from None  # removed by a judge already
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise _Lost from None
    except OSError:
        os.close(fd)
        return None
    if not still_named(fd, path):
        os.close(fd)
        raise _Lost
    return fd


@contextlib.contextmanager
def claimed(path: Path, pid: int) -> Iterator[bool]:
    """Whether the work item `path`, named for process `pid`, was left by a process that
    is gone, with the item held for the `with` block when it was (its maker cannot take
    it meanwhile: see `owned`). Its lock tells: free, nobody holds it. Where no lock can
    be had (Windows, NFS, an item this user cannot open), the process id tells
    instead, as it always did."""
    fcntl = flock_module()
    fd = None
    if fcntl is not None:
        with contextlib.suppress(OSError):
            fd = os.open(path, _PROBE_FLAGS)
    if fd is None:
        yield not pid_alive(pid)
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            dead = False  # a running process holds it
        except OSError:
            dead = not pid_alive(pid)
        else:
            dead = True
        yield dead
    finally:
        os.close(fd)


def dead_leftovers(folder: Path, prefix: str) -> Iterator[Path]:
    """The work files and folders in `folder` named by `owned_prefix(prefix)` that no
    running process holds (see `owned`): left by one killed outright, so its cleanup
    never ran. Each is held while the loop over them works on it. Those of a process
    still running are its own business."""
    pattern = re.compile(rf"{re.escape(prefix)}(\d+)-.+")
    try:
        entries = list(folder.iterdir())
    except OSError:
        return
    for path in entries:
        if (match := pattern.fullmatch(path.name)) is None:
            continue
        with claimed(path, int(match[1])) as dead:
            if dead:
                yield path


def remove_dead_leftovers(folder: Path, prefix: str) -> list[Path]:
    """Remove `dead_leftovers(folder, prefix)`; return them."""
    removed = []
    for path in dead_leftovers(folder, prefix):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        removed.append(path)
    return removed


def give_new_file_mode(files: list[Path]) -> None:
    """Give `files` the mode a new file gets in their folder here (the umask's, 0644 as a
    rule): safetensors and `tempfile.mkstemp` write 0600, which a server running as
    another user (vLLM reading the adapters folder on a shared volume) cannot read."""
    modes: dict[Path, int] = {}
    for path in files:
        folder = path.parent
        if folder not in modes:
            probe = folder / f".mode-probe-{os.getpid()}"
            probe.touch()
            try:
                modes[folder] = probe.stat().st_mode & 0o777
            finally:
                probe.unlink()
        path.chmod(modes[folder])
