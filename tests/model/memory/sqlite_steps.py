"""How much work SQLite does for a call: the tests that hold a query to its indexes count
virtual-machine steps (not seconds, which a loaded machine makes meaningless)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from model.memory.store import Memory

T = TypeVar("T")


async def sqlite_steps(memory: Memory, call: Callable[[], Awaitable[T]]) -> tuple[int, T]:
    """SQLite's virtual-machine steps (in tens) `call` runs on `memory`'s connection, and
    what it returned."""
    steps = [0]

    def count() -> int:
        steps[0] += 1
        return 0

    await memory._db.set_progress_handler(count, 10)
    try:
        result = await call()
    finally:
        await memory._db.set_progress_handler(None, 10)
    return steps[0], result
