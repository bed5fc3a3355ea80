"""One worker per memory database: a process that starts one for the bots (`atri worker`,
`atri serve` without a remote worker) holds a lock on `<database>.lock` beside it while
it serves.

Two workers on one database each answered a message that reached both at once, and
stored it twice, without a word. The second now stops in one sentence naming the first
(its process id, which the lock file holds) before it loads a model. The lock is
`atri.locks.exclusive`: flock on POSIX, msvcrt's byte lock on Windows, released by the
system however the process ends (kill -9 leaves no stale lock). `atri chat` (a console's
messages reach it alone) and `atri memory` commands take no lock: they read and write
beside a running worker as before.

Held per process: a process that opens two services on one file on purpose (tests) is
one worker, and takes the lock once.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path

from atri import locks
from atri.config import Settings
from atri.errors import ConfigError

log = logging.getLogger(__name__)

# The databases this process holds the lock of (resolved paths).
_held: set[Path] = set()


def lock_file_of(database: Path) -> Path:
    """The lock file beside `database`: `atri.sqlite3` → `atri.sqlite3.lock`."""
    return database.with_name(database.name + ".lock")


@contextlib.contextmanager
def one_worker_per_database(settings: Settings) -> Iterator[None]:
    """Hold the lock of `[memory] path` for the `with` block; ConfigError (exit 2), naming
    the holder, when another process holds it."""
    database = _database_file(settings)
    if database is None or database in _held:
        yield
        return
    lock_file = lock_file_of(database)
    try:
        with contextlib.ExitStack() as held:
            if _locked(lock_file, database, held):
                _held.add(database)
            yield
    finally:
        if database in _held:  # its lock was let go above
            _held.discard(database)
            locks.discard(lock_file)  # the folder is left as it was


def _database_file(settings: Settings) -> Path | None:
    """`[memory] path`, resolved; None where there is no file to lock: `:memory:`, or a
    path the database's own checks refuse as it opens (a folder, a loop of links)."""
    if settings.memory.path == ":memory:":
        return None
    try:
        database = settings.path(settings.memory.path).resolve()
        return None if database.is_dir() else database
    except (OSError, RuntimeError):
        return None


def _locked(lock_file: Path, database: Path, held: contextlib.ExitStack) -> bool:
    """Take the lock into `held`; False where none can be had (see below)."""
    try:
        database.parent.mkdir(parents=True, exist_ok=True)  # as the database's first start
        held.enter_context(locks.exclusive(lock_file, wait=False))
    except locks.LockHeld as exc:
        raise ConfigError(another_worker_sentence(database, exc.holder)) from None
    except OSError as exc:
        # A folder it may not write, a read-only disk, a file system without locks (NFS):
        # the database's own checks say what to fix as it opens, in their words; where it
        # opens all the same, it is served without the lock, as before.
        log.debug("no worker lock on %s: %s", lock_file, exc)
        return False
    return True


def another_worker_sentence(database: Path, holder: int | None) -> str:
    """What a second worker on `database` says before it stops."""
    who = f"process {holder}: " if holder else ""
    stop = f"stop it first (`kill {holder}`)" if holder else "stop it first"
    return (
        f"Another ATRI worker ({who}`atri worker` or `serve`) already serves the "
        f"memory database {database} ([memory] path): a message reaching both would be "
        f"answered and stored twice; {stop}, or give this one its own [memory] path."
    )
