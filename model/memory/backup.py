"""Export, backup and import of a `Memory`: one scope's export (`export`), the whole
database streamed as JSON (`write_backup`), and a checked file added to the database in
parts (`import_export`). `Memory` keeps the methods callers use, which call these; the
file format is `export_format`.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import dataclasses
import heapq
import json
import math
import time
from array import array
from collections import Counter, deque
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

from model.grouping import Touch
from model.memory.channel_table import backed_up_modes, restore_modes
from model.memory.database import WRITE_PAUSE_SECONDS
from model.memory.export_format import (
    EXPORT_FORMAT,
    EXPORT_VERSION,
    ExportedMessage,
    ExportedRoomLine,
    ImportCounts,
    ImportResult,
    MemoryBackup,
    MemoryExport,
    ScopeExport,
)
from model.memory.purged import (
    LeftOut,
    Purges,
    without_purged_lines,
    without_purged_scope,
    without_repeats,
)
from model.memory.records import Message, Summary, as_text, as_time, to_message
from model.memory.scopes import parse_scope

if TYPE_CHECKING:
    from model.memory.store import Memory

# `write_backup`: rows read from the database at a time, and the size of a part handed to
# its writer (a part per message flushed standard output 100,000 times).
BACKUP_PAGE_ROWS = 1000
BACKUP_WRITE_CHARS = 1 << 20
# How an export file lays out its JSON: `json.dumps(..., ensure_ascii=False, indent=2)`.
_EXPORT_JSON = json.JSONEncoder(ensure_ascii=False, indent=2)


@dataclass
class BackupCounts:
    """What `Memory.write_backup` wrote: the summary the CLI prints after it."""

    messages: int = 0
    summaries: int = 0
    room_lines: int = 0
    channel_modes: int = 0


# An import writes about this many of the file's rows (messages, summaries, room lines)
# at most in one transaction (a tenth of a second or so); a conversation larger than this
# is written whole. After parts written for `IMPORT_HOLD_SECONDS` one after another it
# lets the write lock go for `WRITE_PAUSE_SECONDS`, so a worker beside it waits under a
# second, far from its busy timeout.
IMPORT_PART_ROWS = 5000
IMPORT_HOLD_SECONDS = 0.4


class ImportStopped(Exception):
    """An import that failed or was stopped (Ctrl-C) after some of its parts were
    committed: `done` is what they imported, `cause` why it stopped. The part under way
    was undone; run again, the import adds the rest (what is stored is skipped)."""

    def __init__(self, done: ImportResult, cause: BaseException) -> None:
        super().__init__(f"the import stopped after part of it was written ({cause!r})")
        self.done, self.cause = done, cause


@dataclass
class _ImportPart:
    """Conversations ((part, whether channels share it)) and room lines written in one
    transaction."""

    scopes: list[tuple[ScopeExport, bool]] = field(default_factory=list)
    lines: list[ExportedRoomLine] = field(default_factory=list)
    rows: int = 0


@dataclass
class _ImportPlan:
    """What an import writes, in parts (`Memory.import_export`), and what it has done."""

    include_purged: bool
    name: str = ""
    shared_conversations: int = 0
    member_conversations: int = 0
    known_purges: dict[str, float] = field(default_factory=dict)
    backup: MemoryBackup | None = None
    parts: list[_ImportPart] = field(default_factory=list)
    counts: ImportCounts = field(default_factory=ImportCounts)
    left_out: LeftOut = field(default_factory=LeftOut)
    names_scopes: bool = False  # `name` counts the file's scopes (a backup's import)
    written_scopes: set[str] = field(default_factory=set)  # in committed parts

    def add(
        self,
        rows: int,
        part: tuple[ScopeExport, bool] | None = None,
        lines: Sequence[ExportedRoomLine] = (),
    ) -> None:
        """Queue a conversation or a room's lines, in the last part unless that grows
        past `IMPORT_PART_ROWS`."""
        if not self.parts or self.parts[-1].rows + rows > IMPORT_PART_ROWS:
            self.parts.append(_ImportPart())
        last = self.parts[-1]
        last.rows += rows
        if part is not None:
            last.scopes.append(part)
        last.lines.extend(lines)

    def merge(self, counts: ImportCounts, left_out: LeftOut, part: _ImportPart) -> None:
        """Count what a committed part did."""
        self.written_scopes.update(scope.scope for scope, _ in part.scopes)
        self.written_scopes.update(line.room for line in part.lines)
        for f in fields(ImportCounts):
            value = getattr(counts, f.name)
            if isinstance(value, int):
                setattr(self.counts, f.name, getattr(self.counts, f.name) + value)
        self.left_out.messages += left_out.messages
        self.left_out.summaries += left_out.summaries
        self.left_out.room_lines += left_out.room_lines
        self.left_out.keys |= left_out.keys

    def stopped_result(self) -> ImportResult:
        """What the committed parts of an import that stopped did: the scopes they wrote,
        not every scope of the file."""
        if self.names_scopes:
            return dataclasses.replace(self, name=f"{len(self.written_scopes)} scope(s)").result()
        return self.result()

    def result(self) -> ImportResult:
        """What the import did so far."""
        counts = dataclasses.replace(
            self.counts,
            purged_messages=self.left_out.messages,
            purged_summaries=self.left_out.summaries,
            purged_room_lines=self.left_out.room_lines,
            purged_keys=sorted(self.left_out.keys),
        )
        return ImportResult(
            self.name,
            counts,
            shared_conversations=self.shared_conversations,
            member_conversations=self.member_conversations,
        )


async def export(memory: Memory, scope: str) -> dict[str, Any]:
    """One scope: its messages, its summaries, and the room lines of its people (a
    user's scope) or its room (a channel's scope), as of one moment (`at_one_moment`).

    A user's scope also holds their exchanges in the conversations channels share
    (`shared_conversations`, as `purge` finds them): their messages and her replies
    to them, not the other members' words, nor those conversations' summaries. The
    members' own conversations the key covers (`member_scopes_of`) are held whole,
    with their summaries (`member_conversations`), as a purge of the key deletes them."""
    return await memory.at_one_moment(lambda snapshot: _read_export(snapshot, scope))


async def _read_export(memory: Memory, scope: str) -> dict[str, Any]:
    data = await _export_scope(memory, scope)
    platform, user_id, room = parse_scope(scope)
    lines = await memory.room.export_lines(platform, user_id, room)
    shared = [
        {"scope": key, "messages": [_exported(m) for m in theirs]}
        for key, theirs in await memory.shared_exchanges_of(scope)
    ]
    members = [await _export_scope(memory, key) for key in await memory.member_scopes_of(scope)]
    return {
        "format": EXPORT_FORMAT,
        "version": EXPORT_VERSION,
        **data,
        "room_lines": lines,
        "shared_conversations": shared,
        "member_conversations": members,
    }


async def write_backup(memory: Memory, write: Callable[[str], object]) -> BackupCounts:
    """`Memory.backup` as JSON text, the same characters as `json.dumps(backup,
    ensure_ascii=False, indent=2)`, handed to `write` in parts of about
    `BACKUP_WRITE_CHARS` as it is read, as of one moment: memory holds a page of one
    scope's messages, not the database (held whole, one of 200,000 messages took
    632 MB). Returns what it wrote, counted."""
    return await memory.at_one_moment(lambda snapshot: _write_backup(snapshot, write))


async def _backed_up_scopes(memory: Memory) -> list[str]:
    rows = await memory._db.execute_fetchall(
        "SELECT scope FROM messages UNION SELECT scope FROM summaries ORDER BY scope"
    )
    return [as_text(r[0]) for r in rows]


async def _write_backup(memory: Memory, write: Callable[[str], object]) -> BackupCounts:
    counts = BackupCounts()
    parts = _Parts(write)
    backup = {
        "format": EXPORT_FORMAT,
        "version": EXPORT_VERSION,
        "scopes": _streamed_scopes(memory, counts),
        "room_lines": _streamed_room_lines(memory, counts),
        "purges": await _backed_up_purges(memory),
        "channel_modes": _streamed_channel_modes(memory, counts),
    }
    await _write_json(_Streamed(backup), parts)
    parts.flush()
    return counts


async def _streamed_scopes(memory: Memory, counts: BackupCounts) -> AsyncIterator[_Streamed]:
    for scope in await _backed_up_scopes(memory):
        ids: array[int] = array("q")  # the scope's message ids, for its summaries
        yield _Streamed(
            scope=scope,
            messages=_streamed_messages(memory, scope, ids, counts),
            # Read once the messages are written (a generator starts when iterated):
            # what a summary covers is an index among them.
            summaries=_streamed_summaries(memory, scope, ids, counts),
        )


async def _streamed_messages(
    memory: Memory, scope: str, ids: array[int], counts: BackupCounts
) -> AsyncIterator[_Page]:
    async with memory._db.execute(
        "SELECT * FROM messages WHERE scope = ? ORDER BY id", (scope,)
    ) as cursor:
        while rows := await cursor.fetchmany(BACKUP_PAGE_ROWS):
            messages = [to_message(row) for row in rows]
            ids.extend(m.id for m in messages)
            counts.messages += len(messages)
            yield _Page(_exported(m) for m in messages)


async def _streamed_summaries(
    memory: Memory, scope: str, ids: array[int], counts: BackupCounts
) -> AsyncIterator[dict[str, Any]]:
    # Read whole, as one scope's export reads them: a scope holds few (each fold
    # replaces the live one; a reset archives one).
    for summary in await memory.all_summaries(scope):
        covers = bisect.bisect_right(ids, summary.covers_up_to) - 1
        if covers >= 0:  # one whose messages were deleted covers nothing left
            counts.summaries += 1
            yield _exported_summary(summary, covers)


async def _streamed_room_lines(memory: Memory, counts: BackupCounts) -> AsyncIterator[_Page]:
    lines = await memory.room.export_lines("", "", "")
    counts.room_lines = len(lines)
    for start in range(0, len(lines), BACKUP_PAGE_ROWS):
        yield _Page(lines[start : start + BACKUP_PAGE_ROWS])


async def _streamed_channel_modes(memory: Memory, counts: BackupCounts) -> AsyncIterator[_Page]:
    modes = await backed_up_modes(memory._db)
    counts.channel_modes = len(modes)
    yield _Page(modes)


async def _backed_up_purges(memory: Memory) -> list[dict[str, Any]]:
    purges = await memory._db.execute_fetchall("SELECT scope, at FROM purges ORDER BY scope")
    return [{"scope": as_text(r[0]), "at": as_time(r[1])} for r in purges]


async def _export_scope(memory: Memory, scope: str) -> dict[str, Any]:
    messages = await memory.all_messages(scope)
    ids = [m.id for m in messages]
    summaries = []
    for s in await memory.all_summaries(scope):
        covers = bisect.bisect_right(ids, s.covers_up_to) - 1
        if covers >= 0:  # a summary whose messages were deleted covers nothing left
            summaries.append(_exported_summary(s, covers))
    return {
        "scope": scope,
        "messages": [_exported(m) for m in messages],
        "summaries": summaries,
    }


async def import_export(
    memory: Memory,
    export: MemoryExport | MemoryBackup,
    include_purged: bool = False,
    planned: Callable[[int], object] | None = None,
) -> ImportResult:
    """Add a checked export (`parse_export`): messages, summaries and room lines already
    stored (same author, text and time) are skipped, so importing the same file twice
    adds nothing the second time.

    What the file adds is worked out first, without the write lock (a worker beside
    it goes on storing exchanges meanwhile): a conversation or room that adds nothing
    is not written. The rest is written in parts of at most `IMPORT_PART_ROWS` rows,
    each its own short transaction that takes the write lock first (BEGIN IMMEDIATE)
    and reads again what is stored of its conversations, so a worker's exchange stored
    meanwhile is neither duplicated nor lost, and waits a moment, never its busy
    timeout. A failure or Ctrl-C undoes the part under way; once a part was committed
    it raises `ImportStopped`, saying what was imported.

    What a purge here deleted after the file was written is left out (`purged`),
    unless `include_purged`: the purges stored before the import, and one made while
    it runs. A backup's own purges are kept here (for later imports) but do not filter
    the backup itself: its rows outlived them. Its channel modes are set as their
    channels' here (`restore_modes`).

    `planned` is called with the rows to write before the first part is (not when
    the file adds nothing): `atri memory import` marks the import there, so one
    killed outright is named later (`import_marker`)."""
    scopes = export.scopes if isinstance(export, MemoryBackup) else [export]
    if isinstance(export, MemoryExport):
        scopes = [*scopes, *export.member_conversations]
    shared = [] if isinstance(export, MemoryBackup) else export.shared_conversations
    plan = _ImportPlan(include_purged)
    stored_purges = await _stored_purges(memory)
    purges = Purges({} if include_purged else stored_purges)
    plan.known_purges = dict(stored_purges)
    if isinstance(export, MemoryBackup):
        await _plan_backup(memory, export, plan)
    parts = [without_purged_scope(part, purges, plan.left_out) for part in scopes]
    for theirs in shared:  # put back among the others' exchanges, by time
        part = ScopeExport.model_construct(scope=theirs.scope, messages=theirs.messages)
        parts.append(without_purged_scope(part, purges, plan.left_out))
    lines = without_purged_lines(export.room_lines, purges, plan.left_out)
    # Once all a purged person's words left out are known: her replies repeating them.
    parts = without_repeats(parts, plan.left_out)
    for i, part in enumerate(parts):
        await _plan_scope(memory, part, plan, shared=i >= len(scopes))
    await _plan_lines(memory, lines, plan)
    if isinstance(export, MemoryExport):
        plan.name = export.scope
        plan.member_conversations = len(scopes) - 1
        plan.shared_conversations = len(shared)
    else:  # as `atri memory list` counts them: a room without a conversation too
        keys = {part.scope for part in scopes} | {line.room for line in export.room_lines}
        plan.name = f"{len(keys)} scope(s)"
        plan.names_scopes = True
    if planned is not None and (plan.parts or plan.backup is not None):
        planned(sum(part.rows for part in plan.parts))
    await _write_plan(memory, plan)
    return plan.result()


async def _stored_purges(memory: Memory) -> dict[str, float]:
    """This database's purges (key: when)."""
    async with memory._tx.between():
        rows = await memory._db.execute_fetchall("SELECT scope, at FROM purges")
    return {as_text(r[0]): as_time(r[1]) for r in rows}


