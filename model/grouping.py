"""Calls grouped into one trip to the database thread (memory and room writes)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

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
