"""The worker's two costs per message found by a profile under 50-200 users: the copy
check (`Memory.holds_request`, a platform message delivered twice) took a trip to the
database thread of its own for every message, and each history read decoded its window's
rows into new `Message`s again. Checks arriving together now share one statement, and a
row read again is decoded once, keyed by its every value, so that a change made anywhere
(here, another process, an import) is read as it is. Real SQLite files, the echo engine."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

from atri.config import Settings
from model.memory import Memory
from model.memory.records import DecodedRows
from model.protocol import ChatRequest
from model.service import ChatService

SCOPE, OTHER = "qq:user:42", "qq:user:43"
# A copy check: scope, platform message id, sender, text ("…yes": it is stored).
Check = tuple[str, str, str, str]


async def copy_checks_said(memory: Memory, checks: list[Check]) -> list[str]:
    """The statements the reader ran for `checks` (scope, request id, user, text) run at
    once, each `holds_request` answered as the statement says."""
    said: list[str] = []
    assert memory._tx.reader is not None
    await memory._tx.reader.set_trace_callback(said.append)
    try:
        found = await asyncio.gather(*(memory.holds_request(*c, 0.0) for c in checks))
    finally:
        await memory._tx.reader.set_trace_callback(None)  # type: ignore[arg-type]
    assert found == [c[-1].endswith("yes") for c in checks]
    return [sql for sql in said if "FROM messages" in sql]


async def test_copy_checks_arriving_together_are_one_statement_and_each_answered_as_alone(
    tmp_path: Path,
) -> None:
    async with await Memory.open(tmp_path / "mem.sqlite3") as memory:
        await memory.append_many(SCOPE, [("user", "42", "A", "yes", "")], request_id="m1")
        await memory.append_many(SCOPE, [("user", "42", "A", "yes", "")], request_id="m2")
        await memory.reset(SCOPE)  # m2 archived: answered all the same
        await memory.append_many(SCOPE, [("user", "42", "A", "yes", "")], request_id="m3")
        checks: list[Check] = [
            (SCOPE, "m1", "42", "yes"),
            (SCOPE, "m2", "42", "yes"),
            (SCOPE, "m3", "42", "a long message, its end stored: yes"),
            (SCOPE, "m1", "43", "no"),  # another person under the same id
            (SCOPE, "m1", "42", "no"),  # another text
            (OTHER, "m1", "42", "no"),  # another conversation
            (SCOPE, "m9", "42", "no"),  # never stored
        ] * 10
        statements = await copy_checks_said(memory, checks)
        # Before: one statement (one trip to the database thread) a check, 70.
        assert len(statements) == 1, statements
        # One stored since a later time is a new message.
        assert not await memory.holds_request(SCOPE, "m1", "42", "yes", time.time() + 60)


async def test_more_checks_than_one_statement_takes_are_split(tmp_path: Path) -> None:
    """SQLite before 3.32 takes at most 999 parameters a statement: 200 checks at once
    (`Grouped.MAX_GROUP`) are several."""
    async with await Memory.open(tmp_path / "mem.sqlite3") as memory:
        await memory.append_many(SCOPE, [("user", "42", "A", "yes", "")], request_id="m1")
        checks = [(SCOPE, "m1", "42", "yes"), (SCOPE, "m1", "42", "no")] * 100
        statements = await copy_checks_said(memory, checks)
        assert 1 < len(statements) < len(checks)
        assert all(sql.count("?") == 0 and sql.count("UNION ALL") < 199 for sql in statements)


async def test_copies_of_many_messages_at_once_are_each_answered_once(
    echo_settings: Settings,
) -> None:
    def said(n: int) -> ChatRequest:
        return ChatRequest(platform="qq", user_id=f"u{n}", text=f"hello {n}", request_id=f"m{n}")

    async with await ChatService.open(echo_settings) as service:
        first = await asyncio.gather(*(service.chat(said(n)) for n in range(30)))
        assert {r.status for r in first} == {"ok"}
        # Each first copy beside its second, all at once: one answer of each.
        both = await asyncio.gather(*(service.chat(said(n % 30 + 30)) for n in range(60)))
        assert sorted(r.status for r in both) == ["ok"] * 30 + ["recalled"] * 30
        again = await asyncio.gather(*(service.chat(said(n)) for n in range(60)))
        assert {r.status for r in again} == {"recalled"}
        for n in range(60):
            stored = await service.memory.all_messages(f"qq:user:u{n}")
            assert [m.role for m in stored] == ["user", "assistant"], n


async def test_a_window_read_again_is_decoded_once_and_read_as_it_is_now(
    tmp_path: Path,
) -> None:
    path = tmp_path / "mem.sqlite3"
    async with await Memory.open(path) as memory:
        for n in range(3):
            rows = [("user", "42", "A", f"q{n}", ""), ("assistant", "bot", "", f"a{n}", "")]
            await memory.append_many(SCOPE, rows, request_id=f"m{n}")
        first = await memory.history(SCOPE)
        again = await memory.history(SCOPE)
        assert again == first
        # Before: six new objects at each read.
        assert all(a is b for a, b in zip(again, first, strict=True))
        # Another process (`atri memory`, an import) changes a row the worker read.
        other = sqlite3.connect(path)
        with other:
            other.execute("UPDATE messages SET content = 'q1 edited' WHERE content = 'q1'")
            other.execute("UPDATE messages SET display_name = 1 WHERE content = 'q0'")
        other.close()
        assert await memory.reword_message(SCOPE, "42", "m2", "q2 edited") == 1
        now = await memory.history(SCOPE)
        assert [m.content for m in now] == ["q0", "a0", "q1 edited", "a1", "q2 edited", "a2"]
        assert now[0].display_name == "1"
        assert now[1] is first[1]  # unchanged rows are the messages read before
        await memory.archive_request(SCOPE, "m1")
        assert [m.content for m in await memory.history(SCOPE)] == ["q0", "a0", "q2 edited", "a2"]


def test_decoded_rows_keep_the_most_recently_read(tmp_path: Path) -> None:
    con = sqlite3.connect(tmp_path / "rows.sqlite3")
    con.row_factory = sqlite3.Row
    rows = [
        con.execute(
            "SELECT ? AS id, 's' AS scope, 'user' AS role, '1' AS user_id, '' AS display_name,"
            " ? AS content, 0 AS created_at, 0 AS archived, '' AS adapter_version,"
            " '' AS request_id",
            (n, text),
        ).fetchone()
        for n, text in enumerate(["a", "b", "c"])
    ]
    con.close()
    decoded = DecodedRows(size=2)
    a, b = decoded.message(rows[0]), decoded.message(rows[1])
    assert decoded.message(rows[0]) is a  # read again: now the most recent
    decoded.message(rows[2])  # full: b, read least recently, goes
    assert decoded.message(rows[0]) is a
    assert decoded.message(rows[1]) is not b
    assert decoded.message(rows[1]) == b
