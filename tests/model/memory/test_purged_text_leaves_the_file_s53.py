"""A purged or edited-out message leaves the database file while the worker runs: it
stayed readable in the main file (and in the -wal as first written) until SQLite's
automatic checkpoint, days later in a quiet community, or until the worker stopped."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from atri.config import Settings
from model.memory.store import Memory
from model.protocol import ChatRequest, ScopeRef
from model.service import ChatService
from tests.atri.memory_cli import atri, memory_config

SECRET = "SECRET-PHONE-555-0199"


def on_disk(memory_file: Path) -> bytes:
    """The database file and its -wal as a copy or a backup of the folder would take them."""
    wal = memory_file.with_name(memory_file.name + "-wal")
    return memory_file.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


async def test_a_purged_message_is_out_of_the_file_while_the_worker_runs(
    echo_settings: Settings,
) -> None:
    async with await ChatService.open(echo_settings) as service:
        await service.chat(ChatRequest(platform="qq", user_id="42", text=f"my phone is {SECRET}"))
        for n in range(30):  # others' chats after it, as in a group's evening
            await service.chat(ChatRequest(platform="qq", user_id=f"u{n}", text=f"hello {n}"))
        path = Path(echo_settings.memory.path)
        assert SECRET.encode() in on_disk(path)

        messages, _ = await service.purge_counts(ScopeRef(platform="qq", user_id="42"))

        assert messages == 2
        assert SECRET.encode() not in on_disk(path)
        # The -wal is cut back: its old frames held the text as first written.
        assert path.with_name(path.name + "-wal").stat().st_size == 0


async def test_an_edited_out_message_is_out_of_the_file_while_the_worker_runs(
    echo_settings: Settings,
) -> None:
    async with await ChatService.open(echo_settings) as service:
        said = ChatRequest(
            platform="discord",
            user_id="42",
            channel_id="7",
            guild_id="1",
            request_id="900",
            text=f"my phone is {SECRET}",
            addressed=False,  # said in the room, not to her: a room line she heard
        )
        assert (await service.chat(said)).status == "heard"
        path = Path(echo_settings.memory.path)
        assert SECRET.encode() in on_disk(path)

        edit = said.model_copy(update={"text": "oops, removed", "edited": True})
        assert (await service.chat(edit)).status == "heard"

        assert SECRET.encode() not in on_disk(path)


def test_atri_memory_purge_beside_a_running_worker_takes_the_text_out_of_the_file(
    tmp_path: Path,
) -> None:
    """The CLI's own close checkpoints only as the file's last connection: beside a
    worker holding it open, the purged text stayed in the file."""

    async def fill(memory: Memory) -> None:
        rows = [("user", "42", "", f"my phone is {SECRET}", ""), ("assistant", "", "", "ok", "")]
        await memory.append_many("qq:user:42", rows, "m1")

    config = memory_config(tmp_path, fill)
    path = tmp_path / "mem.sqlite3"
    worker = sqlite3.connect(path)  # the running worker's connection, holding the file
    try:
        worker.execute("SELECT count(*) FROM messages").fetchone()
        code, out = atri(config, "memory", "purge", "qq:user:42", "--yes")
        assert code == 0, out
        assert SECRET.encode() not in on_disk(path)
    finally:
        worker.close()
