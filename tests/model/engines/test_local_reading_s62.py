"""A long prompt being read holds no one else up (`StepLoop._read`): a request that comes
while it is read is read beside it, a piece a step, and answered first if it is short,
with the reply it would get alone; the prefix cache keeps the first reading's prompt."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from atri.config import Settings
from model.engines import local_steps
from model.engines.local import LocalEngine
from model.engines.prefix_cache import common_length
from model.engines.read_pieces import ReadCosts
from tests.model.engines.test_local import chat
from tests.model.engines.test_local_joining_s60 import (
    QUESTIONS,
    alone,
    make_engine,
    paced,
    with_tokens,
)

LONG_QUESTION = QUESTIONS[3] * 12  # a few hundred tokens: many pieces of 8


@pytest.fixture
async def engine(
    tiny_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[LocalEngine]:
    monkeypatch.setattr(local_steps, "READ_STEP_TOKENS", 8)
    monkeypatch.setattr(local_steps, "READ_ALONE_MOST_TOKENS", 8)
    engine = await make_engine(tiny_settings)
    try:
        yield engine
    finally:
        await engine.close()


async def being_read(engine: LocalEngine) -> local_steps.Reading:
    """The reading in flight once a piece of its prompt was read (its start into the
    prefix cache, then its own tokens), with more pieces to come."""
    assert engine.steps is not None
    seen: tuple[int, int] | None = None
    for _ in range(5000):
        readings = list(engine.steps.readings)
        if readings:
            progress = (readings[0].warmed, readings[0].at)
            if seen is not None and progress != seen:
                return readings[0]
            seen = progress
        await asyncio.sleep(0.001)
    raise AssertionError("no prompt was being read")


def frozen_costs(engine: LocalEngine, monkeypatch: pytest.MonkeyPatch) -> ReadCosts:
    """The step loop's costs, no longer moved by what this (loaded) machine measures."""
    assert engine.steps is not None
    costs = engine.steps.costs
    monkeypatch.setattr(costs, "stepped", lambda seconds: None)
    monkeypatch.setattr(costs, "read", lambda tokens, seconds: None)
    return costs


@pytest.mark.parametrize("together", [True, False])
async def test_a_short_request_is_not_held_up_by_a_long_prompt_being_read(
    engine: LocalEngine, tiny_settings: Settings, together: bool
) -> None:
    """Nothing decodes; a long prompt is being read when a short request comes. Read
    beside it, the short one is answered before the long prompt is read to its end. The
    baseline (`reads_together` off: one reading at a time, a lone one whole) answers the
    long one first: this test tells the two apart."""
    assert engine.steps is not None
    engine.steps.reads_together = together
    paced(engine)
    one = with_tokens(tiny_settings.generation, 1)
    short_gen = with_tokens(tiny_settings.generation, 3)
    (long_row,) = engine.generate_rows([chat(LONG_QUESTION)], one)
    if together:
        await being_read(engine)
    else:  # read whole: in flight for a moment only (or over already, on a busy machine)
        while not engine.steps.readings and not long_row.done():
            await asyncio.sleep(0.001)
    (short_row,) = engine.generate_rows([chat(QUESTIONS[1])], short_gen)
    done, _ = await asyncio.wait({long_row, short_row}, return_when=asyncio.FIRST_COMPLETED)
    first = short_row if together else long_row
    assert done == {first}
    short, long = await asyncio.wait_for(asyncio.gather(short_row, long_row), 120)
    assert short.new_tokens == 3 and long.new_tokens == 1
    assert short.text == await alone(engine, QUESTIONS[1], short_gen)
    assert long.text == await alone(engine, LONG_QUESTION, one)


async def test_prompts_read_beside_each_other_get_their_replies_alone(
    engine: LocalEngine, tiny_settings: Settings
) -> None:
    """Three requests come a moment apart while a reply decodes and a long prompt is
    read: each is read beside the others and every reply is the one it gets alone."""
    assert engine.steps is not None
    paced(engine, 0.002)
    long_gen = with_tokens(tiny_settings.generation, 40)
    short_gen = with_tokens(tiny_settings.generation, 6)
    (running,) = engine.generate_rows([chat(QUESTIONS[0])], long_gen)
    while engine.steps.steps_done < 2:
        await asyncio.sleep(0.002)
    (long_row,) = engine.generate_rows([chat(LONG_QUESTION)], short_gen)
    await being_read(engine)
    later = [engine.generate_rows([chat(q)], short_gen)[0] for q in QUESTIONS[1:3]]
    replies = await asyncio.wait_for(asyncio.gather(running, long_row, *later), 120)
    expected = [
        await alone(engine, QUESTIONS[0], long_gen),
        await alone(engine, LONG_QUESTION, short_gen),
        *[await alone(engine, q, short_gen) for q in QUESTIONS[1:3]],
    ]
    assert [r.text for r in replies] == expected


