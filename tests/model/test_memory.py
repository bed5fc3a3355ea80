"""Conversation memory on a real SQLite file."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from atri.errors import ConfigError
from model.memory import (
    EXPORT_VERSION,
    MIGRATIONS,
    SCHEMA_VERSION,
    ExportError,
    Memory,
    parse_export,
    scope_key,
)
from model.room import RoomBounds


@pytest.fixture
async def memory(tmp_path: Path):  # type: ignore[no-untyped-def]
    mem = await Memory.open(tmp_path / "m.sqlite3")
    yield mem
    await mem.close()


def test_scope_keys_use_ids_and_config_kind() -> None:
    assert scope_key("user", "discord", "42", "7", "1") == "discord:user:42"
    assert scope_key("user_in_channel", "discord", "42", "7", "1") == "discord:chan:1/7:user:42"
    assert scope_key("channel", "qq", "42", "999") == "qq:chan:999"
    # A direct message has no channel: every kind falls back to the user.
    assert scope_key("channel", "discord", "42") == "discord:user:42"


async def test_scopes_do_not_leak(memory: Memory) -> None:
    await memory.append_many(
        "a", [("user", "1", "A", "hello from a", ""), ("assistant", "", "ATRI", "hi a", "v1")]
    )
    await memory.append_many(
        "b", [("user", "2", "B", "hello from b", ""), ("assistant", "", "ATRI", "hi b", "v1")]
    )
    assert [m.content for m in await memory.history("a")] == ["hello from a", "hi a"]
    assert [m.content for m in await memory.history("b")] == ["hello from b", "hi b"]
    await memory.reset("a")
    assert await memory.history("a") == []
    assert len(await memory.history("b")) == 2


async def test_turns_are_tagged_with_user_and_adapter(memory: Memory) -> None:
    await memory.append_many(
        "s", [("user", "u9", "Nine", "q", ""), ("assistant", "", "ATRI", "a", "20260101-000000")]
    )
    user, reply = await memory.history("s")
    assert (user.user_id, user.display_name) == ("u9", "Nine")
    assert reply.adapter_version == "20260101-000000"


async def test_reset_hides_purge_deletes(memory: Memory) -> None:
    await memory.append_many(
        "s", [("user", "1", "", "old", ""), ("assistant", "", "", "old reply", "")]
    )
    assert await memory.reset("s") == 2
    await memory.append_many(
        "s", [("user", "1", "", "new", ""), ("assistant", "", "", "new reply", "")]
    )
    assert [m.content for m in await memory.history("s")] == ["new", "new reply"]
    archived = [m for m in await memory.all_messages("s") if m.archived]
    assert [m.content for m in archived] == ["old", "old reply"]
    assert await memory.purge("s") == (4, 0)
    assert await memory.all_messages("s") == []


async def test_export_round_trips(memory: Memory, tmp_path: Path) -> None:
    await memory.append_many(
        "s", [("user", "1", "A", "你好", ""), ("assistant", "", "ATRI", "早上好！", "v2")]
    )
    await memory.reset("s")
    await memory.append_many(
        "s",
        [("user", "1", "A", "again", ""), ("assistant", "", "ATRI", "yes", "v2")],
        request_id="qq-77",
    )
    exported = json.loads(json.dumps(await memory.export("s")))  # as the file holds it
    assert [m["request_id"] for m in exported["messages"]] == ["", "", "qq-77", "qq-77"]
    async with await Memory.open(tmp_path / "other.sqlite3") as other:
        result = await other.import_export(parse_export(exported, "f.json"))
        assert (result.scope, result.added, result.skipped) == ("s", 4, 0)
        assert await other.export("s") == exported
        assert [m.content for m in await other.history("s")] == ["again", "yes"]
        # A restored exchange is still found by its platform message (a recall, a cut).
        assert await other.cut_reply("s", "qq-77", "ye") == 1
        assert [m.content for m in await other.history("s")] == ["again", "ye"]
        await other.cut_reply("s", "qq-77", "yes")
        # The same file again adds nothing; one message missing from the database is
        # added back alone.
        again = await other.import_export(parse_export(exported, "f.json"))
        assert (again.added, again.skipped) == (0, 4)
        await other._db.execute("DELETE FROM messages WHERE content = 'yes'")
        await other._db.commit()
        again = await other.import_export(parse_export(exported, "f.json"))
        assert (again.added, again.skipped) == (1, 3)
        assert await other.export("s") == exported


def good_export() -> dict[str, Any]:
    message = {"role": "user", "user_id": "1", "content": "hi", "created_at": 1.7e9}
    return {"format": "atri-memory", "version": 1, "scope": "s", "messages": [message] * 3}


def broken(path: str, value: Any) -> dict[str, Any]:
    """good_export() with one field set (None as the value deletes it)."""
    data = good_export()
    data["messages"] = [dict(m) for m in data["messages"]]
    *parents, last = path.split(".")
    target: Any = data
    for key in parents:
        target = target[int(key)] if key.isdigit() else target[key]
    index: Any = int(last) if last.isdigit() else last
    if value is None:
        del target[index]
    else:
        target[index] = value
    return data


@pytest.mark.parametrize(
    ("data", "sentence"),
    [
        ([1, 2], "f.json: not an ATRI memory export"),
        ("text", "f.json: not an ATRI memory export"),
        (broken("version", 10), "f.json: written by a newer ATRI (export version 10"),
        (broken("version", None), "f.json: version is missing;"),
        (broken("scope", ""), 'f.json: scope must not be empty (it is "")'),
        (broken("scope", "   "), "f.json: scope must not be empty"),
        (broken("messages", {"a": 1}), "f.json: messages must be a list"),
        (broken("messages.1", 5), "f.json: messages[1] must be an object (it is 5)"),
        (
            broken("messages.1.role", "system"),
            "f.json: messages[1].role must be 'user' or 'assistant' (it is \"system\")",
        ),
        (broken("messages.2.content", None), "f.json: messages[2].content is missing;"),
        (
            broken("messages.0.content", {"text": "hi"}),
            'f.json: messages[0].content must be a string (it is {"text": "hi"})',
        ),
        (
            broken("messages.2.created_at", "yesterday"),
            "f.json: messages[2].created_at must be a number (seconds since 1970)"
            ' (it is "yesterday")',
        ),
        (broken("messages.1.created_at", -5), "f.json: messages[1].created_at must be a time"),
        (broken("messages.1.created_at", 1e300), "f.json: messages[1].created_at must be a time"),
        (broken("messages.0.archived", "no"), "f.json: messages[0].archived must be true or"),
        (broken("messages.0.user_id", 42), "f.json: messages[0].user_id must be a string"),
        (
            broken("messages.1.content", "x \ud800 y"),
            "f.json: messages[1].content is not valid Unicode",
        ),
        (broken("messages.1.colour", "red"), "f.json: messages[1].colour is not a field"),
    ],
)
def test_every_bad_export_is_one_sentence_naming_the_message_and_field(
    data: Any, sentence: str
) -> None:
    with pytest.raises(ExportError) as caught:
        parse_export(data, "f.json")
    assert str(caught.value).startswith(sentence)
    assert "\n" not in str(caught.value)


def test_a_null_content_counts_as_missing_and_several_problems_are_counted() -> None:
    data = broken("messages.0.content", None)
    data["messages"][0]["content"] = None
    data["messages"][2] = {"role": "system"}
    with pytest.raises(ExportError) as caught:
        parse_export(data, "f.json")
    message = str(caught.value)
    assert message.startswith("f.json: messages[0].content must be a string (it is null)")
    assert "more problem(s) after it; nothing was imported." in message


async def test_rows_another_program_wrote_oddly_still_list_and_show(tmp_path: Path) -> None:
    path = tmp_path / "odd.sqlite3"
    async with await Memory.open(path) as memory:
        await memory.append_many("good", [("user", "1", "", "fine", "")])
    con = sqlite3.connect(path)
    con.executemany(
        "INSERT INTO messages (scope, role, user_id, content, created_at) VALUES (?,?,?,?,?)",
        [
            ("odd", "user", 42, b"\xffbytes", "yesterday"),
            ("odd", "assistant", "", 3.5, 1e300),
            ("", "user", "1", "empty scope", -1),
        ],
    )
    con.commit()
    con.close()
    async with await Memory.open(path) as memory:
        scopes = {r["scope"]: r for r in await memory.scopes()}
        assert scopes["odd"]["last"] == 0.0 and scopes["odd"]["total"] == 2
        assert scopes[""]["last"] == 0.0 and scopes["good"]["last"] > 1e9
        odd = await memory.all_messages("odd")
        assert [(m.user_id, m.content, m.created_at) for m in odd] == [
            ("42", "\ufffdbytes", 0.0),
            ("", "3.5", 0.0),
        ]
        assert [m.content for m in await memory.history("odd")] == ["\ufffdbytes", "3.5"]
        exported = await memory.export("odd")
        assert parse_export(exported, "odd.json").messages[0].created_at == 0.0


async def test_history_never_starts_with_an_orphan_reply(memory: Memory) -> None:
    await memory.append_many(
        "s",
        [
            ("user", "1", "", "q1", ""),
            ("assistant", "", "", "a1", ""),
            ("user", "1", "", "q2", ""),
            ("assistant", "", "", "a2", ""),
        ],
    )
    kept = await memory.history("s", max_messages=3)  # the window cuts q1 away
    assert [m.content for m in kept] == ["q2", "a2"]


async def test_old_schema_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "v1.sqlite3"
    con = sqlite3.connect(path)
    con.executescript(MIGRATIONS[0])
    con.execute(
        "INSERT INTO messages (scope, role, user_id, content, created_at) VALUES ('s', 'user', '1', 'from v1', 0)"
    )
    con.execute("PRAGMA user_version = 1")
    con.commit()
    con.close()
    async with await Memory.open(path) as memory:
        assert await memory.schema_version() == SCHEMA_VERSION
        (msg,) = await memory.history("s")
        assert msg.content == "from v1" and msg.adapter_version == ""
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"


async def test_the_busy_timeout_is_read_where_tests_patch_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The CLI tests shorten the wait for another writer through this one attribute: every
    connection, read-only ones included, must wait what it says."""
    monkeypatch.setattr("model.memory.database.BUSY_TIMEOUT_SECONDS", 0.25)
    path = tmp_path / "m.sqlite3"
    async with await Memory.open(path) as memory:
        assert (await memory._db.execute_fetchall("PRAGMA busy_timeout"))[0][0] == 250
    async with await Memory.open(path, read_only=True) as reader:
        assert (await reader._db.execute_fetchall("PRAGMA busy_timeout"))[0][0] == 250


