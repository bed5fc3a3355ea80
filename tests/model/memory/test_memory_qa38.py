"""QA pass 38 on the memory store: an import racing the worker's writes. Each test runs
on a real SQLite file."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path
from typing import Any

from model.memory import EXPORT_FORMAT, EXPORT_VERSION, Memory, parse_export


def export_of(scope: str, count: int, user: str = "2") -> dict[str, Any]:
    return {
        "format": EXPORT_FORMAT,
        "version": EXPORT_VERSION,
        "scope": scope,
        "messages": [
            {"role": "user", "user_id": user, "content": f"old {i}", "created_at": 100.0 + i}
            for i in range(count)
        ],
        "summaries": [],
        "room_lines": [],
    }


def write_message(path: Path, scope: str, text: str) -> None:
    """What a worker in another process does: one message, in a transaction of its own,
    waiting (busy timeout) for a writer that holds the lock."""
    con = sqlite3.connect(path, timeout=10)
    try:
        with con:
            con.execute(
                "INSERT INTO messages (scope, role, user_id, content, created_at)"
                " VALUES (?, 'user', '3', ?, 1)",
                (scope, text),
            )
    finally:
        con.close()


async def test_an_import_while_another_connection_writes_keeps_every_row(
    tmp_path: Path,
) -> None:
    """`atri memory import` beside a running worker failed with "UNIQUE constraint
    failed: messages.id": it read the next free id while the worker was writing, the
    worker's message took that id, and the import then inserted at it. Now the import
    takes the write lock first and waits (busy timeout) for the worker's write."""
    path = tmp_path / "mem.sqlite3"
    async with await Memory.open(path) as memory:
        await memory.append_many("qq:user:1", [("user", "1", "A", "before", "")])
        worker = sqlite3.connect(path, isolation_level=None)
        worker.execute("BEGIN IMMEDIATE")  # the worker, in the middle of storing one
        worker.execute(
            "INSERT INTO messages (scope, role, user_id, content, created_at)"
            " VALUES ('qq:user:3', 'user', '3', 'worker', 1)"
        )
        try:
            importing = asyncio.create_task(
                memory.import_export(parse_export(export_of("qq:user:2", 20), "x"))
            )
            await asyncio.sleep(0.3)
            assert not importing.done()  # waiting for the lock, not failing
        finally:
            worker.execute("COMMIT")
            worker.close()
        result = await asyncio.wait_for(importing, 10)

    con = sqlite3.connect(path)
    counts = dict(con.execute("SELECT scope, COUNT(*) FROM messages GROUP BY scope"))
    imported = [r[0] for r in con.execute("SELECT content FROM messages WHERE scope = 'qq:user:2'")]
    con.close()
    assert result.added == 20
    assert counts == {"qq:user:1": 1, "qq:user:2": 20, "qq:user:3": 1}
    assert imported == [f"old {i}" for i in range(20)]


async def test_a_backup_import_racing_a_writing_thread_stores_all_rows(tmp_path: Path) -> None:
    """The same race left to the scheduler: a thread commits messages one by one, over
    its own connection, for as long as a backup of many scopes is imported."""
    path = tmp_path / "mem.sqlite3"
    async with await Memory.open(path) as memory:
        await memory.append_many("qq:user:1", [("user", "1", "A", "before", "")])
    backup = {
        "format": EXPORT_FORMAT,
        "version": EXPORT_VERSION,
        "scopes": [
            {
                key: value
                for key, value in export_of(f"qq:user:{100 + n}", 5, str(n)).items()
                if key in ("scope", "messages", "summaries")
            }
            for n in range(40)
        ],
        "room_lines": [],
    }
    done = threading.Event()
    written: list[int] = []

    def keep_writing() -> None:
        while not done.is_set():
            write_message(path, "qq:user:3", f"live {len(written)}")
            written.append(1)

    thread = threading.Thread(target=keep_writing)
    thread.start()
    try:
        async with await Memory.open(path) as memory:
            result = await memory.import_export(parse_export(backup, "backup.json"))
    finally:
        done.set()
        thread.join(10)
    con = sqlite3.connect(path)
    total = con.execute("SELECT COUNT(*) FROM messages").fetchone()[0]
    worker = con.execute("SELECT COUNT(*) FROM messages WHERE scope = 'qq:user:3'").fetchone()[0]
    con.close()
    assert result.added == 200
    assert worker == len(written)
    assert total == 1 + 200 + len(written)
