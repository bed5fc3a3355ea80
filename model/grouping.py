"""Calls grouped into one trip to the database thread (memory and room writes), and the
writes of one connection taken one transaction at a time."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
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
    them (a reset's archived messages beside the summary it has not archived yet): the
    worker's reads hold `between()`, so they see each write whole or not at all."""

    def __init__(self, db: aiosqlite.Connection) -> None:
        self._db = db
        self._lock = asyncio.Lock()

    @contextlib.asynccontextmanager
    async def held(self) -> AsyncIterator[None]:
        async with self._lock:
            try:
                yield
            except BaseException:
                with contextlib.suppress(Exception):  # a damaged file may fail this too
                    await self._db.rollback()
                raise

    @contextlib.asynccontextmanager
    async def between(self) -> AsyncIterator[None]:
        """For a read: no write transaction is half done while it is held."""
        async with self._lock:
            yield