async def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.sqlite3"
    con = sqlite3.connect(path)
    con.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    con.close()
    with pytest.raises(ConfigError, match="newer ATRI"):
        await Memory.open(path)


async def test_concurrent_appends_share_commits_and_are_on_disk_when_they_return(
    memory: Memory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    commits = 0
    real_commit = memory._db.commit

    async def counting_commit() -> None:
        nonlocal commits
        commits += 1
        await real_commit()

    monkeypatch.setattr(memory._db, "commit", counting_commit)

    async def exchange(i: int) -> int:
        await memory.append_many(
            f"s{i}", [("user", str(i), "", f"q{i}", ""), ("assistant", "", "ATRI", f"a{i}", "")]
        )
        # Returned means committed: another connection already sees both rows.
        with sqlite3.connect(tmp_path / "m.sqlite3") as other:
            return other.execute(
                "SELECT COUNT(*) FROM messages WHERE scope = ?", (f"s{i}",)
            ).fetchone()[0]

    seen = await asyncio.gather(*(exchange(i) for i in range(50)))
    assert seen == [2] * 50
    assert commits < 50  # group commit: many exchanges per transaction
    for i in (0, 49):
        assert [m.content for m in await memory.history(f"s{i}")] == [f"q{i}", f"a{i}"]


async def test_a_bad_row_fails_only_its_own_caller(memory: Memory) -> None:
    good = [asyncio.ensure_future(memory.append("ok", "user", "1", f"m{i}")) for i in range(3)]
    bad = asyncio.ensure_future(memory.append("bad", "narrator", "1", "not a chat role"))
    await asyncio.gather(*good)
    with pytest.raises(sqlite3.IntegrityError):
        await bad
    assert [m.content for m in await memory.all_messages("ok")] == ["m0", "m1", "m2"]
    assert await memory.all_messages("bad") == []


async def test_concurrent_history_reads_share_a_query_and_each_gets_its_own(
    memory: Memory,
) -> None:
    for i in range(30):
        for turn in range(i % 5):
            await memory.append_many(
                f"s{i}", [("user", str(i), "", f"q{i}.{turn}", ""), ("assistant", "", "", "a", "")]
            )
    await memory.reset("s4")  # archived rows never come back
    requests = [(f"s{i}", 1 + i % 7) for i in range(30)] + [("nobody", 5), ("s3", 6)]
    alone = [await memory.history(scope, max_messages=n) for scope, n in requests]

    queries: list[str] = []
    reads_on = memory._tx.reader or memory._db  # the worker's reads have their own connection
    real = reads_on.execute_fetchall

    async def counting(sql: str, params: object = None):  # type: ignore[no-untyped-def]
        queries.append(sql)
        return await real(sql, params)

    reads_on.execute_fetchall = counting  # type: ignore[method-assign]
    together = await asyncio.gather(
        *(memory.history(scope, max_messages=n) for scope, n in requests)
    )
    assert together == alone
    assert 0 < len(queries) < len(requests)
    assert alone[4] == [] and alone[-2] == []
    assert len(alone[-1]) == 6 and len(alone[3]) == 4  # one scope, two limits
    assert [m.content for m in alone[3]][-2:] == ["q3.2", "a"]


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("folder", "is a folder"),
        ("file.txt/m.sqlite3", "cannot be created"),
        ("file.txt", "is not an SQLite database (an export? a compressed copy?)"),
    ],
)
async def test_a_path_that_cannot_hold_the_database_is_one_sentence(
    tmp_path: Path, name: str, problem: str
) -> None:
    (tmp_path / "folder").mkdir()
    (tmp_path / "file.txt").write_text("not sqlite " * 100)
    with pytest.raises(ConfigError) as caught:
        await Memory.open(tmp_path / name)
    assert str(caught.value).startswith(f"[memory] path {tmp_path / name} {problem}")