async def _keep_purges(memory: Memory, purges: dict[str, float]) -> None:
    """Keep a backup's purges as this database's own (the later time of a key purged
    in both): an older backup imported after it leaves out what they deleted too,
    also on a machine the backup was restored onto. Inside `import_export`'s write."""
    await memory._db.executemany(
        "INSERT INTO purges (scope, at) VALUES (?, ?)"
        " ON CONFLICT (scope) DO UPDATE SET at = max(at, excluded.at)",
        list(purges.items()),
    )


async def _plan_backup(memory: Memory, backup: MemoryBackup, plan: _ImportPlan) -> None:
    """Queue a backup's purges and channel modes for the first part written where they
    change what is stored (read without the write lock); else count its modes as
    stored already. Its purges join those the import knows of (`_keep_purges`)."""
    known = plan.known_purges
    newer = [p for p in backup.purges if known.get(p.scope, -math.inf) < p.at]
    for p in newer:
        known[p.scope] = p.at
    async with memory._tx.between():
        stored = await backed_up_modes(memory._db)
    modes = {(m["platform"], m["channel_id"]): m["mode"] for m in stored}
    if newer or any(modes.get((m.platform, m.channel_id)) != m.mode for m in backup.channel_modes):
        plan.backup = backup
    else:
        plan.counts.channel_modes_skipped += len(backup.channel_modes)


