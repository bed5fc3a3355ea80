"""Stopping a background task at close: the task ends, the caller's own cancel is kept."""

from __future__ import annotations

import asyncio

import pytest

from model.tasks import stop_task


async def slow_to_stop(stopping: asyncio.Event) -> None:
    """A loop whose cleanup on cancel takes a while (a batch finishing, a close)."""
    try:
        await asyncio.sleep(3600)
    finally:
        stopping.set()
        await asyncio.shield(asyncio.sleep(0.2))


async def test_a_cancel_of_the_caller_while_it_waits_reaches_the_caller() -> None:
    """`suppress(CancelledError)` around `await task` swallowed it: a close cancelled
    meanwhile (a shutdown's deadline) went on as if it never was."""
    stopping = asyncio.Event()
    background = asyncio.create_task(slow_to_stop(stopping))
    await asyncio.sleep(0)
    closing = asyncio.create_task(stop_task(background))
    await stopping.wait()
    closing.cancel()
    with pytest.raises(asyncio.CancelledError):
        await closing
    assert closing.cancelled()
    await asyncio.wait([background])
    assert background.cancelled()


async def test_the_task_ends_and_an_error_it_ends_with_is_raised() -> None:
    async def fails_on_cancel() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            raise ValueError("closing failed") from None

    task = asyncio.create_task(fails_on_cancel())
    await asyncio.sleep(0)
    with pytest.raises(ValueError, match="closing failed"):
        await stop_task(task)
    stopped = asyncio.create_task(asyncio.sleep(3600))
    await asyncio.sleep(0)
    await stop_task(stopped)
    assert stopped.cancelled()
    await stop_task(None)  # nothing started: nothing to do