async def fill_everything(memory: Memory) -> None:
    """Two scopes, a live and an archived summary, and room lines (one archived)."""
    bounds = RoomBounds()
    await memory.append_many("qq:user:1", [("user", "1", "A", "my cat is Mochi", "")])
    await memory.append_many("qq:user:1", [("assistant", "", "ATRI", "cute!", "v1")])
    first = await memory.all_messages("qq:user:1")
    assert await memory.add_summary("qq:user:1", "- old context", first[1].id, "v1")
    await memory.reset("qq:user:1")
    await memory.append_many(
        "qq:user:1", [("user", "1", "A", "hi", ""), ("assistant", "", "ATRI", "hi!", "v2")]
    )
    await memory.append_many(
        "qq:user:1", [("user", "1", "A", "hi", ""), ("assistant", "", "ATRI", "again", "v2")]
    )
    live = await memory.all_messages("qq:user:1", include_archived=False)
    assert await memory.add_summary("qq:user:1", "- said hi", live[1].id, "v2")
    await memory.append_many("discord:user:2", [("user", "2", "B", "yo", "")])
    await memory.room.add("qq:chan:300", "qq", "1", "A", "anyone here?", bounds)
    await memory.room.add("qq:chan:300", "qq", "9", "C", "me", bounds)
    await memory.room.archive_user("qq", "9")


async def test_a_backup_restores_every_scope_summary_and_room_line_once(tmp_path: Path) -> None:
    async with await Memory.open(tmp_path / "a.sqlite3") as memory:
        await fill_everything(memory)
        backup = json.loads(json.dumps(await memory.backup()))
        one = json.loads(json.dumps(await memory.export("qq:user:1")))
    assert [s["scope"] for s in backup["scopes"]] == ["discord:user:2", "qq:user:1"]
    assert len(backup["room_lines"]) == 2 and backup["room_lines"][1]["archived"]
    # One user's export carries their summaries and their own room lines only.
    assert [s["text"] for s in one["summaries"]] == ["- old context", "- said hi"]
    assert [line["content"] for line in one["room_lines"]] == ["anyone here?"]
    async with await Memory.open(tmp_path / "b.sqlite3") as restored:
        result = await restored.import_export(parse_export(backup, "backup.json"))
        assert (result.added, result.skipped, result.room_lines) == (9, 0, 2)
        assert await restored.backup() == backup
        summary = await restored.summary("qq:user:1")
        assert summary is not None and summary.text == "- said hi"
        history = await restored.history("qq:user:1")
        assert summary.covers_up_to == history[1].id  # the same message as before
        again = await restored.import_export(parse_export(backup, "backup.json"))
        assert (again.added, again.room_lines) == (0, 0)
        assert (again.skipped, again.room_skipped) == (9, 2)
        assert await restored.backup() == backup


