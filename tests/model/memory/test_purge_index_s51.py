"""Session 51 on the memory store: a person's purge or reset, and a channel's, ran inside
SQLite's write lock with statements that read every message (a person's conversations by
`user_id`, which no index held; a channel's by `substr(scope, 1, n)`, which no index
finds), so every other reply's write waited seconds on a big database. Each statement
they run now finds its rows through an index (schema 12: `messages_user`). Each test
runs on a real SQLite file."""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from model.memory import Memory
from model.memory.store import key_range

EXCHANGE_OF = {
    "1": [
        ("user", "1", "小红", "我的电话是 13800000000", ""),
        ("assistant", "", "ATRI", "记住了", ""),
    ],
    "2": [("user", "2", "小明", "大家好", ""), ("assistant", "", "ATRI", "你好", "")],
}
# Person 1 alone, in a channel's shared conversation, in their own one in a channel;
# person 2 beside them; and channels g10 and g1x, whose keys start like g1's.
STORED = [
    ("qq:user:1", "1"),
    ("qq:chan:g1", "1"),
    ("qq:chan:g1", "2"),
    ("qq:chan:g1:user:1", "1"),
    ("qq:chan:g1:user:2", "2"),
    ("qq:chan:g10:user:2", "2"),
    ("qq:chan:g1x", "2"),
    ("qq:user:2", "2"),
    ("discord:chan:g1:user:1", "1"),
]


async def fill(memory: Memory) -> None:
    for n, (scope, person) in enumerate(STORED):
        await memory.append_many(scope, EXCHANGE_OF[person], f"m{n}")
    first = (await memory.all_messages("qq:chan:g1:user:2"))[0]
    assert await memory.add_summary("qq:chan:g1:user:2", "小明打了招呼", first.id)


async def statements_of(memory: Memory, change: Callable[[], Awaitable[Any]]) -> list[str]:
    """The statements (values bound in) `change` runs on the worker's connection."""
    ran: list[str] = []
    await memory._db.set_trace_callback(ran.append)
    try:
        await change()
    finally:
        await memory._db.set_trace_callback(None)
    return ran


async def plans(memory: Memory, statements: list[str]) -> list[str]:
    """The steps of the plans of those of `statements` that read `messages` or
    `summaries`, each with its statement."""
    steps = []
    for sql in statements:
        if not any(table in sql for table in ("messages", "summaries")):
            continue
        for row in await memory._db.execute_fetchall("EXPLAIN QUERY PLAN " + sql):
            steps.append(f"{row[3]}: {sql}")
    return steps


@pytest.mark.parametrize(
    "change",
    [
        "purge qq:user:1",
        "reset qq:user:1",
        "purge qq:chan:g1",
        "reset qq:chan:g1",
        "remembers qq:user:1",
        "shared qq:user:1",
    ],
)
async def test_a_purge_or_reset_reads_its_rows_through_an_index(
    tmp_path: Path, change: str
) -> None:
    """Before: `_shared_scopes_of` scanned `messages`; `member_scopes_of` of a person read
    every channel conversation of the platform; `reset_prefix` and `purge_prefix`
    scanned every key. The plans now search an index, whatever the change, and a
    person's conversations are found by their messages (`messages_user`)."""
    what, scope = change.split()
    async with await Memory.open(tmp_path / "m.sqlite3") as memory:
        await fill(memory)
        run: dict[str, Callable[[], Awaitable[Any]]] = {
            "purge": lambda: memory.purge(scope),
            "reset": lambda: memory.reset_with_room(scope),
            "remembers": lambda: memory.remembers(scope),
            "shared": lambda: memory.shared_conversations_of(scope),
        }
        steps = await plans(memory, await statements_of(memory, run[what]))
    assert steps
    assert [step for step in steps if step.startswith(("SCAN messages", "SCAN summaries"))] == []
    if scope.startswith("qq:user:"):  # their conversations: by their messages alone
        assert any("USING INDEX messages_user" in step for step in steps)


