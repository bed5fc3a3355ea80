"""Opening the database file and the errors it can give, each one clear sentence.

Kept apart from the store: these are what a user sees when `[memory] path` is wrong or
another program holds the file, and `atri memory` reports them too (`database_error`).
A worker whose database fails under every message logs each kind of failure once, and
again only every few minutes while it lasts, then once that it is written again
(`FailureLog`); a file deleted or replaced under it is one such failure (`FileMoved`).
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from atri.errors import ConfigError, UserError

# How long a statement waits for another connection (another process) to finish writing.
BUSY_TIMEOUT_SECONDS = 5.0
# A long write done in parts (an import, `Memory.delete_older`) lets the write lock go this
# long between two: a worker waiting for it tries again every 0.1 s at most (SQLite's busy
# handler), and would miss the moment between two commits.
WRITE_PAUSE_SECONDS = 0.15
# A failure the worker logged is logged again, with how often it happened meanwhile, at
# most this often while it lasts.
REPEAT_SECONDS = 300.0

# The first bytes of every SQLite database file.
SQLITE_HEADER = b"SQLite format 3\x00"
# Tables another program's database shows at most, in the sentence refusing it.
_TABLES_NAMED = 5
# Page 1 after the file's 100-byte header starts the schema table's b-tree page: its
# type (a leaf of a table: 13) and, 3 bytes on, how many cells (rows) it holds.
_SCHEMA_PAGE_TYPE = 100
_SCHEMA_CELLS = 103
_SCHEMA_PAGE_HEADER_END = 105
_TABLE_LEAF_PAGE = 13
# What a new database was made in: no file, a file of 0 bytes, an SQLite file with no
# tables (`holds_no_tables`).
Found = Literal["nothing", "empty", "no tables"]

# What a statement was doing when it failed; None: not told (the sentence says "used").
Doing = Literal["read", "write"] | None
_WORD: dict[Doing, str] = {"read": "read", "write": "written", None: "used"}
# SQLite's extended codes for an I/O error that says whether it was reading or writing
# (the others, locks and shared memory, fall back on what the caller was doing).
_READ_IO_ERRORS = (sqlite3.SQLITE_IOERR_READ, sqlite3.SQLITE_IOERR_SHORT_READ)
_WRITE_IO_ERRORS = (
    sqlite3.SQLITE_IOERR_WRITE,
    sqlite3.SQLITE_IOERR_FSYNC,
    sqlite3.SQLITE_IOERR_DIR_FSYNC,
    sqlite3.SQLITE_IOERR_TRUNCATE,
)


# What to check where the system refused a read or write (SQLite's "disk I/O error"),
# which a full disk mostly does not give (SQLite says "database or disk is full"): a file
# grown past a size limit fails so (EFBIG) on a disk with room, as a failing disk does
# (EIO); space comes last, for a file system that says EIO when full (a network quota).
IO_ERROR_CAUSES = (
    "check the disk for errors (`dmesg`) and a limit on file size (`ulimit -f`, systemd's "
    "LimitFSIZE=, a container's quota), or free some space on its disk"
)


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
    read-only bind mount, a snapshot). Windows has no statvfs: False there, and the
    error names the file instead."""
    if not hasattr(os, "statvfs"):
        return False
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
    said as such; only a file that is no database points at `[memory] path`. Sorted as
    `failure_kind` sorts a failing statement; at open the advice differs."""
    kind, _ = failure_kind(exc)
    if kind == "busy" and held_alone(path):
        return held_alone_error(path)
    # A file SQLite took for a database and found damaged (cut short, pages overwritten)
    # is moved aside for a backup, not pointed elsewhere ("a folder ATRI can write").
    if kind == "busy" or error_code(exc) == sqlite3.SQLITE_CORRUPT:
        return database_error(path, exc, "read")
    if no_room(exc):
        return full_disk_error(path, exc)
    if kind == "io":  # a write the file system refused (EFBIG, EIO)
        return UserError(
            f"[memory] path {path} could not be read or written ({exc}): its disk may be "
            f"full or failing: {IO_ERROR_CAUSES}, or point [memory] path at a file on "
            "another disk."
        )
    cannot_open = error_code(exc) == sqlite3.SQLITE_CANTOPEN
    if (kind == "read_only" or cannot_open) and on_read_only_disk(path):
        return read_only_disk_error(path)
    if kind == "read_only":
        return path_error(path, f"cannot be written ({exc})")
    if error_code(exc) == sqlite3.SQLITE_NOTADB and _holds_other_bytes(path):
        # Pointing it "at a database file" named the very file that was there.
        return ConfigError(
            f"[memory] path {path} is not an SQLite database (an export? a compressed "
            "copy?): move it aside and restore the database file, or `atri memory import` "
            "an export."
        )
    return path_error(path, f"cannot be used as ATRI's database ({exc})")


def no_room(exc: sqlite3.Error) -> bool:
    """Whether `exc` says the disk is full: a write that found no room, or no room for
    the WAL index (-shm) that a first read of a WAL file makes (SQLITE_IOERR_SHMSIZE)."""
    code = getattr(exc, "sqlite_errorcode", 0)
    return failure_kind(exc)[0] == "full" or code == sqlite3.SQLITE_IOERR_SHMSIZE


def held_alone(path: Path) -> bool:
    """Whether a worker or chat started on a full disk may hold the file: it keeps the
    WAL index in its own memory, so its -wal has no -shm beside it (any other process
    using the file in WAL mode made one)."""
    wal, shm = (path.with_name(path.name + end) for end in ("-wal", "-shm"))
    return wal.exists() and not shm.exists()


def held_alone_error(path: Path) -> UserError:
    return UserError(
        f"[memory] path {path} is held by an ATRI worker or chat started while its disk "
        "was full, which keeps the file to itself until there is space on the disk again; "
        "free some space on it and run it again."
    )


def _holds_other_bytes(path: Path) -> bool:
    """Whether `path` is a non-empty file that does not begin as SQLite's files do."""
    try:
        with path.open("rb") as file:
            head = file.read(len(SQLITE_HEADER))
    except OSError:
        return False
    return bool(head) and head != SQLITE_HEADER


