"""Room context: what people say in a group or channel that is not addressed to ATRI.

Lines live in the memory database (table `room_lines`), keyed by the channel
(`memory.channel_prefix`) and the platform user id, with the display name of that time.
Lines are in the order the platform says they were said (`said_at`, then arrival): each
platform event is handled in its own task, so two lines said a moment apart can reach
the worker in either order. The store stays bounded: every write keeps the newest
`max_lines` of its room and cuts each text to `max_chars` (`line_text`); reads and a
periodic sweep drop lines older than `max_age` (counted from `said_at`: a line that
reaches the worker late, as a bot catching up after a reconnect sends it, is as old as
it is), and so does the worker every SWEEP_INTERVAL_SECONDS while it runs, rooms heard
or not (`sweep`).
Reset archives lines (hidden from the model), purge deletes them. Each line keeps the
platform's id of its message (`request_id`, as in the request): a message deleted or
recalled archives its line as a reset would, and an edited one takes its newest text;
one the platform delivers again (a OneBot reconnect, a Discord resume) is no second
line (`add`'s `copies_since`). A reset or purge of lines also leaves a record in the
memory's `resets` table (`RESET_LINES`): a line said before it that reaches the worker
after it (a bot catching up after a reconnect, a QQ line waiting for a member's name)
is not kept, also when the reset came from another process (`atri memory`). Records go after
RESET_RECORD_SECONDS, so a line said longer than that before it is heard is not kept
at all. A record dated past the worker's clock (MAX_CLOCK_AHEAD_SECONDS: made while
this machine's clock ran ahead) keeps no line out, and the sweep deletes it.
"""

from __future__ import annotations

import contextlib
import logging
import math
import random
import time
from collections import Counter, OrderedDict, deque
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, replace
from typing import Any, Generic, TypeVar

import aiosqlite
import regex as stoppable_re  # \p{…} classes, as the lorebook's patterns

from atri.graphemes import within_limit
from model.character.card_fields import whole_word_pattern
from model.grouping import Grouped, OneTransaction, Touch

log = logging.getLogger(__name__)

