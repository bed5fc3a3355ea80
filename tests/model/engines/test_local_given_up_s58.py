"""The local engine ends a batch's rows apart: a row whose caller gave up (its deadline
passed, its /v1 client left) stops decoding at the next step, and a row that ends (its
cap, a stop token, a stop string) is answered that step, while the batch's longer rows
go on; the other rows of a batch are as before."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

import pytest

from atri.config import Settings
from model.batching import Batcher
from model.engines.base import NO_LIMITS, EndsRowsApart, Generation, RowLimits
from model.engines.local import LocalEngine, RowStops
from tests.model.engines import test_local
from tests.model.engines.test_local import chat

# Its fixture: the tiny model's engine, which never ends a reply by itself (tokens counted).
engine = test_local.engine


class GivesUpAfter:
    """A caller that gives up once the engine has asked `asks` times (once a step)."""

    def __init__(self, asks: int) -> None:
        self.asks = asks
        self.asked = 0

    def __call__(self) -> bool:
        self.asked += 1
        return self.asked > self.asks


def test_the_flag_is_no_limit_of_its_own() -> None:
    # A row whose only limit is the flag still counts as a row without limits.
    assert RowLimits(given_up=lambda: True) == NO_LIMITS
    assert not NO_LIMITS.abandoned()
    assert RowLimits(given_up=lambda: True).abandoned()


async def test_a_given_up_row_stops_while_the_others_go_on(
    engine: LocalEngine, tiny_settings: Settings
) -> None:
    gen = tiny_settings.generation.model_copy(update={"max_new_tokens": 40})
    left, stays = await engine.generate(
        [chat("hi"), chat("do you like the sea?")],
        gen,
        [RowLimits(given_up=GivesUpAfter(5)), RowLimits(given_up=lambda: False)],
    )
    assert left.new_tokens <= 6
    assert stays.new_tokens == 40
    (alone,) = await engine.generate([chat("do you like the sea?")], gen)
    assert stays.text == alone.text


async def test_a_window_group_nobody_waits_for_is_not_run(
    engine: LocalEngine, tiny_settings: Settings
) -> None:
    gen = tiny_settings.generation
    calls_before = engine.stats.generated_tokens
    (gone,) = await engine.generate([chat("hi")], gen, [RowLimits(given_up=lambda: True)])
    assert gone.new_tokens == 0 and gone.text == ""
    assert engine.stats.generated_tokens == calls_before


@contextlib.asynccontextmanager
async def long_and_short(
    engine: LocalEngine, settings: Settings, short_cap: int
) -> AsyncIterator[tuple[asyncio.Task[Generation], asyncio.Task[Generation]]]:
    """A batch of a 1,500-token row and a `short_cap`-token one, through the batcher as
    ChatService uses it: their callers' tasks."""
    gen = settings.generation.model_copy(update={"max_new_tokens": 1500})
    batcher = Batcher(engine, gen, max_batch=4, window_seconds=0.05, queue_size=8)
    batcher.start()
    try:
        long_one = asyncio.create_task(batcher.submit(chat("tell me everything")))
        short = RowLimits(max_new_tokens=short_cap)
        yield long_one, asyncio.create_task(batcher.submit(chat("hi"), short))
    finally:
        await batcher.stop()


async def test_a_cancelled_caller_frees_the_batch_it_shared(
    engine: LocalEngine, tiny_settings: Settings
) -> None:
    """Through the batcher, as ChatService uses it: the caller's task is cancelled (a
    client that left); the batch ends soon after instead of running its row's 1,500
    tokens, and the caller beside it gets its reply whole."""
    assert isinstance(engine, EndsRowsApart)
    async with long_and_short(engine, tiny_settings, 30) as (long_one, short_one):
        await asyncio.sleep(0.3)  # the batch (window 0.05 s) is well under way
        long_one.cancel()
        started = time.monotonic()
        reply = await asyncio.wait_for(short_one, 60)
        assert reply.new_tokens == 30
        while engine.stats.generated_rows < 2:
            await asyncio.sleep(0.01)
        # The cancelled row decoded what it had until its caller left, not its 1,500.
        assert engine.stats.generated_tokens < 30 + 1500 // 2
        assert time.monotonic() - started < 30
        with pytest.raises(asyncio.CancelledError):
            await long_one


async def test_a_short_row_is_answered_while_the_batch_goes_on(
    engine: LocalEngine, tiny_settings: Settings
) -> None:
    """Its caller gets the reply the step the row ends, the same reply the batch returns
    at its end, not after the batch's 1,500-token row."""
    async with long_and_short(engine, tiny_settings, 5) as (long_one, short_one):
        reply = await asyncio.wait_for(short_one, 60)
        assert not long_one.done()  # still decoding its long row
        long_one.cancel()  # its row ends at the next step
        while engine.stats.generated_rows < 2:
            await asyncio.sleep(0.01)
    short_gen = tiny_settings.generation.model_copy(update={"max_new_tokens": 5})
    (alone,) = await engine.generate([chat("hi")], short_gen)
    assert (reply.text, reply.new_tokens, reply.finish_reason) == (alone.text, 5, "length")


def test_a_row_ends_at_its_stop_token_and_is_delivered_then() -> None:
    import torch

    delivered: list[Generation] = []
    stops = RowStops(
        [10, 10],
        [RowLimits(deliver=delivered.append), RowLimits(deliver=delivered.append)],
        decode=str,
        stop_ids=[7],
        reply=lambda i, tokens: Generation(text=f"row {i}: {tokens}", new_tokens=len(tokens)),
    )
    first = torch.tensor([[1, 1, 3], [2, 2, 4]])
    assert stops(first, None).tolist() == [False, False]
    second = torch.tensor([[1, 1, 3, 7], [2, 2, 4, 5]])  # row 0 says its stop token
    assert stops(second, None).tolist() == [True, False]
    assert stops.ended == [2, 0]
    assert [g.text for g in delivered] == ["row 0: [3, 7]"]
