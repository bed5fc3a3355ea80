"""Session 67: `atri memory export --out backup.json` (the whole database) made the backup
Python dicts and then one JSON string before writing a byte: 307 MB of memory for
100,000 messages, 632 MB for 200,000, some 3 GB for the 1,000,000 the README speaks of,
so the nightly backup was killed on a small VPS. It is written as it is read now, a page
of one scope's messages at a time, inside the same one-moment read, to the same file
replaced whole: the same bytes as before, in memory that does not grow with the
database. Through the real CLI, on real SQLite files."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import sys
import tracemalloc
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

import model.memory.backup as backups
from atri.cli import app
from model.memory import Memory
from model.room import RoomBounds
from tests.atri.memory_cli import atri, memory_config, runner
from tests.model.memory.test_backup_channel_modes_s67 import set_modes, squeezed

REPO = Path(__file__).resolve().parents[3]
ODD_TEXT = 'say "hi"\n\tback\\slash \x1b[31m red \u2028 夏生さん！🎉 \x00 end'


async def fill_varied(memory: Memory) -> None:
    """Every kind a backup holds: channels' and people's conversations and a member's own,
    text JSON escapes, archived messages and summaries, a summary covering nothing left, a
    scope holding only a summary, rows another program wrote, room lines and purges."""
    await memory.append_many(
        "qq:chan:g1",
        [("user", "1", "阿明", ODD_TEXT, ""), ("assistant", "", "亚托莉", "はい、夏生さん", "v1")],
        request_id="m1",
    )
    await memory.append_many(
        "qq:chan:g1", [("user", "2", "", "second", ""), ("assistant", "", "ATRI", "ok", "v1")]
    )
    first = (await memory.all_messages("qq:chan:g1"))[1].id
    assert await memory.add_summary("qq:chan:g1", "总结\n第二行", first, "v1")
    await memory.reset("qq:chan:g1")  # archives the messages and the summary
    await memory.append_many("qq:chan:g1", [("user", "3", "C", "after the reset", "")])
    for n in range(7):
        await memory.append_many(f"qq:user:{n}", [("user", str(n), f"p{n}", f"hello {n}", "")])
    await memory.append_many("qq:chan:g1:user:4", [("user", "4", "D", "own", "")])
    await memory.append_many("discord:user:9", [("user", "9", "E", "x" * 5000, "")])
    await memory.room.add("qq:chan:g1", "qq", "5", "路人", ODD_TEXT, RoomBounds(), request_id="a")
    await memory.room.add("qq:chan:g2", "qq", "6", "", "二群", RoomBounds())
    await memory.record_purge("qq:user:77")
    await memory._db.executemany(
        "INSERT INTO messages (scope, role, user_id, display_name, content, created_at)"
        " VALUES (?, 'user', ?, ?, ?, ?)",
        [
            ("qq:user:3", 3, "blob", b"\xff bytes", "not a time"),
            ("qq:user:3", "3", "big", "t", 1e300),
        ],
    )
    await memory._db.executemany(
        "INSERT INTO summaries (scope, text, covers_up_to, created_at) VALUES (?, ?, ?, 0)",
        [("qq:user:2", "covers nothing left", 0), ("qq:user:8", "a scope of a summary", 5)],
    )
    await memory._db.commit()


def one_string(database: Path) -> str:
    """The backup as the export wrote it before (`json.dumps` of the whole database as one
    dict): the streamed file must be laid out as it was, whatever pages it was read in."""

    async def read() -> str:
        async with await Memory.open(database, read_only=True) as memory:
            return json.dumps(await memory.backup(), ensure_ascii=False, indent=2) + "\n"

    return asyncio.run(read())


@pytest.mark.parametrize("pages", ["default", "tiny"])
def test_a_backup_is_byte_for_byte_the_one_string_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pages: str
) -> None:
    """Tiny pages and parts: every read and every write ends inside a scope or a line."""
    if pages == "tiny":
        monkeypatch.setattr(backups, "BACKUP_PAGE_ROWS", 1)
        monkeypatch.setattr(backups, "BACKUP_WRITE_CHARS", 7)
    config = memory_config(tmp_path, fill_varied)
    set_modes(tmp_path / "mem.sqlite3", ("qq", "g1", "off"))
    expected = one_string(tmp_path / "mem.sqlite3")
    assert '"covers": 1' in expected and "a scope of a summary" not in expected

    code, out = atri(config, "memory", "export", "--out", str(tmp_path / "backup.json"))
    assert code == 0, out
    assert (tmp_path / "backup.json").read_bytes() == expected.encode()
    assert "Wrote 16 messages, 1 summary, 2 room lines and 1 channel mode to" in squeezed(out)
    on_stdout = runner.invoke(app, ["--config", str(config), "memory", "export"])
    assert on_stdout.exit_code == 0, on_stdout.output
    assert on_stdout.stdout == expected


def test_a_backup_of_an_empty_database_is_the_one_string_it_was(tmp_path: Path) -> None:
    async def nothing(memory: Memory) -> None:
        pass

    config = memory_config(tmp_path, nothing)
    code, out = atri(config, "memory", "export", "--out", str(tmp_path / "backup.json"))
    assert code == 0, out
    expected = one_string(tmp_path / "mem.sqlite3")
    assert '"scopes": [],' in expected
    assert (tmp_path / "backup.json").read_text(encoding="utf-8") == expected


MESSAGES_PER_SCOPE = 200


def scopes_of(count: int) -> Callable[[Memory], Awaitable[None]]:
    """`count` group conversations of `MESSAGES_PER_SCOPE` messages each."""

    async def fill(memory: Memory) -> None:
        said = "夏生さん、今日もいい天気ですね。" * 8
        rows = [
            (f"qq:chan:{n}", ("user", "assistant")[i % 2], str(i % 9), "名字", said, float(i))
            for n in range(count)
            for i in range(MESSAGES_PER_SCOPE)
        ]
        await memory._db.executemany(
            "INSERT INTO messages (scope, role, user_id, display_name, content, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            rows,
        )
        await memory._db.commit()

    return fill


def peak_of_backup(config: Path, out: Path) -> int:
    """The most memory Python held at once (the database thread's included) while the
    CLI wrote the backup."""
    tracemalloc.start()
    try:
        code, said = atri(config, "memory", "export", "--out", str(out))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert code == 0, said
    return peak


def test_the_memory_a_backup_takes_does_not_grow_with_the_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pages and parts small, so what each holds is small beside a scope."""
    monkeypatch.setattr(backups, "BACKUP_PAGE_ROWS", 50)
    monkeypatch.setattr(backups, "BACKUP_WRITE_CHARS", 1 << 14)
    peaks, sizes = [], []
    for count in (10, 40):
        folder = tmp_path / str(count)
        folder.mkdir()
        config = memory_config(folder, scopes_of(count))
        assert atri(config, "memory", "export", "--out", str(folder / "warm.json"))[0] == 0
        peaks.append(peak_of_backup(config, folder / "backup.json"))
        sizes.append((folder / "backup.json").stat().st_size)
    assert peaks[1] < 1.5 * peaks[0], peaks
    assert peaks[1] < sizes[1] / 4, (peaks, sizes)


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".backup.json."))