@pytest.mark.parametrize("what", ["backup", "one scope"])
@pytest.mark.parametrize("reader", ["the worker's own", "atri memory export's"])
async def test_a_backup_is_one_moment_while_the_worker_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reader: str, what: str
) -> None:
    """The worker commits an exchange, a summary of it and a room line between the
    backup's (or one scope's export's) reading a scope's messages and its summaries: it
    holds none of it (not a summary pointing past the messages beside it), the writes
    are not held up, and the next one holds all of it."""
    path = tmp_path / "m.sqlite3"
    async with await Memory.open(path) as worker:
        await fill_everything(worker)
        before = await worker.all_messages("qq:user:1")
        cli = await Memory.open(path, read_only=True)
        reading = worker if reader == "the worker's own" else cli

        async def take() -> dict[str, Any]:
            taken = await (reading.backup() if what == "backup" else reading.export("qq:user:1"))
            return json.loads(json.dumps(taken))  # type: ignore[no-any-return]

        expected = await take()
        all_summaries = Memory.all_summaries
        written: list[float] = []

        async def worker_writes_meanwhile(self: Memory, scope: str) -> list[Any]:
            if not written:
                started = time.monotonic()
                rows = [("user", "1", "A", "new", ""), ("assistant", "", "ATRI", "yes", "v2")]
                await worker.append_many("qq:user:1", rows)
                newest = (await worker.all_messages("qq:user:1"))[-1].id
                assert await worker.add_summary("qq:user:1", "- said new", newest, "v2")
                await worker.room.add("qq:chan:300", "qq", "1", "A", "later", RoomBounds())
                written.append(time.monotonic() - started)
            return await all_summaries(self, scope)

        monkeypatch.setattr(Memory, "all_summaries", worker_writes_meanwhile)
        try:
            backup = await take()
            assert written and written[0] < 1.0  # no writer waited for the backup
            assert backup == expected
            monkeypatch.undo()
            after = await take()
        finally:
            await cli.close()
    scopes = after["scopes"] if what == "backup" else [after]
    (scope,) = [s for s in scopes if s["scope"] == "qq:user:1"]
    assert len(scope["messages"]) == len(before) + 2
    newest = scope["summaries"][-1]
    assert (newest["text"], newest["covers"]) == ("- said new", len(scope["messages"]) - 1)
    assert len(after["room_lines"]) == len(expected["room_lines"]) + 1


def test_a_summary_must_cover_a_message_of_its_scope() -> None:
    data = good_export()
    data["version"] = 2
    data["summaries"] = [{"text": "- x", "covers": 3, "created_at": 1.7e9}]
    with pytest.raises(ExportError) as caught:
        parse_export(data, "f.json")
    assert "summaries[0].covers must be the index of one of the scope's 3 messages" in str(
        caught.value
    )


def database_at_schema(path: Path, version: int) -> sqlite3.Connection:
    """A database file as ATRI wrote it at schema `version`, open for adding rows."""
    con = sqlite3.connect(path)
    for step in MIGRATIONS[:version]:
        con.executescript(step)
    con.execute(f"PRAGMA user_version = {version}")
    return con


async def test_schema_5_room_lines_keep_their_order_through_the_migration(tmp_path: Path) -> None:
    """A file as ATRI wrote it at schema 5: every row survives, and the room lines read in
    the order they were stored, with new ones after them in platform-time order."""
    path = tmp_path / "v5.sqlite3"
    con = database_at_schema(path, 5)
    now = time.time()
    con.executemany(
        "INSERT INTO room_lines (room, platform, user_id, display_name, content, created_at,"
        " archived) VALUES ('qq:chan:g1', 'qq', ?, '', ?, ?, ?)",
        [("1", "第一句", now - 30, 0), ("2", "第二句", now - 20, 1), ("1", "第三句", now - 10, 0)],
    )
    con.execute(
        "INSERT INTO messages (scope, role, user_id, content, created_at, request_id)"
        " VALUES ('qq:user:1', 'user', '1', '你好', 1, 'qq-7')"
    )
    con.commit()
    con.close()
    async with await Memory.open(path) as memory:
        assert await memory.schema_version() == SCHEMA_VERSION == 15
        await memory.room.add("qq:chan:g1", "qq", "3", "", "第五句", RoomBounds(), now - 1)
        await memory.room.add("qq:chan:g1", "qq", "3", "", "第四句", RoomBounds(), now - 5)
        lines = await memory.room.all_lines("qq:chan:g1")
        live = await memory.room.recent("qq:chan:g1", 10, 3600)
        (message,) = await memory.history("qq:user:1")
    assert [line.content for line in lines] == ["第一句", "第二句", "第三句", "第四句", "第五句"]
    assert [line.content for line in live] == ["第一句", "第三句", "第四句", "第五句"]
    assert (message.content, message.request_id) == ("你好", "qq-7")