async def _stored_messages(memory: Memory, scope: str) -> list[Any]:
    """The rows of `scope`'s messages an import compares the file's with, in id order."""
    return list(
        await memory._db.execute_fetchall(
            "SELECT id, role, user_id, content, created_at, archived, request_id, edited_at"
            " FROM messages WHERE scope = ? ORDER BY id",
            (scope,),
        )
    )


async def _plan_scope(
    memory: Memory, part: ScopeExport, plan: _ImportPlan, shared: bool = False
) -> None:
    """Queue `part` for writing if it changes what is stored (read without the write
    lock: the write reads it again); else count it as skipped."""
    async with memory._tx.between():
        stored = await _stored_messages(memory, part.scope)
        summaries = await memory._db.execute_fetchall(
            "SELECT text, created_at, archived FROM summaries WHERE scope = ?", (part.scope,)
        )
    if _scope_changes(part, stored, {(r[0], r[1]): r[2] for r in summaries}):
        plan.add(len(part.messages) + len(part.summaries), part=(part, shared))
    else:
        plan.counts.messages_skipped += len(part.messages)
        plan.counts.summaries_skipped += len(part.summaries)


async def _plan_lines(memory: Memory, lines: Sequence[ExportedRoomLine], plan: _ImportPlan) -> None:
    """Queue each room's lines for writing where some are not stored (read without the
    write lock, as `RoomLog.import_lines` compares them); else count them as skipped."""
    by_room: dict[str, list[ExportedRoomLine]] = {}
    for line in lines:
        by_room.setdefault(line.room, []).append(line)
    for room, theirs in by_room.items():
        async with memory._tx.between():
            rows = await memory._db.execute_fetchall(
                "SELECT platform, user_id, content, created_at FROM room_lines WHERE room = ?",
                (room,),
            )
        stored = Counter(tuple(r) for r in rows)
        stored.subtract((x.platform, x.user_id, x.content, x.created_at) for x in theirs)
        if any(n < 0 for n in stored.values()):
            plan.add(len(theirs), lines=theirs)
        else:
            plan.counts.room_skipped += len(theirs)


