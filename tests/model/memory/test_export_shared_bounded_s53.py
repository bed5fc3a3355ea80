"""Session 53: `atri memory export` (and `show`) of one person read each conversation a
channel shares whole (`all_messages`, every row into memory) to pick their exchanges out
of it: 3.1 s and 252 MB for a person's 62 messages in a group of 200,000 messages. They
are found through indexes now, as `purge_user_in` finds them (`exchange_messages`), and
read a few hundred rows at a time: the same exchanges, with work and memory that grow
with theirs, not with the conversation. Each test runs on a real SQLite file."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest

from model.memory import ExportedMessage, Memory, ScopeExport
from model.memory.backup import _exported
from model.memory.exchanges import exchange_ids, exchange_messages
from model.memory.purged import LeftOut, Purges, exchanges_of, without_purged_scope
from tests.model.memory.sqlite_steps import sqlite_steps
from tests.model.memory.test_purge_shared_bounded_s52 import (
    INSERT,
    SCOPE,
    fill_channel,
    mixed_conversation,
)


@pytest.mark.parametrize("seed", range(12))
async def test_the_indexed_exchanges_are_those_the_whole_conversation_holds(
    tmp_path: Path, seed: int
) -> None:
    """With archived messages (`show --archived`, export) and without (`show`): those
    `exchanges_of` finds among the messages `all_messages` reads."""
    async with await Memory.open(tmp_path / "m.sqlite3") as memory:
        await memory._db.executemany(INSERT, mixed_conversation(seed, 60))
        await memory._db.commit()
        for archived in (True, False):
            whole = await memory.all_messages(SCOPE, include_archived=archived)
            for person in ("1", "2", "", "3"):
                found = [m async for m in exchange_messages(memory._db, SCOPE, person, archived)]
                assert found == exchanges_of(person, whole), (archived, person)


@pytest.mark.parametrize("seed", range(6))
async def test_an_import_leaves_out_the_exchanges_a_purge_of_the_person_deleted(
    tmp_path: Path, seed: int
) -> None:
    """The import's use of the definition (`Purges.reaching`, on a backup's messages)
    agrees with the SQL the purge itself runs (`exchange_ids`): a backup taken before a
    person's purge brings back none of what the purge deleted, and nothing else is left
    out."""
    async with await Memory.open(tmp_path / "m.sqlite3") as memory:
        await memory._db.executemany(INSERT, mixed_conversation(seed, 80))
        await memory._db.commit()
        whole = await memory.all_messages(SCOPE)
        backup = ScopeExport(
            scope=SCOPE,
            messages=[ExportedMessage.model_validate(_exported(m)) for m in whole],
            summaries=[],
        )
        for person in ("1", "2"):
            purged = set(await exchange_ids(memory._db, SCOPE, person))
            assert purged, (seed, person)  # the check below has something to leave out
            kept = without_purged_scope(backup, Purges({f"qq:user:{person}": 1.0}), LeftOut())
            assert [m.content for m in kept.messages] == [
                m.content for m in whole if m.id not in purged
            ], (seed, person)


@pytest.mark.parametrize("seed", range(3))
async def test_an_export_of_a_person_holds_the_exchanges_it_held(tmp_path: Path, seed: int) -> None:
    """The export's `shared_conversations` as before: `exchanges_of` the whole
    conversation, in order, field for field (so the file is the same byte for byte)."""
    rows = [
        (SCOPE if r[0] == SCOPE else "qq:chan:g2", *r[1:]) for r in mixed_conversation(seed, 80)
    ]
    async with await Memory.open(tmp_path / "m.sqlite3") as memory:
        await memory._db.executemany(INSERT, rows)
        await memory._db.commit()
        expected = []
        for key in ("qq:chan:g1", "qq:chan:g2"):
            theirs = exchanges_of("1", await memory.all_messages(key))
            expected.append({"scope": key, "messages": [_exported(m) for m in theirs]})
        export = await memory.export("qq:user:1")
    assert export["shared_conversations"] == [e for e in expected if e["messages"]]


async def steps_of_reading_theirs(memory: Memory) -> int:
    """SQLite's virtual-machine steps (in tens) reading person 1's shared exchanges."""
    steps, found = await sqlite_steps(memory, lambda: memory.shared_exchanges_of("qq:user:1"))
    ((scope, theirs),) = found
    assert scope == SCOPE and len(theirs) == 9
    return steps


async def test_reading_a_persons_exchanges_does_not_grow_with_the_conversation(
    tmp_path: Path,
) -> None:
    """Before: every message of the conversation was read, 20 times the work for a
    conversation 20 times as long (14,050 SQLite steps at 400 messages, 272,450 at
    8,000). Now their three exchanges are found through indexes: 940 steps at both."""
    steps = []
    for others in (200, 4000):
        async with await Memory.open(tmp_path / f"{others}.sqlite3") as memory:
            await fill_channel(memory, others)
            steps.append(await steps_of_reading_theirs(memory))
    assert steps[1] <= 2 * max(steps[0], 1), steps


async def peak_bytes_of_reading_theirs(memory: Memory) -> int:
    """The most memory Python held at once (above what it held before) while person 1's
    shared exchanges were read, the database thread's included."""
    tracemalloc.start()
    try:
        ((_, theirs),) = await memory.shared_exchanges_of("qq:user:1")
        assert len(theirs) == 9
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


async def test_the_memory_read_for_a_persons_exchanges_does_not_grow_with_the_conversation(
    tmp_path: Path,
) -> None:
    """Before: every message was made a `Message` at once (a peak of 0.2 MB at 400
    messages, 5.3 MB at 8,000). Now only their rows are: 17 kB at both."""
    peaks = []
    for others in (200, 4000):
        async with await Memory.open(tmp_path / f"{others}.sqlite3") as memory:
            await fill_channel(memory, others)
            peaks.append(await peak_bytes_of_reading_theirs(memory))
    assert peaks[1] <= 2 * peaks[0], peaks
