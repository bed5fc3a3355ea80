"""Session 52: `purge_user_in` (a person's purge under `[memory] scope = "channel"`) read
the channel's whole shared conversation under SQLite's write lock to find their exchanges,
holding every other reply's write meanwhile: 2.9 s in a conversation of 200,000 messages.
It finds them through indexes now (`exchanges.exchange_ids`, 2 ms there): the same
exchanges, with work that does not grow with the conversation. Each test runs on a real
SQLite file."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from model.memory import Memory
from model.memory.exchanges import exchange_ids
from model.memory.purged import exchanges_of
from tests.model.memory.sqlite_steps import sqlite_steps

SCOPE = "qq:chan:g1"
INSERT = (
    "INSERT INTO messages (scope, role, user_id, content, created_at, archived, request_id)"
    " VALUES (?, ?, ?, ?, 0, ?, ?)"
)


@pytest.fixture
async def memory(tmp_path: Path) -> AsyncIterator[Memory]:
    async with await Memory.open(tmp_path / "m.sqlite3") as memory:
        yield memory


def mixed_conversation(seed: int, size: int) -> list[tuple[str, str, str, str, int, str]]:
    """Rows of the shared conversation and of another channel, interleaved: people 1, 2
    and "" (no id), her replies right after or later (by request id), request ids
    reused across rows and channels, archived rows among live ones (and a value 2,
    as another program may write), replies before anyone's first message."""
    pick = random.Random(seed)
    rows = []
    for n in range(size):
        scope = pick.choice([SCOPE, SCOPE, SCOPE, "qq:chan:g2"])
        role = pick.choice(["user", "assistant", "assistant"])
        person = pick.choice(["1", "1", "2", ""]) if role == "user" else ""
        request = pick.choice(["", "", "r1", "r2", "r3", f"own{n}"])
        archived = pick.choice([0, 0, 0, 1, 1, 2])
        rows.append((scope, role, person, f"{role} {n}", archived, request))
    return rows


@pytest.mark.parametrize("seed", range(12))
async def test_the_indexed_exchanges_are_those_a_read_of_the_whole_conversation_finds(
    memory: Memory, seed: int
) -> None:
    await memory._db.executemany(INSERT, mixed_conversation(seed, 60))
    await memory._db.commit()
    for person in ("1", "2", "", "3"):
        whole = exchanges_of(person, await memory.all_messages(SCOPE))
        assert await exchange_ids(memory._db, SCOPE, person) == [m.id for m in whole]


@pytest.mark.parametrize("seed", range(4))
async def test_a_purge_in_a_shared_conversation_deletes_their_exchanges_only(
    memory: Memory, seed: int
) -> None:
    await memory._db.executemany(INSERT, mixed_conversation(seed, 80))
    await memory._db.commit()
    before = await memory.all_messages(SCOPE)
    theirs = {m.id for m in exchanges_of("1", before)}
    other_channel = await memory.all_messages("qq:chan:g2")
    assert await memory.purge_user_in(SCOPE, "1") == len(theirs)
    assert [m.id for m in await memory.all_messages(SCOPE)] == [
        m.id for m in before if m.id not in theirs
    ]
    assert await memory.all_messages("qq:chan:g2") == other_channel


async def fill_channel(memory: Memory, others: int) -> None:
    """A shared conversation: person 1's three exchanges (one reply archived, one answer
    stored after someone else's message), among `others` exchanges of other people,
    half of them archived (reset)."""
    rows = []
    for n in range(others):
        archived = int(n < others // 2)
        rows.append((SCOPE, "user", f"p{n % 7}", f"hi {n}", archived, f"o{n}"))
        rows.append((SCOPE, "assistant", "", f"re {n}", archived, f"o{n}"))
        if n in (others // 4, others // 2 + 3, others - 1):
            rows.append((SCOPE, "user", "1", f"mine {n}", archived, f"m{n}"))
            rows.append((SCOPE, "assistant", "", f"to me {n}", 1, f"m{n}"))
            rows.append((SCOPE, "user", "2", f"then {n}", archived, ""))
            rows.append((SCOPE, "assistant", "", f"late to me {n}", archived, f"m{n}"))
    await memory._db.executemany(INSERT, rows)
    await memory._db.commit()


async def steps_of_purge(memory: Memory) -> int:
    """SQLite's virtual-machine steps (in tens) the purge of person 1 runs."""
    steps, purged = await sqlite_steps(memory, lambda: memory.purge_user_in(SCOPE, "1"))
    assert purged == 9
    return steps


async def test_the_work_of_a_purge_does_not_grow_with_the_conversation(tmp_path: Path) -> None:
    """Before: every message of the conversation was read, work 20 times as much for a
    conversation 20 times as long (14,350 SQLite steps at 400 messages, 272,750 at
    8,000). Now their three exchanges are found through indexes: 1,190 steps at both."""
    steps = []
    for others in (200, 4000):
        async with await Memory.open(tmp_path / f"{others}.sqlite3") as memory:
            await fill_channel(memory, others)
            steps.append(await steps_of_purge(memory))
            left = await memory.all_messages(SCOPE)
        assert len(left) == 2 * others + 3  # their 9 gone, "then" kept
        assert not [m for m in left if "me" in m.content]
    assert steps[1] <= 2 * max(steps[0], 1), steps
