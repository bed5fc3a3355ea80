"""Opening the database file and the errors it can give, each one clear sentence.

Kept apart from the store: these are what a user sees when `[memory] path` is wrong or
another program holds the file, and `atri memory` reports them too (`database_error`).
"""

from __future__ import annotations

import errno
import os
import sqlite3
from pathlib import Path

from atri.errors import ConfigError, UserError

# How long a statement waits for another connection (another process) to finish writing.
BUSY_TIMEOUT_SECONDS = 5.0


def busy_timeout_pragma() -> str:
    """The statement that makes a connection wait `BUSY_TIMEOUT_SECONDS` for a writer.
    Read when a connection opens, so a test can shorten the wait here."""
    return f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_SECONDS * 1000)}"


def path_error(path: Path, problem: str) -> ConfigError:
    return ConfigError(
        f"[memory] path {path} {problem}; point it at a database file in a folder ATRI "
        "can write, such as data/atri.sqlite3."
    )


def error_code(exc: sqlite3.Error) -> int:
    """SQLite's primary result code of the error (SQLITE_FULL, SQLITE_READONLY, …)."""
    return int(getattr(exc, "sqlite_errorcode", 0)) & 0xFF


def is_busy(exc: sqlite3.Error) -> bool:
    return error_code(exc) in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


def on_read_only_disk(path: Path) -> bool:
    """Whether the folder of `path` is on a file system mounted read-only (a CD, a
    read-only bind mount, a snapshot)."""
    for folder in (path.parent, *path.parent.parents):
        if folder.exists():
            try:
                return bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
            except OSError:
                return False
    return False


def read_only_disk_error(path: Path) -> ConfigError:
    return ConfigError(
        f"[memory] path {path} is on a read-only disk: nothing can be written there; "
        "mount it read-write, or point [memory] path at a file on a disk ATRI can write."
    )


def full_disk_error(path: Path, exc: sqlite3.Error) -> UserError:
    return UserError(
        f"[memory] path {path} cannot be written: its disk is full ({exc}); free some space "
        "on it and run it again."
    )


def open_error(path: Path, exc: sqlite3.Error) -> UserError:
    """Opening (or migrating) the database failed: the file or its disk is the problem,
    said as such; only a file that is no database points at `[memory] path`."""
    code = error_code(exc)
    if is_busy(exc):
        return database_error(path, exc)
    if code == sqlite3.SQLITE_FULL or (
        getattr(exc, "sqlite_errorcode", 0) == sqlite3.SQLITE_IOERR_SHMSIZE
    ):  # SHMSIZE: no room for the WAL index (-shm) beside the file
        return full_disk_error(path, exc)
    if code == sqlite3.SQLITE_IOERR:  # a write the file system refused (EFBIG, EIO)
        return UserError(
            f"[memory] path {path} could not be read or written ({exc}): its disk may be "
            "full or failing; free some space on it, or point [memory] path at a file on "
            "another disk."
        )
    if code in (sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN) and on_read_only_disk(path):
        return read_only_disk_error(path)
    if code == sqlite3.SQLITE_READONLY:
        return path_error(path, f"cannot be written ({exc})")
    return path_error(path, f"cannot be used as ATRI's database ({exc})")


def database_error(path: Path, exc: sqlite3.Error) -> UserError:
    """A statement on a working database that failed: another program holding it, or a
    full disk. SQLite undid what it had not committed."""
    if is_busy(exc):
        problem = (
            f"is in use: another program has been writing to it for over "
            f"{BUSY_TIMEOUT_SECONDS:g} seconds (an `atri memory import`?); try again once it "
            "is done"
        )
    elif error_code(exc) == sqlite3.SQLITE_READONLY and on_read_only_disk(path):
        return read_only_disk_error(path)
    else:
        full = error_code(exc) in (sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR)
        problem = f"could not be written ({exc}); the unfinished change was undone"
        if full:
            problem += ": free some space on its disk and run it again"
    return UserError(f"[memory] path {path} {problem}.")


def check_database_path(path: Path) -> None:
    """What can be told from the file system before SQLite tries the path."""
    if path.is_dir():
        raise path_error(path, "is a folder")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        if exc.errno == errno.EROFS:
            raise read_only_disk_error(path) from None
        if exc.errno == errno.ENOSPC:
            raise UserError(
                f"[memory] path {path} cannot be created: its disk is full; free some space "
                "on it and run it again."
            ) from None
        blocker = next((p for p in path.parents if p.exists() and not p.is_dir()), None)
        reason = f"{blocker} is a file" if blocker else f"{exc.strerror}: {exc.filename}"
        raise path_error(path, f"cannot be created ({reason})") from None
    if not os.access(path.parent, os.W_OK | os.X_OK) or (
        path.exists() and not os.access(path, os.W_OK)
    ):
        if on_read_only_disk(path):
            raise read_only_disk_error(path)
        raise path_error(path, "cannot be written")