# Lines older than the age bound are deleted from every room at most this often (rooms
# that went quiet included); reads never show them meanwhile.
SWEEP_INTERVAL_SECONDS = 600.0
# The window of `speak_up_max_per_hour`.
HOUR_SECONDS = 3600.0
# A platform time this far past the worker's clock is not believed (a client's bad clock
# or a made-up value would keep its line the newest for good): the line is ordered by
# when the worker heard it instead. A reset record dated this far past the worker's clock
# (one made while the clock ran ahead) keeps no line out: it would drop the lines said
# after it until the clock caught up.
MAX_CLOCK_AHEAD_SECONDS = 300.0
# A platform time this far behind the worker's clock is worth a warning (at most once
# every LAG_TOLD_EVERY_SECONDS): unless a bot is catching up on old messages, this
# machine's clock runs ahead, and its lines look old (`[room] max_age_hours`).
LAG_WARNED_SECONDS = 3600.0
LAG_TOLD_EVERY_SECONDS = 3600.0
# How many deleted or recalled messages each worker remembers, so that a line reaching
# her after the recall of its message is not kept (see `RoomLog.archive_message`), nor
# a message she has not begun answering answered (`ChatService.forget_message`).
FORGOTTEN_KEPT = 10_000
# How many edits each worker keeps for messages it has not stored yet (`PendingEdits`).
PENDING_EDITS_KEPT = 1_000
# A reset record older than this is deleted (at the next reset or purge): far longer than
# any reply is written after its memory was read. A room line said longer than this
# before it reaches the worker is not kept (`_INSERT_LINE`), whatever `[room]
# max_age_hours` says: the record of a reset after it may be gone.
RESET_RECORD_SECONDS = 24 * 3600.0
# The `prefix` column (what a record reaches) of the records in `resets` that room lines
# were archived or deleted under (`model.memory.schema`; the others are the store's):
# scope = a room's key (`qq:chan:7`: every line in it), `qq:chan:7:user:42` (one
# person's lines in it) or `qq:user:42` (theirs in every room of the platform). A line
# said before (its `said_at` older than the record's `at`) is not kept (`add`).
RESET_LINES = 3
# A line (?1 room, ?2 platform, ?3 user id, ?6 heard at, ?7 said_at, ?8 message id),
# unless a reset or purge that reached it was recorded after it was said, or it was said
# so long before it was heard that the record of such a reset may be gone
# (RESET_RECORD_SECONDS), or a line of the same message by the same person is kept in
# the room, heard at ?10 or later (archived too): the platform delivered it again (its
# text as `line_text` keeps it, ?5, or as lines stored before it did, ?11). A record
# dated past the worker's clock (MAX_CLOCK_AHEAD_SECONDS) does not count.
# `request_id != ''` lets SQLite take the index of message ids (`room_lines_request`).
_INSERT_LINE = (
    "INSERT INTO room_lines (room, platform, user_id, display_name, content, created_at,"
    " said_at, request_id, edited_at) SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9"
    f" WHERE ?7 > ?6 - {RESET_RECORD_SECONDS} AND NOT EXISTS (SELECT 1 FROM resets"
    f" WHERE prefix = {RESET_LINES} AND scope IN (?1, ?1 || ':user:' || ?3,"
    f" ?2 || ':user:' || ?3) AND at > ?7 AND at <= ?6 + {MAX_CLOCK_AHEAD_SECONDS})"
    " AND NOT EXISTS (SELECT 1 FROM room_lines WHERE room = ?1 AND request_id = ?8"
    " AND request_id != '' AND user_id = ?3 AND content IN (?5, ?11) AND created_at >= ?10)"
)

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class RecentNotes(Generic[K, V]):
    """What the worker noted lately about platform messages it may hear of again (a
    recall, an edit, reaching it before or after the message): the newest `most` notes,
    and with `seconds` none older than that. A key noted again counts as new. `clock`
    is swappable for tests."""

    def __init__(
        self, most: int, seconds: float = math.inf, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.most = most
        self.seconds = seconds
        self.clock = clock
        self._kept: OrderedDict[K, tuple[float, V]] = OrderedDict()

    def note(self, key: K, value: V) -> None:
        self._kept[key] = (self.clock(), value)
        self._kept.move_to_end(key)
        self._drop_old()

    def get(self, key: K) -> V | None:
        self._drop_old()
        found = self._kept.get(key)
        return None if found is None else found[1]

    def __contains__(self, key: object) -> bool:
        self._drop_old()
        return key in self._kept

    def _drop_old(self) -> None:
        oldest = self.clock() - self.seconds
        while self._kept and (
            len(self._kept) > self.most or next(iter(self._kept.values()))[0] < oldest
        ):
            self._kept.popitem(last=False)


def recently_forgotten() -> RecentNotes[tuple[str, str], str]:
    """The newest FORGOTTEN_KEPT messages deleted or recalled: (place, message id) →
    whose it was ("" = anyone's)."""
    return RecentNotes(FORGOTTEN_KEPT)


@dataclass(frozen=True)
class Edit:
    """A message's text as of `at` (its edit time by the platform's clock; 0: as sent).
    `on_arrival`: the platform told no edit time that can be true, so `at` is when the
    worker got it, and the edit is newer than every edit that reached her before it,
    whatever her clock did meanwhile (stepped back by NTP)."""

    text: str
    at: float = 0.0
    on_arrival: bool = False


class PendingEdits:
    """Edits that may have reached the worker before their message was stored: she is
    still answering it, or the edit overtook it on the way (each platform event has its
    own task, and over the relay its own request). (scope, message id, whose) → the
    newest edit by its time, each kept `seconds` (long enough for any answer to be
    stored), at most PENDING_EDITS_KEPT of them. `noted` counts the edits noted so far,
    so that an answer takes only those that came after its message (`newest`'s `after`).
    `clock` is swappable for tests."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.noted = 0
        self._kept: RecentNotes[tuple[str, str, str], tuple[int, Edit]] = RecentNotes(
            PENDING_EDITS_KEPT, seconds, clock
        )

    def note(self, scope: str, request_id: str, user_id: str, edit: Edit) -> bool:
        """Keep `edit` unless a newer one of the message is kept: False then (an older
        edit that arrived late changes nothing). An edit dated on arrival is newer than
        any kept, and is dated no earlier than it."""
        if not (scope and request_id and user_id and edit.text):
            return True
        key = (scope, request_id, user_id)
        kept = self._kept.get(key)
        if kept is not None and edit.on_arrival:
            edit = replace(edit, at=max(edit.at, kept[1].at))
        elif kept is not None and kept[1].at > edit.at:
            return False
        self.noted += 1
        self._kept.note(key, (self.noted, edit))
        return True

    def newest(self, scope: str, request_id: str, user_id: str, after: int = 0) -> Edit | None:
        """The newest edit of `user_id`'s message `request_id`, if noted (and noted after
        the first `after` edits)."""
        found = self._kept.get((scope, request_id, user_id))
        return None if found is None or found[0] <= after else found[1]


@dataclass(frozen=True)
class RoomBounds:
    max_lines: int = 200
    max_age_seconds: float = 24 * 3600.0
    max_chars: int = 300


@dataclass(frozen=True)
class RoomLine:
    user_id: str
    display_name: str
    content: str
    created_at: float


def line_text(text: str, max_chars: int) -> str:
    """What a line keeps of a message: its first `max_chars`, cut between two characters
    as a reader sees them (a flag cut in two reached her prompt as a broken half)."""
    return within_limit(text, max_chars)


def _line_text_before(text: str, max_chars: int) -> str:
    """What a line stored before `line_text` kept of a message: its first `max_chars`
    code points. A copy of such a message (delivered again within a day, `add`'s
    `copies_since`) still finds that line."""
    return text[:max_chars]


def platform_time(said_at: float, now: float) -> float:
    """The time a line is ordered by: the platform's, where it told one that can be true,
    else `now` (when the worker heard it)."""
    if math.isfinite(said_at) and 0 < said_at <= now + MAX_CLOCK_AHEAD_SECONDS:
        return said_at
    return now


async def record_reset(db: aiosqlite.Connection, scope: str, reaches: int) -> None:
    """A reset of `scope` (reaching what `reaches` says) in the `resets` table, as of now,
    in place of any older one of it; part of the caller's transaction. Records older
    than RESET_RECORD_SECONDS go meanwhile, and those of room lines dated in the future
    (`_delete_future_line_resets`)."""
    now = time.time()
    await db.execute("DELETE FROM resets WHERE at < ?", (now - RESET_RECORD_SECONDS,))
    await _delete_future_line_resets(db, now)
    await db.execute(
        "INSERT OR REPLACE INTO resets (scope, prefix, at) VALUES (?, ?, ?)",
        (scope, reaches, now),
    )


async def _delete_future_line_resets(db: aiosqlite.Connection, now: float) -> None:
    """Delete the records of room lines reset (`RESET_LINES`) dated past `now` by more
    than MAX_CLOCK_AHEAD_SECONDS: made while the clock ran ahead, they would keep out
    the lines said just before their date once the clock caught up with it. The
    conversations' records are left alone: those are told apart by their ids."""
    await db.execute(
        "DELETE FROM resets WHERE prefix = ? AND at > ?",
        (RESET_LINES, now + MAX_CLOCK_AHEAD_SECONDS),
    )


