"""Session 44: `WritesInFlight`, what a write touches and how a read waits for it
(`tests/model/memory/test_reads_beside_writes_s44.py` runs it on a real file)."""

from __future__ import annotations

import asyncio

from model.grouping import Touch, WritesInFlight


async def test_a_read_is_done_again_when_a_write_touching_it_began_meanwhile() -> None:
    """A purge that begins while a read runs may commit a part of itself before the read
    looks (its room lines before its messages): the read is done again, after it."""
    inflight = WritesInFlight()
    purged = asyncio.Event()
    runs = 0
    purging: list[asyncio.Task[None]] = []

    async def run() -> int:
        nonlocal runs
        runs += 1
        if runs == 1:
            purging.append(asyncio.create_task(purge()))
            await asyncio.sleep(0)  # the purge registers while this read runs
        return runs

    async def purge() -> None:
        with inflight.touching(Touch(rooms_on=frozenset(["qq"]))):
            await purged.wait()

    reading = asyncio.create_task(inflight.read([("room", "qq:chan:g1")], run))
    for _ in range(5):
        await asyncio.sleep(0)
    assert runs == 1 and not reading.done()  # waits for the purge
    purged.set()
    assert await reading == 2
    await purging[0]
    other = await inflight.read([("room", "discord:chan:1")], run)
    assert other == 3  # another platform's room: not touched


def test_what_each_write_touches() -> None:
    """Scope keys a person's or a channel's touch reaches, and those it does not."""
    person = Touch(people=frozenset([("qq", "9")]), shared_on=frozenset(["qq"]))
    reached = ["qq:user:9", "qq:chan:g1:user:9", "qq:chan:g2", "qq:chan:a/b"]
    missed = ["qq:user:90", "qq:chan:g1:user:2", "discord:chan:g2", "discord:user:9"]
    assert all(person.reaches(("scope", key)) for key in reached)
    assert not any(person.reaches(("scope", key)) for key in missed)
    assert person.reaches(("scopes", "qq")) and not person.reaches(("room", "qq:chan:g1"))
    channel = Touch(scopes=frozenset(["qq:chan:7"]), scope_prefixes=("qq:chan:7:",))
    assert channel.reaches(("scope", "qq:chan:7:user:1"))
    assert not channel.reaches(("scope", "qq:chan:70"))