async def test_a_prompt_read_beside_another_leaves_its_prefix_in_the_cache(
    engine: LocalEngine, tiny_settings: Settings
) -> None:
    """The first reading puts its prompt in the prefix cache a piece at a time; one read
    beside it takes the system prompt from the cache without cutting the entry back, so
    no piece of the first is computed twice, and the cache ends holding the first."""
    assert engine.steps is not None
    one = with_tokens(tiny_settings.generation, 1)
    await alone(engine, QUESTIONS[0], one)  # the system prompt is in the cache
    cache = engine.prefix_cache
    paced(engine)
    computed = cache.computed_tokens
    (long_row,) = engine.generate_rows([chat(LONG_QUESTION)], one)
    await being_read(engine)
    (short_row,) = engine.generate_rows([chat(QUESTIONS[2])], one)
    await asyncio.wait_for(asyncio.gather(long_row, short_row), 120)
    first, long_prompt = engine._tokenize(engine._render([chat(QUESTIONS[0]), chat(LONG_QUESTION)]))
    assert cache.entries[engine.active_adapter].ids == long_prompt[:-1]  # not cut back
    # What the cache computed: the long prompt past what it held before, once.
    held = common_length(first[:-1], long_prompt)
    assert held > 0
    assert cache.computed_tokens - computed == len(long_prompt) - 1 - held


async def test_a_step_job_waiting_goes_before_new_readings(
    engine: LocalEngine, tiny_settings: Settings
) -> None:
    """While a long prompt is read, a step job (an adapter load, say) is queued, then a
    request comes: the job runs once the long prompt is read, before the newcomer's
    prompt starts, so a flood of newcomers cannot keep it waiting."""
    assert engine.steps is not None
    steps = engine.steps
    paced(engine)
    order: list[str] = []
    start = local_steps.StepLoop._start_reading

    def noted(self: local_steps.StepLoop, rows: list[local_steps.StepRow]) -> None:
        order.append("read")
        start(self, rows)

    steps._start_reading = noted.__get__(steps)  # type: ignore[method-assign]
    gen = with_tokens(tiny_settings.generation, 2)
    (long_row,) = engine.generate_rows([chat(LONG_QUESTION)], gen)
    await being_read(engine)
    job = steps.between_steps(lambda: order.append("job"))
    (short_row,) = engine.generate_rows([chat(QUESTIONS[1])], gen)
    await asyncio.wait_for(asyncio.gather(long_row, short_row, asyncio.wrap_future(job)), 120)
    assert order == ["read", "job", "read"]


