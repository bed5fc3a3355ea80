"""Session 70: `atri memory import` beside a running worker, and a backup's own purges.

A backup whose database had purged a key with its clock a day ahead came back without
the messages said after that purge ("left out, purged since the file was written"): the
import kept the backup's purges first, then filtered the backup against them. Only the
purges stored here before the import filter the file now.

An import held SQLite's write lock for its whole run (a re-import adding nothing, > 5 s),
and every exchange a worker stored meanwhile failed after its busy timeout: she answered
and forgot. What the file adds is now worked out without the lock, and written in parts,
each its own short transaction."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

from model.memory import Memory, parse_export
from model.memory import backup as memory_backup
from model.memory import database as memory_database
from model.memory.database import BUSY_TIMEOUT_SECONDS
from model.room import RoomBounds
from tests.atri.memory_cli import atri, big_backup

DAY = 86_400.0


async def backup_of(memory: Memory) -> Any:
    return parse_export(json.loads(json.dumps(await memory.backup())), "backup.json")


def exchange(user_id: str, text: str) -> list[tuple[str, str, str, str, str]]:
    return [("user", user_id, "A", text, ""), ("assistant", "", "ATRI", f"re: {text}", "")]


async def test_a_backup_keeps_what_was_said_after_its_own_purge_made_with_the_clock_ahead(
    tmp_path: Path,
) -> None:
    async with await Memory.open(tmp_path / "old.sqlite3") as old:
        await old.append_many("qq:user:42", exchange("42", "my phone is 123"))
        before_purge = await backup_of(old)
        with mock.patch("time.time", return_value=time.time() + DAY):  # the clock ahead
            await old.purge("qq:user:42")
        await old.append_many("qq:user:42", exchange("42", "hello again"))
        backup = await backup_of(old)

    async with await Memory.open(tmp_path / "new.sqlite3") as new:
        result = await new.import_export(backup)
        restored = [m.content for m in await new.all_messages("qq:user:42")]
        # The backup's purge is kept: the older backup, imported after it, stays purged.
        older = await new.import_export(before_purge)
        after_older = [m.content for m in await new.all_messages("qq:user:42")]

    assert restored == ["hello again", "re: hello again"]
    assert (result.counts.messages_added, result.counts.purged_messages) == (2, 0)
    assert after_older == restored
    assert older.counts.purged_messages == 2
    assert older.counts.purged_keys == ["qq:user:42"]


async def test_a_re_import_that_adds_nothing_takes_no_write_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(memory_database, "BUSY_TIMEOUT_SECONDS", 0.5)
    path = tmp_path / "mem.sqlite3"
    async with await Memory.open(path) as memory:
        await memory.append_many("qq:user:1", exchange("1", "hi"))
        await memory.room.add("qq:chan:9", "qq", "1", "A", "a line", RoomBounds())
        backup = await backup_of(memory)
        worker = sqlite3.connect(path, isolation_level=None)
        worker.execute("BEGIN IMMEDIATE")  # a worker in the middle of storing an exchange
        try:
            result = await memory.import_export(backup)
        finally:
            worker.execute("ROLLBACK")
            worker.close()
    assert result.added == 0
    assert (result.counts.messages_skipped, result.counts.room_skipped) == (2, 1)


# A worker's writes, as it makes them: its own connection, the project's busy timeout;
# how long each waited for the write lock, until the file `stop` appears.
WORKER = """
import json, sqlite3, sys, time
from pathlib import Path
db = sqlite3.connect(sys.argv[1], timeout=float(sys.argv[2]), isolation_level=None)
stop, waits, errors, n = Path(sys.argv[3]), [], [], 0
print("ready", flush=True)
while not stop.exists():
    start = time.monotonic()
    try:
        db.execute("BEGIN IMMEDIATE")
        waits.append(time.monotonic() - start)
        for scope in ("qq:user:worker", "qq:user:3"):
            db.execute(
                "INSERT INTO messages (scope, role, user_id, display_name, content, created_at)"
                " VALUES (?, 'user', '3', 'B', ?, ?)", (scope, f"worker {n}", time.time()))
        db.execute("COMMIT")
        n += 1
    except sqlite3.Error as exc:
        errors.append(str(exc))
        if db.in_transaction:
            db.execute("ROLLBACK")
    time.sleep(0.005)
