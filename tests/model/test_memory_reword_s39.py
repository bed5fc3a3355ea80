"""An edited message's stored copy, through the real Memory on a real SQLite file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiosqlite
import pytest

from atri.config import Settings
from model.memory.store import Memory
from model.protocol import ChatRequest
from model.service import ChatService


async def test_a_reworded_message_keeps_only_its_new_text_and_drops_the_summary_of_it(
    tmp_path: Path,
) -> None:
    path = tmp_path / "m.sqlite3"
    memory = await Memory.open(path)
    try:
        await memory.append_many(
            "s", [("user", "7", "", "call 13800000000", ""), ("assistant", "", "", "ok", "")], "m1"
        )
        await memory.append_many(
            "s", [("user", "7", "", "later", ""), ("assistant", "", "", "sure", "")], "m2"
        )
        assert await memory.add_summary("s", "- they gave 13800000000", 2)
        # Someone else's message of that id, and her reply, are not theirs to edit.
        assert await memory.reword_message("s", "8", "m1", "x") == 0
        assert await memory.reword_message("s", "7", "m1", "call me later") == 1
        texts = [m.content for m in await memory.all_messages("s")]
        assert texts == ["call me later", "ok", "later", "sure"]
        # The summary folded the old text in: gone, to be written again.
        assert await memory.summary("s") is None
        assert await memory.reword_message("s", "7", "nope", "x") == 0
    finally:
        await memory.close()
    # Not in the file any more either.
    assert b"13800000000" not in path.read_bytes()


async def test_an_edited_dm_is_never_answered(echo_settings: Settings) -> None:
    """A DM has no channel: an edit of one went the way of any DM, and was answered
    (and stored) as a new message."""
    async with await ChatService.open(echo_settings) as service:
        asked = ChatRequest(platform="discord", user_id="7", text="hello", request_id="m1")
        assert (await service.chat(asked)).status == "ok"
        edit = asked.model_copy(update={"text": "hello there", "addressed": False, "edited": True})
        reply = await service.chat(edit)
        assert (reply.status, reply.text) == ("heard", "")
        texts = [m.content for m in await service.memory.all_messages(reply.scope)]
        assert len(texts) == 2 and texts[0] == "hello there"


async def test_deleted_text_is_overwritten_whatever_sqlite_s_build_defaults_to(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Debian builds SQLite with secure_delete on; python.org's and others' leave it off,
    and a purged or edited-out phone number stayed in the file's free space. A build
    with it off is what a connection with it turned off stands for here."""
    connect = aiosqlite.connect

    def connect_as_built_elsewhere(*args: Any, **kwargs: Any) -> Any:
        opened = connect(*args, **kwargs)

        async def off() -> aiosqlite.Connection:
            db = await opened
            await db.execute("PRAGMA secure_delete=OFF")
            return db

        return off()

    monkeypatch.setattr(aiosqlite, "connect", connect_as_built_elsewhere)
    memory = await Memory.open(tmp_path / "m.sqlite3")
    try:
        async with memory._db.execute("PRAGMA secure_delete") as cur:
            row = await cur.fetchone()
        assert row is not None and row[0] == 1
    finally:
        await memory.close()