def is_empty_file(path: Path) -> bool:
    """Whether `path` is a file of 0 bytes: no database yet (a copy that failed, or one
    made by hand), which SQLite would quietly make a new one in."""
    try:
        return path.is_file() and path.stat().st_size == 0
    except OSError:
        return False


def holds_no_tables(path: Path) -> bool:
    """Whether `path` is an SQLite file whose schema is empty, with no -wal beside it: the
    main file of a WAL database copied alone while the worker ran (4 KiB: its tables and
    messages were all still in the -wal), or one made by hand (`sqlite3 x.db VACUUM`).
    Read from the file, before SQLite opens it (which makes a -wal): page 1 is the
    schema's table, and a leaf of it with no cells names nothing (SQLite's file format,
    "B-tree Page Header Format")."""
    try:
        if path.with_name(path.name + "-wal").exists():
            return False  # SQLite reads what it holds; the tables may be there
        with path.open("rb") as file:
            head = file.read(_SCHEMA_PAGE_HEADER_END)
    except OSError:
        return False  # none there, or not a path (`check_database_path` says why)
    if len(head) < _SCHEMA_PAGE_HEADER_END or not head.startswith(SQLITE_HEADER):
        return False
    cells = int.from_bytes(head[_SCHEMA_CELLS : _SCHEMA_CELLS + 2], "big")
    return head[_SCHEMA_PAGE_TYPE] == _TABLE_LEAF_PAGE and cells == 0


def new_database_warning(path: Path, found: Found) -> str:
    """The line a worker or chat logs on making a new database: a path that names no
    file (an install moved, a volume not mounted) would otherwise start her memory over
    unnoticed, as would one that holds no memory (a copy that failed)."""
    if found == "empty":
        return (
            f"[memory] path {path} is empty (0 bytes), so a new memory database was made in "
            "it: if you restored a backup, the copy failed; stop ATRI and copy it again."
        )
    if found == "no tables":
        return (
            f"[memory] path {path} holds no memory (an SQLite file with no tables), so a "
            "new memory database was made in it: if you restored a copy taken while ATRI "
            "ran, it lacked its -wal file, which held everything; stop ATRI and copy the "
            "file again with its -wal beside it (or import an `atri memory export`)."
        )
    return (
        f"New memory database at {path} ([memory] path named none yet); if you moved ATRI "
        "or restored a backup, stop it and point [memory] path at the old file."
    )