async def test_room_lines_keep_the_platforms_order_through_a_backup(tmp_path: Path) -> None:
    # Exports before version 4 held no said_at: restored lines were ordered by when they
    # were heard, and a line heard late but said early moved to the end.
    now = time.time()
    async with await Memory.open(tmp_path / "a.sqlite3") as memory:
        await memory.room.add("qq:chan:300", "qq", "1", "A", "said second", RoomBounds(), now - 5)
        await memory.room.add("qq:chan:300", "qq", "2", "B", "said first", RoomBounds(), now - 9)
        backup = json.loads(json.dumps(await memory.backup()))
    assert backup["version"] == EXPORT_VERSION
    assert [line["said_at"] for line in backup["room_lines"]] == [now - 9, now - 5]
    older = json.loads(json.dumps(backup))  # as version 3 wrote it
    older["version"] = 3
    for line in older["room_lines"]:
        del line["said_at"], line["request_id"]
    async with await Memory.open(tmp_path / "b.sqlite3") as restored:
        await restored.import_export(parse_export(backup, "backup.json"))
        lines = await restored.room.all_lines("qq:chan:300")
        assert [line.content for line in lines] == ["said first", "said second"]
        assert await restored.backup() == backup
    async with await Memory.open(tmp_path / "c.sqlite3") as restored:
        result = await restored.import_export(parse_export(older, "old.json"))
        assert result.room_lines == 2
        lines = await restored.room.all_lines("qq:chan:300")
        assert [line.content for line in lines] == ["said second", "said first"]  # heard order


async def test_schema_7_room_lines_are_kept_and_lines_since_are_found_by_their_message(
    tmp_path: Path,
) -> None:
    """A file as ATRI wrote it at schema 7: every line survives the upgrade, with no
    message id, so no recall finds one (an empty id never matches them all); a line heard
    since keeps its message's id, and a delete or recall of that message hides it."""
    path = tmp_path / "v7.sqlite3"
    con = database_at_schema(path, 7)
    now = time.time()
    con.executemany(
        "INSERT INTO room_lines (room, platform, user_id, display_name, content, created_at,"
        " said_at, archived) VALUES ('qq:chan:g1', 'qq', ?, '', ?, ?, ?, ?)",
        [("1", "旧的一句", now - 30, now - 30, 0), ("2", "旧的归档", now - 20, now - 20, 1)],
    )
    con.commit()
    con.close()
    room = "qq:chan:g1"
    async with await Memory.open(path) as memory:
        assert await memory.schema_version() == SCHEMA_VERSION == 15
        await memory.room.add(
            room, "qq", "1", "", "我的电话是 13800000000", RoomBounds(), now - 10, "qq-7"
        )
        await memory.room.add(room, "qq", "2", "", "新的一句", RoomBounds(), now - 5, "qq-8")
        assert await memory.room.archive_message(room, "1", "") == 0
        assert await memory.room.archive_message(room, "2", "qq-7") == 0  # not theirs
        assert await memory.room.archive_message("qq:chan:g2", "1", "qq-7") == 0
        assert await memory.room.archive_message(room, "1", "qq-7") == 1
        assert await memory.room.archive_message(room, "1", "qq-7") == 0  # archived already
        live = await memory.room.recent(room, 10, 3600)
        assert [line.content for line in live] == ["旧的一句", "新的一句"]
        # Whose it was unknown (a Discord message no longer cached): found by its id.
        assert await memory.room.archive_message(room, "", "qq-8") == 1
        assert [line.content for line in await memory.room.recent(room, 10, 3600)] == ["旧的一句"]
        # Archived as a reset leaves a line: kept until a purge.
        lines = await memory.room.all_lines(room)
        assert [line.content for line in lines][2:] == ["我的电话是 13800000000", "新的一句"]
        assert await memory.room.delete_user("qq", "1") == 2
    with sqlite3.connect(path) as con:
        rows = con.execute("SELECT content, request_id, archived FROM room_lines").fetchall()
    assert sorted(rows) == [("新的一句", "qq-8", 1), ("旧的归档", "", 1)]


@pytest.mark.parametrize("first", ["the line", "the recall"])
async def test_a_line_that_reaches_her_after_the_recall_of_its_message_is_not_kept(
    memory: Memory, first: str
) -> None:
    """Each platform event is its own task, and a QQ line can wait for a name lookup: the
    recall of a message can reach the worker before the line of it, or while it is written."""
    room = "qq:chan:g1"
    line = memory.room.add(room, "qq", "1", "", "我的电话是 13800000000", RoomBounds(), 0, "qq-9")
    recall = memory.room.archive_message(room, "1", "qq-9")
    if first == "the line":
        await asyncio.gather(line, recall)
    else:
        await asyncio.gather(recall, line)
    await memory.room.add(room, "qq", "2", "", "别的话", RoomBounds(), 0, "qq-10")
    assert [line.content for line in await memory.room.recent(room, 10, 3600)] == ["别的话"]


async def test_an_edit_changes_the_text_of_its_line_and_adds_none(memory: Memory) -> None:
    room = "discord:chan:1/2"
    await memory.room.add(room, "discord", "5", "", "我的电话是 13800000000", RoomBounds(), 0, "77")
    bounds = RoomBounds(max_chars=8)
    assert await memory.room.reword(room, "5", "77", "电话发你私信了，别问了", bounds) == 1
    assert await memory.room.reword(room, "6", "77", "冒名改的", bounds) == 0  # not theirs
    assert await memory.room.reword(room, "5", "78", "没听到的消息", bounds) == 0
    assert await memory.room.reword(room, "5", "", "没有编号", bounds) == 0
    lines = await memory.room.all_lines(room)
    assert [line.content for line in lines] == ["电话发你私信了，"]  # cut as a new line is