async def _write_plan(memory: Memory, plan: _ImportPlan) -> None:
    """Write the parts `plan` holds, each in its own transaction. One that fails or is
    stopped is undone; after one committed, that raises `ImportStopped`."""
    parts = plan.parts or ([_ImportPart()] if plan.backup else [])
    held_since = time.monotonic()
    for i, part in enumerate(parts):
        try:
            if time.monotonic() - held_since >= IMPORT_HOLD_SECONDS:
                await asyncio.sleep(WRITE_PAUSE_SECONDS)  # a worker's turn
                held_since = time.monotonic()
            stopped = await _write_part(memory, part, plan, first=i == 0)
        except BaseException as exc:
            if i == 0:
                raise  # nothing was written: the database is as it was
            raise ImportStopped(plan.stopped_result(), exc) from exc
        if stopped and i + 1 < len(parts):  # a Ctrl-C while it committed
            raise ImportStopped(plan.stopped_result(), asyncio.CancelledError())


async def _write_part(memory: Memory, part: _ImportPart, plan: _ImportPlan, first: bool) -> bool:
    """One part of an import in one transaction, its counts added to `plan` once it
    is committed. Whether a Ctrl-C came while it committed (seen through)."""
    counts, left_out = ImportCounts(), LeftOut()
    # A read of the worker waits for it, whatever it reads (`Touch.everything`).
    with memory._tx.touching(Touch(everything=True)):
        await memory._writes.idle()
        await memory.room.idle()
        async with memory._tx.held_to_write():  # nothing imported into a moved file
            await memory._tx.begin_immediate()
            if first and plan.backup is not None:  # the backed-up database's purges
                await _keep_purges(memory, {p.scope: p.at for p in plan.backup.purges})
                await _restore_channel_modes(memory, plan.backup, counts)
            purges = Purges({})
            if not plan.include_purged:  # a purge made since the import began
                now = await memory._db.execute_fetchall("SELECT scope, at FROM purges")
                purges = Purges(_purged_since({r[0]: r[1] for r in now}, plan.known_purges))
            lines = without_purged_lines(part.lines, purges, left_out)
            kept = [without_purged_scope(p, purges, left_out) for p, _ in part.scopes]
            # Her replies repeating the words of a person purged meanwhile, in this
            # part (the purge took out those stored before; one in a later part than
            # the words comes back: a purge during an import, rare).
            kept = without_repeats(kept, left_out)
            for scope_part, (_, shared) in zip(kept, part.scopes, strict=True):
                before = counts.messages_added
                await _import_scope(memory, scope_part, counts)
                if shared:
                    counts.shared_added += counts.messages_added - before
            if part.lines:
                added, skipped = await memory.room.import_lines([x.model_dump() for x in lines])
                counts.room_lines += added
                counts.room_skipped += skipped
            stopped = await _committed_though_cancelled(memory._tx.commit())
    plan.merge(counts, left_out, part)
    return stopped


