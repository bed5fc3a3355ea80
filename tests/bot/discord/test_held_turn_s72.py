"""A reply whose post is being retried lets go of its channel's turn during the wait
and takes it back after: cancelled while taking it back (a stop, mid-retry), it must
not release the turn another reply holds now. It did: the cancellation came out as
"RuntimeError: Lock is not acquired", or freed the other reply's turn mid-reply."""

from __future__ import annotations

import asyncio
import types

import pytest

from bot.discord import adapter
from bot.limits import HeldTurn, OneReplyAtATime


class DroppingChannel:
    """A channel whose every post loses its connection (not confirmed: retried)."""

    id = 1

    async def send(self, *args: object, **kwargs: object) -> None:
        raise OSError("connection reset by peer")


async def test_a_reply_cancelled_while_taking_its_turn_back_leaves_the_other_replys_turn(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(adapter, "POST_RETRY_DELAYS", (0.05, 0.05))
    message = types.SimpleNamespace(
        channel=DroppingChannel(), id=5, guild=None, author=types.SimpleNamespace(id=7)
    )
    limits = types.SimpleNamespace(closed=lambda: False)
    lock = OneReplyAtATime().turn(1)
    other_holds = asyncio.Event()
    other_done = asyncio.Event()

    async def retried_reply() -> None:
        async with HeldTurn(lock) as turn:
            await adapter._post_retrying(message, "hi", None, limits, turn, True)  # type: ignore[arg-type]

    async def other_reply() -> None:  # takes the turn during the first one's wait
        async with HeldTurn(lock):
            other_holds.set()
            await other_done.wait()

    first = asyncio.create_task(retried_reply())
    await asyncio.sleep(0.01)
    other = asyncio.create_task(other_reply())
    await other_holds.wait()
    await asyncio.sleep(0.2)  # the first reply's wait is over: it waits for its turn
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    assert lock.locked()  # still the other reply's
    other_done.set()
    await other
    assert not lock.locked()