print(json.dumps({"written": n, "longest_wait": max(waits, default=0), "errors": errors}))
"""


async def test_a_worker_writing_beside_a_large_import_waits_a_moment_only(tmp_path: Path) -> None:
    path = tmp_path / "mem.sqlite3"
    async with await Memory.open(path) as memory:
        backup = parse_export(big_backup(scopes=400, per_scope=500), "backup.json")
        stop = tmp_path / "stop"
        worker = subprocess.Popen(
            [sys.executable, "-c", WORKER, str(path), str(BUSY_TIMEOUT_SECONDS), str(stop)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert worker.stdout is not None and worker.stdout.readline() == "ready\n"
        try:
            result = await memory.import_export(backup)
        finally:
            stop.touch()
            out, _ = worker.communicate(timeout=60)
        report = json.loads(out)
        imported_into = [m.content for m in await memory.all_messages("qq:user:3")]
        worker_own = [m.content for m in await memory.all_messages("qq:user:worker")]

    assert report["errors"] == []
    # The whole import held it for 1.4 s here (200,000 messages); now a few parts at most.
    assert report["longest_wait"] < 1.0
    assert result.counts.messages_added == 200_000
    # Nothing the worker stored was lost or doubled, nor anything of the file.
    written = report["written"]
    assert worker_own == [f"worker {n}" for n in range(written)]
    assert sorted(imported_into) == sorted(
        [f"message {i} of 3" for i in range(500)] + [f"worker {n}" for n in range(written)]
    )


def fail_the_writes_to(path: Path, scope: str) -> None:
    """Make SQLite refuse every message stored into `scope` from now on, as a full disk
    refuses a write."""
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TRIGGER full BEFORE INSERT ON messages"
            f" WHEN NEW.scope = '{scope}' BEGIN SELECT RAISE(ABORT, 'disk full'); END"
        )


async def test_an_import_that_fails_after_a_committed_part_says_what_it_imported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(memory_backup, "IMPORT_PART_ROWS", 500)  # a part per conversation
    path = tmp_path / "mem.sqlite3"
    backup = parse_export(big_backup(scopes=3, per_scope=500), "backup.json")
    async with await Memory.open(path) as memory:
        await memory.append_many("qq:user:9", exchange("9", "hi"))
    fail_the_writes_to(path, "qq:user:1")
    async with await Memory.open(path) as memory:
        with pytest.raises(memory_backup.ImportStopped) as stopped:
            await memory.import_export(backup)
        kept = [len(await memory.all_messages(f"qq:user:{s}")) for s in range(3)]
    assert stopped.value.done.counts.messages_added == 500
    assert isinstance(stopped.value.cause, sqlite3.Error)
    assert kept == [500, 0, 0]  # the first part committed, the failed one undone


def test_the_cli_says_what_a_stopped_import_imported_and_that_a_rerun_adds_the_rest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(memory_backup, "IMPORT_PART_ROWS", 500)
    (tmp_path / "backup.json").write_text(json.dumps(big_backup(3, 500)), encoding="utf-8")
    config = tmp_path / "config.toml"
    config.write_text('[memory]\npath = "mem.sqlite3"\n', encoding="utf-8")
    code, out = atri(config, "memory", "import", str(tmp_path / "backup.json"))
    assert code == 0, out
    with sqlite3.connect(tmp_path / "mem.sqlite3") as db:
        db.execute("DELETE FROM messages WHERE scope IN ('qq:user:1', 'qq:user:2')")
    fail_the_writes_to(tmp_path / "mem.sqlite3", "qq:user:2")

    code, out = atri(config, "memory", "import", str(tmp_path / "backup.json"))
    sentence = " ".join(out.split())
    assert code == 1
    assert "could not be written" in sentence
    assert (
        # Only the conversation a committed part wrote counts (qq:user:1).
        "Imported 500 messages into 1 scope(s) (already stored, skipped: 500 messages)"
        " before it stopped; run it again to import the rest" in sentence
    )

    with sqlite3.connect(tmp_path / "mem.sqlite3") as db:
        db.execute("DROP TRIGGER full")
    code, out = atri(config, "memory", "import", str(tmp_path / "backup.json"))
    assert code == 0, out
    assert "Imported 500 messages into 3 scope(s) (already stored, skipped: 1000 messages)" in out


async def test_a_purge_made_while_the_import_runs_is_left_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(memory_backup, "IMPORT_PART_ROWS", 500)
    path = tmp_path / "mem.sqlite3"
    backup = parse_export(big_backup(scopes=2, per_scope=500), "backup.json")
    write_part = memory_backup._write_part
    parts = 0

    async def a_worker_purges_between_parts(self: Memory, *args: Any, **kwargs: Any) -> Any:
        nonlocal parts
        parts += 1
        if parts == 2:  # `/atri forget` from a bot, in the worker's own connection
            with sqlite3.connect(path) as worker:
                worker.execute(
                    "INSERT INTO purges (scope, at) VALUES ('qq:user:1', ?)", (time.time(),)
                )
        return await write_part(self, *args, **kwargs)

    monkeypatch.setattr(memory_backup, "_write_part", a_worker_purges_between_parts)
    async with await Memory.open(path) as memory:
        result = await memory.import_export(backup)
        kept = [len(await memory.all_messages(f"qq:user:{s}")) for s in range(2)]
    assert kept == [500, 0]
    assert (result.counts.purged_messages, result.counts.purged_keys) == (500, ["qq:user:1"])