def foreign_database_error(path: Path, tables: list[str]) -> ConfigError:
    """A SQLite file with tables but none of ATRI's: another program's, refused before
    anything (the WAL mode, ATRI's tables) is written into it."""
    named = ", ".join(tables[:_TABLES_NAMED]) + (" …" if len(tables) > _TABLES_NAMED else "")
    return ConfigError(
        f"[memory] path {path} holds another program's database (tables: {named}), not "
        "ATRI's memory; point [memory] path at ATRI's database file, such as "
        "data/atri.sqlite3."
    )


def failure_kind(exc: sqlite3.Error, doing: Doing = None) -> tuple[str, Doing]:
    """What went wrong ("busy", "damaged", "full", "read_only", "moved", "io", "other"), and
    whether it was reading or writing as far as SQLite's code tells (else `doing`)."""
    code = getattr(exc, "sqlite_errorcode", 0) or 0
    primary = error_code(exc)
    if primary in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
        return "busy", doing
    if primary in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB):
        return "damaged", doing
    if primary == sqlite3.SQLITE_FULL:
        return "full", "write"
    if code == sqlite3.SQLITE_READONLY_DBMOVED:
        return "moved", "write"
    if primary == sqlite3.SQLITE_READONLY:
        return "read_only", "write"
    if primary == sqlite3.SQLITE_IOERR:
        if code in _READ_IO_ERRORS or code in _WRITE_IO_ERRORS:
            return "io", "read" if code in _READ_IO_ERRORS else "write"
        return "io", doing or "write"
    return "other", doing


def database_error(
    path: Path, exc: sqlite3.Error, doing: Doing = None, *, running: bool = False
) -> UserError:
    """A statement on a working database that failed: another program holding it, a full
    disk, a damaged file. SQLite undid what it had not committed. `doing`: what the
    caller was doing, where the error's code does not tell ("read" for a command that
    only reads). `running`: said by a service that goes on (the worker, `atri chat`),
    which writes again by itself once there is space, rather than by a command to run
    again."""
    kind, doing = failure_kind(exc, doing)
    failed = f"could not be {_WORD[doing]} ({exc})"
    if kind == "busy":
        problem = (
            f"is in use: another program has been writing to it for over "
            f"{BUSY_TIMEOUT_SECONDS:g} seconds (an `atri memory import`?); try again once it "
            "is done"
        )
    elif kind == "damaged":
        # Stopped first: moved aside under a running worker, the file lost what still
        # waited in its -wal, and an import beside it failed as a "disk I/O error".
        problem = (
            f"{failed}: the file is damaged; stop ATRI, move it aside with its -wal and "
            "-shm files, and start from a backup (`atri memory import` makes a new "
            "database from an export)"
        )
    elif kind == "read_only" and on_read_only_disk(path):
        return read_only_disk_error(path)
    elif kind == "read_only":
        problem = f"{failed}: ATRI may not write the file (or its folder); let it"
    elif kind == "moved":
        problem = exc.problem() if isinstance(exc, FileMoved) else FileMoved(path).problem()
    elif doing == "write":
        problem = f"{failed}; the unfinished change was undone"
        if kind == "full" and running:
            problem += ": free some space on its disk; she remembers again once there is space"
        elif kind == "full":
            problem += ": free some space on its disk and run it again"
        elif kind == "io" and running:
            problem += f": {IO_ERROR_CAUSES}; she remembers again once it is fixed"
        elif kind == "io":
            problem += f": {IO_ERROR_CAUSES} and run it again"
    else:
        problem = failed
    return UserError(f"[memory] path {path} {problem}.")


# A file as the system knows it, whatever its name: (device, inode).
FileId = tuple[int, int]


def file_id(path: Path) -> FileId | None:
    """The file at `path` now, or None where there is none."""
    try:
        found = os.stat(path)
    except OSError:
        return None
    return found.st_dev, found.st_ino