async def test_a_persons_purge_and_reset_reach_what_they_did(tmp_path: Path) -> None:
    """The same conversations as before the index: their own ones on the platform (not
    on Discord, not person 2's), their exchanges in the channel's shared one."""
    async with await Memory.open(tmp_path / "m.sqlite3") as memory:
        await fill(memory)
        assert await memory.member_scopes_of("qq:user:1") == ["qq:chan:g1:user:1"]
        assert await memory.member_scopes_of("qq:user:2") == [
            "qq:chan:g10:user:2",
            "qq:chan:g1:user:2",
        ]
        assert await memory.shared_conversations_of("qq:user:1") == ["qq:chan:g1"]
        assert await memory.shared_conversations_of("qq:chan:g1:user:2") == ["qq:chan:g1"]
        assert await memory.shared_conversations_of("qq:chan:g10:user:2") == []
        assert await memory.reset_with_room("qq:user:2") == (6, 0)  # own, g1's, g10's
        assert await memory.summary("qq:chan:g1:user:2") is None
        assert await memory.purge("qq:user:1") == (6, 0)
        left = {row["scope"]: row["total"] for row in await memory.scopes()}
    assert left == {
        "qq:chan:g1": 2,
        "qq:chan:g1:user:2": 2,
        "qq:chan:g10:user:2": 2,
        "qq:chan:g1x": 2,
        "qq:user:2": 2,
        "discord:chan:g1:user:1": 2,
    }


async def test_a_member_conversation_holding_only_a_summary_is_still_found(
    tmp_path: Path,
) -> None:
    """`messages_user` holds the person's messages only: a conversation of theirs with a
    summary and no message of theirs (written by another program) is found by its key."""
    async with await Memory.open(tmp_path / "m.sqlite3") as memory:
        await memory._db.execute(
            "INSERT INTO summaries (scope, text, covers_up_to, created_at) VALUES"
            " ('qq:chan:g5:user:1', 's', 1, 0), ('qq:chan:g5:user:11', 's', 1, 0)"
        )
        await memory._db.commit()
        assert await memory.member_scopes_of("qq:user:1") == ["qq:chan:g5:user:1"]
        assert await memory.remembers("qq:user:1")


async def test_a_channels_reset_and_purge_reach_only_keys_under_its_prefix(
    tmp_path: Path,
) -> None:
    async with await Memory.open(tmp_path / "m.sqlite3") as memory:
        await fill(memory)
        assert await memory.reset_prefix("qq:chan:g1:") == 4
        live = {row["scope"]: row["live"] for row in await memory.scopes()}
        assert await memory.summary("qq:chan:g1:user:2") is None
        assert await memory.purge_prefix("qq:chan:g1:") == 4
        left = {row["scope"] for row in await memory.scopes()}
    assert live["qq:chan:g1:user:1"] == live["qq:chan:g1:user:2"] == 0
    assert live["qq:chan:g1"] == 4 and live["qq:chan:g10:user:2"] == live["qq:chan:g1x"] == 2
    assert "qq:chan:g1:user:1" not in left and "qq:chan:g10:user:2" in left


@pytest.mark.parametrize(
    "prefix",
    [
        "qq:chan:g1:",
        "",
        "a",
        "z\U0010ffff",
        "\U0010ffff",
        "q\ud7ff",
        "中文:",
    ],  # U+D7FF: the next is a surrogate,
)
def test_a_key_range_holds_exactly_the_keys_starting_with_its_prefix(prefix: str) -> None:
    """As SQLite compares: the range finds what `substr(scope, 1, n) = prefix` found."""
    keys = [
        "",
        "a",
        "ab",
        "b",
        "qq:chan:g1",
        "qq:chan:g1:",
        "qq:chan:g1:user:1",
        "qq:chan:g1;",
        "qq:chan:g10:user:1",
        "z",
        "z\U0010ffff",
        "z\U0010ffffa",
        "{",
        "\U0010ffff",
        "\U0010ffff\U0010ffff",
        "q\ud7ff",
        "q\ud7ffx",
        "q\ue000",
        "中文",
        "中文:1",
        "中文;",
    ]
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE k (scope TEXT)")
    db.executemany("INSERT INTO k VALUES (?)", [(key,) for key in keys])
    by_substr = db.execute(
        "SELECT scope FROM k WHERE substr(scope, 1, ?) = ? ORDER BY scope", (len(prefix), prefix)
    ).fetchall()
    by_range = db.execute(
        "SELECT scope FROM k WHERE scope >= ? AND scope < ? ORDER BY scope", key_range(prefix)
    ).fetchall()
    assert by_range == by_substr and (prefix == "" or by_range)
