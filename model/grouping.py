"""Calls grouped into one trip to the database thread (memory and room writes), the
writes of one connection taken one transaction at a time, and reads that wait only for
the writes in flight that change what they read."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from operator import attrgetter
from typing import Any, Generic, TypeVar

import aiosqlite

T = TypeVar("T")


class Grouped(Generic[T]):
    """Calls that arrive while a group is being handled wait, and are handled together
    next: one trip to the database thread for all of them. Alone, a call goes at once.

    `handle` gets the items of a group and returns one outcome per item, in order: the
    caller's result, or an exception to raise in that caller."""

    MAX_GROUP = 200  # SQLite allows 500 terms in one compound SELECT; a read adds two

    def __init__(self, handle: Callable[[list[T]], Awaitable[list[Any]]], name: str) -> None:
        self.handle = handle
        self.name = name
        self._pending: list[tuple[T, asyncio.Future[Any]]] = []
        self._task: asyncio.Task[None] | None = None

    async def submit(self, item: T) -> Any:
        done = asyncio.get_running_loop().create_future()
        self._pending.append((item, done))
        if self._task is None:
            self._task = asyncio.create_task(self._drain(), name=self.name)
        return await done

    async def idle(self) -> None:
        if self._task is not None:
            await asyncio.shield(self._task)

    async def _drain(self) -> None:
        try:
            while self._pending:
                group = self._pending[: self.MAX_GROUP]
                del self._pending[: self.MAX_GROUP]
                try:
                    outcomes = await self.handle([item for item, _ in group])
                except Exception as exc:
                    outcomes = [exc] * len(group)
                for (_, done), outcome in zip(group, outcomes, strict=True):
                    if done.done():
                        continue  # the caller gave up; a write still happened
                    if isinstance(outcome, Exception):
                        done.set_exception(outcome)
                    else:
                        done.set_result(outcome)
        finally:
            self._task = None


class OneTransaction:
    """The write transactions of one SQLite connection, one at a time. sqlite3 keeps one
    transaction per connection (begun by its first write, ended by a commit or a
    rollback): two callers whose statements interleave share it, so one's rollback (a
    write that failed: the disk full) undoes the other's statements, and one's commit
    commits the other's change half done (a reset's record without its archiving). Each
    write holds `held()` from its first statement to its commit; one that raises is
    rolled back before it lets go.

    A read on the connection sees its uncommitted statements too, whichever caller ran
    them (a reset's archived messages beside the summary it has not archived yet). The
    worker's reads go through `read()`: they wait for the writes in flight that touch
    what they read (`WritesInFlight`), then read the last commit on `reader`, a second
    connection to the file; on `:memory:`, which no second connection can open, they
    hold `between()` on this one, so they see each write whole or not at all."""

    def __init__(self, db: aiosqlite.Connection) -> None:
        self._db = db
        self._lock = asyncio.Lock()
        self.reader: aiosqlite.Connection | None = None
        self.inflight = WritesInFlight()
        self._together: asyncio.Task[Any] | None = None  # the task inside `together()`
        self._together_touches: contextlib.ExitStack | None = None
        # Awaited after each commit (held, none open) while set: `Memory` sets it to
        # `Memory._after_commit` (a write that worked told, a file held alone on a full
        # disk shared again).
        self.after_commit: Callable[[], Awaitable[None]] | None = None
        # `Memory._check_in_place` (the file still at its path), before each write's
        # first statement (`held_to_write`): nothing is written into a file moved away
        # (a check after the commit only would tell of the loss, not spare it). That
        # stat stands for the write's commit (`_checked`): one a write. A commit no
        # check came before (`held()` alone: an import) checks after it.
        self.check_in_place: Callable[[], None] | None = None
        self._checked = False

    @contextlib.asynccontextmanager
    async def held(self) -> AsyncIterator[None]:
        if self.inside_together():  # one write of several: `together` rolls back
            yield
            return
        async with self._lock:
            try:
                yield
            except BaseException:
                with contextlib.suppress(Exception):  # a damaged file may fail this too
                    await self._db.rollback()
                raise

    @contextlib.asynccontextmanager
    async def held_to_write(self) -> AsyncIterator[None]:
        """`held()` for a write: the file checked first (`check_in_place`), which counts
        as its commit's check. A move in the millisecond between the stat and the commit
        fails the next write, before it writes."""
        async with self.held():
            if self.inside_together():  # checked as `together` began
                yield
                return
            if self.check_in_place is not None:
                self.check_in_place()
                self._checked = True
            try:
                yield
            finally:
                self._checked = False  # a commit without a check before checks after

    @contextlib.asynccontextmanager
    async def together(self) -> AsyncIterator[None]:
        """Several writes, each written as if alone (`held`, `begin_immediate`,
        `commit`), made one transaction: SQLite's write lock is taken at once and only the
        last commit is made, so another process (`atri memory export`, or a worker beside
        `atri memory purge`) sees all of them or none. The writes of this task inside do
        not wait for the lock it holds; nothing inside may wait for another task's write
        (a grouped write queued behind the lock): take those before."""
        if self.inside_together():  # a part of the one already begun
            yield
            return
        with contextlib.ExitStack() as touches:  # let go after the commit or rollback
            async with self.held_to_write():
                self._together, self._together_touches = asyncio.current_task(), touches
                try:
                    await self._db.execute("BEGIN IMMEDIATE")
                    yield
                    await self._db.commit()
                    await self._after_commit()
                finally:
                    self._together = self._together_touches = None

    def inside_together(self) -> bool:
        """Whether this task's writes are parts of one `together()` transaction."""
        return self._together is not None and self._together is asyncio.current_task()

    async def begin_immediate(self) -> None:
        """Take SQLite's write lock now, before what the transaction reads: another
        process writing meanwhile waits for the commit (up to its busy timeout) instead of
        slipping in between the read and the write. Inside `together()` it is taken."""
        if not self.inside_together():
            await self._db.execute("BEGIN IMMEDIATE")

    async def commit(self) -> None:
        """The end of a write; inside `together()`, that of the last one only."""
        if not self.inside_together():
            await self._db.commit()
            await self._after_commit()

    async def _after_commit(self) -> None:
        checked, self._checked = self._checked, False  # a second commit checks again
        if not checked and self.check_in_place is not None:
            self.check_in_place()
        if self.after_commit is not None:
            await self.after_commit()

    @contextlib.asynccontextmanager
    async def between(self) -> AsyncIterator[None]:
        """For a read: no write transaction is half done while it is held."""
        if self.inside_together():  # it reads its own transaction: the caller's
            yield
            return
        async with self._lock:
            yield

    @contextlib.asynccontextmanager
    async def writing(self, touch: Touch) -> AsyncIterator[None]:
        """`held()` for a write of one transaction that changes what `touch` says,
        registered before it waits for the lock (`touching`), checked first
        (`held_to_write`)."""
        with self.touching(touch):
            async with self.held_to_write():
                yield

    def touching(self, touch: Touch) -> contextlib.AbstractContextManager[None]:
        """Around a write, entered before its first await: what it changes (`Touch`,
        `WritesInFlight.touching`). One write of several in `together()` is in flight
        until their commit: a read begun after it must not find the last commit, from
        before it."""
        if self._together_touches is not None and self.inside_together():
            self._together_touches.enter_context(self.inflight.touching(touch))
            return contextlib.nullcontext()
        return self.inflight.touching(touch)

    async def read(
        self, keys: Sequence[ReadKey], sql: str, params: Sequence[Any] = ()
    ) -> Iterable[aiosqlite.Row]:
        """The rows of one statement that reads `keys`, with every write that touches
        them and began before it whole or not at all (`WritesInFlight.read`)."""
        return await self.inflight.read(keys, lambda: self.fetch(sql, params))

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> Iterable[aiosqlite.Row]:
        """One statement on the reader (the last commit), else between two writes. Alone,
        no wait for a write that touches what it reads: for `WritesInFlight.read`."""
        if self.reader is not None:
            return await self.reader.execute_fetchall(sql, params)
        async with self.between():
            return await self._db.execute_fetchall(sql, params)