class FileMoved(sqlite3.OperationalError):
    """The database file a running worker opened is no longer at `[memory] path`:
    deleted, replaced by another file, or moved. SQLite writes on into the file it holds
    (in WAL mode it does not look), which is gone once the process stops, and the next
    start makes a new database. Carries SQLite's own code for a moved file
    (SQLITE_READONLY_DBMOVED, its refusal in the other journal modes), so it is said and
    counted as a failed write. `held`: a descriptor this process reads it through
    (`/proc/<pid>/fd/<n>`, Linux), to copy it back from; `now_at`: its name where it
    still has one (moved); `replaced`: another file is at the path."""

    def __init__(
        self, path: Path, held: str = "", now_at: str = "", replaced: bool = False
    ) -> None:
        super().__init__("the database file is no longer at its path")
        self.sqlite_errorcode = sqlite3.SQLITE_READONLY_DBMOVED
        self.sqlite_errorname = "SQLITE_READONLY_DBMOVED"
        self.path, self.held, self.now_at, self.replaced = path, held, now_at, replaced

    def problem(self) -> str:
        """What happened and what keeps her memory, as checked on Linux: a clean stop
        does not (SQLite leaves a moved file's -wal as it is, and the file is gone); a
        copy made from the descriptor while ATRI runs, its -wal left beside it, does; a
        moved file put back does; and a -wal left beside another file put in its place
        damages that file at the next start (SQLite replays it there)."""
        wal, shm = (f"{self.path.name}-{end}" for end in ("wal", "shm"))
        if self.now_at:
            return (
                f"was moved to {self.now_at} while ATRI ran: move it back before ATRI "
                f"starts again, leaving {wal} where it is (it holds the latest changes); "
                "she remembers again once it is back"
            )
        what = "was replaced by another file" if self.replaced else "was deleted"
        lost = "this process still holds it open, and it is gone once ATRI stops, a clean stop too"
        fresh = (
            f"stop ATRI and delete {wal} and {shm} before it starts again (they are the old "
            "file's: SQLite would replay them into the new one and damage it)"
        )
        if not self.held:  # no /proc to copy it back from
            restore = "" if self.replaced else ", then restore a backup"
            return f"{what} while ATRI ran: {lost}; {fresh}{restore}"
        keep = (
            f"copy it back now with `cp {self.held} {self.path}`, leaving {wal} beside it "
            "(it holds the latest changes), then restart ATRI"
        )
        if self.replaced:
            return (
                f"{what} while ATRI ran: {lost}; to keep it, {keep}; to keep the new file, {fresh}"
            )
        return f"{what} while ATRI ran: {lost}; to keep it, {keep}"


def moved_error(path: Path, opened: FileId) -> FileMoved:
    """Why the file opened as `opened` is not at `path`, found once it is not (a scan
    of this process's descriptors, where /proc lists them)."""
    replaced = file_id(path) is not None
    descriptors = Path("/proc/self/fd")
    with contextlib.suppress(OSError):
        for name in os.listdir(descriptors):
            try:
                held = os.stat(descriptors / name)
            except OSError:
                continue  # closed meanwhile, or the listing's own
            if (held.st_dev, held.st_ino) == opened:
                # Deleted, it has no name left; moved, its name is where it is now.
                now_at = os.readlink(descriptors / name) if held.st_nlink else ""
                return FileMoved(path, f"/proc/{os.getpid()}/fd/{name}", now_at, replaced)
    return FileMoved(path, replaced=replaced)