class RoomLog:
    """The room lines of every channel. Writes from many channels share a transaction.
    `tx`: the connection's writes one transaction at a time (`OneTransaction`), shared
    with whatever else writes on it (the memory)."""

    def __init__(self, db: aiosqlite.Connection, tx: OneTransaction | None = None) -> None:
        self._db = db
        self._tx = tx or OneTransaction(db)
        self._writes = Grouped(self._write_group, "atri-room-writes")
        self._swept = 0.0
        # When (`time.monotonic`) a platform time far behind this machine's clock was
        # last warned of (`_warn_of_lag`).
        self._lag_told_at = -math.inf
        # (room, message id) of messages deleted or recalled → whose ("" = anyone's).
        self._forgotten = recently_forgotten()

    async def idle(self) -> None:
        await self._writes.idle()

    async def add(
        self,
        room: str,
        platform: str,
        user_id: str,
        display_name: str,
        text: str,
        bounds: RoomBounds,
        said_at: float = 0.0,
        request_id: str = "",
        edited_at: float = 0.0,
        copies_since: float = 0.0,
    ) -> None:
        """Keep one line; returns once it is committed and the room is within bounds.
        `said_at`: when the platform says it was said (seconds since 1970; 0 = not told);
        `request_id`: the platform's id of the message ("" = not told); `edited_at`: when
        `text` was written, if by an edit (`reword`). A message the platform delivers
        twice is one line: a line of `request_id` by `user_id` in the room saying the same,
        heard at `copies_since` (seconds since 1970) or later and still kept, keeps this
        one out; ids older than that, or another text under the same id, name a new
        message (a platform reusing its ids, a counter started again). A line of a
        message already deleted or recalled is not kept, nor one said before a reset or
        purge that reached it (`RESET_LINES`): its platform time, as the line is ordered
        by (`platform_time`; a line without one was said when heard), is compared with
        the worker's clock at the reset. A platform clock a little ahead (a fast one is
        believed up to MAX_CLOCK_AHEAD_SECONDS) keeps a line said as little before it;
        one behind (or QQ's whole seconds) drops a line said as little after it. One
        said more than LAG_WARNED_SECONDS ago is warned of (`_warn_of_lag`)."""
        if request_id and self._forgotten.get((room, request_id)) in ("", user_id):
            return
        now = time.time()
        if 0 < said_at < now - LAG_WARNED_SECONDS:
            self._warn_of_lag(now - said_at)
        row = (
            room,
            platform,
            user_id,
            display_name,
            line_text(text, bounds.max_chars),
            now,
            platform_time(said_at, now),
            request_id,
            edited_at,
            copies_since,
            _line_text_before(text, bounds.max_chars),
        )
        # Queued before any await: an archive of this message that starts later waits
        # for this write (`_change`), so the two never pass each other.
        with self._tx.touching(Touch(rooms=frozenset([room]))):
            await self._writes.submit((row, bounds))

    def _warn_of_lag(self, lag: float) -> None:
        """Say, at most every LAG_TOLD_EVERY_SECONDS, that platform times lag this
        machine's clock: when its clock runs ahead, every line looks that old, and the
        age bounds drop it without a word."""
        told = time.monotonic()
        if told - self._lag_told_at < LAG_TOLD_EVERY_SECONDS:
            return
        self._lag_told_at = told
        log.warning(
            "A room line's platform time is %.1f hours behind this machine's clock: unless a"
            " bot is catching up on old messages, this machine's clock runs ahead (keep the"
            " clock synced (NTP)), and lines that look older than [room] max_age_hours, or"
            " 24 hours, are not kept.",
            lag / 3600,
        )

    async def _write_group(self, items: list[tuple[tuple[Any, ...], RoomBounds]]) -> list[Any]:
        # Its rooms are touched by each caller (`add`). A sweep of old lines in every room
        # rides along at times (`_write_rows`): those lines are past the age bound, which
        # every read leaves out (`recent`), so no read waits for it.
        async with self._tx.held_to_write():
            return await self._write_rows(items)

    async def _write_rows(self, items: list[tuple[tuple[Any, ...], RoomBounds]]) -> list[Any]:
        now = time.time()
        try:
            # The check is in the statement, under the write lock: a reset committed by
            # another process before it is seen, and one after it archives the line.
            await self._db.executemany(_INSERT_LINE, [row for row, _ in items])
            rooms = {row[0]: bounds for row, bounds in items}
            for room, bounds in rooms.items():
                await self._keep_newest(room, bounds.max_lines)
            if now - self._swept >= SWEEP_INTERVAL_SECONDS:
                oldest = max(bounds.max_age_seconds for _, bounds in items)
                await self._delete_older(now - oldest)
            await self._tx.commit()
        except Exception as exc:  # disk full: every caller of the group hears it
            with contextlib.suppress(Exception):
                await self._db.rollback()
            return [exc] * len(items)
        return [None] * len(items)

    async def _delete_older(self, before: float) -> None:
        # No index on said_at alone: a scan of a table the bounds keep small, every
        # SWEEP_INTERVAL_SECONDS at most.
        await self._db.execute("DELETE FROM room_lines WHERE said_at < ?", (before,))
        self._swept = time.time()
        # Such a record would keep out the lines said when the clock reaches its date.
        await _delete_future_line_resets(self._db, self._swept)

    async def _keep_newest(self, room: str, max_lines: int) -> None:
        """Delete the room's lines past its newest `max_lines` (by said_at, then id). The
        newest line past them is found by a walk of the room's (said_at, id) index, and
        it and those before it go: `id NOT IN (the newest max_lines)` built that list at
        every heard line (152 ms a line at 100,000; a fifth of it now)."""
        past = await self._db.execute_fetchall(
            "SELECT said_at, id FROM room_lines WHERE room = ?"
            " ORDER BY said_at DESC, id DESC LIMIT 1 OFFSET ?",
            (room, max_lines),
        )
        for said_at, line_id in past:
            # `said_at <= ?` spelled out: SQLite reads no range through the OR, and
            # searched the room's every line by `room` alone (26 ms at 100,000).
            await self._db.execute(
                "DELETE FROM room_lines WHERE room = ? AND said_at <= ?"
                " AND (said_at < ? OR id <= ?)",
                (room, said_at, said_at, line_id),
            )

    async def sweep(self, bounds: RoomBounds) -> None:
        """Bring every room within the bounds now (the worker does every
        SWEEP_INTERVAL_SECONDS): lines older than the age bound go, and the oldest past
        the count bound (lines imported, or a bound lowered since); rooms that went quiet
        write nothing that would."""
        await self._writes.idle()
        async with self._tx.writing(Touch(every_room=True)):
            await self._delete_older(time.time() - bounds.max_age_seconds)
            for (room,) in await self._db.execute_fetchall(
                "SELECT room FROM room_lines GROUP BY room HAVING COUNT(*) > ?",
                (bounds.max_lines,),
            ):
                await self._keep_newest(room, bounds.max_lines)
            await self._tx.commit()

    async def recent(self, room: str, limit: int, max_age_seconds: float) -> list[RoomLine]:
        """The newest live lines of a room, oldest first; a write touching the room that
        began before it is seen whole, none half done (`OneTransaction.read`)."""
        rows = await self._tx.read(
            [("room", room)],
            "SELECT user_id, display_name, content, created_at FROM room_lines"
            " WHERE room = ? AND archived = 0 AND said_at >= ?"
            " ORDER BY said_at DESC, id DESC LIMIT ?",
            (room, time.time() - max_age_seconds, limit),
        )
        return [RoomLine(r[0], r[1], r[2], r[3]) for r in reversed(list(rows))]

    async def holds_line(
        self, room: str, user_id: str, request_id: str, text: str, since: float, max_chars: int
    ) -> bool:
        """Whether a line of `user_id`'s message `request_id` saying `text` (as a line
        keeps it: `line_text`, or as a line stored before kept it) heard at `since`
        (seconds since 1970) or later is kept in `room`, live or archived; one being
        written is waited for (`OneTransaction.read`)."""
        if not (room and user_id and request_id):
            return False
        rows = await self._tx.read(
            [("room", room)],
            "SELECT 1 FROM room_lines WHERE room = ? AND request_id = ? AND request_id != ''"
            " AND user_id = ? AND content IN (?, ?) AND created_at >= ? LIMIT 1",
            (
                room,
                request_id,
                user_id,
                line_text(text, max_chars),
                _line_text_before(text, max_chars),
                since,
            ),
        )
        return any(True for _ in rows)

    async def all_lines(self, room: str) -> list[RoomLine]:
        rows = await self._db.execute_fetchall(
            "SELECT user_id, display_name, content, created_at FROM room_lines"
            " WHERE room = ? ORDER BY said_at, id",
            (room,),
        )
        return [RoomLine(r[0], r[1], r[2], r[3]) for r in rows]

    async def export_lines(self, platform: str, user_id: str, room: str) -> list[dict[str, Any]]:
        """Lines for an export: a user's (in `room`, or everywhere on the platform), a
        room's, or with nothing named, every line."""
        where, params = [], []
        if user_id:
            where += ["platform = ?", "user_id = ?"]
            params += [platform, user_id]
        if room:
            where.append("room = ?")
            params.append(room)
        sql = "SELECT room, platform, user_id, display_name, content, created_at, said_at,"
        sql += " request_id, archived FROM room_lines"
        sql += (" WHERE " + " AND ".join(where)) if where else ""
        rows = await self._db.execute_fetchall(sql + " ORDER BY said_at, id", params)
        keys = (
            "room",
            "platform",
            "user_id",
            "display_name",
            "content",
            "created_at",
            "said_at",
            "request_id",
        )
        return [{**dict(zip(keys, r[:8], strict=True)), "archived": bool(r[8])} for r in rows]

    async def import_lines(self, lines: list[dict[str, Any]]) -> tuple[int, int]:
        """Add lines not stored yet (same room, person, text and time); not committed:
        the caller's import commits. Returns (added, skipped). The bounds apply again at
        the room's next write, or the worker's next sweep."""
        rooms = sorted({line["room"] for line in lines})
        stored: Counter[tuple[Any, ...]] = Counter()
        for room in rooms:
            rows = await self._db.execute_fetchall(
                "SELECT room, platform, user_id, content, created_at FROM room_lines"
                " WHERE room = ?",
                (room,),
            )
            stored.update(tuple(r) for r in rows)
        new = []
        for line in lines:
            key = tuple(line[k] for k in ("room", "platform", "user_id", "content", "created_at"))
            if stored[key] > 0:
                stored[key] -= 1
                continue
            # An export before version 4 holds no platform time: ordered by when heard.
            said_at = key[4] if line.get("said_at") is None else line["said_at"]
            # An export before version 5 holds no message id: such a line is never found
            # by a later delete, recall or edit.
            request_id = line.get("request_id") or ""
            name, archived = line["display_name"], line["archived"]
            new.append((*key[:3], name, key[3], key[4], said_at, request_id, archived))
        if new:
            await self._db.executemany(
                "INSERT INTO room_lines (room, platform, user_id, display_name, content,"
                " created_at, said_at, request_id, archived) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                new,
            )
        return len(new), len(lines) - len(new)

    async def _change(
        self, touch: Touch, sql: str, params: tuple[Any, ...], reset: str = ""
    ) -> int:
        """`sql`, which changes the lines of the rooms `touch` names, committed once the
        lines being written are; `reset`: the key of the record (`RESET_LINES`) that
        keeps a line said before it from being stored later. One transaction: no room
        write on the connection comes between (`OneTransaction`), so a line written
        before it is changed by it, one after it finds the record."""
        # Before the wait: a read from now on waits for it.
        with self._tx.touching(touch):
            # A line being written is covered too; one change of several
            # (`OneTransaction.together`) waited for it before it took the lock.
            if not self._tx.inside_together():
                await self._writes.idle()
            async with self._tx.held_to_write():
                if reset:
                    await record_reset(self._db, reset, RESET_LINES)
                cur = await self._db.execute(sql, params)
                await self._tx.commit()
        return cur.rowcount

    async def archive_room(self, room: str) -> int:
        """An admin's channel reset: the whole room is hidden from the model."""
        return await self._change(
            _room(room),
            "UPDATE room_lines SET archived = 1 WHERE room = ? AND archived = 0",
            (room,),
            room,
        )

    async def archive_user(self, platform: str, user_id: str, room: str = "") -> int:
        """A member's own reset: their lines only (in `room`, or everywhere on the platform)."""
        return await self._change_user(
            "UPDATE room_lines SET archived = 1 WHERE platform = ? AND user_id = ? AND archived = 0",
            platform,
            user_id,
            room,
        )

    async def _change_user(self, sql: str, platform: str, user_id: str, room: str) -> int:
        """`sql` on one person's lines (its WHERE names platform and user_id): in `room`,
        or in every room of the platform."""
        if room:
            return await self._change(
                _room(room),
                sql + " AND room = ?",
                (platform, user_id, room),
                f"{room}:user:{user_id}",
            )
        return await self._change(
            _rooms_of(platform), sql, (platform, user_id), f"{platform}:user:{user_id}"
        )

    async def archive_message(self, room: str, user_id: str, request_id: str) -> int:
        """A message deleted or recalled: its line in `room` is hidden from the model, as
        a reset would. `user_id` "" (a platform that no longer says whose it was): the
        line of that message whoever said it. A line that reaches the worker after this
        (the bots handle each event on its own, and a QQ line can wait for a name) is
        not kept (`add`)."""
        if not (room and request_id):
            return 0  # never every line without an id (those stored before schema 8)
        self._forgotten.note((room, request_id), user_id)
        sql = (
            "UPDATE room_lines SET archived = 1 WHERE room = ? AND request_id = ?"
            " AND request_id != '' AND +archived = 0"
        )
        if user_id:
            return await self._change(
                _room(room), sql + " AND user_id = ?", (room, request_id, user_id)
            )
        return await self._change(_room(room), sql, (room, request_id))

    async def reword(
        self,
        room: str,
        user_id: str,
        request_id: str,
        text: str,
        bounds: RoomBounds,
        edited_at: float | None = None,
    ) -> int:
        """A message edited at `edited_at` (the platform's time): its line in `room` says
        the new text instead (an archived one too, so the old text is gone from the
        database), unless the line holds a newer edit already (an older one reached the
        worker late). None (the platform told no time): newer than every edit before it,
        dated now or the line's edit time if later, so a clock stepped back meanwhile
        keeps no edit out. No line is added for a message not kept as one (answered,
        never heard, or past the bounds)."""
        if not (room and user_id and request_id):
            return 0
        at = time.time() if edited_at is None else edited_at
        return await self._change(
            _room(room),
            "UPDATE room_lines SET content = ?, edited_at = MAX(edited_at, ?) WHERE room = ?"
            " AND request_id = ? AND request_id != '' AND +user_id = ?"
            " AND (? OR edited_at <= ?)",
            (
                line_text(text, bounds.max_chars),
                at,
                room,
                request_id,
                user_id,
                edited_at is None,
                at,
            ),
        )

    async def delete_room(self, room: str) -> int:
        return await self._change(
            _room(room), "DELETE FROM room_lines WHERE room = ?", (room,), room
        )

    async def delete_user(self, platform: str, user_id: str, room: str = "") -> int:
        """Purge: the user's lines in `room`, or in every room of the platform (as
        `archive_user` for a reset: a purge of one member's key in one group deleted
        their lines in every group)."""
        return await self._change_user(
            "DELETE FROM room_lines WHERE platform = ? AND user_id = ?", platform, user_id, room
        )