async def test_room_lines_keep_their_message_ids_through_a_backup(tmp_path: Path) -> None:
    """A restored line still goes when its message is recalled; a version 4 export holds no
    ids and still imports (its lines are never found by a recall)."""
    room = "qq:chan:300"
    async with await Memory.open(tmp_path / "a.sqlite3") as memory:
        await memory.room.add(
            room, "qq", "1", "A", "我的电话是 13800000000", RoomBounds(), 0, "qq-5"
        )
        backup = json.loads(json.dumps(await memory.backup()))
    assert [line["request_id"] for line in backup["room_lines"]] == ["qq-5"]
    older = json.loads(json.dumps(backup))  # as version 4 wrote it
    older["version"] = 4
    del older["room_lines"][0]["request_id"]
    async with await Memory.open(tmp_path / "b.sqlite3") as restored:
        await restored.import_export(parse_export(backup, "backup.json"))
        assert await restored.backup() == backup
        assert await restored.room.archive_message(room, "1", "qq-5") == 1
        assert await restored.room.recent(room, 10, 3600) == []
    async with await Memory.open(tmp_path / "c.sqlite3") as restored:
        result = await restored.import_export(parse_export(older, "old.json"))
        assert result.room_lines == 1
        assert [line["request_id"] for line in (await restored.backup())["room_lines"]] == [""]
        assert await restored.room.archive_message(room, "1", "qq-5") == 0


async def store(memory: Memory, scope: str, *rows: tuple[str, str, float, bool, str]) -> None:
    """(role, content, created_at, archived, request_id) rows written at the given times."""
    await memory._db.executemany(
        "INSERT INTO messages (scope, role, user_id, content, created_at, archived, request_id)"
        " VALUES (?, ?, '1', ?, ?, ?, ?)",
        [(scope, *row) for row in rows],
    )
    await memory._db.commit()


def scope_export(
    messages: list[tuple[str, str, float, bool, str]], scope: str = "s", **more: Any
) -> dict[str, Any]:
    """One scope's export of (role, content, created_at, archived, request_id) rows."""
    rows = [
        {"role": r, "user_id": "1", "content": c, "created_at": at, "archived": a, "request_id": q}
        for r, c, at, a, q in messages
    ]
    return {"format": "atri-memory", "version": 4, "scope": scope, "messages": rows, **more}


async def test_an_import_takes_its_place_in_time_and_the_latest_summary_stays_live(
    memory: Memory,
) -> None:
    await store(
        memory,
        "s",
        ("user", "a", 10, True, "r10"),  # a reset context
        ("assistant", "b", 10, True, "r10"),
        ("user", "c", 30, False, "r30"),
        ("assistant", "d", 30, False, "r30"),
    )
    await store(memory, "other", ("user", "x", 1, False, ""))
    d = (await memory.all_messages("s"))[-1]
    assert await memory.add_summary("s", "- db", d.id)
    data = scope_export(
        [
            ("user", "e", 5, False, "r5"),
            ("assistant", "f", 5, False, "r5"),
            ("user", "g", 20, True, "r20"),
            ("assistant", "h", 20, True, "r20"),
            ("user", "c", 30, False, "r30"),  # already stored
            ("assistant", "d", 30, False, "r30"),
            ("user", "i", 30, False, "r31"),  # said in the same second: after c and d
            ("assistant", "j", 30, False, "r31"),
        ],
        summaries=[{"text": "- imported", "covers": 1, "created_at": 6.0}],
    )
    result = await memory.import_export(parse_export(data, "f.json"))
    assert (result.added, result.skipped) == (7, 2)
    rows = await memory.all_messages("s")
    assert [m.content for m in rows] == list("efabghcdij")
    assert [m.archived for m in rows] == [0, 0, 1, 1, 1, 1, 0, 0, 0, 0]
    requests = [m.request_id for m in rows]
    assert requests == ["r5", "r5", "r10", "r10", "r20", "r20", "r30", "r30", "r31", "r31"]
    summaries = {s.text: s.covers_up_to for s in await memory.all_summaries("s")}
    assert summaries == {"- db": rows[7].id, "- imported": rows[1].id}
    live = await memory.summary("s")
    assert live is not None and live.text == "- db"  # it ends later than the imported one
    assert [m.content for m in await memory.all_messages("other")] == ["x"]
    # The same file again adds nothing and moves nothing.
    again = await memory.import_export(parse_export(data, "f.json"))
    assert (again.added, again.skipped) == (0, 9)
    assert await memory.all_messages("s") == rows
    # A moved exchange is still found by its platform message; what is said next gets an
    # id above every one, moved ones included.
    assert await memory.cut_reply("s", "r31", "jj") == 1
    await memory.append_many("s", [("user", "1", "", "k", "")])
    after = await memory.all_messages("s")
    assert [m.content for m in after] == [*"efabghcdi", "jj", "k"]


async def test_an_import_leaves_one_live_summary_and_archives_the_one_it_supersedes(
    memory: Memory,
) -> None:
    await store(memory, "s", ("user", "a", 10, False, ""), ("assistant", "b", 10, False, ""))
    assert await memory.add_summary("s", "- a", 2)
    # The imported summary ends later than the stored one: it is live, the stored one
    # archived (kept, as a reset keeps it, and still exported).
    later = scope_export(
        [("user", "c", 20, False, ""), ("assistant", "d", 20, False, "")],
        summaries=[{"text": "- a, c", "covers": 1, "created_at": 21.0}],
    )
    await memory.import_export(parse_export(later, "later.json"))
    states = [(s.text, s.archived) for s in await memory.all_summaries("s")]
    assert states == [("- a", True), ("- a, c", False)]
    # One that ends earlier is imported archived beside the live one.
    earlier = scope_export(
        [("user", "e", 5, False, ""), ("assistant", "f", 5, False, "")],
        summaries=[{"text": "- e", "covers": 1, "created_at": 6.0}],
    )
    await memory.import_export(parse_export(earlier, "earlier.json"))
    states = [(s.text, s.archived) for s in await memory.all_summaries("s")]
    assert states == [("- a", True), ("- a, c", False), ("- e", True)]
    live = await memory.summary("s")
    assert live is not None and live.text == "- a, c"
    # Importing them again adds nothing and revives nothing.
    for data in (later, earlier):
        again = await memory.import_export(parse_export(data, "again.json"))
        assert again.added == 0
    assert [(s.text, s.archived) for s in await memory.all_summaries("s")] == states
    # A reset still ends the context: no live summary is left.
    await memory.reset("s")
    assert await memory.summary("s") is None