async def _restore_channel_modes(
    memory: Memory, backup: MemoryBackup, counts: ImportCounts
) -> None:
    """A backup's channel modes, each set as its channel's; not committed."""
    changed, same = await restore_modes(memory._db, backup.channel_modes)
    counts.channel_modes, counts.channel_modes_skipped = changed, same


async def _import_scope(memory: Memory, export: ScopeExport, counts: ImportCounts) -> None:
    """Messages and summaries of one scope, not committed; what it did goes in `counts`.

    The scope's messages end up in the order they were said (see `said_order`):
    imported ones older than messages already stored go before them, and those
    stored messages move to new ids (summaries' `covers_up_to`, the only reference
    to a message id, moves with them). Each summary keeps the message it ends at: it
    never covers what was said after it, and the live summary is the one ending
    latest (an imported summary of older exchanges leaves the stored one live); the
    other is archived, so one summary stays live. Messages said before a summary's end count as covered by it even when it does
    not hold them (an import into a stretch it had folded): order decides coverage."""
    scope = export.scope
    stored = await _stored_messages(memory, scope)
    found = _stored_twins(stored, export.messages)
    new = [m for m, twin in zip(export.messages, found, strict=True) if twin is None]
    counts.messages_added += len(new)
    counts.messages_skipped += len(export.messages) - len(new)
    await _follow_twins(memory, scope, stored, export.messages, found, counts)
    moved: dict[int, int] = {}
    new_ids: list[int] = []
    if new:
        (free,) = await memory._db.execute_fetchall(
            "SELECT MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'messages'),"
            " 0), COALESCE((SELECT MAX(id) FROM messages), 0)) + 1"
        )
        moved, new_ids = said_order(
            [(r[0], as_time(r[4])) for r in stored],
            [m.created_at for m in new],
            int(free[0]),
        )
        # New ids are above every id ever used, so no move collides with a row. A
        # moved message keeps the id it was stored with (`append_many` reads it).
        await memory._db.executemany(
            "UPDATE messages SET first_id = COALESCE(first_id, id), id = ? WHERE id = ?",
            [(to, old) for old, to in moved.items()],
        )
        await memory._db.executemany(
            "INSERT INTO messages (id, scope, role, user_id, content, display_name,"
            " created_at, adapter_version, archived, request_id)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    at,
                    scope,
                    m.role,
                    m.user_id,
                    m.content,
                    m.display_name,
                    m.created_at,
                    m.adapter_version,
                    m.archived,
                    m.request_id,
                )
                for at, m in zip(new_ids, new, strict=True)
            ],
        )
        # An UPDATE does not advance AUTOINCREMENT: a moved id must never be handed out
        # again (a summary being written may still name the message that had it).
        top = max(new_ids[-1], max(moved.values(), default=0))
        await memory._db.execute(
            "UPDATE sqlite_sequence SET seq = ? WHERE name = 'messages' AND seq < ?",
            (top, top),
        )
    if moved:
        await _move_summaries(memory, scope, [r[0] for r in stored], moved)
    if export.summaries:
        fresh = iter(new_ids)
        message_ids = [next(fresh) if at is None else moved.get(at, at) for at in found]
        await _import_summaries(memory, export, message_ids, counts)
    await memory._archive_superseded_summaries(scope)


