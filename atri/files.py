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
from pathlib import Path

# Windows' OpenProcess right to read a process's exit code, the exit code a running
# process reports, and the error for a process of another user.
_PROCESS_QUERY_LIMITED_INFORMATION = 0x1000
_STILL_ACTIVE = 259
_ERROR_ACCESS_DENIED = 5


def write_text_atomic(path: Path, text: str) -> None:
    """Replace `path` whole or not at all. The text goes to a hidden file of this write's
    own beside it (same filesystem, so the rename is atomic; two processes writing one
    path never share a temporary), reaches the disk before the rename (after a power cut
    the old file or the new one is there, never an empty one), and gets the mode the file
    had (a backup made private with `chmod 600` stays so) or, for a new file, the
    umask's. A failed write (a full disk) leaves the old file and no temporary behind;
    one killed outright is removed by the next write beside it."""
    prefix = f".{path.name}."
    remove_dead_leftovers(path.parent, prefix)
    tmp = path.with_name(f"{owned_prefix(prefix)}{secrets.token_hex(4)}.tmp")
    try:
        # 0o666 as open() asks: the umask applies, as to any new file (mkstemp's is 0600).
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        with contextlib.suppress(FileNotFoundError):
            os.chmod(tmp, path.stat().st_mode & 0o7777)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def pid_alive(pid: int) -> bool:
    """Whether process `pid` still runs: a hidden work folder named after a process that
    is gone was left by a run killed outright (SIGKILL, a power cut)."""
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


def dead_leftovers(folder: Path, prefix: str) -> list[Path]:
    """The work files and folders in `folder` named by `owned_prefix(prefix)` for a
    process that is gone (killed outright, so its cleanup never ran). Those of a process
    still running are its own business."""
    pattern = re.compile(rf"{re.escape(prefix)}(\d+)-.+")
    try:
        entries = list(folder.iterdir())
    except OSError:
        return []
    return [
        path
        for path in entries
        if (match := pattern.fullmatch(path.name)) is not None and not pid_alive(int(match[1]))
    ]


def remove_dead_leftovers(folder: Path, prefix: str) -> list[Path]:
    """Remove `dead_leftovers(folder, prefix)`; return them."""
    removed = dead_leftovers(folder, prefix)
    for path in removed:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
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
