"""Session 75: a read found the writes in flight it waits for by asking every one of them
(`Touch.reaches`), twice per chat request: at 100 users at once, ~10% of the event loop's
time, growing with the square of the load. `WritesInFlight` indexes them by what they
touch now, and asks only the rare broad ones (a reset, a purge, a delete). Which writes a
read waits for, and in what order, is the old linear rule's."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Sequence
from pathlib import Path

import pytest

from model.grouping import ReadKey, Touch, WritesInFlight
from model.memory import Memory
from tests.model.memory.test_reads_beside_writes_s44 import HeldWrite, exchange

# Keys picked so that prefixes, people, channels and platforms overlap in every way
# `reaches` reads them, odd ones included (a colon in a platform, an empty key).
SCOPES = [
    "qq:user:42",
    "qq:user:4",
    "qq:chan:7",
    "qq:chan:70",
    "qq:chan:7:user:42",
    "qq:chan:7:user:1",
    "qq:chan:a:user:b:user:42",
    "discord:user:42",
    "discord:chan:7",
    "discord:chan:7:user:42",
    "a:b:user:1",
    "qq",
    "",
]
PREFIXES = ["qq:", "qq:chan:7:", "qq:chan:7", "discord:", ""]
PEOPLE = [("qq", "42"), ("qq", "4"), ("discord", "42"), ("a:b", "1"), ("a", "b:user:1")]
PLATFORMS = ["qq", "discord", "a", "a:b", ""]
ROOMS = ["qq:chan:7", "qq:chan:70", "discord:chan:7", "qq", ""]
KINDS = ["scope", "scope", "room", "scopes", "other"]  # any other kind reads as a scope


def some(rng: random.Random, pool: Sequence[object], often: float) -> list[object]:
    return rng.sample(list(pool), rng.randint(1, 2)) if rng.random() < often else []


def random_touch(rng: random.Random) -> Touch:
    """Mostly narrow (scopes, rooms, a platform's rooms), now and then broad."""
    return Touch(
        scopes=frozenset(some(rng, SCOPES, 0.7)),  # type: ignore[arg-type]
        scope_prefixes=tuple(some(rng, PREFIXES, 0.1)),  # type: ignore[arg-type]
        people=frozenset(some(rng, PEOPLE, 0.1)),  # type: ignore[arg-type]
        shared_on=frozenset(some(rng, PLATFORMS, 0.1)),  # type: ignore[arg-type]
        rooms=frozenset(some(rng, ROOMS, 0.4)),  # type: ignore[arg-type]
        rooms_on=frozenset(some(rng, PLATFORMS, 0.15)),  # type: ignore[arg-type]
        every_room=rng.random() < 0.05,
        everything=rng.random() < 0.03,
    )


def random_keys(rng: random.Random) -> list[ReadKey]:
    names = SCOPES + ROOMS + PLATFORMS
    return [(rng.choice(KINDS), rng.choice(names)) for _ in range(rng.randint(1, 3))]


def linear_rule(live: list[tuple[int, Touch]], keys: Sequence[ReadKey]) -> list[int]:
    """The old `touched`: every write in flight, in the order they began, that reaches
    one of `keys`."""
    return [number for number, touch in live if any(touch.reaches(key) for key in keys)]


def test_a_read_waits_for_exactly_the_writes_the_linear_rule_names() -> None:
    """Writes begin and end in a random order; before each end, a random read's writes
    (`touched`) are the linear rule's, one for one in order: ending write j sets the
    event at j's place in the rule's list, and no other."""
    for seed in range(300):
        same_as_the_linear_rule(random.Random(seed))


def same_as_the_linear_rule(rng: random.Random) -> None:
    inflight = WritesInFlight()
    live: list[tuple[int, Touch]] = []
    ends: dict[int, contextlib.ExitStack] = {}

    def begin(number: int) -> None:
        touch = random_touch(rng)
        ends[number] = contextlib.ExitStack()
        ends[number].enter_context(inflight.touching(touch))
        live.append((number, touch))

    for number in range(rng.randint(0, 12)):
        begin(number)
    begun = len(live)
    while live:
        keys = random_keys(rng)
        expected = linear_rule(live, keys)
        events = inflight.touched(keys)
        assert len(events) == len(expected) and not any(e.is_set() for e in events)
        number, _ = live.pop(rng.randrange(len(live)))
        ends.pop(number).close()
        ended = [place for place, event in enumerate(events) if event.is_set()]
        assert ended == ([expected.index(number)] if number in expected else [])
        if rng.random() < 0.3:  # a write begun meanwhile comes after the others
            begin(begun)
            begun += 1
    assert inflight.touched([("scope", "qq:user:42"), ("room", "qq:chan:7")]) == []


def test_a_read_asks_only_the_broad_writes_in_flight(monkeypatch: pytest.MonkeyPatch) -> None:
    """100 users' writes in flight, each to their own conversation, and a purge: a read
    of one conversation asked each of the 101 whether it touched it; now only the
    purge."""
    asked: list[Touch] = []
    reaches = Touch.reaches

    def counted(touch: Touch, key: ReadKey) -> bool:
        asked.append(touch)
        return reaches(touch, key)

    monkeypatch.setattr(Touch, "reaches", counted)
    inflight = WritesInFlight()
    with contextlib.ExitStack() as writes:
        for user in range(100):
            writes.enter_context(inflight.touching(Touch(scopes=frozenset([f"qq:user:{user}"]))))
        purge = Touch(scopes=frozenset(["qq:user:7"]), people=frozenset([("qq", "7")]))
        writes.enter_context(inflight.touching(purge))
        assert len(inflight.touched([("scope", "qq:user:3")])) == 1
        assert len(inflight.touched([("scope", "qq:chan:g1:user:7")])) == 1
    assert len(asked) == 2 and all(touch is purge for touch in asked)


async def test_a_read_waits_for_a_write_to_its_conversation_only(tmp_path: Path) -> None:
    """A real file: user 1's exchange held inside its transaction; user 2's prompt read
    does not wait for it, user 1's does, and finds it whole."""
    async with await Memory.open(tmp_path / "m.sqlite3") as memory:
        await memory.append_many("qq:user:2", exchange("2", "你好"), "d2")
        held = HeldWrite()
        await held.install(memory, "messages", "INSERT")
        writing = asyncio.create_task(memory.append_many("qq:user:1", exchange("1", "早"), "d1"))
        try:
            await held.until_half_done()
            own = asyncio.create_task(memory.conversation("qq:user:1"))
            other = await asyncio.wait_for(memory.conversation("qq:user:2"), 5.0)
            await asyncio.sleep(0.2)
            assert not own.done() and not writing.done()
        finally:
            held.release()
            await writing
        assert [m.content for m in other.messages] == ["你好", "回你好"]
        assert [m.content for m in (await own).messages] == ["早", "回早"]