async def test_a_lone_prompt_is_read_in_pieces_sized_by_what_a_token_costs(
    engine: LocalEngine, tiny_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Alone, a long prompt is read in pieces of about READ_PIECE_SECONDS: as many tokens
    as the costs measured so far say, growing as the (fast) tiny model proves cheaper,
    never past READ_ALONE_MOST_TOKENS."""
    from model.engines.read_pieces import READ_PIECE_SECONDS

    assert engine.steps is not None
    monkeypatch.setattr(local_steps, "READ_ALONE_MOST_TOKENS", 64)
    engine.steps.costs.token_s = READ_PIECE_SECONDS / 40  # as if a token cost 1/80 s
    pieces: list[int] = []
    read = local_steps.Reading.read

    def noted(self: local_steps.Reading, budget: int | None) -> object:
        pieces.append(-1 if budget is None else budget)
        return read(self, budget)

    monkeypatch.setattr(local_steps.Reading, "read", noted)
    (row,) = engine.generate_rows([chat(LONG_QUESTION)], with_tokens(tiny_settings.generation, 1))
    await asyncio.wait_for(row, 60)
    assert len(pieces) > 3
    assert pieces[0] == 40 < pieces[1]
    assert max(pieces) == 64


async def test_a_long_prompt_beside_replies_reads_about_a_steps_worth_a_step(
    engine: LocalEngine, tiny_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Beside a reply in flight, a long prompt (a /v1 conversation) reads only as many
    tokens a step as cost about one step (`ReadCosts.long_share`), so the reply goes on
    at about half speed; a chat turn's prompt still reads READ_STEP_TOKENS a step. Its
    reply is its reply alone all the same."""
    assert engine.steps is not None
    costs = frozen_costs(engine, monkeypatch)
    monkeypatch.setattr(local_steps, "READ_STEP_TOKENS", 32)
    monkeypatch.setattr(local_steps, "LONG_PROMPT_TOKENS", 40)
    paced(engine)
    pieces: list[tuple[int, int]] = []  # (tokens left, piece) while the reply decodes
    read = local_steps.Reading.read

    def noted(self: local_steps.Reading, budget: int | None) -> object:
        assert budget is not None
        pieces.append((self.left(), budget))
        return read(self, budget)

    monkeypatch.setattr(local_steps.Reading, "read", noted)
    (running,) = engine.generate_rows(
        [chat(QUESTIONS[0])], with_tokens(tiny_settings.generation, 3000)
    )
    while engine.steps.steps_done < 3:
        await asyncio.sleep(0.002)
    costs.step_s, costs.token_s = 0.003, 0.001  # a step's worth: three tokens
    pieces.clear()
    short = with_tokens(tiny_settings.generation, 2)
    (joined,) = engine.generate_rows([chat(LONG_QUESTION)], short)
    reply = await asyncio.wait_for(joined, 120)
    running.cancel()
    long_pieces = [piece for left, piece in pieces if left > 40]
    assert len(long_pieces) > 10 and max(long_pieces) <= 8
    assert {piece for left, piece in pieces if left <= 40} == {32}  # its last few tokens
    assert reply.text == await alone(engine, LONG_QUESTION, short)


async def test_a_long_prompt_reads_a_steps_worth_while_a_chat_turn_is_read_beside_it(
    engine: LocalEngine, tiny_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing decodes; while a chat turn's prompt is read beside a long one, the long one
    reads only about a step's worth, so the chat turn starts replying sooner; alone
    again, it reads its half-second pieces."""
    assert engine.steps is not None
    monkeypatch.setattr(local_steps, "READ_STEP_TOKENS", 32)
    monkeypatch.setattr(local_steps, "LONG_PROMPT_TOKENS", 100)  # the chat turn's: ~60
    monkeypatch.setattr(local_steps, "READ_ALONE_MOST_TOKENS", 16)
    costs = frozen_costs(engine, monkeypatch)
    costs.step_s, costs.token_s = 0.003, 0.001  # a step's worth: three tokens
    paced(engine)
    pieces: list[tuple[int, int, int]] = []  # (readings, tokens left, piece) of the long one
    read = local_steps.Reading.read
    long_prompt_reading: list[local_steps.Reading] = []

    def noted(self: local_steps.Reading, budget: int | None) -> object:
        assert budget is not None and engine.steps is not None
        if self in long_prompt_reading:
            pieces.append((len(engine.steps.readings), self.left(), budget))
        return read(self, budget)

    monkeypatch.setattr(local_steps.Reading, "read", noted)
    one = with_tokens(tiny_settings.generation, 1)
    await alone(engine, QUESTIONS[0], one)  # the system prompt is in the prefix cache
    (long_row,) = engine.generate_rows([chat(LONG_QUESTION)], one)
    long_prompt_reading.append(await being_read(engine))
    (short_row,) = engine.generate_rows([chat(QUESTIONS[1])], one)
    await asyncio.wait_for(asyncio.gather(long_row, short_row), 120)
    beside = [piece for readings, left, piece in pieces if readings == 2 and left > 100]
    assert beside and max(beside) <= 4
    assert [piece for readings, _, piece in pieces if readings == 1][-1] == 16


async def test_a_prompt_nobody_waits_for_is_read_no_further(
    engine: LocalEngine, tiny_settings: Settings
) -> None:
    """A /v1 client leaves while its long conversation is read beside a reply: the
    reading is dropped at the next step (its future answered, empty), and the reply in
    flight goes on at full speed."""
    assert engine.steps is not None
    paced(engine)
    (running,) = engine.generate_rows(
        [chat(QUESTIONS[0])], with_tokens(tiny_settings.generation, 3000)
    )
    while engine.steps.steps_done < 2:
        await asyncio.sleep(0.002)
    (long_row,) = engine.generate_rows([chat(LONG_QUESTION)], tiny_settings.generation)
    (row,) = (await being_read(engine)).rows
    long_row.cancel()
    at_cancel = engine.steps.steps_done
    for _ in range(2000):
        if not engine.steps.readings:
            break
        await asyncio.sleep(0.002)
    assert not engine.steps.readings
    assert engine.steps.steps_done - at_cancel <= 3  # dropped, not read to its end
    assert row.new == [] and row.done.done()
    assert not running.done()
    running.cancel()


def test_prompts_within_a_long_prompts_length_of_the_shortest_are_read_together() -> None:
    short, longer = [1] * 50, [1] * (50 + local_steps.LONG_PROMPT_TOKENS)
    longest = [1] * (51 + local_steps.LONG_PROMPT_TOKENS)
    assert local_steps.reading_groups([longest, short, longer, short]) == [[1, 2, 3], [0]]
    assert local_steps.reading_groups([short]) == [[0]]
    assert local_steps.reading_groups([longest, longest]) == [[0, 1]]


async def test_a_long_prompt_that_comes_with_chat_turns_is_read_apart_from_them(
    engine: LocalEngine, tiny_settings: Settings
) -> None:
    """A long conversation and two chat turns come in one batch: the chat turns are
    read together and the long one apart (not every row padded to its length), so they
    are answered before it is read; each reply is the one it gets alone."""
    assert engine.steps is not None
    paced(engine)
    gen = with_tokens(tiny_settings.generation, 3)
    questions = [LONG_QUESTION, QUESTIONS[1], QUESTIONS[2]]
    rows = engine.generate_rows([chat(q) for q in questions], gen)
    done, _ = await asyncio.wait(rows, return_when=asyncio.FIRST_COMPLETED)
    assert rows[0] not in done
    replies = await asyncio.wait_for(asyncio.gather(*rows), 120)
    assert [r.text for r in replies] == [await alone(engine, q, gen) for q in questions]