# What a read reads: ("scope", key) a conversation, ("room", key) a room's lines,
# ("scopes", platform) every conversation of a platform (a delete that does not say
# whose message it was).
ReadKey = tuple[str, str]


@dataclass(frozen=True)
class Touch:
    """What one write changes, in the keys reads name (`ReadKey`). Scope keys are
    `model.memory.scopes`' (`qq:user:42`, `qq:chan:7`, `qq:chan:7:user:42`); this module
    reads them as strings, since `model.memory` imports it."""

    scopes: frozenset[str] = frozenset()
    scope_prefixes: tuple[str, ...] = ()  # every scope whose key starts so
    # (platform, user id): every conversation of that person's own, on the platform
    # (`qq:user:42`) and in each channel (`qq:chan:7:user:42`).
    people: frozenset[tuple[str, str]] = frozenset()
    shared_on: frozenset[str] = frozenset()  # every conversation a channel shares there
    rooms: frozenset[str] = frozenset()
    rooms_on: frozenset[str] = frozenset()  # every room of these platforms
    every_room: bool = False
    everything: bool = False

    def reaches(self, key: ReadKey) -> bool:
        kind, name = key
        if self.everything:
            return True
        if kind == "room":
            return self.every_room or name in self.rooms or _platform(name) in self.rooms_on
        if kind == "scopes":
            return any(_platform(s) == name for s in self.scopes) or bool(
                self.scope_prefixes or self.people or self.shared_on
            )
        return (
            name in self.scopes
            or name.startswith(self.scope_prefixes)
            or any(_own_conversation(name, *person) for person in self.people)
            or (_platform(name) in self.shared_on and _shared_conversation(name))
        )

    def filed_under(self) -> frozenset[_IndexKey] | None:
        """The index keys (`_looked_up_by`) of every read key this touch `reaches`, or
        None for a broad one (prefixes, people, shared conversations, every room,
        everything), which each read checks with `reaches` instead. Keep in step with
        `reaches`: a narrow touch reaches a key exactly when one of its index keys is
        one the key is looked up by."""
        if (
            self.everything
            or self.every_room
            or self.scope_prefixes
            or self.people
            or self.shared_on
        ):
            return None
        keys = [(_ROOM, room) for room in self.rooms]
        keys += [(_ROOMS_ON, platform) for platform in self.rooms_on]
        for scope in self.scopes:
            keys += ((_SCOPE, scope), (_SCOPES_ON, _platform(scope)))
        return frozenset(keys)


