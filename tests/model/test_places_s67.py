"""Session 67, a load test of a busy group's worker: capacity counted messages, so four
members flooding her in private chats (18 messages each, under the per-minute limit)
had everyone else told "busy" at once for two minutes while four rows generated, the
rest of the flood waiting behind its own conversation; and a message told busy still
used up the sender's per-minute allowance. A place is a conversation now, and a refused
message is not counted."""

from __future__ import annotations

import asyncio

from atri.config import Settings
from model.admission import RateLimiter
from model.service import ChatService
from tests.held_echo import HeldEcho
from tests.model.test_service import req


async def settled() -> None:
    for _ in range(20):  # let every task created reach its wait
        await asyncio.sleep(0)


async def test_members_flooding_take_one_place_each_not_everyones(
    echo_settings: Settings,
) -> None:
    echo_settings.worker.queue_size = 2
    echo_settings.worker.max_batch = 1  # three places
    engine = HeldEcho()
    async with await ChatService.open(echo_settings, engine=engine) as service:
        flood = [
            asyncio.create_task(service.chat(req(f"m{i}", user=who)))
            for who in ("flooder1", "flooder2")
            for i in range(6)
        ]
        await asyncio.wait_for(engine.started.wait(), 5)  # one generating, one queued
        await settled()
        # One more of a flooder's own waits its turn in his place.
        extra = asyncio.create_task(service.chat(req("and again", user="flooder1")))
        quiet = asyncio.create_task(service.chat(req("hello", user="quiet")))
        await settled()
        assert not quiet.done()  # taken, waiting for the engine: not told busy
        # The places are full now (two floods and the quiet one): a fourth person waits
        # for none of them.
        assert (await service.chat(req("hi", user="fourth"))).status == "busy"
        engine.gate.set()
        assert (await quiet).status == "ok"
        assert {r.status for r in await asyncio.gather(*flood, extra)} == {"ok"}
        assert service._in_progress == service._anonymous_in_progress == 0


async def test_a_message_told_busy_does_not_count_against_the_sender(
    echo_settings: Settings,
) -> None:
    echo_settings.worker.queue_size = 1
    echo_settings.worker.max_batch = 1  # two places
    echo_settings.worker.rate_limit_per_minute = 2
    engine = HeldEcho()
    async with await ChatService.open(echo_settings, engine=engine) as service:
        holding = [asyncio.create_task(service.chat(req("one", user="a")))]
        await asyncio.wait_for(engine.started.wait(), 5)  # generating: the queue is free
        holding.append(asyncio.create_task(service.chat(req("one", user="c"))))
        await settled()
        refused = [await service.chat(req(f"try {i}", user="b")) for i in range(3)]
        assert [r.status for r in refused] == ["busy"] * 3
        engine.gate.set()
        assert {r.status for r in await asyncio.gather(*holding)} == {"ok"}
        answered = [await service.chat(req(f"now {i}", user="b")) for i in range(3)]
        # Two a minute, as the limit says: the refused three took none of them.
        assert [r.status for r in answered] == ["ok", "ok", "rate_limited"]


def test_give_back_uncounts_the_last_message_only() -> None:
    limiter = RateLimiter(2)
    assert limiter.allow("k", now=0.0) and limiter.allow("k", now=1.0)
    assert not limiter.allow("k", now=2.0)
    limiter.give_back("k")
    assert limiter.allow("k", now=3.0) and not limiter.allow("k", now=4.0)
    limiter.give_back("nobody")  # a key never counted: nothing to give back