class FailureLog:
    """A worker's database failures, as log lines: the first of each kind (what went
    wrong, reading or writing) at once as one sentence, never a traceback; the same
    kind again at most every `every` seconds, saying how often it happened meanwhile.
    A database that fails under every message (damaged, a full disk) would otherwise
    fill the log with one traceback per message. Told of each write that works
    (`written`), it says once when writes work again after failing."""

    def __init__(
        self,
        path: Path,
        logger: logging.Logger,
        every: float = REPEAT_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = path
        self.log = logger
        self.every = every
        self.clock = clock
        self._last: dict[tuple[str, Doing], float] = {}
        self._unsaid: dict[tuple[str, Doing], int] = {}
        # Writes that failed since the file was last said to be written again, and
        # whether a line said they fail since (`written` answers it).
        self._failed_writes = 0
        self._said_failing = False

    def report(self, exc: sqlite3.Error, doing: Doing, outcome: str) -> None:
        """Log `exc` (unless its kind was logged under `every` seconds ago); `outcome`:
        what it cost, as a sentence ("A chat got her error line.")."""
        kind, verb = failure_kind(exc, doing)
        if verb == "write":
            self._failed_writes += 1
        # A damaged or busy file is one failure, whatever was being done when it showed.
        key = (kind, None if kind in ("damaged", "busy") else verb)
        now = self.clock()
        last = self._last.get(key)
        if last is not None and now - last < self.every:
            self._unsaid[key] = self._unsaid.get(key, 0) + 1
            return
        self._last[key] = now
        self._said_failing = self._said_failing or verb == "write"
        unsaid = self._unsaid.pop(key, 0)
        since = f" It happened {unsaid} more times since it was last logged." if unsaid else ""
        self.log.error(
            "%s %s%s While it lasts, this is logged at most every %g minutes.",
            database_error(self.path, exc, doing, running=True),
            outcome,
            since,
            self.every / 60,
        )

    def written(self) -> None:
        """A write worked (`Memory` says so after each commit): after a line that said
        writes fail, one line says they work again, so the log tells a disk freed from
        one still failing, which it says only every few minutes. A warning, shown
        where the error was (a worker logs warnings without --verbose)."""
        if not self._said_failing:
            return
        failed, self._failed_writes, self._said_failing = self._failed_writes, 0, False
        self.log.warning(
            "[memory] path %s is written again (%d write%s failed meanwhile).",
            self.path,
            failed,
            "" if failed == 1 else "s",
        )


def check_database_path(path: Path) -> None:
    """What can be told from the file system before SQLite tries the path."""
    try:
        path.stat()
    except (FileNotFoundError, NotADirectoryError):
        pass  # made below; a file where a folder should be is named then
    except OSError as exc:  # a name too long, a loop of links, a folder it may not enter
        raise path_error(path, f"cannot be used ({exc.strerror})") from None
    if path.is_dir():
        raise path_error(path, "is a folder")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise creation_error(path, exc) from None
    folder_writable = os.access(path.parent, os.W_OK | os.X_OK)
    if not folder_writable or (path.exists() and not os.access(path, os.W_OK)):
        if on_read_only_disk(path):
            raise read_only_disk_error(path)
        if folder_writable:  # the file alone: its mode (chmod 444), or another owner's
            raise ConfigError(
                f"[memory] path {path} is a read-only file: ATRI may read it but not write "
                "it; make it writable for the user ATRI runs as (chmod u+w), or point "
                "[memory] path at another file."
            )
        raise path_error(path, "cannot be written")
    _companions_writable(path)


def create_private(path: Path) -> None:
    """A new database is made readable by its owner alone before SQLite fills it: it
    holds people's private chats. SQLite gives its -wal and -shm files the database's
    mode; an existing file keeps the mode it has (the operator's to choose). A folder
    that `os.access` calls writable may still refuse it (`/sys` to root): said as a bad
    path is."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass
    except OSError as exc:
        raise creation_error(path, exc) from None


def creation_error(path: Path, exc: OSError) -> UserError:
    """Making the database's folder, or the file in it, failed: one sentence with the
    system's reason."""
    if exc.errno == errno.EROFS:
        return read_only_disk_error(path)
    if exc.errno == errno.ENOSPC:
        return UserError(
            f"[memory] path {path} cannot be created: its disk is full; free some space "
            "on it and run it again."
        )
    blocker = next((p for p in path.parents if p.exists() and not p.is_dir()), None)
    where = f": {exc.filename}" if exc.filename and Path(exc.filename) != path else ""
    reason = f"{blocker} is a file" if blocker else f"{exc.strerror}{where}"
    return path_error(path, f"cannot be created ({reason})")


def _companions_writable(path: Path) -> None:
    """The -wal and -shm beside a writable database made writable too, where they are
    this user's: SQLite gives them the database's mode when it makes them, so a read of
    a file left at chmod 444 (`atri memory list`) left them read-only, and every write
    failed after `chmod u+w` on the database alone."""
    try:
        mode = path.stat().st_mode & 0o666
    except OSError:
        return  # not made yet
    for companion in (path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        try:
            if companion.stat().st_uid == os.geteuid() and not os.access(companion, os.W_OK):
                companion.chmod(mode)
        except OSError:
            continue  # none there, or not ours to change: SQLite says what it cannot do