# Where `WritesInFlight` files a narrow write (`Touch.filed_under`): its scopes, their
# platforms (for a ("scopes", platform) read), its rooms, its platforms' rooms.
_IndexKey = tuple[str, str]
_SCOPE, _SCOPES_ON, _ROOM, _ROOMS_ON = "scope", "scopes on", "room", "rooms on"


def _looked_up_by(key: ReadKey) -> tuple[_IndexKey, ...]:
    """The index keys of the narrow writes that reach `key` (`Touch.reaches`)."""
    kind, name = key
    if kind == "room":
        return ((_ROOM, name), (_ROOMS_ON, _platform(name)))
    if kind == "scopes":
        return ((_SCOPES_ON, name),)
    return ((_SCOPE, name),)


def _platform(key: str) -> str:
    return key.partition(":")[0]


def _own_conversation(scope: str, platform: str, user_id: str) -> bool:
    """`qq:user:42` or `qq:chan:<channel>:user:42`, as `parse_scope` reads them."""
    if scope == f"{platform}:user:{user_id}":
        return True
    _, sep, user = scope.removeprefix(f"{platform}:chan:").partition(":user:")
    return scope.startswith(f"{platform}:chan:") and bool(sep) and user == user_id


def _shared_conversation(scope: str) -> bool:
    """A channel's key (`qq:chan:7`), no one member's."""
    return scope.partition(":")[2].startswith("chan:") and ":user:" not in scope


@dataclass(eq=False)  # hashed by identity: a key of the index's buckets
class _Write:
    touch: Touch
    done: asyncio.Event
    order: int  # when it registered: reads wait for writes in that order
    filed_under: frozenset[_IndexKey] | None


class WritesInFlight:
    """The writes in flight and what each touches, so a read waits only for those that
    change what it reads, then reads the last commit on a connection of its own.

    A write registers what it touches before it begins (before it waits for the
    transaction lock, or a group of writes) and is done once it committed or rolled
    back. Every write is one transaction (a change of several writes is made one by
    `OneTransaction.together`), so a read that waits for the writes in flight touching
    its keys, then reads, sees every write touching what it reads that began before it,
    whole, and none half done. One that begins while it reads is seen before or after,
    never in part: the read does not wait for it, so a flood of messages in a room never
    holds a read of it back. A write that touches nothing it reads changes none of its
    rows, so the last commit is as good as the state after that write. (Session 43's
    second connection read the last commit at once: a prompt read while a delete was
    still on its way found the deleted line.)"""

    def __init__(self) -> None:
        # Indexed by what they touch, so a read costs a few lookups, not a scan of every
        # write in flight (one per user at once: quadratic under load). Each bucket is a
        # dict used as a set: a write leaves one a flood of a room's lines keeps full in
        # one step, not a search of the list.
        self._narrow: dict[_IndexKey, dict[_Write, None]] = {}
        self._broad: dict[_Write, None] = {}  # rare: resets, purges, deletes
        self._count = itertools.count()

    @contextlib.contextmanager
    def touching(self, touch: Touch) -> Iterator[None]:
        write = _Write(touch, asyncio.Event(), next(self._count), touch.filed_under())
        for bucket in self._buckets_of(write):
            bucket[write] = None
        try:
            yield
        finally:
            self._forget(write)
            write.done.set()

    def _buckets_of(self, write: _Write) -> list[dict[_Write, None]]:
        if write.filed_under is None:
            return [self._broad]
        return [self._narrow.setdefault(key, {}) for key in write.filed_under]

    def _forget(self, write: _Write) -> None:
        if write.filed_under is None:
            del self._broad[write]
            return
        for key in write.filed_under:
            bucket = self._narrow[key]
            del bucket[write]
            if not bucket:
                del self._narrow[key]

    def touched(self, keys: Sequence[ReadKey]) -> list[asyncio.Event]:
        """The writes in flight that touch one of `keys` (`Touch.reaches`), in the order
        they registered: each one's end."""
        found = [w for w in self._broad if any(w.touch.reaches(key) for key in keys)]
        for key in keys:
            for index_key in _looked_up_by(key):
                found += self._narrow.get(index_key, ())
        if len(found) > 1:  # a write filed under two of these keys is waited for once
            found = sorted(set(found), key=attrgetter("order"))
        return [w.done for w in found]

    async def read(self, keys: Sequence[ReadKey], run: Callable[[], Awaitable[T]]) -> T:
        """`run()` (a read of `keys` on the reader, or between writes) once the writes in
        flight touching `keys` are done (not those begun since, which the read may come
        before)."""
        for done in self.touched(keys):
            await done.wait()
        return await run()
