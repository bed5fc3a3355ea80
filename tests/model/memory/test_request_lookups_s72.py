"""Every lookup of one platform message by its id (a copy delivered again, an edit, a
delete, a cut send) takes the index of ids. SQLite keeps no statistics in ATRI's file
(nothing runs ANALYZE), so without the partial index's own condition and with the other
columns open to their indexes it walked every message the sender wrote in the
conversation instead: 100 ms a message at 100,000 of them, on the one thread every
read and write of the worker waits on."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from model.memory import Memory
from model.room import RoomBounds

SCOPE, ROOM = "qq:group:300", "qq:chan:300"


async def test_each_lookup_by_message_id_takes_the_index_of_ids(tmp_path: Path) -> None:
    path = tmp_path / "mem.sqlite3"
    said: list[str] = []
    async with await Memory.open(path) as memory:
        # The writer and the reader of the last commit (`OneTransaction.fetch`).
        connections = [memory._db, memory._tx.reader]
        for db in connections:
            assert db is not None
            await db.set_trace_callback(said.append)
        await memory.holds_request(SCOPE, "qq-9", "42", "你好", 0.0)
        await memory.reword_message(SCOPE, "42", "qq-9", "你好呀")
        await memory.cut_reply(SCOPE, "qq-9", "半句")
        await memory.cut_reply(SCOPE, "qq-9", "")
        await memory.archive_request(SCOPE, "qq-9")
        await memory.room.holds_line(ROOM, "42", "qq-9", "下雨了", 0.0, 300)
        await memory.room.reword(ROOM, "42", "qq-9", "下雪了", RoomBounds())
        await memory.room.archive_message(ROOM, "42", "qq-9")
        await memory.room.archive_message(ROOM, "", "qq-9")
        for db in connections:
            assert db is not None
            await db.set_trace_callback(None)
    by_id = [sql for sql in said if "request_id = 'qq-9'" in sql]
    assert len(by_id) >= 9, said
    con = sqlite3.connect(path)
    try:
        for sql in by_id:
            plan = [str(step[3]) for step in con.execute(f"EXPLAIN QUERY PLAN {sql}")]
            walks = [
                step
                for step in plan
                if (" messages " in f" {step} " or "room_lines" in step) and "_request" not in step
            ]
            assert not walks, (sql, plan)
    finally:
        con.close()


async def test_a_room_at_its_line_bound_deletes_its_oldest_through_a_range(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A room at its bound deletes its oldest line at each heard line: by a range of the
    (room, said_at) index, not a search of the room's every line. Planned with its
    parameters (a trace's SQL holds the values, which let SQLite see a range the
    statement itself does not give)."""
    path = tmp_path / "mem.sqlite3"
    run: list[tuple[str, Any]] = []
    bounds = RoomBounds(max_lines=2)
    async with await Memory.open(path) as memory:
        execute = memory._db.execute

        def recorded(sql: str, parameters: Any = None) -> Any:
            run.append((sql, parameters))
            return execute(sql, parameters)

        monkeypatch.setattr(memory._db, "execute", recorded)
        for n in range(4):
            await memory.room.add(ROOM, "qq", "42", "A", f"第{n}句", bounds)
        monkeypatch.undo()
        assert [line.content for line in await memory.room.all_lines(ROOM)] == ["第2句", "第3句"]
    deletes = [(sql, p) for sql, p in run if sql.startswith("DELETE FROM room_lines WHERE room")]
    assert deletes, run
    con = sqlite3.connect(path)
    try:
        for sql, parameters in deletes:
            plan = [str(step[3]) for step in con.execute(f"EXPLAIN QUERY PLAN {sql}", parameters)]
            assert any("said_at<" in step.replace(" ", "") for step in plan), (sql, plan)
    finally:
        con.close()