def test_a_read_failing_midway_leaves_last_weeks_backup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Parts of the new backup are on disk by then: they go, the old file stays."""
    monkeypatch.setattr(backups, "BACKUP_WRITE_CHARS", 10)
    config = memory_config(tmp_path, scopes_of(3))
    backup = tmp_path / "backup.json"
    backup.write_text("last week's backup", encoding="utf-8")
    read_messages = backups._streamed_messages
    scopes_read = []

    def failing_at_the_third(self: Memory, scope: str, *args: object) -> object:
        scopes_read.append(scope)
        if len(scopes_read) == 3:
            raise sqlite3.OperationalError("disk I/O error")
        return read_messages(self, scope, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(backups, "_streamed_messages", failing_at_the_third)
    code, out = atri(config, "memory", "export", "--out", str(backup))
    assert code == 1 and "could not be read (disk I/O error)" in squeezed(out), out
    assert "Traceback" not in out
    assert backup.read_text(encoding="utf-8") == "last week's backup"
    assert leftovers(tmp_path) == []


def test_a_write_failing_midway_is_one_sentence_and_leaves_last_weeks_backup(
    tmp_path: Path,
) -> None:
    """Past the file size limit here, as on a full disk."""
    resource = pytest.importorskip("resource")  # not on Windows
    config = memory_config(tmp_path, scopes_of(3))
    backup = tmp_path / "backup.json"
    backup.write_text("last week's backup", encoding="utf-8")

    def small_files() -> None:  # Python ignores SIGXFSZ: the write fails with EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, 100_000))

    export = ["memory", "export", "--out", str(backup)]
    done = subprocess.run(
        [sys.executable, "-m", "atri", "--config", str(config), *export],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        # No .pyc is written: one cut at the limit would break every later import.
        env={"PYTHONPATH": str(REPO), "PYTHONDONTWRITEBYTECODE": "1", "COLUMNS": "400"},
        preexec_fn=small_files,
    )
    assert done.returncode == 1, done.stderr
    assert (
        f"{backup} cannot be written (File too large); the file there is left as it was."
        in squeezed(done.stderr)
    )
    assert backup.read_text(encoding="utf-8") == "last week's backup"
    assert leftovers(tmp_path) == []