async def test_a_failed_import_moves_nothing(memory: Memory) -> None:
    await store(memory, "s", ("user", "new", 30, False, ""))
    await memory._db.execute(
        "CREATE TRIGGER boom BEFORE INSERT ON messages WHEN NEW.content = 'boom'"
        " BEGIN SELECT RAISE(ABORT, 'no room'); END"
    )
    await memory._db.commit()
    before = await memory.all_messages("s")
    # The first scope's import moves "new" after "old"; the second one fails.
    old = scope_export([("user", "old", 10, False, "")])
    boom = scope_export([("user", "boom", 10, False, "")], scope="t")
    scopes = [{k: part[k] for k in ("scope", "messages")} for part in (old, boom)]
    backup = {"format": "atri-memory", "version": 4, "scopes": scopes}
    with pytest.raises(sqlite3.IntegrityError):
        await memory.import_export(parse_export(backup, "backup.json"))
    assert await memory.all_messages("s") == before
    assert await memory.all_messages("t") == []


async def test_an_import_of_what_came_after_is_added_as_before(memory: Memory) -> None:
    """Nothing stored is newer than the import: the stored rows keep their ids, the new
    ones follow, and room lines (ordered by the platform's time) go where they were said."""
    await store(memory, "s", ("user", "a", 10, False, ""), ("assistant", "b", 10, False, ""))
    assert await memory.add_summary("s", "- a", 2)
    now = time.time()
    await memory.room.add("qq:chan:1", "qq", "1", "", "said late", RoomBounds(), now - 5)
    line = {"room": "qq:chan:1", "platform": "qq", "user_id": "2", "content": "said early"}
    data = scope_export(
        [("user", "c", 20, False, ""), ("assistant", "d", 20, False, "")],
        summaries=[{"text": "- a, c", "covers": 1, "created_at": 21.0}],
        room_lines=[{**line, "created_at": now - 9, "said_at": now - 9}],
    )
    result = await memory.import_export(parse_export(data, "f.json"))
    assert (result.added, result.room_lines) == (3, 1)
    rows = await memory.all_messages("s")
    assert [(m.id, m.content) for m in rows] == [(1, "a"), (2, "b"), (3, "c"), (4, "d")]
    summaries = [(s.text, s.covers_up_to) for s in await memory.all_summaries("s")]
    assert summaries == [("- a", 2), ("- a, c", 4)]
    live = await memory.summary("s")
    assert live is not None and live.text == "- a, c"
    lines = await memory.room.all_lines("qq:chan:1")
    assert [line.content for line in lines] == ["said early", "said late"]


def test_said_order_merges_by_time_stored_first_at_a_tie() -> None:
    from model.memory import said_order

    moved, new_ids = said_order([(1, 5.0), (2, 7.0), (3, 9.0)], [5.0, 6.0, 8.0], 10)
    # 1 (5.0), new (5.0), new (6.0), 2 (7.0), new (8.0), 3 (9.0)
    assert new_ids == [10, 11, 13]
    assert moved == {2: 12, 3: 14}
    assert said_order([(1, 5.0)], [6.0], 2) == ({}, [2])


async def test_an_exchange_stored_after_an_import_moved_its_context_is_kept(
    tmp_path: Path,
) -> None:
    """A reply made from memory read before `atri memory import` (another process) moved
    the messages it was made from, twice: the imports ended nothing, so the exchange is
    kept, after them. A reset or purge before the imports ended the context: messages
    they bring, though said before the reply's memory was read, do not revive it."""
    path = tmp_path / "m.sqlite3"
    scopes = ("s", "reset", "purged")

    def older(said: tuple[str, str, float, bool, str]) -> dict[str, Any]:
        """A backup of every scope holding one message `said`."""
        messages = scope_export([said])["messages"]
        parts = [{"scope": scope, "messages": messages} for scope in scopes]
        return {"format": "atri-memory", "version": 4, "scopes": parts}

    async with await Memory.open(path) as worker:
        for scope in scopes:
            await store(
                worker, scope, ("user", "a", 10, False, ""), ("assistant", "b", 10, False, "")
            )
        newest = {scope: (await worker.history(scope))[-1].id for scope in scopes}
        async with await Memory.open(path) as cli:
            await cli.reset("reset")
            await cli.purge("purged")
            # Each import moves "a" and "b" to new ids, after what it brings.
            for backup in (older(("user", "e", 5, False, "")), older(("user", "g", 1, False, ""))):
                await cli.import_export(parse_export(backup, "older.json"))
        assert all(m.id > newest["s"] for m in await worker.all_messages("s"))
        exchange = [("user", "1", "", "c", ""), ("assistant", "", "", "d", "")]
        for scope in scopes:
            await worker.append_many(scope, exchange, "r", newest[scope])
        assert [m.content for m in await worker.history("s")] == list("geabcd")
        for scope in ("reset", "purged"):
            assert [m.content for m in await worker.history(scope)] == ["g", "e"]
            assert "c" not in [m.content for m in await worker.all_messages(scope)]


