"""The SQLite store: `Memory`, every read and write of messages and summaries.

Export, backup and import (`Memory.export`, `write_backup`, `import_export`) are in
`backup`; the file format they speak is `export_format`, the tables `schema`, opening
errors `database`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import shutil
import sqlite3
import time
from collections import Counter
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Iterator,
    Sequence,
)
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

import model.memory.backup as backups
from atri.errors import ConfigError, UserError
from model.grouping import Grouped, OneTransaction, ReadKey, Touch
from model.memory.backup import BackupCounts
from model.memory.channel_table import SCHEMA as CHANNEL_MODES_SCHEMA
from model.memory.channel_table import store_mode, table_made
from model.memory.database import (
    WRITE_PAUSE_SECONDS,
    FailureLog,
    FileId,
    Found,
    busy_timeout_pragma,
    check_database_path,
    create_private,
    error_code,
    failure_kind,
    file_id,
    foreign_database_error,
    full_disk_error,
    holds_no_tables,
    is_busy,
    is_empty_file,
    moved_error,
    new_database_warning,
    no_room,
    on_read_only_disk,
    open_error,
    path_error,
)
from model.memory.exchanges import exchange_ids, exchange_messages
from model.memory.export_format import ImportResult, MemoryBackup, MemoryExport
from model.memory.purged import Repeats
from model.memory.records import (
    Conversation,
    DecodedRows,
    Message,
    Summary,
    as_text,
    as_time,
    live_context,
    to_message,
    to_summary,
)
from model.memory.schema import MIGRATIONS, SCHEMA_VERSION
from model.memory.scopes import channel_prefix, parse_scope
from model.memory.upgrade_copies import keep_copy
from model.protocol import ChannelMode
from model.room import RoomLog, record_reset

T = TypeVar("T")

log = logging.getLogger(__name__)

# Every table ATRI makes in the file: the channel modes' may come first, alone.
_ATRI_TABLES = frozenset(
    re.findall(r"CREATE TABLE IF NOT EXISTS (\w+)", "".join(MIGRATIONS) + CHANNEL_MODES_SCHEMA)
)

# The size the -wal is cut back to after a checkpoint, when a transaction made it larger.
WAL_SIZE_LIMIT_BYTES = 16 * 1024 * 1024

# The messages of one platform message, through its index (`messages_request`, partial:
# only a query that says `request_id != ''` can use it), whatever the other columns are
# compared with: those are written `+scope`, `+user_id`, so that SQLite, which keeps no
# statistics here, never walks a whole conversation (`messages_scope`) or all a person
# said (`messages_user`) instead. A platform message's id is on one or two rows.
BY_REQUEST = "request_id = ? AND request_id != ''"

_MESSAGE_COLUMNS = (
    "id, scope, role, user_id, display_name, content, created_at, archived,"
    " adapter_version, request_id"
)
_MESSAGES_PART = (
    f"SELECT * FROM (SELECT {_MESSAGE_COLUMNS} FROM messages"
    " WHERE scope = ? AND archived = 0 ORDER BY id DESC LIMIT ?)"
)
# A scope's live summary in the shape of a message row, told apart by a role no
# message can have (the table only takes 'user' and 'assistant'); `id` carries
# `covers_up_to`, and `request_id` the summary's own id.
_SUMMARY_ROLE = "summary"
_SUMMARY_PART = (
    f"SELECT * FROM (SELECT covers_up_to, scope, '{_SUMMARY_ROLE}', '', '', text, created_at,"
    " archived, adapter_version, id FROM summaries WHERE scope = ? AND archived = 0"
    " ORDER BY covers_up_to DESC, id DESC LIMIT 1)"
)
# The newest reset recorded (`Conversation.reset_mark`), in the shape of a message row
# told apart by its role, read in the same statement as the messages: one snapshot.
_RESETS_ROLE = "resets"
_RESETS_PART = (
    f"SELECT * FROM (SELECT COALESCE(MAX(id), 0), '', '{_RESETS_ROLE}', '', '', '', 0, 0, '', ''"
    " FROM resets)"
)
# What a record in `resets` reaches (its `prefix` column): its scope; every scope whose
# key starts with its key (a channel's); or, for a purge of a person, every exchange of
# theirs (their message and her reply) in any conversation of the platform (key
# `qq:user:42`) or of one channel (`qq:chan:7:user:42`), one that holds nothing of
# theirs yet included (a first message in a group); or, for a reset of a person's key on
# the platform (`qq:user:42`), their own conversations (theirs there and in each channel,
# `qq:chan:7:user:42`, one that holds nothing yet included), not the conversations a
# channel shares, which a reset of them does not end. Records of room lines archived or
# deleted (`room.RESET_LINES`) end no conversation.
_RESET_SCOPE, _RESET_PREFIX, _RESET_PERSON, _RESET_OWN = 0, 1, 2, 4
# One row of an exchange (`append_many`), unless what its reply was made from ended
# meanwhile: ?9 `while_live`, ?10 `reset_mark`, ?11 and ?12 the `_person_keys` of whose
# exchange it is (the scope is one of those: their own conversation). With ?10, nothing
# up to ?9 left at all (not even archived) ended nothing: a purge, which deletes, is in
# `resets`, so it was deleted for its age (`delete_older`).
_INSERT_UNLESS_RESET = (
    "INSERT INTO messages (scope, role, user_id, display_name, content, created_at,"
    " adapter_version, request_id) SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8"
    " WHERE (?9 IS NULL OR EXISTS (SELECT 1 FROM messages WHERE scope = ?1"
    " AND archived = 0 AND (id <= ?9 OR first_id <= ?9))"
    " OR (?10 IS NOT NULL AND NOT EXISTS (SELECT 1 FROM messages WHERE scope = ?1"
    " AND (id <= ?9 OR first_id <= ?9))))"
    " AND (?10 IS NULL OR NOT EXISTS (SELECT 1 FROM resets WHERE id > ?10 AND ((scope = ?1"
    f" AND prefix = {_RESET_SCOPE})"
    f" OR (prefix = {_RESET_PREFIX} AND substr(?1, 1, length(scope)) = scope)"
    f" OR (prefix = {_RESET_PERSON} AND scope IN (?11, ?12))"
    f" OR (prefix = {_RESET_OWN} AND scope = ?11 AND ?1 IN (?11, ?12)))))"
)
# A reset record older than `room.RESET_RECORD_SECONDS` is deleted at the next reset or
# purge (`room.record_reset`).

# `Memory._share_again`, in order: out of WAL, which alone ends the exclusive locking
# mode a WAL file was opened in, then back in with the WAL index in a -shm file.
_SHARED_AGAIN = (("journal_mode", "delete"), ("locking_mode", "normal"), ("journal_mode", "wal"))
# `Memory._hold_alone_again`, in order: exclusive locking first, so the WAL is opened
# again with its index in this process's memory (no -shm), as `_connect` opens it alone.
_ALONE_AGAIN = (("locking_mode", "exclusive"), ("journal_mode", "delete"), ("journal_mode", "wal"))
# Free space, beside the -wal's size, below which `_share_again` does not try: the switch
# writes the -wal into the file, a rollback journal, a 32 KiB -shm and a new -wal.
SHARE_AGAIN_MARGIN_BYTES = 64 * 1024
# How often a file held alone tries `_share_again` with no write: on a quiet bot no commit
# comes, and `atri memory` would stay refused after its disk had space again.
SHARE_AGAIN_EVERY_SECONDS = 30.0
# A recalled or deleted message's repeats in her replies are looked for in the day after
# it (`Memory.archive_repeats`): a room line is shown to her for at most `[room]
# max_age_hours` (24 by default), and a quote of it is mostly made soon after.
RECALLED_REPEATS_WITHIN_SECONDS = 24 * 3600.0
# A purge is kept as just after the newest time stored, when that is later than now
# (`purge_time`): a line stored at exactly that time is still one the purge reached.
PURGE_AFTER_NEWEST_SECONDS = 0.001

# Message ids looked up in one statement (`archive_channels`): SQLite before 3.32 takes
# at most 999 parameters.
_IDS_PER_STATEMENT = 500
# `holds_request`'s check, one part of a compound SELECT (`_holds_groups`) that answers
# its place in the group ({place}) where the message is stored: five parameters a check,
# so 150 stay under the 999 that SQLite before 3.32 takes.
_HOLDS_PART = (
    "SELECT * FROM (SELECT {place} FROM messages WHERE " + BY_REQUEST + " AND +scope = ?"
    " AND role = 'user' AND +user_id = ? AND content != ''"
    " AND substr(?, -length(content)) = content AND created_at >= ? LIMIT 1)"
)
_CHECKS_PER_STATEMENT = 150

# A read that needs the WAL index: whether the connection reads at all (`_share_again`).
_READS_AT_ALL = "SELECT count(*) FROM sqlite_master"


@dataclass
class Deleted:
    """What `Memory.delete_older` deleted: messages (live and archived) and archived
    summaries."""

    messages: int = 0
    summaries: int = 0

    def __bool__(self) -> bool:
        return bool(self.messages or self.summaries)


# `delete_older`: rows deleted in one transaction at most, as an import writes them, with
# the write lock let go between two (`WRITE_PAUSE_SECONDS`): replies wait at most one.
RETENTION_BATCH_ROWS = 5000


class Memory:
    """Async access to the conversation database. Use `await Memory.open(path)`."""

    def __init__(self, db: aiosqlite.Connection, path: Path) -> None:
        self._db = db
        self.path = path
        # Every message reads its history and writes its exchange. Under load those
        # calls queue for the database thread; each queue is served a group at a time.
        self._writes = Grouped(self._insert_groups, "atri-memory-writes")
        self._reads = Grouped(self._read_groups, "atri-memory-reads")
        self._decoded = DecodedRows()  # the rows of those reads, as messages
        # Every platform message is looked for first (`holds_request`, a copy delivered
        # again?): checks arriving together share one statement, as the reads do.
        self._checks = Grouped(self._holds_groups, "atri-memory-copy-checks")
        # Every write here and in the room lines, one transaction at a time: the
        # connection has one, which interleaved writes would share.
        self._tx = OneTransaction(db)
        self.room = RoomLog(db, self._tx)
        # Per scope being folded (`folding`), how many of its exchanges were taken back
        # (cut, recalled, edited, purged) since: a summary planned before one of them must
        # not be stored (see `add_summary`). Only those scopes: one entry for every scope
        # ever taken back from (each member's deleted line in a busy group) would grow
        # until restart, and an entry dropped while its summary is written would read as
        # nothing taken back.
        self._taken_back: Counter[str] = Counter()
        self._folding: Counter[str] = Counter()  # how many folds of each scope run
        # Why nothing could be written when it opened (its disk full), for a service to
        # say once; None when it could. `alone`: opened so on a full disk, it keeps the
        # file to itself (`_connect`) until a write or a timed try finds space
        # (`_share_again`).
        self.full_at_open: sqlite3.Error | None = None
        self.alone = False
        self._share_timer: asyncio.Task[None] | None = None  # while alone (`_share_on_time`)
        # The file the connection writes, as it was at open (`_check_in_place`); None
        # for `:memory:` and a connection that only reads.
        self._opened: FileId | None = None
        # A service's log of database failures, told when a write works again.
        self.failures: FailureLog | None = None
        self._tx.after_commit = self._after_commit
        self._tx.check_in_place = self._check_in_place  # before each write

    @classmethod
    async def open(
        cls,
        path: str | Path,
        read_only: bool = False,
        *,
        expect_new: bool = False,
        answers_when_full: bool = False,
    ) -> Memory:
        """Open (or create) the database; a path that cannot hold one is a `ConfigError`
        naming `[memory] path`, raised before anything else loads. A new database made
        where the path named no file is logged (a warning where it was an empty file, a
        failed restore's copy, or an SQLite file with no tables, one copied without its
        -wal; unless `expect_new`: an import makes one on purpose): a worker whose
        install moved would otherwise start her memory over unnoticed.

        `read_only` (a command that only reads, such as `atri memory export`) writes
        nothing, so it reads the last committed state while another process (a long
        `atri memory import`) holds the write lock. A file that does not exist yet, or
        has an older schema, is opened as usual: created or migrated once.

        A file an older ATRI wrote is copied beside it (`_keep_before_migrating`) before
        it is migrated, so that ATRI can still open the copy.

        A disk too full to write on refuses a command (`full_disk_error`). With
        `answers_when_full` (a worker or chat) it opens all the same, `full_at_open`
        saying why nothing can be remembered yet (the service logs it, once): it answers
        from what is stored, and remembers again once there is space."""
        path = Path(path)
        # Before any connection: a first read of a WAL file makes its -wal.
        no_tables = str(path) != ":memory:" and holds_no_tables(path)
        if read_only and str(path) != ":memory:" and path.is_file():
            memory, version = await cls._connect(path, read_only=True)
            if version == SCHEMA_VERSION:
                return memory
            await memory._db.close()  # an older schema: migrated once, below
        if str(path) == ":memory:":
            memory, _ = await cls._connect(path, read_only=False)
            return memory
        check_database_path(path)
        existed = path.exists()
        empty = is_empty_file(path)
        try:
            if not existed:
                create_private(path)
            memory, _ = await cls._connect(path, read_only=False, alone_if_full=answers_when_full)
            if memory.full_at_open is not None and not answers_when_full:
                await memory._close_connections()
                raise full_disk_error(path, memory.full_at_open)
        except BaseException:
            # A file it began to make (a full disk): gone, so the next command does not
            # take an empty file for a database someone made.
            if not existed and path.is_file() and path.stat().st_size == 0:
                with contextlib.suppress(OSError):
                    path.unlink()
            raise
        found: Found | None = (
            "nothing" if not existed else "empty" if empty else "no tables" if no_tables else None
        )
        if found and not expect_new:
            # A first start makes one too: said, not warned, unless a file was there.
            level = logging.INFO if found == "nothing" else logging.WARNING
            log.log(level, "%s", new_database_warning(path, found))
        return memory

    @classmethod
    async def _connect(
        cls,
        path: Path,
        read_only: bool,
        immutable: bool = False,
        *,
        alone_if_full: bool = False,
        alone: bool = False,
    ) -> tuple[Memory, int]:
        """A connection ready for use and the schema version it found. `read_only`: one
        that never writes (SQLite's `mode=ro`), which neither migrates nor sets the
        journal mode; otherwise the file is created or migrated to SCHEMA_VERSION.

        A WAL database on a read-only (or full) disk cannot be read so: SQLite must
        make its index file (-shm) beside it. Nothing writes such a file, so it is read
        as `immutable` then, unless changes wait in its -wal (which `immutable` ignores).

        A worker or chat (`alone_if_full`) opens it `alone` then: in SQLite's exclusive
        locking mode, which keeps that index in its own memory, so it reads and, once
        there is space, writes; other processes wait for it meanwhile (`held_alone_error`)."""
        target = str(path)
        if read_only:
            target = path.absolute().as_uri() + (
                "?mode=ro&immutable=1" if immutable else "?mode=ro"
            )
        try:
            db = await aiosqlite.connect(target, uri=read_only)
        except sqlite3.Error as exc:
            raise path_error(path, f"cannot be opened ({exc})") from None
        memory = cls(db, path)
        memory.alone = alone  # every commit that finds space tries to share the file again
        if not read_only and target != ":memory:":
            memory._opened = file_id(path)
        try:
            db.row_factory = aiosqlite.Row
            await db.execute(busy_timeout_pragma())
            if alone:  # before the first read, which would make the -shm
                await db.execute("PRAGMA locking_mode = EXCLUSIVE")
            # Before the first write (the WAL mode): another program's file stays as it was.
            await memory._check_holds_memory()
            if alone:
                # Its first read locked out every other process, so the -shm that the
                # failed first open left (3 bytes) is no one's: gone, as `held_alone`
                # tells a file held so.
                with contextlib.suppress(OSError):
                    path.with_name(path.name + "-shm").unlink()
            if not read_only:
                await db.execute("PRAGMA journal_mode=WAL")
                # NORMAL keeps every committed turn across a process crash in WAL mode;
                # only an OS crash can lose the last few, which chat history tolerates.
                await db.execute("PRAGMA synchronous=NORMAL")
                # What is deleted, purged or edited out (a phone number) is overwritten in
                # the file, not left in free space: on by default in Debian's SQLite only.
                await db.execute("PRAGMA secure_delete=ON")
                # The -wal grows to the largest transaction (a purge of a 200k-message
                # channel: tens of MB) and kept that size until the worker stopped.
                await db.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT_BYTES}")
            # Read in WAL mode before `_check_alone` locks the file: a first WAL read under
            # its exclusive locking mode would keep the file locked for good.
            version = await memory.schema_version()
            memory._check_not_newer(version)
            if not read_only:
                kept = await memory._keep_before_migrating(version)
                try:
                    await memory._migrate(version)
                except BaseException:
                    # The file is as it was: its copy would be one more each time the
                    # worker, restarted in a loop, failed the same way.
                    if kept is not None:
                        with contextlib.suppress(OSError):
                            kept.unlink()
                    raise
                if kept is not None:
                    log.info(
                        "memory database upgraded from schema %d to %d; the earlier file is "
                        "kept at %s",
                        version,
                        SCHEMA_VERSION,
                        kept,
                    )
                version = SCHEMA_VERSION
                # No second connection can read `:memory:`, nor a file held `alone`.
                if target != ":memory:" and not alone:
                    memory._tx.reader = await _open_reader(path)
        except sqlite3.Error as exc:
            await memory._close_connections()
            if alone_if_full and not alone and no_room(exc):
                return await cls._connect(path, read_only=False, alone=True)
            if read_only and not immutable and _unreadable_wal(path, exc):
                wal = path.with_name(path.name + "-wal")
                if wal.is_file() and wal.stat().st_size > 0:
                    raise UserError(
                        f"[memory] path {path} cannot be read where it is (a read-only or "
                        "full disk, or a folder you cannot write): its latest changes wait "
                        f"in {wal.name} beside it; copy "
                        "both files to a disk ATRI can write and point [memory] path at the "
                        "copy."
                    ) from None
                return await cls._connect(path, read_only=True, immutable=True)
            raise open_error(path, exc) from None
        except BaseException:
            await memory._close_connections()
            raise
        if alone:  # and on a timer: a quiet bot commits nothing
            memory._share_timer = asyncio.create_task(
                memory._share_on_time(), name="atri-memory-share-again"
            )
        return memory, version

    async def _after_commit(self) -> None:
        """After each commit (`OneTransaction.after_commit`, holding the transaction lock,
        none open), checked in place (`OneTransaction.check_in_place`): a write that worked
        is news to a log of failures; a file held alone tries to share."""
        if self.failures is not None:
            self.failures.written()
        if self.alone:
            await self._share_again()

    def _check_in_place(self) -> None:
        """Raise `FileMoved` where the file this connection writes is no longer at its
        path (deleted, replaced, moved): SQLite writes on into the file it holds, and
        the next start lost all of it without a word. Before every write
        (`OneTransaction.held_to_write`), one stat a write: about 1% of a commit's time
        (14 µs beside 1.3 ms, measured on a loaded 2-core machine)."""
        if self._opened is not None and file_id(self.path) != self._opened:
            raise moved_error(self.path, self._opened)

    async def _share_again(self) -> None:
        """Opened `alone` on a full disk, the file is shared again once a commit (any
        write: `_after_commit`) or a timed try (`_share_on_time`) found
        space: SQLite leaves the exclusive locking mode of a WAL file only out of WAL,
        so it goes out and back in, which makes the -shm; then `atri memory` and the
        prompts' reader use it again. Called holding the transaction lock, none open. A
        switch that could not size the -shm (too little space, or the disk filled
        meanwhile) still reports WAL, and every read failed after it: so a read must
        work, and the reader open, or the file is held alone again (`_hold_alone_again`)
        and the next commit or timed try tries again."""
        if not self._room_to_share():
            return
        try:
            for pragma, mode in _SHARED_AGAIN:
                rows = await self._db.execute_fetchall(f"PRAGMA {pragma} = {mode}")
                if [str(row[0]).lower() for row in rows] != [mode]:
                    raise sqlite3.OperationalError(f"SQLite kept its {pragma}")
            await self._db.execute_fetchall(_READS_AT_ALL)
            reader = await _open_reader(self.path)
        except sqlite3.Error as exc:
            log.info("memory: %s is kept to this process for now (%s)", self.path, exc)
            await self._hold_alone_again()
            return
        self._tx.reader = reader
        self.alone = False
        log.info("memory: %s has space again and is shared with other processes", self.path)

    async def _share_on_time(self) -> None:
        """`_share_again` every `SHARE_AGAIN_EVERY_SECONDS` while the file is held alone,
        so that freeing space is enough. Holding the transaction lock, as after a commit:
        never inside another transaction."""
        while self.alone:
            await asyncio.sleep(SHARE_AGAIN_EVERY_SECONDS)
            async with self._tx.held():
                if self.alone:  # a commit may have shared it meanwhile
                    await self._share_again()

    async def _stop_share_timer(self) -> None:
        task, self._share_timer = self._share_timer, None
        if task is None:
            return
        async with self._tx.held():  # so it is not cancelled half-way through a switch
            task.cancel()
        await asyncio.wait([task])

    def _room_to_share(self) -> bool:
        """Whether the disk has room for `_share_again`'s switch: a cheap guard, which
        spares the switch and its way back where it cannot work; its read decides."""
        try:
            free = shutil.disk_usage(self.path.parent).free
        except OSError:
            return True
        wal = 0
        with contextlib.suppress(OSError):
            wal = self.path.with_name(self.path.name + "-wal").stat().st_size
        return free >= SHARE_AGAIN_MARGIN_BYTES + wal

    async def _hold_alone_again(self) -> None:
        """Back to exclusive locking after a failed `_share_again`, where reads need no
        -shm. Leaving WAL then fails where the -shm could not be sized, but that closes
        the WAL, and the next read opens it again in this mode, its index in memory (as
        checked on a full tmpfs); where it can leave, it goes out and back in."""
        for pragma, mode in _ALONE_AGAIN:
            with contextlib.suppress(sqlite3.Error):
                await self._db.execute_fetchall(f"PRAGMA {pragma} = {mode}")
        try:
            await self._db.execute_fetchall(_READS_AT_ALL)
        except sqlite3.Error as exc:  # not seen; said, since each answer then fails
            log.warning("memory: %s cannot be read until its disk has space (%s)", self.path, exc)
            return
        # That read locked out every other process: the -shm the switch made is no one's,
        # and gone, `atri memory` says the file is held (`held_alone`), not busy.
        with contextlib.suppress(OSError):
            self.path.with_name(self.path.name + "-shm").unlink()

    async def close(self) -> None:
        await self._writes.idle()  # what callers are waiting for gets written
        await self.room.idle()
        await self._stop_share_timer()
        await self._close_connections()

    async def _close_connections(self) -> None:
        try:
            if self._tx.reader is not None:
                await self._tx.reader.close()
        finally:
            # Last, so it checkpoints the WAL into the file and removes it (a read-only
            # connection closing last cannot): what was said is in the file alone.
            await self._db.close()

    async def __aenter__(self) -> Memory:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def rollback(self) -> None:
        """Undo what a failed statement left uncommitted. SQLite keeps the transaction
        open after an error (a reset whose second statement found the disk full): it
        would hold the write lock, and the next commit would write the half-done change."""
        async with self._tx.held():
            with contextlib.suppress(Exception):  # a damaged file may fail this too
                await self._db.rollback()

    async def settle_deletions(self) -> bool:
        """After a purge or an edit: what it deleted leaves the file now. secure_delete
        zeroes the freed page in the -wal, but the main file kept the old page (a phone
        number a member had purged, readable by `strings` or in a backup) until SQLite's
        automatic checkpoint, which a quiet community reaches days later; the -wal kept
        the text as first written, too. A checkpoint that truncates the -wal writes the
        zeroed pages into the file and drops the old frames. False when a reader (another
        process) kept it from finishing: the next purge, edit or checkpoint completes it."""
        checkpoint = "PRAGMA wal_checkpoint(TRUNCATE)"
        async with self._tx.held(), self._db.execute(checkpoint) as cur:
            row = await cur.fetchone()
        done = row is not None and row[0] == 0
        if not done:
            log.info("memory: a reader kept the deleted text's old pages in %s for now", self.path)
        return done

    async def schema_version(self) -> int:
        async with self._db.execute("PRAGMA user_version") as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    def _check_not_newer(self, version: int) -> None:
        if version > SCHEMA_VERSION:
            raise ConfigError(
                f"{self.path}: written by a newer ATRI (schema {version} > {SCHEMA_VERSION}); "
                "upgrade ATRI or point [memory] path at another file."
            )

    async def _check_holds_memory(self) -> None:
        """Refuse a database with tables but none of ATRI's: another program's SQLite
        file (`[memory] path` mistyped), which an "upgrade from schema 0" filled with
        ATRI's tables and switched to WAL."""
        rows = await self._db.execute_fetchall(
            "SELECT name FROM sqlite_master WHERE type = 'table'"
            " AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name"
        )
        tables = [str(row[0]) for row in rows]
        if tables and _ATRI_TABLES.isdisjoint(tables):
            raise foreign_database_error(self.path, tables)

    async def _keep_before_migrating(self, version: int) -> Path | None:
        """Where a copy of the file as an older ATRI wrote it was kept (SQLite's backup
        API: one consistent file, the -wal's changes in it), or None: nothing to migrate,
        or nothing in it yet (a database just made). Going back to that ATRI means
        restoring the copy: it refuses a file of a newer schema. A copy that cannot be
        written stops the migration: the file stays as it was."""
        if version >= SCHEMA_VERSION or str(self.path) == ":memory:":
            return None
        if version == 0 and not await self._db.execute_fetchall(
            "SELECT 1 FROM sqlite_master LIMIT 1"
        ):
            return None
        await self._check_alone()
        return await keep_copy(self._db, self.path, version)

    async def _check_alone(self) -> None:
        """Refuse to upgrade a file another process has open: an older ATRI left running
        went on writing into the upgraded file as it knew it (a purge it made was undone
        by the next import). With another connection open, SQLite refuses an exclusive
        lock at once; a file in rollback-journal mode shows no idle reader, and passes."""
        await self._db.execute("PRAGMA busy_timeout = 0")
        await self._db.execute("PRAGMA locking_mode = EXCLUSIVE")
        try:
            await self._db.execute("BEGIN EXCLUSIVE")
            await self._db.execute("ROLLBACK")
        except sqlite3.OperationalError as exc:
            if not is_busy(exc):
                raise
            raise UserError(
                f"{self.path} is open in another program (an older ATRI still running?), "
                "so it is not upgraded under it: stop that, then start again. Nothing was "
                "changed."
            ) from None
        finally:
            await self._db.execute("PRAGMA locking_mode = NORMAL")
            await self._db.execute_fetchall("SELECT 1 FROM sqlite_master LIMIT 1")
            await self._db.execute(busy_timeout_pragma())

    async def _migrate(self, version: int) -> None:
        """Every step the file lacks, in one transaction: a step that fails leaves the file
        as it was (one that failed after others left it half upgraded, a schema that no
        ATRI wrote)."""
        if version < SCHEMA_VERSION:
            steps = "".join(
                f"{MIGRATIONS[step]}\nPRAGMA user_version = {step + 1};\n"
                for step in range(version, SCHEMA_VERSION)
            )
            try:
                await self._db.executescript(f"BEGIN;\n{steps}COMMIT;")
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    await self._db.execute("ROLLBACK")
                raise
        if version == SCHEMA_VERSION:  # nothing was written: find a read-only file now
            # Without waiting for a lock another process holds (an `atri memory import`):
            # a file being written is writable, and the worker or chat started then
            # gave up after the busy timeout, while it answers well under that lock.
            await self._db.execute("PRAGMA busy_timeout = 0")
            try:
                await self._db.execute(f"PRAGMA user_version = {version}")
            except sqlite3.Error as exc:
                if failure_kind(exc)[0] == "full":
                    # Writable once there is space: `open` refuses a command, and a
                    # worker or chat says it once (not for every caller) and answers.
                    self.full_at_open = exc
                elif not is_busy(exc):
                    raise
            finally:
                await self._db.execute(busy_timeout_pragma())

    async def append(
        self,
        scope: str,
        role: str,
        user_id: str,
        content: str,
        display_name: str = "",
        adapter_version: str = "",
    ) -> None:
        await self.append_many(scope, [(role, user_id, display_name, content, adapter_version)])

    async def append_many(
        self,
        scope: str,
        rows: Sequence[tuple[str, str, str, str, str]],
        request_id: str = "",
        while_live: int | None = None,
        reset_mark: int | None = None,
    ) -> None:
        """Store (role, user_id, display_name, content, adapter_version) rows, all answering
        the platform message `request_id`; returns once they are committed. Concurrent
        callers share one transaction (group commit), and no caller's reply goes out
        before its rows are on disk. With `while_live` (the newest message the reply was
        made from), nothing is stored once none of the messages up to it is live: a reset
        or purge (here or from `atri memory`) ended the context the reply came from (one
        exchange recalled meanwhile leaves the others live). With `reset_mark` too, none
        left at all (not even archived) is stored after: they were deleted for their age
        (`delete_older`), which ends nothing, as a purge is recorded in `resets`. A
        message an import moved to a new id (`said_order`) still counts by the id it had
        (`first_id`): the import ended nothing. Messages an import adds get ids above every one used before, so
        after a reset they never count, however long before the reply they were said.
        With `reset_mark` (`Conversation.reset_mark` of the read the reply was made from),
        nothing is stored once the scope was reset or purged since (its record in `resets`
        is newer): this holds also when nothing was live to check (a first reply), and for a
        purge of the person whose message the rows answer (`purge` of their key)."""
        now = time.time()
        people = _person_keys(scope, rows) if reset_mark is not None else (None, None)
        with self._tx.touching(Touch(scopes=frozenset([scope]))):
            await self._writes.submit(
                [
                    (scope, *row[:4], now, row[4], request_id, while_live, reset_mark, *people)
                    for row in rows
                ]
            )

    async def _insert_groups(self, groups: list[list[tuple[Any, ...]]]) -> list[Any]:
        error = await self._insert([params for group in groups for params in group])
        if error is None or len(groups) == 1:
            return [error] * len(groups)
        # One caller's bad row must not fail the others: write each alone.
        return [await self._insert(group) for group in groups]

    async def _insert(self, params: list[tuple[Any, ...]]) -> Exception | None:
        """One transaction; the error (rolled back) instead of raising it."""
        try:
            async with self._tx.held_to_write():  # a moved file: nothing written
                await self._db.executemany(_INSERT_UNLESS_RESET, params)
                await self._tx.commit()
        except Exception as exc:  # disk full, a constraint: the caller hears it
            return exc
        return None

    async def _read_groups(self, requests: list[tuple[str, int, bool]]) -> list[Any]:
        """The newest live rows of several scopes, the live summary of those that ask for
        it and the newest reset recorded, in one query: each part walks its scope's index
        and stops at its limit. One statement reads one snapshot, so a summary is never
        newer than the messages read beside it, nor a reset missed between them."""
        limits: dict[str, int] = {}
        summarized: set[str] = set()
        for scope, limit, with_summary in requests:  # a scope asked for twice is read once
            limits[scope] = max(limit, limits.get(scope, 0))
            if with_summary:
                summarized.add(scope)
        parts = [_MESSAGES_PART] * len(limits) + [_SUMMARY_PART] * len(summarized)
        parts.append(_RESETS_PART)
        # Each caller waited for the writes touching its scope (`conversation`).
        found = await self._tx.fetch(
            " UNION ALL ".join(parts),
            [v for item in limits.items() for v in item] + list(summarized),
        )
        by_scope: dict[str, list[aiosqlite.Row]] = {scope: [] for scope in limits}
        summaries: dict[str, Summary] = {}
        reset_mark = 0
        for row in found:
            if row["role"] == _RESETS_ROLE:
                reset_mark = int(row["id"])
            elif row["role"] == _SUMMARY_ROLE:
                as_summary = dict(zip(row.keys(), row, strict=True))
                as_summary.update(id=row["request_id"], text=row["content"], covers_up_to=row["id"])
                summaries[row["scope"]] = to_summary(as_summary)
            else:
                by_scope[row["scope"]].append(row)
        for rows in by_scope.values():  # SQL leaves the order of a union's rows open
            rows.sort(key=lambda row: row["id"], reverse=True)
        return [
            Conversation(
                live_context(by_scope[scope][:limit], self._decoded.message),
                summaries.get(scope) if with_summary else None,
                reset_mark,
            )
            for scope, limit, with_summary in requests
        ]

    async def _read_whole(
        self, keys: Sequence[ReadKey], sql: str, params: Sequence[Any]
    ) -> Iterable[aiosqlite.Row]:
        """A read of the worker's (a prompt's, the summarizer's, a delete's) of `keys`
        that sees each write touching them that began before it whole, and none half
        done (`OneTransaction.read`), without waiting for writes that touch other
        conversations. Not for a read inside a write (`purge`'s): it would wait for itself."""
        return await self._tx.read(keys, sql, params)

    async def history(self, scope: str, max_messages: int = 200) -> list[Message]:
        """The live context, oldest first: the newest `max_messages` messages, less a
        reply at the start whose question fell outside that window (the model never
        sees an answer without its question). Fitting it into the model's context
        window is `character.prompt.fit_prompt`'s job."""
        return (await self.conversation(scope, max_messages, with_summary=False)).messages

    async def conversation(
        self, scope: str, max_messages: int = 200, with_summary: bool = True
    ) -> Conversation:
        """`history` and (`with_summary`) `summary` of the scope, and the reset mark a
        reply made from them stores its exchange with (`append_many`), from one read, so
        they agree: a summary written meanwhile cannot cover messages the history was
        read without."""
        found: Conversation = await self._tx.inflight.read(
            [("scope", scope)], lambda: self._reads.submit((scope, max_messages, with_summary))
        )
        return found

    async def all_messages(self, scope: str, include_archived: bool = True) -> list[Message]:
        query = "SELECT * FROM messages WHERE scope = ?"
        if not include_archived:
            query += " AND archived = 0"
        async with self._db.execute(query + " ORDER BY id", (scope,)) as cur:
            return [to_message(r) for r in await cur.fetchall()]

    async def summary(self, scope: str) -> Summary | None:
        """The scope's live summary (the newest), if one was written since its last reset."""
        rows = await self._read_whole(
            [("scope", scope)],
            "SELECT * FROM summaries WHERE scope = ? AND archived = 0"
            " ORDER BY covers_up_to DESC, id DESC LIMIT 1",
            (scope,),
        )
        return next((to_summary(r) for r in rows), None)

    async def all_summaries(self, scope: str) -> list[Summary]:
        """Every summary of the scope, archived ones included, oldest first."""
        rows = await self._db.execute_fetchall(
            "SELECT * FROM summaries WHERE scope = ? ORDER BY id", (scope,)
        )
        return [to_summary(r) for r in rows]

    async def messages_after(
        self, scope: str, after_id: int, limit: int | None = None
    ) -> list[Message]:
        """The scope's live messages with an id above `after_id`, oldest first (the
        first `limit` of them, if given)."""
        rows = await self._read_whole(
            [("scope", scope)],
            "SELECT * FROM messages WHERE scope = ? AND archived = 0 AND id > ? ORDER BY id"
            " LIMIT ?",
            (scope, after_id, -1 if limit is None else limit),
        )
        return [to_message(r) for r in rows]

    async def speakers_of(self, scope: str) -> list[tuple[str, str]]:
        """(user id, display name) of each person's live messages in the scope, once
        each: who a summary of some of them must tell apart from whom."""
        rows = await self._read_whole(
            [("scope", scope)],
            "SELECT DISTINCT user_id, display_name FROM messages"
            " WHERE scope = ? AND archived = 0 AND role = 'user'",
            (scope,),
        )
        return [(str(r["user_id"]), str(r["display_name"])) for r in rows]

    @contextlib.contextmanager
    def folding(self, scope: str) -> Iterator[None]:
        """Around the writing of a summary of the scope (`Summarizer.fold`): from its
        start, what is taken back from the scope is counted (`taken_back`); the count
        goes when the last fold of the scope ends."""
        self._folding[scope] += 1
        try:
            yield
        finally:
            self._folding[scope] -= 1
            if not self._folding[scope]:
                del self._folding[scope]
                self._taken_back.pop(scope, None)

    def taken_back(self, scope: str) -> int:
        """How many exchanges of the scope were cut, recalled, edited or purged since its
        summary began being written (`folding`); 0 when none is."""
        return self._taken_back.get(scope, 0)

    def _take_back(self, scope: str) -> None:
        """Count an exchange of the scope taken back, for a summary being written of it.
        Called before any await: a summary being stored sees it."""
        if scope in self._folding:
            self._taken_back[scope] += 1

    async def add_summary(
        self,
        scope: str,
        text: str,
        covers_up_to: int,
        adapter_version: str = "",
        taken_back: int | None = None,
        extends: Summary | None = None,
    ) -> bool:
        """Store a new summary for the scope in place of its live one. Refused (False) when the last message it
        covers is no longer live: a reset landed while it was being written, and a
        summary of an ended context must not lead the next one. Refused too when an
        exchange was cut or recalled since `taken_back` (`taken_back(scope)` read before
        the messages it summarizes): it may hold what was taken back. Refused too when
        the live summary ends after its last message: one imported while it was being
        written covers later exchanges and stays (the summary ending latest leads, as
        `import_export` keeps it).

        `extends`: the summary it was written from, which it holds; deleted (a rolling
        summary) if still live. Any other live summary (one imported while it was being
        written) is archived, as an import archives one: the new one holds none of it."""
        async with self._tx.writing(Touch(scopes=frozenset([scope]))):
            if taken_back is not None and taken_back != self.taken_back(scope):
                return False
            cur = await self._db.execute(
                "INSERT INTO summaries (scope, text, covers_up_to, adapter_version, created_at)"
                " SELECT ?1, ?2, ?3, ?4, ?5 WHERE EXISTS (SELECT 1 FROM messages WHERE id = ?3"
                " AND scope = ?1 AND archived = 0) AND NOT EXISTS (SELECT 1 FROM summaries"
                " WHERE scope = ?1 AND archived = 0 AND covers_up_to > ?3)",
                (scope, text, covers_up_to, adapter_version, time.time()),
            )
            if cur.rowcount == 1:
                if extends is not None:  # a rolling summary: the new one holds what it did
                    await self._db.execute(
                        "DELETE FROM summaries WHERE id = ? AND scope = ? AND archived = 0",
                        (extends.id, scope),
                    )
                await self._archive_superseded_summaries(scope)
            await self._tx.commit()
        return cur.rowcount == 1

    async def _archive_superseded_summaries(self, scope: str) -> None:
        """Keep one live summary, the one her prompt reads (ending latest): an import
        beside the scope's own live summary archives whichever of the two ends earlier,
        as a reset archives one (kept, exported, shown by `atri memory show --archived`)."""
        await self._db.execute(
            "UPDATE summaries SET archived = 1 WHERE scope = ?1 AND archived = 0 AND id <> ("
            "SELECT id FROM summaries WHERE scope = ?1 AND archived = 0"
            " ORDER BY covers_up_to DESC, id DESC LIMIT 1)",
            (scope,),
        )

    @contextlib.asynccontextmanager
    async def changing(self, *touches: Touch) -> AsyncIterator[None]:
        """Around a change made of several writes (a channel's room lines, then its
        conversations): one transaction (`OneTransaction.together`), so a read here of
        what `touches` name waits for all of it (`WritesInFlight`), and another process
        (`atri memory export`, or the worker beside `atri memory purge`) sees all of it
        or none."""
        with contextlib.ExitStack() as touched:
            for touch in touches:  # before any wait: a read from now on waits for it
                touched.enter_context(self._tx.touching(touch))
            if not self._tx.inside_together():  # else the change it is part of did
                await self.room.idle()  # a line being written is covered too
            async with self._tx.together():
                yield

    def changing_conversations(self, scope: str) -> contextlib.AbstractAsyncContextManager[None]:
        """`changing` of the conversations a reset of `scope` changes
        (`_conversations_touch`): for a channel's key, the one it shares (`scope =
        "channel"`) and its members' own (`"user_in_channel"`)."""
        return self.changing(_conversations_touch(scope, shared=False))

    async def reset(self, scope: str) -> int:
        """End the scope's context: its messages and summary are archived and hidden from
        the model, and a reply being written from it is not stored (`_record_reset`)."""
        return await self._reset(scope, person=False)

    async def _reset(self, scope: str, person: bool) -> int:
        """`reset`; with `person` (a person's key on the platform, `qq:user:42`) their own
        conversations in every channel too (`member_scopes_of`, read under SQLite's write
        lock, so one begun meanwhile, by another process too, is not left out), in one
        transaction. A reply being written
        in one of theirs that holds nothing yet (a first message in a group) is not
        stored either (`_RESET_OWN`), as a channel's reset reaches a member's first."""
        archived = 0
        async with self._tx.writing(_reset_touch(scope, person)):
            if person:  # the worker storing their first exchange in a group waits, then
                await self._tx.begin_immediate()  # finds the record (`_RESET_OWN`)
            for key in [scope, *(await self.member_scopes_of(scope) if person else [])]:
                cur = await self._db.execute(
                    "UPDATE messages SET archived = 1 WHERE scope = ? AND archived = 0", (key,)
                )
                await self._db.execute(
                    "UPDATE summaries SET archived = 1 WHERE scope = ? AND archived = 0", (key,)
                )
                await self._record_reset(key)
                archived += cur.rowcount
            if person:
                await self._record_reset(scope, _RESET_OWN)
            await self._tx.commit()
        return archived

    async def _record_reset(self, scope: str, reaches: int = _RESET_SCOPE) -> None:
        """A reset of `scope` in `resets` (of what `reaches` says, `_RESET_SCOPE` …),
        newer than any before it, so a reply being written from before it is not stored
        (`append_many`). Part of the caller's transaction; old records go meanwhile."""
        await record_reset(self._db, scope, reaches)

    async def cut_reply(
        self, scope: str, request_id: str, sent: str, keep_message: bool = False
    ) -> int:
        """Her live reply to `request_id` only reached the platform as `sent`: it is
        stored as that. When nothing was sent, the exchange is archived whole, or with
        `keep_message` her reply alone (the message stays, unanswered). Only the newest
        live exchange of the message is touched: one stored twice (a platform delivering
        it again, answered twice by a release before the worker answered each message
        once) keeps the reply that was read."""
        if not request_id:
            return 0
        # Nothing sent: the exchange, or her reply alone, archived (kept, as a reset
        # keeps it); else her reply cut to `sent`.
        change = "archived = 1" if not sent else "content = ?"
        only_reply = "" if not sent and not keep_message else " AND role = 'assistant'"
        self._take_back(scope)
        async with self._tx.writing(Touch(scopes=frozenset([scope]))):
            await self._drop_summary_holding(scope, request_id)
            cur = await self._db.execute(
                f"UPDATE messages SET {change} WHERE +scope = ? AND {BY_REQUEST}"
                f" AND +archived = 0{only_reply} AND id >= (SELECT COALESCE(MAX(id), 0)"
                f" FROM messages WHERE +scope = ? AND {BY_REQUEST} AND role = 'user'"
                " AND +archived = 0)",
                ((sent,) if sent else ()) + (scope, request_id, scope, request_id),
            )
            await self._tx.commit()
        return cur.rowcount

    async def reword_message(
        self, scope: str, user_id: str, request_id: str, text: str, edited_at: float | None = None
    ) -> int:
        """The person's message `request_id` was edited at `edited_at` (the platform's
        time): its stored copy says `text` instead, an archived one too, so the old text
        (a phone number edited out) is gone from the database, unless it holds a newer
        edit already (an older one reached the worker late). None (the platform told no
        time): newer than every edit before it, dated now or the copy's edit time if
        later, so a clock stepped back meanwhile keeps no edit out. A live summary that
        folded the old text in is deleted, to be written again from the messages as they
        are now."""
        if not (scope and user_id and request_id and text):
            return 0
        at = time.time() if edited_at is None else edited_at
        self._take_back(scope)
        async with self._tx.writing(Touch(scopes=frozenset([scope]))):
            cur = await self._db.execute(
                "UPDATE messages SET content = ?, edited_at = MAX(edited_at, ?) WHERE +scope = ?"
                f" AND {BY_REQUEST} AND role = 'user' AND +user_id = ?"
                " AND (? OR edited_at <= ?)",
                (text, at, scope, request_id, user_id, edited_at is None, at),
            )
            if cur.rowcount:
                await self._drop_summary_holding(scope, request_id)
                await self._drop_summary_holding(scope, request_id, archived=True)
            await self._tx.commit()
        return cur.rowcount

    async def scopes_holding(self, platform: str, request_id: str) -> list[str]:
        """The scopes of `platform` where the platform message `request_id` (or her reply
        to it) is live: for a delete that does not say whose message it was."""
        if not request_id:
            return []
        rows = await self._read_whole(
            [("scopes", platform)],
            "SELECT DISTINCT scope FROM messages WHERE request_id = ? AND request_id != ''"
            " AND archived = 0 AND substr(scope, 1, ?) = ?",
            (request_id, len(platform) + 1, f"{platform}:"),
        )
        return [str(row[0]) for row in rows]

    async def holds_request(
        self, scope: str, request_id: str, user_id: str, text: str, since: float = 0.0
    ) -> bool:
        """Whether an exchange of `user_id`'s platform message `request_id` saying `text`
        stored in `scope` at `since` (seconds since 1970) or later is kept, live or
        archived (reset, recalled or cut since): she answered it. The text stored may be
        the end of `text` only (a message too long for her prompt). Another person, or
        another text, under the same id is a new message: a OneBot implementation whose
        counter started again, or whose ids are per chat, reuses its ids."""
        if not request_id:
            return False
        check = (request_id, scope, user_id, text, since)
        found: bool = await self._tx.inflight.read(
            [("scope", scope)], lambda: self._checks.submit(check)
        )
        return found

    async def _holds_groups(self, checks: list[tuple[str, str, str, str, float]]) -> list[Any]:
        """Several `holds_request` checks, each caller's answer (or error)."""
        try:
            found = await self._holds_found(checks)
        except Exception:
            if len(checks) == 1:
                raise
            # One caller's bad check (text that can't be bound) must not fail the others:
            # answer each alone.
            return [await self._holds_alone(check) for check in checks]
        return [place in found for place in range(len(checks))]

    async def _holds_alone(self, check: tuple[str, str, str, str, float]) -> bool | Exception:
        """One check's answer, or its error instead of raising it."""
        try:
            return bool(await self._holds_found([check]))
        except Exception as exc:
            return exc

    async def _holds_found(self, checks: list[tuple[str, str, str, str, float]]) -> set[int]:
        """The places of the checks that hold, a statement for each
        `_CHECKS_PER_STATEMENT` of them (one trip to the database thread is most of a
        check's cost), each part through the index of ids. Each caller waited for the
        writes touching its scope."""
        found: set[int] = set()
        for start in range(0, len(checks), _CHECKS_PER_STATEMENT):
            some = checks[start : start + _CHECKS_PER_STATEMENT]
            parts = [_HOLDS_PART.format(place=start + n) for n in range(len(some))]
            rows = await self._tx.fetch(" UNION ALL ".join(parts), [v for c in some for v in c])
            found.update(int(row[0]) for row in rows)
        return found

    async def archive_request(self, scope: str, request_id: str) -> int:
        """Hide one exchange from the model (its message was deleted or recalled)."""
        if not request_id:
            return 0
        self._take_back(scope)
        async with self._tx.writing(Touch(scopes=frozenset([scope]))):
            await self._drop_summary_holding(scope, request_id)
            cur = await self._db.execute(
                f"UPDATE messages SET archived = 1 WHERE +scope = ? AND {BY_REQUEST}"
                " AND +archived = 0",
                (scope, request_id),
            )
            await self._tx.commit()
        return cur.rowcount

    async def _drop_summary_holding(
        self, scope: str, request_id: str, archived: bool = False, first_id: int | None = None
    ) -> None:
        """A live summary already folded the exchange being changed: deleted (not archived:
        what was taken back must go), so the summarizer writes it again from the
        messages still kept. `archived`: the archived summaries that may hold an archived
        message instead (an edit of one a reset hid, whose old text must go too); which
        of them folded it is not recorded, so each covering its id goes, one of a later
        reset's conversation too. `first_id`: the first message changed named by its id
        instead (replies repeating forgotten words, `_take_out_repeats`, which may have no
        request id). Part of the caller's transaction."""
        flag = int(archived)
        params: tuple[Any, ...] = (first_id,)
        first = "?"
        if first_id is None:
            first = f"(SELECT MIN(id) FROM messages WHERE +scope = ? AND {BY_REQUEST} AND +archived = ?)"
            params = (scope, request_id, flag)
        await self._db.execute(
            f"DELETE FROM summaries WHERE scope = ? AND archived = ? AND covers_up_to >= {first}",
            (scope, flag, *params),
        )

    async def archive_repeats(
        self, platform: str, request_id: str, user_id: str, scopes: Sequence[str], room: str
    ) -> int:
        """A message recalled or deleted (its exchange in `scopes`, its line in `room`
        archived already): her live replies on the platform since that repeat it
        (`purged.Repeats`), in anyone's conversation (a reply to another member who asked what
        was said), are archived as a reset would, so its words reach no later prompt of
        theirs either. Replies archived.

        The candidates are her live replies of the platform stored since the message,
        read by their time (`messages_replies`): a recall follows its message closely (a
        QQ member's within two minutes), so they are few; the delete of an old message (a
        Discord moderator's, a bulk delete) reads those of the day after it alone
        (`RECALLED_REPEATS_WITHIN_SECONDS`), not every reply since, each under the write
        lock that holds back the other replies' writes."""
        said = await self._words_recalled(request_id, user_id, scopes, room)
        if not Repeats(text for text, _ in said):
            return 0  # never stored (a Discord delete of an unknown message), or too short
        # Every conversation of the platform may hold such a reply: reads there wait.
        async with self._tx.writing(Touch(scope_prefixes=(f"{platform}:",))):
            count = await self._take_out_repeats(
                platform, said, delete=False, within=RECALLED_REPEATS_WITHIN_SECONDS
            )
            await self._tx.commit()
        return count

    async def _words_recalled(
        self, request_id: str, user_id: str, scopes: Sequence[str], room: str
    ) -> list[tuple[str, float]]:
        """(text, created at) of the recalled message as stored in `scopes` and `room`,
        from the last commit (its archive is committed already), outside any write: most
        deletes name a message never stored, and they take no write lock then."""
        if not request_id:
            return []
        whose = " AND +user_id = ?" if user_id else ""
        rows: list[Any] = []
        for scope in scopes:
            rows += await self._tx.fetch(
                f"SELECT content, created_at FROM messages WHERE {BY_REQUEST}"
                f" AND +scope = ? AND role = 'user'{whose}",
                (request_id, scope, *([user_id] if user_id else [])),
            )
        if room:
            rows += await self._tx.fetch(
                "SELECT content, created_at FROM room_lines WHERE room = ?"
                f" AND request_id = ? AND request_id != ''{whose}",
                (room, request_id, *([user_id] if user_id else [])),
            )
        return [(as_text(text), float(at)) for text, at in rows]

    async def _take_out_repeats(
        self,
        platform: str,
        said: Sequence[tuple[str, float]],
        delete: bool,
        within: float | None = None,
    ) -> int:
        """Her replies on `platform` stored since the earliest of `said` ((text, created
        at) of words being forgotten) that repeat one of them: archived (a recall, as a
        reset hides them), or with `delete` (a purge of their author) deleted, archived
        ones too, and each summary that folded one in dropped (`_drop_summary_holding`).
        Her reply alone: the message it answered is the asker's own words, which the
        forgotten person has no say over, and stays (unanswered). One read of the
        candidates, however many texts: a purge of a person with 500 messages spread
        over a database of 100,000 (50,000 of her replies since their first) took about
        1 s here, most of it matching those replies.
        `within`: only replies stored so long after the newest of `said` (a recall's).
        Part of the caller's transaction. Replies taken out."""
        repeats = Repeats(text for text, _ in said)
        if not repeats:
            return 0
        since = min(float(at) for _, at in said)
        bounds: tuple[float, ...] = (since,)
        when = "created_at >= ?"
        if within is not None:
            when += " AND created_at < ?"
            bounds += (max(float(at) for _, at in said) + within,)
        live = "" if delete else " AND archived = 0"
        # Through `messages_replies` (its WHERE says `role = 'assistant'`), those since
        # alone; `+scope` keeps SQLite off `messages_scope`, which would walk every
        # conversation of the platform.
        rows = await self._db.execute_fetchall(
            f"SELECT id, scope, content FROM messages WHERE role = 'assistant' AND {when}"
            f" AND +scope >= ? AND +scope < ?{live}",
            (*bounds, *key_range(f"{platform}:")),
        )
        found: dict[str, list[int]] = {}
        for message_id, scope, content in rows:
            if repeats.found_in(as_text(content)):
                found.setdefault(as_text(scope), []).append(int(message_id))
        change = "DELETE FROM messages" if delete else "UPDATE messages SET archived = 1"
        for scope, ids in found.items():
            self._take_back(scope)
            await self._drop_summary_holding(scope, "", first_id=min(ids))
            if delete:  # an archived summary may hold it too, and a purge leaves none
                await self._drop_summary_holding(scope, "", archived=True, first_id=min(ids))
            await self._db.executemany(f"{change} WHERE id = ?", [(i,) for i in ids])
        return sum(len(ids) for ids in found.values())

    async def _words_of(
        self,
        platform: str,
        user_id: str,
        room: str = "",
        scope: str = "",
        with_lines: bool = True,
    ) -> list[tuple[str, float]]:
        """(text, created at) of a person's words a purge of them deletes: their messages
        (in the conversation `scope` alone; else in those of `room`, or of the whole
        platform) and, `with_lines`, their room lines (in `room`, or every room of the
        platform). Read inside the purge's transaction, before it deletes them."""
        # Both through indexes (`messages_user`, `room_lines_user`): their own rows only.
        rows = await self._db.execute_fetchall(
            "SELECT content, created_at, scope FROM messages WHERE user_id = ? AND role = 'user'"
            " AND scope >= ? AND scope < ?",
            (user_id, *key_range(scope or room or f"{platform}:")),
        )
        said = [
            (as_text(text), float(at))
            for text, at, key in rows
            # A key range of `qq:chan:7` holds `qq:chan:70`'s too.
            if (key == scope if scope else not room or parse_scope(as_text(key))[2] == room)
        ]
        if with_lines:
            in_room = " AND room = ?" if room else ""
            lines = await self._db.execute_fetchall(
                "SELECT content, created_at FROM room_lines WHERE platform = ? AND user_id = ?"
                + in_room,
                (platform, user_id, *([room] if room else [])),
            )
            said += [(as_text(text), float(at)) for text, at in lines]
        return said

    async def archive_channels(
        self, platform: str, guild_id: str, channel_ids: Sequence[str], request_ids: Sequence[str]
    ) -> int:
        """Channels deleted on their platform (a thread, or a channel and its threads):
        what was kept of them is archived as a deleted message's exchange is
        (`archive_request`), in one transaction: their room lines, the conversations
        keyed by them (`[memory] scope = "channel"`, `"user_in_channel"`; a reply being
        written there is not stored), and the exchanges of `request_ids` (their messages
        as far as the bot knows them) wherever kept. A live summary holding any of it is
        deleted; their channel modes go. Returns the messages and lines archived."""
        rooms = [channel_prefix(platform, channel, guild_id) for channel in channel_ids]
        held = await self._exchanges_of(platform, request_ids)
        conversations = Touch(
            scopes=frozenset([*rooms, *(scope for scope, _ in held)]),
            scope_prefixes=tuple(f"{room}:" for room in rooms),
        )
        archived = 0
        async with self.changing(conversations, Touch(rooms=frozenset(rooms))):
            for room in rooms:
                archived += await self.room.archive_room(room)
                archived += await self._archive_conversations_of(room)
            for scope, request_id in held:
                archived += await self.archive_request(scope, request_id)
            await self._forget_channel_modes(platform, channel_ids)
        return archived

    async def _exchanges_of(
        self, platform: str, request_ids: Sequence[str]
    ) -> list[tuple[str, str]]:
        """(scope, request id) of each live exchange of `platform` answering one of
        `request_ids`, in whichever conversation (`scopes_holding` of many at once)."""
        ids = sorted({request_id for request_id in request_ids if request_id})
        found: list[tuple[str, str]] = []
        for start in range(0, len(ids), _IDS_PER_STATEMENT):
            chunk = ids[start : start + _IDS_PER_STATEMENT]
            rows = await self._read_whole(
                [("scopes", platform)],
                f"SELECT DISTINCT scope, request_id FROM messages WHERE request_id IN"
                f" ({', '.join('?' * len(chunk))}) AND request_id != '' AND archived = 0"
                " AND substr(scope, 1, ?) = ?",
                (*chunk, len(platform) + 1, f"{platform}:"),
            )
            found += [(str(scope), str(request_id)) for scope, request_id in rows]
        return found

    async def _archive_conversations_of(self, room: str) -> int:
        """Inside `changing`: the conversations keyed by a deleted channel (its shared
        one, its members' own) archived, their live summaries deleted (what was taken
        back must go), and a reset of them recorded (`_record_reset`)."""
        where = "(scope = ? OR (scope >= ? AND scope < ?)) AND archived = 0"
        params = (room, *key_range(f"{room}:"))
        await self._db.execute(f"DELETE FROM summaries WHERE {where}", params)
        cur = await self._db.execute(f"UPDATE messages SET archived = 1 WHERE {where}", params)
        await self._record_reset(room)
        await self._record_reset(f"{room}:", _RESET_PREFIX)
        return cur.rowcount

    async def _forget_channel_modes(self, platform: str, channel_ids: Sequence[str]) -> None:
        """Inside `changing`: a deleted channel's mode row (none in a database no worker
        opened: the table is made then)."""
        if await table_made(self._db.execute_fetchall):
            await self._db.executemany(
                "DELETE FROM channel_modes WHERE platform = ? AND channel_id = ?",
                [(platform, channel) for channel in channel_ids],
            )

    async def channel_modes(self, platform: str) -> dict[str, ChannelMode]:
        """`ChannelModes.modes` on this connection, for a file held `alone`, which no
        other connection can open: the last commit, never a mode change half done. Empty
        where no table was made yet (it is made at the first mode set)."""
        if not await table_made(self._tx.fetch):
            return {}
        rows = await self._tx.fetch(
            "SELECT channel_id, mode FROM channel_modes WHERE platform = ?", (platform,)
        )
        return {str(channel): mode for channel, mode in rows}

    async def set_channel_mode(
        self, platform: str, channel_id: str, mode: ChannelMode, at: float
    ) -> None:
        """`ChannelModes.set` on this connection, as one of its own writes: its own
        transaction (a full disk rolls back this alone), whose commit may share the file
        again (`after_commit`)."""
        async with self._tx.held_to_write():
            await self._db.execute(CHANNEL_MODES_SCHEMA)
            await store_mode(self._db, platform, channel_id, mode, at)
            await self._tx.commit()

    async def reset_prefix(self, prefix: str) -> int:
        """Reset every scope whose key starts with `prefix` (all users of one channel)."""
        async with self._tx.writing(Touch(scope_prefixes=(prefix,))):
            cur = await self._db.execute(
                "UPDATE messages SET archived = 1 WHERE scope >= ? AND scope < ? AND archived = 0",
                key_range(prefix),
            )
            await self._db.execute(
                "UPDATE summaries SET archived = 1 WHERE scope >= ? AND scope < ? AND archived = 0",
                key_range(prefix),
            )
            await self._record_reset(prefix, _RESET_PREFIX)
            await self._tx.commit()
        return cur.rowcount

    async def reset_with_room(self, scope: str) -> tuple[int, int]:
        """`atri memory reset`: `reset`, and the room lines the scope names archived, as
        `purge` deletes them: a channel's key, its room's lines and its members' own
        conversations there (`[memory] scope = "user_in_channel"`); a user's key, that
        user's lines (in its channel, or on its whole platform) and, for their key on the
        platform, their own conversations in every channel (`member_scopes_of`).
        (messages, room lines) archived."""
        platform, user_id, room = parse_scope(scope)
        person = bool(user_id) and not room
        touches = _conversations_touch(scope, shared=False), _lines_touch(platform, user_id, room)
        async with self.changing(*touches):
            if user_id:
                lines = await self.room.archive_user(platform, user_id, room)
            else:
                lines = await self.room.archive_room(room) if room else 0
            messages = await self._reset(scope, person)
            if room and not user_id:
                messages += await self.reset_prefix(f"{room}:")
        return messages, lines

    async def purge_prefix(self, prefix: str, at: float | None = None) -> int:
        """Delete every scope whose key starts with `prefix` (all users of one channel), as
        `purge` deletes one; room lines are the caller's (who read `at`, `purge_time`,
        before deleting them)."""
        at = await self.purge_time() if at is None else at
        async with self._tx.writing(Touch(scope_prefixes=(prefix,))):
            cur = await self._db.execute(
                "DELETE FROM messages WHERE scope >= ? AND scope < ?", key_range(prefix)
            )
            await self._db.execute(
                "DELETE FROM summaries WHERE scope >= ? AND scope < ?", key_range(prefix)
            )
            await self._record_reset(prefix, _RESET_PREFIX)
            await self._tx.commit()
        await self.record_purge(prefix.removesuffix(":"), at)
        return cur.rowcount

    async def remembers(self, scope: str) -> bool:
        """Whether anything is stored under the scope: messages, summaries, or the room
        lines a reset or purge of it would reach (`reset_with_room`, `purge`), or (a
        user's scope) their exchanges in a conversation a channel shares, which a purge
        deletes, or the members' own conversations the key covers (`member_scopes_of`)."""
        platform, user_id, room = parse_scope(scope)
        if user_id and await self._shared_scopes_of(platform, user_id, room):
            return True  # their exchanges in a conversation a channel shares
        if await self.member_scopes_of(scope):
            return True
        rows = await self._db.execute_fetchall(
            "SELECT EXISTS (SELECT 1 FROM messages WHERE scope = ?1)"
            " OR EXISTS (SELECT 1 FROM summaries WHERE scope = ?1)"
            " OR EXISTS (SELECT 1 FROM room_lines WHERE room = ?1)"
            " OR (?2 != '' AND EXISTS (SELECT 1 FROM room_lines WHERE platform = ?3"
            " AND user_id = ?2))",
            (scope, user_id, platform),
        )
        return any(row[0] for row in rows)

    async def member_scopes_of(self, scope: str) -> list[str]:
        """The conversations kept per member of a channel (`[memory] scope =
        "user_in_channel"`, keys such as `qq:chan:7:user:42`) that a key covers beside
        its own: a channel's key, its members' there; a user's key on the platform
        (`qq:user:42`), theirs in every channel. A reset, purge, export or show of the
        key reaches them too, sorted by key."""
        platform, user_id, room = parse_scope(scope)
        if room and not user_id:  # every conversation of the channel
            rows = await self._db.execute_fetchall(
                "SELECT scope FROM messages WHERE scope >= ?1 AND scope < ?2"
                " UNION SELECT scope FROM summaries WHERE scope >= ?1 AND scope < ?2",
                key_range(f"{room}:"),
            )
        elif user_id and not room:  # those the person spoke in (`messages_user`)
            rows = await self._db.execute_fetchall(
                "SELECT scope FROM messages WHERE user_id = ?3 AND role = 'user'"
                " AND scope >= ?1 AND scope < ?2"
                " UNION SELECT scope FROM summaries WHERE scope >= ?1 AND scope < ?2"
                " AND substr(scope, -length(?4)) = ?4",
                (*key_range(f"{platform}:chan:"), user_id, f":user:{user_id}"),
            )
        else:
            return []
        found = []
        for (key,) in rows:
            key_platform, key_user, key_room = parse_scope(as_text(key))
            if room or (key_platform == platform and key_user == user_id and key_room):
                found.append(as_text(key))
        return sorted(found)

    async def purge(self, scope: str, at: float | None = None) -> tuple[int, int]:
        """Delete everything stored for the scope, archived context included. A user's
        scope takes that user's room lines along (in its channel, for a member's key in
        one: `qq:chan:7:user:42`; else in every channel); a channel's scope, the
        channel's room lines. Its key stays in `resets` (no text) for at most
        `room.RESET_RECORD_SECONDS`, so a reply being written does not store it again.
        (messages, room lines) deleted, as `reset_with_room` counts them.

        A user's scope also takes their exchanges out of the conversations a channel
        shares (`[memory] scope = "channel"`; in its channel, or on its whole platform),
        as `purge_user_in` does: their words are in no conversation, prompt or summary
        after a purge of them, whichever scope they were said under. The members' own
        conversations the key covers (`member_scopes_of`: `"user_in_channel"`) go along.
        `at`: the purge's time (`purge_time`), read by a caller that deleted some of it
        already (a channel's room lines)."""
        platform, user_id, room = parse_scope(scope)
        # One transaction (`changing`): a read of what it reaches, here or in another
        # process, never sees half a purge.
        touches = (
            _conversations_touch(scope, shared=True),
            _lines_touch(platform, user_id, room),
        )
        async with self.changing(*touches):
            if at is None:
                at = await self.purge_time()  # before what it reads is deleted
            said = await self._words_of(platform, user_id, room) if user_id else []
            if user_id:
                lines = await self.room.delete_user(platform, user_id, room)
            else:
                lines = await self.room.delete_room(room) if room else 0
            messages = await self._purge_conversations(scope, at)
            # Her replies to others that repeat their words (`_take_out_repeats`). Not in
            # the touches: a read of another person's conversation does not wait for a
            # purge of this one, and sees such a reply until the purge commits.
            messages += await self._take_out_repeats(platform, said, delete=True)
            return messages, lines

    async def _purge_conversations(self, scope: str, at: float) -> int:
        """`purge`'s messages and summaries, inside its one transaction (`changing`,
        which took SQLite's write lock first); messages deleted."""
        platform, user_id, room = parse_scope(scope)
        await self.record_purge(scope, at)
        messages = 0
        for key in [scope] + (await self.member_scopes_of(scope) if user_id else []):
            cur = await self._db.execute("DELETE FROM messages WHERE scope = ?", (key,))
            await self._db.execute("DELETE FROM summaries WHERE scope = ?", (key,))
            await self._record_reset(key)
            messages += cur.rowcount
        if user_id:  # also in a conversation that holds nothing of theirs yet
            await self._record_reset(scope, _RESET_PERSON)
        if user_id:
            for shared in await self._shared_scopes_of(platform, user_id, room):
                messages += await self.purge_user_in(shared, user_id)
        elif room:
            messages += await self.purge_prefix(f"{room}:", at)
        return messages

    async def shared_conversations_of(self, scope: str) -> list[str]:
        """For a user's scope: the conversations channels share that hold their messages
        (`[memory] scope = "channel"`), which a reset of the scope does not end."""
        platform, user_id, room = parse_scope(scope)
        return await self._shared_scopes_of(platform, user_id, room) if user_id else []

    async def shared_exchanges_of(
        self, scope: str, include_archived: bool = True
    ) -> list[tuple[str, list[Message]]]:
        """For a user's scope: each conversation a channel shares that holds their
        messages (`shared_conversations_of`), with their exchanges there (`purged.exchanges_of`),
        which a purge of the scope deletes. Found through indexes (`exchange_messages`),
        as the purge finds them: an export or `show` of one person no longer read a
        group's whole conversation (200,000 messages) into memory."""
        user_id = parse_scope(scope)[1]
        return [
            (key, [m async for m in exchange_messages(self._db, key, user_id, include_archived)])
            for key in await self.shared_conversations_of(scope)
        ]

    async def _shared_scopes_of(self, platform: str, user_id: str, room: str) -> list[str]:
        """The conversations shared by a channel (a channel's key, in `room` or anywhere
        on `platform`) that hold a message of the user."""
        # Through `messages_user`: only the person's messages are read.
        rows = await self._db.execute_fetchall(
            "SELECT DISTINCT scope FROM messages WHERE user_id = ? AND role = 'user'"
            " AND scope >= ? AND scope < ?",
            (user_id, *key_range(room or f"{platform}:chan:")),
        )
        found = []
        for (key,) in rows:
            key_platform, key_user, key_room = parse_scope(as_text(key))
            shared = key_platform == platform and key_room and not key_user
            if shared and (not room or key_room == room):
                found.append(as_text(key))
        return sorted(found)

    async def purge_user_in(self, scope: str, user_id: str) -> int:
        """Delete one person's exchanges (their messages and her replies to them) from a
        conversation shared by a channel (`[memory] scope = "channel"`), and every summary
        that folded any of them in (the summarizer writes it again from what is kept); the
        others' exchanges stay. Messages deleted.

        Her replies to them are those answering the same platform message (`request_id`)
        and those stored right after their message, before anyone's next one: a message
        sent without a platform id (an HTTP client's) still takes her reply along, which
        echoes what they said.

        A reply being written in the conversation meanwhile (from this process or another)
        is not stored (`_record_reset`), as after a reset: it may be one to them, made from
        their words. One to another member then is sent but not remembered. Her replies
        to others that repeat their words are its callers' (`purge`, `purge_member`), which
        take them out once for all they delete (`_take_out_repeats`): that read grows with
        the platform's replies, this one with their exchanges only."""
        self._take_back(scope)
        async with self._tx.writing(Touch(scopes=frozenset([scope]))):
            # Through indexes: reading the whole conversation here held every other
            # reply's write for seconds in a channel of 200,000 messages.
            theirs = await exchange_ids(self._db, scope, user_id)
            await self._record_reset(scope)
            if not theirs:
                await self._tx.commit()
                return 0
            await self._db.execute(
                "DELETE FROM summaries WHERE scope = ? AND covers_up_to >= ?", (scope, theirs[0])
            )
            cur = await self._db.executemany(
                "DELETE FROM messages WHERE id = ? AND scope = ?", [(i, scope) for i in theirs]
            )
            await self._tx.commit()
            return cur.rowcount

    async def purge_member(self, scope: str, user_id: str) -> tuple[int, int]:
        """A person's purge under `[memory] scope = "channel"`: their exchanges in the
        conversation the channel shares (`purge_user_in`) and their room lines in every
        room of the platform, in one transaction as `purge`. (messages, room lines)
        deleted."""
        platform = parse_scope(scope)[0]
        async with self.changing(
            Touch(scopes=frozenset([scope])),
            _lines_touch(platform, user_id, ""),
        ):
            at = await self.purge_time()  # before what it reads is deleted
            said = await self._words_of(platform, user_id, scope=scope, with_lines=True)
            lines = await self.room.delete_user(platform, user_id)
            await self.record_purge(f"{scope}:user:{user_id}", at)
            messages = await self.purge_user_in(scope, user_id)
            return messages + await self._take_out_repeats(platform, said, delete=True), lines

    async def delete_older(self, before: float) -> Deleted:
        """Delete for good every message stored before `before` (epoch seconds), live or
        archived, and every archived summary written before it (`[memory]
        delete_after_days`), in transactions of at most RETENTION_BATCH_ROWS rows with
        the write lock let go between them, so no reply waits on one long write.

        A live summary stays: it is what she remembers of what is deleted. The message
        it ends at (`covers_up_to`) stays as its mark, its text emptied: the summarizer
        folds what comes after it, and an export places the summary after it. Nothing is
        recorded in `resets`: no conversation ends, and a reply made from messages
        deleted meanwhile is still stored (`append_many`'s `while_live`). The caller
        settles the deletions (`settle_deletions`)."""
        deleted, after = Deleted(), 0
        while True:
            # Found outside the write lock, in id order from where the last batch ended,
            # so a sweep reads the table once; the delete checks each row again.
            ids = [
                r[0]
                for r in await self._db.execute_fetchall(
                    "SELECT id FROM messages WHERE id > ? AND created_at < ? ORDER BY id LIMIT ?",
                    (after, before, RETENTION_BATCH_ROWS),
                )
            ]
            if not ids:
                break
            after = ids[-1]
            deleted.messages += await self._delete_messages(ids, before)
            await asyncio.sleep(WRITE_PAUSE_SECONDS)  # a reply's turn at the write lock
        async with self._tx.writing(Touch(everything=True)):
            await self._tx.begin_immediate()
            # A summary's mark older than the rest: its text goes, the row stays.
            await self._db.execute(
                "UPDATE messages SET content = '', display_name = '' WHERE created_at < ?"
                " AND content != '' AND id IN (SELECT covers_up_to FROM summaries"
                " WHERE archived = 0)",
                (before,),
            )
            cur = await self._db.execute(
                "DELETE FROM summaries WHERE archived = 1 AND created_at < ?", (before,)
            )
            deleted.summaries = cur.rowcount
            await self._tx.commit()
        return deleted

    async def _delete_messages(self, ids: list[int], before: float) -> int:
        """One transaction of `delete_older`: those of `ids` still older than `before`
        that no live summary ends at (one written since they were found included)."""
        total = 0
        # A read of any conversation waits for it (`Touch.everything`), as for an import.
        async with self._tx.writing(Touch(everything=True)):
            await self._tx.begin_immediate()
            for start in range(0, len(ids), _IDS_PER_STATEMENT):
                part = ids[start : start + _IDS_PER_STATEMENT]
                cur = await self._db.execute(
                    f"DELETE FROM messages WHERE id IN ({','.join('?' * len(part))})"
                    " AND created_at < ? AND id NOT IN"
                    " (SELECT covers_up_to FROM summaries WHERE archived = 0)",
                    (*part, before),
                )
                total += cur.rowcount
            await self._tx.commit()
        return total

    async def record_purge(self, key: str, at: float | None = None) -> None:
        """Keep that `key` was purged at `at` (`purge_time` when None; no text), for
        good: an import of a file written before leaves out what the purge deleted
        (`purged`). Part of the caller's change (`changing`), else one of its own."""
        if at is None:
            at = await self.purge_time()
        async with self._tx.writing(Touch(scopes=frozenset([key]))):
            await self._db.execute(
                "INSERT OR REPLACE INTO purges (scope, at) VALUES (?, ?)", (key, at)
            )
            await self._tx.commit()

    async def purge_time(self) -> float:
        """The time a purge is kept at: now, or just after the newest time stored, if
        that is later. An import compares what a file holds with it (`purged`), and both
        times come from this machine's clock: a purge made while the clock was behind,
        or of words stored while it ran ahead (a dual-boot PC's local-time hardware
        clock, before NTP), left nothing out, and a restore brought the purged words
        back. Read before the purge deletes them.

        Room lines' newest through their index of times (`room_lines_age`); the
        messages' by a scan (0.3 s at 400,000 rows), kept so: her replies' index
        (`messages_replies`) misses a message left unanswered while the clock ran ahead
        and followed by replies after it was set right, the very case this is for, and
        purges are rare."""
        newest = 0.0
        for table in ("messages", "room_lines"):
            (row,) = await self._db.execute_fetchall(
                f"SELECT MAX(created_at) FROM {table}"
                " WHERE typeof(created_at) IN ('integer', 'real')"
            )
            newest = max(newest, row[0] or 0.0)
        return max(time.time(), newest + PURGE_AFTER_NEWEST_SECONDS)

    async def scopes(self) -> list[dict[str, Any]]:
        """Each scope and each room (a channel's key holding room lines), newest first:
        `total` and `live` messages, `room_total` and `room_live` room lines, and `last`,
        when the newest of them was stored (0: no usable time)."""
        last = "MAX(CASE WHEN typeof(created_at) IN ('integer', 'real') THEN created_at END)"
        rows = [
            dict(r)
            for r in await self._db.execute_fetchall(
                f"SELECT scope, COUNT(*) AS total, SUM(archived = 0) AS live, {last} AS last,"
                " 0 AS room_total, 0 AS room_live FROM messages GROUP BY scope"
            )
        ]
        by_scope: dict[str, dict[str, Any]] = {}
        for row in rows:  # a row written by another program may hold anything
            row["scope"] = as_text(row["scope"])
            row["last"] = as_time(row["last"])
            by_scope.setdefault(row["scope"], row)
        for room, total, live, newest in await self._db.execute_fetchall(
            f"SELECT room, COUNT(*), SUM(archived = 0), {last} FROM room_lines GROUP BY room"
        ):
            key = as_text(room)
            if key not in by_scope:
                by_scope[key] = {"scope": key, "total": 0, "live": 0, "last": 0.0}
                rows.append(by_scope[key])
            row = by_scope[key]
            row.update(room_total=total, room_live=live or 0)
            row["last"] = max(row["last"], as_time(newest))
        return sorted(rows, key=lambda row: row["last"], reverse=True)

    async def export(self, scope: str) -> dict[str, Any]:
        """One scope with what a purge of it reaches, as of one moment (`backups.export`)."""
        return await backups.export(self, scope)

    async def backup(self) -> dict[str, Any]:
        """The whole database as `write_backup` writes it, read back as one dict: every
        scope (with its summaries), every room line, the purges and the channel modes, as
        of one moment. Held whole, so for small databases and tests; the export streams."""
        parts: list[str] = []
        await self.write_backup(parts.append)
        data: dict[str, Any] = json.loads("".join(parts))
        return data

    async def write_backup(self, write: Callable[[str], object]) -> BackupCounts:
        """The whole database as JSON text, handed to `write` in parts as it is read, as
        of one moment (`backups.write_backup`). Returns what it wrote, counted."""
        return await backups.write_backup(self, write)

    async def at_one_moment(self, read: Callable[[Memory], Awaitable[T]]) -> T:
        """`read` run in one read transaction on a connection of its own (one snapshot
        under WAL, which writers do not wait for), so an exchange or a summary the worker
        commits meanwhile is in all of what it reads or none of it: a summary never points
        past the messages beside it. This connection's own writes never join that
        transaction."""
        if str(self.path) == ":memory:":  # no second connection can read it
            return await read(self)
        # This connection's opening made the schema current: a read-only one reads it.
        snapshot, _ = await Memory._connect(self.path, read_only=True)
        try:
            await snapshot._db.execute("BEGIN")  # deferred: the first read fixes it
            return await read(snapshot)
        finally:
            await snapshot.close()  # ends the read transaction

    async def import_export(
        self,
        export: MemoryExport | MemoryBackup,
        include_purged: bool = False,
        planned: Callable[[int], object] | None = None,
    ) -> ImportResult:
        """Add a checked export or backup (`parse_export`), what is stored skipped, in
        parts that a worker beside it waits for a moment only (`backups.import_export`)."""
        return await backups.import_export(self, export, include_purged, planned)


def key_range(prefix: str) -> tuple[str, str | bytes]:
    """The keys starting with `prefix` as a range, `key >= start AND key < end`, which an
    index finds (a prefix compared with substr is read from every key). SQLite compares
    text by its UTF-8 bytes, in code point order: the end is the prefix with its last code
    point one higher (a trailing U+10FFFF dropped first, a surrogate skipped). With none to
    raise (an empty prefix), a blob, which sorts after all text."""
    stem = prefix.rstrip(chr(0x10FFFF))
    if not stem:
        return prefix, b""
    after = ord(stem[-1]) + 1
    if 0xD800 <= after <= 0xDFFF:  # not a character UTF-8 can hold
        after = 0xE000
    return prefix, stem[:-1] + chr(after)


def _person_keys(
    scope: str, rows: Sequence[tuple[str, str, str, str, str]]
) -> tuple[str | None, str | None]:
    """The keys a purge of the person whose message `rows` (an exchange) answer records
    (`_RESET_PERSON`): theirs on the platform, and theirs in the scope's channel (None
    where there is no such person, or no channel)."""
    asker = next((row[1] for row in rows if row[0] == "user" and row[1]), "")
    if not asker:
        return None, None
    platform, _, room = parse_scope(scope)
    return f"{platform}:user:{asker}", f"{room}:user:{asker}" if room else None


def _reset_touch(scope: str, person: bool) -> Touch:
    """What `_reset` changes: the scope; with `person`, every conversation of theirs."""
    platform, user_id, _ = parse_scope(scope)
    people = frozenset([(platform, user_id)]) if person else frozenset()
    return Touch(scopes=frozenset([scope]), people=people)


def _conversations_touch(scope: str, shared: bool) -> Touch:
    """The conversations `reset_with_room` (or with `shared`, `purge`) of `scope` changes:
    the scope; a person's key on the platform, their own in every channel too; a
    channel's key, its members'; with `shared`, a person's key, also those a channel
    shares (`_shared_scopes_of`: in its channel, else on the whole platform, which holds
    the ones their exchanges are in)."""
    platform, user_id, room = parse_scope(scope)
    if not user_id:
        return Touch(scopes=frozenset([scope]), scope_prefixes=(f"{room}:",) if room else ())
    own = _reset_touch(scope, person=not room)
    if not shared:
        return own
    if room:  # a channel shares one conversation, keyed as its room
        return Touch(scopes=frozenset([scope, room]))
    return Touch(scopes=own.scopes, people=own.people, shared_on=frozenset([platform]))


def _lines_touch(platform: str, user_id: str, room: str) -> Touch:
    """The rooms whose lines a reset or purge of a key changes: a person's lines in
    `room`, or in every room of the platform; a channel's, its room."""
    if user_id and not room:
        return Touch(rooms_on=frozenset([platform]))
    return Touch(rooms=frozenset([room]) if room else frozenset())


async def _open_reader(path: Path) -> aiosqlite.Connection:
    """The worker's second connection, for the reads a prompt makes (`OneTransaction.read`):
    read-only, on a thread of its own, so a read runs beside a long write that touches
    nothing it reads, and sees only what was committed (WAL), never a write half done.
    It holds every descriptor it needs from here on: no read opens a file."""
    reader = await aiosqlite.connect(path.absolute().as_uri() + "?mode=ro", uri=True)
    try:
        reader.row_factory = aiosqlite.Row
        await reader.execute(busy_timeout_pragma())
        # A first read opens the -wal beside the file, which SQLite then keeps open until
        # the connection closes: left to the first prompt's read, that open failed when
        # a burst of connections had taken every descriptor (a low `ulimit -n`), and
        # each read gave her error line ("unable to open database file") until one freed.
        await reader.execute_fetchall("SELECT 1 FROM sqlite_master LIMIT 1")
    except BaseException:
        await reader.close()
        raise
    return reader


def _unreadable_wal(path: Path, exc: sqlite3.Error) -> bool:
    """Whether a read-only open failed only because SQLite cannot make the WAL index
    (-shm) beside the file: on a read-only disk, a full one, or in a folder this user
    cannot write (`atri memory list` on a database another account's ATRI keeps). No
    process has the file open then (one would have made it)."""
    if getattr(exc, "sqlite_errorcode", 0) in (
        sqlite3.SQLITE_IOERR_SHMSIZE,
        sqlite3.SQLITE_READONLY_DIRECTORY,
    ):
        return True
    return error_code(exc) == sqlite3.SQLITE_CANTOPEN and on_read_only_disk(path)
