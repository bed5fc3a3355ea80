"""Conversation memory on a real SQLite file."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from atri.errors import ConfigError
from model.memory import MIGRATIONS, SCHEMA_VERSION, Memory, scope_key


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
    assert await memory.purge("s") == 4
    assert await memory.all_messages("s") == []


async def test_export_round_trips(memory: Memory, tmp_path: Path) -> None:
    await memory.append_many(
        "s", [("user", "1", "A", "你好", ""), ("assistant", "", "ATRI", "早上好！", "v2")]
    )
    await memory.reset("s")
    await memory.append_many(
        "s", [("user", "1", "A", "again", ""), ("assistant", "", "ATRI", "yes", "v2")]
    )
    exported = await memory.export("s")
    async with await Memory.open(tmp_path / "other.sqlite3") as other:
        assert await other.import_export(exported) == 4
        again = await other.export("s")
        strip = lambda d: [{k: v for k, v in m.items()} for m in d["messages"]]  # noqa: E731
        assert strip(again) == strip(exported)
        assert [m.content for m in await other.history("s")] == ["again", "yes"]


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
    real = memory._db.execute_fetchall

    async def counting(sql: str, params: object = None):  # type: ignore[no-untyped-def]
        queries.append(sql)
        return await real(sql, params)

    memory._db.execute_fetchall = counting  # type: ignore[method-assign]
    together = await asyncio.gather(
        *(memory.history(scope, max_messages=n) for scope, n in requests)
    )
    assert together == alone
    assert len(queries) < len(requests)
    assert alone[4] == [] and alone[-2] == []
    assert len(alone[-1]) == 6 and len(alone[3]) == 4  # one scope, two limits
    assert [m.content for m in alone[3]][-2:] == ["q3.2", "a"]


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("folder", "is a folder"),
        ("file.txt/m.sqlite3", "cannot be created"),
        ("file.txt", "cannot be used as ATRI's database (file is not a database)"),
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