async def _follow_twins(
    memory: Memory,
    scope: str,
    stored: Sequence[Any],
    messages: Sequence[ExportedMessage],
    found: Sequence[int | None],
    counts: ImportCounts,
) -> None:
    """A stored twin takes what the file knows and it does not: archived there (a
    reset after the database's state: the person's words stay out of her prompt), or
    an edit of a person's message never edited here (the stored text is the first
    one, so the file's is later). A text edited here is kept: an export holds no edit
    time, and the file is most often the older state (a backup restored after the
    edit). Her replies keep the stored text: one cut short here says what was sent."""
    rows = {r[0]: r for r in stored}
    archive: list[tuple[int]] = []
    reword: list[tuple[str, int]] = []
    for m, twin in zip(messages, found, strict=True):
        if twin is None:
            continue
        if _archives(m, rows[twin]):
            archive.append((twin,))
        if _rewords(m, rows[twin]):
            reword.append((m.content, twin))
    if reword:
        memory._take_back(scope)
        for _, twin in reword:
            if not rows[twin][5]:
                await memory._drop_summary_holding(scope, rows[twin][6])
        await memory._db.executemany("UPDATE messages SET content = ? WHERE id = ?", reword)
    await memory._db.executemany("UPDATE messages SET archived = 1 WHERE id = ?", archive)
    counts.messages_archived += len(archive)
    counts.messages_reworded += len(reword)


async def _import_summaries(
    memory: Memory, export: ScopeExport, message_ids: list[int], counts: ImportCounts
) -> None:
    """The export's summaries not stored yet, each ending at its message's id here
    (`message_ids`, by index in the export). A stored one the file has archived (a
    reset) is archived."""
    scope = export.scope
    have = {
        (r[1], r[2]): (r[0], r[3])
        for r in await memory._db.execute_fetchall(
            "SELECT id, text, created_at, archived FROM summaries WHERE scope = ?", (scope,)
        )
    }
    for s in export.summaries:
        if (s.text, s.created_at) in have:
            counts.summaries_skipped += 1
            summary_id, archived = have[(s.text, s.created_at)]
            if s.archived and not archived:
                await memory._db.execute(
                    "UPDATE summaries SET archived = 1 WHERE id = ?", (summary_id,)
                )
            continue
        await memory._db.execute(
            "INSERT INTO summaries (scope, text, covers_up_to, adapter_version, created_at,"
            " archived) VALUES (?, ?, ?, ?, ?, ?)",
            (scope, s.text, message_ids[s.covers], s.adapter_version, s.created_at, s.archived),
        )
        counts.summaries_added += 1