def _room(room: str) -> Touch:
    return Touch(rooms=frozenset([room]))


def _rooms_of(platform: str) -> Touch:
    """A person's lines in every room of the platform: those they spoke in, which only a
    read of the table could tell."""
    return Touch(rooms_on=frozenset([platform]))


class SpeakUp:
    """Whether ATRI replies to a message not addressed to her: only in `channels`, when
    one of `words` appears (her names among them) or with `probability`; never sooner
    than `cooldown_seconds` after she last spoke up in that channel, nor more than
    `max_per_hour` times an hour there (0: no cap, as the config's other rate caps).
    `rng` and `clock` are swappable for tests."""

    def __init__(
        self,
        channels: Iterable[str],
        probability: float,
        words: Iterable[str],
        cooldown_seconds: float,
        max_per_hour: int,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.channels = frozenset(channels)
        self.probability = probability
        # Whole words where words are spaced (the lorebook's rule, `whole_word_pattern`):
        # "ATRI" calls her, "Matrix" and "atrium" do not; 亚托莉 is found anywhere.
        words = [w.casefold() for w in dict.fromkeys(words) if w.strip()]
        self.words = (
            stoppable_re.compile("|".join(whole_word_pattern(w) for w in words)) if words else None
        )
        self.cooldown_seconds = cooldown_seconds
        self.max_per_hour = max_per_hour
        self.rng = rng or random.Random()
        self.clock = clock
        # When she spoke up in each listed channel within the last hour.
        self._spoken: dict[str, deque[float]] = {}

    def wants_to(self, channel_id: str, text: str) -> bool:
        """Decide for one heard message; a yes counts towards the cooldown and the cap."""
        if channel_id not in self.channels:
            return False
        now = self.clock()
        spoken = self._spoken.setdefault(channel_id, deque())
        while spoken and now - spoken[0] >= HOUR_SECONDS:
            spoken.popleft()
        if self.max_per_hour and len(spoken) >= self.max_per_hour:
            return False
        if spoken and now - spoken[-1] < self.cooldown_seconds:
            return False
        called = self.words is not None and self.words.search(text.casefold()) is not None
        if not called and self.rng.random() >= self.probability:
            return False
        spoken.append(now)
        if not self.max_per_hour:
            # Uncapped, only the last time counts (for the cooldown).
            while len(spoken) > 1:
                spoken.popleft()
        return True