async def test_a_summary_written_from_an_older_window_leaves_an_imported_later_one_live(
    tmp_path: Path,
) -> None:
    path = tmp_path / "m.sqlite3"
    later = scope_export(
        [("user", "c", 20, False, ""), ("assistant", "d", 20, False, "")],
        summaries=[{"text": "- a, c", "covers": 1, "created_at": 21.0}],
    )
    async with await Memory.open(path) as worker:
        await store(worker, "s", ("user", "a", 10, False, ""), ("assistant", "b", 10, False, ""))
        taken_back = worker.taken_back("s")
        up_to = (await worker.history("s"))[-1].id  # the summarizer plans "- a"
        async with await Memory.open(path) as cli:
            await cli.import_export(parse_export(later, "later.json"))
        assert not await worker.add_summary("s", "- a", up_to, taken_back=taken_back)
        assert [(s.text, s.archived) for s in await worker.all_summaries("s")] == [
            ("- a, c", False)
        ]
        # A summary reaching past it and written from it replaces it, as every rolling
        # summary does: it holds what that one did.
        newest = (await worker.history("s"))[-1].id
        imported = await worker.summary("s")
        assert await worker.add_summary("s", "- a, c, d", newest, extends=imported)
        assert [(s.text, s.archived) for s in await worker.all_summaries("s")] == [
            ("- a, c, d", False)
        ]


EXCHANGE = [("user", "1", "", "my secret is 1234", ""), ("assistant", "", "", "noted", "")]


async def test_an_exchange_is_not_stored_once_its_scope_was_reset_after_its_read(
    tmp_path: Path,
) -> None:
    """With nothing stored in a scope, no archived message tells a reply that a reset
    ended its context: the database records each reset, and a reply read before a
    reset of its scope (its own, or its channel's) is not stored."""
    path = tmp_path / "m.sqlite3"
    mine, neighbour = "qq:chan:g1:user:1", "qq:chan:g2:user:1"
    async with await Memory.open(path) as memory:
        for ended_by in ("reset", "channel reset", "purge", "atri memory reset"):
            read, other = await memory.conversation(mine), await memory.conversation(neighbour)
            assert (read.messages, read.summary) == ([], None)
            if ended_by == "reset":
                await memory.reset(mine)
            elif ended_by == "channel reset":
                await memory.reset_prefix("qq:chan:g1:")
            elif ended_by == "purge":
                await memory.purge(mine)
            else:  # from another process on the same file
                async with await Memory.open(path) as cli:
                    await cli.reset(mine)
            await memory.append_many(mine, EXCHANGE, "m1", None, read.reset_mark)
            assert await memory.all_messages(mine) == [], ended_by
            # Another scope's reset ends nothing here.
            await memory.append_many(neighbour, EXCHANGE, "m2", None, other.reset_mark)
            assert len(await memory.all_messages(neighbour, include_archived=False)) == 2
            await memory.purge(neighbour)
        # Read after the reset: stored.
        after = await memory.conversation(mine)
        assert after.reset_mark > read.reset_mark
        await memory.append_many(mine, EXCHANGE, "m3", None, after.reset_mark)
        assert [m.content for m in await memory.history(mine)] == ["my secret is 1234", "noted"]


async def test_reset_records_older_than_any_reply_go_at_the_next_reset(tmp_path: Path) -> None:
    """A purge keeps the scope's key in a reset record (no text); not for good."""
    async with await Memory.open(tmp_path / "m.sqlite3") as memory:
        await memory.purge("qq:user:1")
        await memory._db.execute("UPDATE resets SET at = at - 2 * 24 * 3600")
        await memory.reset("qq:user:2")
        rows = await memory._db.execute_fetchall("SELECT scope FROM resets")
        assert [r[0] for r in rows] == ["qq:user:2"]


async def test_a_schema_8_file_gains_reset_records(tmp_path: Path) -> None:
    path = tmp_path / "v8.sqlite3"
    con = database_at_schema(path, 8)
    con.execute(
        "INSERT INTO messages (scope, role, user_id, content, created_at, request_id)"
        " VALUES ('qq:user:1', 'user', '1', '你好', 1, 'qq-7')"
    )
    con.commit()
    con.close()
    async with await Memory.open(path) as memory:
        assert await memory.schema_version() == SCHEMA_VERSION == 15
        read = await memory.conversation("qq:user:1")
        assert [m.content for m in read.messages] == ["你好"] and read.reset_mark == 0
        await memory.reset("qq:user:1")
        await memory.append_many("qq:user:1", EXCHANGE, "m1", None, read.reset_mark)
        assert [m.content for m in await memory.all_messages("qq:user:1")] == ["你好"]


async def test_a_message_is_found_by_its_id_in_whichever_scope_of_its_platform_holds_it(
    tmp_path: Path,
) -> None:
    """For a delete that does not say whose message it was: the scopes holding it live,
    of that platform only, through the request id index."""
    async with await Memory.open(tmp_path / "m.sqlite3") as memory:
        exchange = [("user", "1", "", "删掉", ""), ("assistant", "", "ATRI", "好", "")]
        await memory.append_many("discord:user:1", exchange, "555")
        await memory.append_many("discord:chan:g/c:user:2", exchange, "555")
        await memory.append_many("qq:user:1", exchange, "555")  # another platform's 555
        await memory.append_many("discord:user:3", exchange, "556")
        assert sorted(await memory.scopes_holding("discord", "555")) == [
            "discord:chan:g/c:user:2",
            "discord:user:1",
        ]
        await memory.archive_request("discord:user:1", "555")
        assert await memory.scopes_holding("discord", "555") == ["discord:chan:g/c:user:2"]
        assert await memory.scopes_holding("discord", "") == []
        plan = await memory._db.execute_fetchall(
            "EXPLAIN QUERY PLAN SELECT DISTINCT scope FROM messages WHERE request_id = ?"
            " AND request_id != '' AND archived = 0 AND substr(scope, 1, ?) = ?",
            ("555", 8, "discord:"),
        )
        assert any("messages_request" in str(tuple(row)) for row in plan)