async def _move_summaries(
    memory: Memory, scope: str, old_ids: list[int], moved: dict[int, int]
) -> None:
    """Point the scope's summaries at the new id of the message each ended at (the
    last of `old_ids`, in order, up to its `covers_up_to`)."""
    changes = []
    for summary_id, covers in await memory._db.execute_fetchall(
        "SELECT id, covers_up_to FROM summaries WHERE scope = ?", (scope,)
    ):
        if not isinstance(covers, int):
            continue  # written by another program: not a message id
        at = bisect.bisect_right(old_ids, covers) - 1
        if at >= 0 and old_ids[at] in moved:
            changes.append((moved[old_ids[at]], summary_id))
    await memory._db.executemany("UPDATE summaries SET covers_up_to = ? WHERE id = ?", changes)


def _stored_twins(stored: Sequence[Any], messages: Sequence[ExportedMessage]) -> list[int | None]:
    """Each exported message's stored twin (its n-th twin for its n-th copy), or None.
    A twin is the same role, author, text and time; or, for a message with a platform id,
    the same role, author, time and id: the same message, edited on one side (a backup
    from before the edit would add the old text again, an orphan turn)."""
    by_text: dict[tuple[Any, ...], deque[int]] = {}
    by_request: dict[tuple[Any, ...], deque[int]] = {}
    for r in stored:
        by_text.setdefault((r[1], r[2], r[3], r[4]), deque()).append(r[0])
        if r[6]:
            by_request.setdefault((r[1], r[2], r[4], r[6]), deque()).append(r[0])
    taken: set[int] = set()
    found: list[int | None] = []
    for m in messages:
        twin = _first_free(by_text.get((m.role, m.user_id, m.content, m.created_at)), taken)
        if twin is None and m.request_id:
            key = (m.role, m.user_id, m.created_at, m.request_id)
            twin = _first_free(by_request.get(key), taken)
        if twin is not None:
            taken.add(twin)
        found.append(twin)
    return found


def _archives(m: ExportedMessage, twin: Any) -> bool:
    """Whether `m` archives its stored twin's row: archived in the file (a reset after the
    database's state), live here."""
    return bool(m.archived and not twin[5])


def _rewords(m: ExportedMessage, twin: Any) -> bool:
    """Whether `m` gives its stored twin's row its text: a person's message edited in the
    file, never edited here."""
    return m.role == "user" and m.content != twin[3] and not twin[7]


def _scope_changes(
    part: ScopeExport, stored: Sequence[Any], summaries: dict[tuple[Any, Any], Any]
) -> bool:
    """Whether importing `part` changes what is stored of its conversation (`stored`, its
    messages' rows; `summaries`, (text, time): archived): a message or summary to add, or
    a stored one to archive or reword (`_follow_twins`)."""
    rows = {r[0]: r for r in stored}
    for m, twin in zip(part.messages, _stored_twins(stored, part.messages), strict=True):
        if twin is None or _archives(m, rows[twin]) or _rewords(m, rows[twin]):
            return True
    for s in part.summaries:
        archived = summaries.get((s.text, s.created_at))
        if archived is None or (s.archived and not archived):
            return True
    return False


def _purged_since(now: dict[Any, Any], known: dict[str, float]) -> dict[str, float]:
    """The purges of `now` (key: when) not among those an import started with (`known`):
    made while it runs."""
    return {
        as_text(key): as_time(at)
        for key, at in now.items()
        if known.get(as_text(key)) != as_time(at)
    }


def _first_free(ids: deque[int] | None, taken: set[int]) -> int | None:
    """The first of `ids` not taken yet (taken ones are dropped from it), or None."""
    while ids:
        first = ids.popleft()
        if first not in taken:
            return first
    return None


async def _committed_though_cancelled(commit: Awaitable[None]) -> bool:
    """`commit`, seen through: aiosqlite commits in its own thread whatever happens to
    the task awaiting it, so a Ctrl-C that came meanwhile must not report undone (an
    import "Stopped" that had imported everything). The task then goes on as if it had
    not been cancelled: returns whether it was, for the caller to stop where it should
    (a loop would never stop)."""
    done = asyncio.ensure_future(commit)
    try:
        await asyncio.shield(done)
    except asyncio.CancelledError:
        await done  # raises the commit's own error, if it failed
        task = asyncio.current_task()
        if task is not None:
            task.uncancel()
        return True
    return False


