"""The copies of the memory database an upgrade keeps beside it, before it migrates an
older ATRI's file to this schema: made, named, and told of where a purge cannot reach."""

from __future__ import annotations

import contextlib
import errno
import os
import sqlite3
from pathlib import Path

import aiosqlite

from atri.errors import UserError
from model.memory.database import error_code
from model.memory.schema import SCHEMA_VERSION


async def keep_copy(db: aiosqlite.Connection, path: Path, version: int) -> Path:
    """A copy of the database `db` (at `path`, schema `version`) written beside it by
    SQLite's backup API: one consistent file, the -wal's changes in it. One that cannot
    be written is removed and is a `UserError` saying what to do: nothing is migrated."""
    copy: Path | None = None
    try:
        copy = _new_copy_file(path, version)
        target = await aiosqlite.connect(copy)
        try:
            await db.backup(target)
        finally:
            await target.close()
    except (OSError, sqlite3.Error) as exc:
        if copy is not None:
            with contextlib.suppress(OSError):
                copy.unlink()
        raise _copy_error(path, version, copy, exc) from None
    return copy


def upgrade_copies(path: Path | str) -> list[Path]:
    """The copies upgrades kept beside the database (`atri.sqlite3.schema12.bak`, `-2`…):
    a purge cannot reach into them, so whoever purges is told they are there."""
    path = Path(path)
    if str(path) == ":memory:" or not path.parent.is_dir():
        return []
    prefix = f"{path.name}.schema"
    return sorted(
        p for p in path.parent.iterdir() if p.name.startswith(prefix) and p.name.endswith(".bak")
    )


def purge_leftovers(path: Path | str) -> str:
    """What a purge of the database at `path` could not delete, in one sentence ("" when
    nothing): the copies older schemas' upgrades kept still hold what was stored then."""
    copies = upgrade_copies(path)
    if not copies:
        return ""
    names = ", ".join(str(copy) for copy in copies)
    return (
        f"Not from {names}: the copy kept when an older ATRI's database was upgraded still"
        " holds what was stored before the upgrade; delete it once the upgrade is checked."
    )


def _new_copy_file(path: Path, version: int) -> Path:
    """An empty file beside `path` for its copy at schema `version`, made here so no
    earlier copy (of an earlier upgrade, or made by hand) is written over:
    `atri.sqlite3.schema2.bak`, else `atri.sqlite3.schema2-2.bak`, and so on. Readable by
    its owner alone, as a new database is: it holds every private chat stored so far."""
    for n in range(1, 1000):
        suffix = "" if n == 1 else f"-{n}"
        copy = path.with_name(f"{path.name}.schema{version}{suffix}.bak")
        try:
            os.close(os.open(copy, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        except FileExistsError:
            continue
        return copy
    raise FileExistsError(errno.EEXIST, "a thousand earlier copies are in the way", str(copy))


def _copy_error(path: Path, version: int, copy: Path | None, exc: Exception) -> UserError:
    """Why an older ATRI's database was not upgraded: its copy could not be written."""
    where = copy or path.with_name(f"{path.name}.schema{version}.bak")
    full = (isinstance(exc, OSError) and exc.errno == errno.ENOSPC) or (
        isinstance(exc, sqlite3.Error) and error_code(exc) == sqlite3.SQLITE_FULL
    )
    if full:
        megabytes = max(1, round(_file_size(path) / 1e6))
        what_to_do = f"free about {megabytes} MB on its disk and run it again"
    else:
        what_to_do = (
            f"let ATRI write files in {path.parent}, or copy the database to a folder it can "
            "write and point [memory] path at the copy"
        )
    return UserError(
        f"[memory] path {path} holds a database from an older ATRI (schema {version}), which "
        f"is upgraded to schema {SCHEMA_VERSION} only once a copy of it is kept, and the copy "
        f"{where} could not be written ({exc}), so nothing was changed: {what_to_do}."
    )


def _file_size(path: Path) -> int:
    """The database's size on disk, its -wal included."""
    total = 0
    for part in (path, path.with_name(path.name + "-wal")):
        with contextlib.suppress(OSError):
            total += part.stat().st_size
    return total
