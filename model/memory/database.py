"""Opening the database file and the errors it can give, each one clear sentence.

Kept apart from the store: these are what a user sees when `[memory] path` is wrong or
another program holds the file, and `atri memory` reports them too (`database_error`).
"""

from __future__ import annotations

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


def is_busy(exc: sqlite3.Error) -> bool:
    return getattr(exc, "sqlite_errorcode", 0) & 0xFF in (
        sqlite3.SQLITE_BUSY,
        sqlite3.SQLITE_LOCKED,
    )


def database_error(path: Path, exc: sqlite3.Error) -> UserError:
    """A statement on a working database that failed: another program holding it, or a
    full disk. SQLite undid what it had not committed."""
    if is_busy(exc):
        problem = (
            f"is in use: another program has been writing to it for over "
            f"{BUSY_TIMEOUT_SECONDS:g} seconds (an `atri memory import`?); try again once it "
            "is done"
        )
    else:
        full = getattr(exc, "sqlite_errorcode", 0) & 0xFF in (
            sqlite3.SQLITE_FULL,
            sqlite3.SQLITE_IOERR,
        )
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
        blocker = next((p for p in path.parents if p.exists() and not p.is_dir()), None)
        reason = f"{blocker} is a file" if blocker else f"{exc.strerror}: {exc.filename}"
        raise path_error(path, f"cannot be created ({reason})") from None
    if not os.access(path.parent, os.W_OK | os.X_OK) or (
        path.exists() and not os.access(path, os.W_OK)
    ):
        raise path_error(path, "cannot be written")