def _exported_summary(s: Summary, covers: int) -> dict[str, Any]:
    """A summary as an export holds it (`ExportedSummary`): `covers` is the index of the
    last message it covers among the scope's messages in the file."""
    return {
        "text": s.text,
        "covers": covers,
        "adapter_version": s.adapter_version,
        "created_at": s.created_at,
        "archived": s.archived,
    }


class _Parts:
    """Text joined into parts of about `BACKUP_WRITE_CHARS` for `write`."""

    def __init__(self, write: Callable[[str], object]) -> None:
        self._write = write
        self._held: list[str] = []
        self._size = 0

    def __call__(self, text: str) -> None:
        self._held.append(text)
        self._size += len(text)
        if self._size >= BACKUP_WRITE_CHARS:
            self.flush()

    def flush(self) -> None:
        if self._held:
            self._write("".join(self._held))
            self._held.clear()
            self._size = 0


class _Streamed(dict[str, Any]):
    """A dict `_write_json` writes key by key: its values may be async iterators."""


class _Page(list[Any]):
    """Items an async iterator gives `_write_json` together: encoded in one call, as
    items of its list (the encoder's setup per call outweighs one message's encoding)."""


async def _write_json(
    value: _Streamed | AsyncIterator[Any], write: Callable[[str], None], depth: int = 0
) -> None:
    """`value` as `_EXPORT_JSON` lays it out `depth` deep, written as it is made: an
    async iterator as a list, an item (or a `_Page` of them) at a time, a `_Streamed`
    dict key by key. The characters are those of the whole value encoded at once."""
    here = "\n" + "  " * depth
    inner = here + "  "
    if isinstance(value, _Streamed):
        for i, (key, item) in enumerate(value.items()):
            write(("{" if i == 0 else ",") + inner + _EXPORT_JSON.encode(key) + ": ")
            await _write_value(item, write, depth + 1)
        write(here + "}" if value else "{}")
        return
    empty = True
    # Closed here when `write` fails (a full disk): else asyncio's finalizer closed it
    # later, on a closed connection, and logged a traceback under the error's sentence.
    async with _closing(value):
        async for item in value:
            if isinstance(item, _Page):
                if item:  # the page as a list of its own, less its brackets
                    write(("[" if empty else ",") + _encoded(item, depth)[1 : -len(here) - 1])
                    empty = False
                continue
            write(("[" if empty else ",") + inner)
            empty = False
            await _write_value(item, write, depth + 1)
    write("[]" if empty else here + "]")


def _closing(value: AsyncIterator[Any]) -> contextlib.AbstractAsyncContextManager[Any]:
    """`contextlib.aclosing` for an async generator; nothing for another iterator."""
    if isinstance(value, AsyncGenerator):
        return contextlib.aclosing(value)
    return contextlib.nullcontext()


async def _write_value(value: Any, write: Callable[[str], None], depth: int) -> None:
    if isinstance(value, _Streamed | AsyncIterator):
        await _write_json(value, write, depth)
    else:
        write(_encoded(value, depth))


def _encoded(value: Any, depth: int) -> str:
    """`value` encoded `depth` deep: a JSON string holds no line break, so each line
    after the first is the value's own, and takes the indent."""
    return _EXPORT_JSON.encode(value).replace("\n", "\n" + "  " * depth)


def _exported(m: Message) -> dict[str, Any]:
    """A message as an export holds it (`ExportedMessage`)."""
    return {
        "role": m.role,
        "user_id": m.user_id,
        "display_name": m.display_name,
        "content": m.content,
        "created_at": m.created_at,
        "adapter_version": m.adapter_version,
        "archived": m.archived,
        "request_id": m.request_id,
    }


def said_order(
    stored: list[tuple[int, float]], new_times: list[float], first_free: int
) -> tuple[dict[int, int], list[int]]:
    """Ids that put a scope's messages in the order they were said once new messages
    (their `created_at`, in the export's order) join the `stored` ones ((id, created_at)
    in id order). The two are merged by time, each keeping its own order; at the same
    time the stored message goes first. From the first new message on, every message
    takes the next id from `first_free` up; the stored messages before it keep theirs.
    Returns (stored id -> its new id for those that move, the id of each new message)."""
    moved: dict[int, int] = {}
    new_ids: list[int] = []
    merged = heapq.merge(
        ((t, -1, old) for old, t in stored),
        ((t, i, 0) for i, t in enumerate(new_times)),
        key=lambda item: item[0],
    )
    next_id = first_free
    for _, index, old in merged:
        if index >= 0:
            new_ids.append(next_id)
        elif new_ids:
            moved[old] = next_id
        else:
            continue
        next_id += 1
    return moved, new_ids
