"""Two edits of one message that reach the worker out of order (over the relay each is its
own request): the newer by the platform's edit time is kept, whichever arrived last (the
real service on a real SQLite file)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from atri.config import Settings
from model.memory.store import Memory
from model.protocol import ChatRequest
from model.service import ChatService
from tests.held_echo import HeldEcho

ROOM = "discord:chan:6/5"
SCOPE = "discord:user:7"
NOW = time.time()


def message(request_id: str, text: str, addressed: bool = False) -> ChatRequest:
    return ChatRequest(
        platform="discord",
        user_id="7",
        text=text,
        channel_id="5",
        guild_id="6",
        addressed=addressed,
        request_id=request_id,
        sent_at=NOW - 60,
    )


def edit_of(request: ChatRequest, text: str, ago: float) -> ChatRequest:
    """`request`'s message edited to `text`, `ago` seconds ago by the platform's clock."""
    return request.model_copy(update={"text": text, "edited_at": NOW - ago}).as_edit()


async def stored(path: Path) -> tuple[list[str], list[str]]:
    """The room's lines and the member's conversation, as the file holds them."""
    async with await Memory.open(path) as memory:
        lines = [line.content for line in await memory.room.all_lines(ROOM)]
        return lines, [m.content for m in await memory.all_messages(SCOPE)]


async def test_an_older_edit_arriving_after_a_newer_one_changes_nothing(
    echo_settings: Settings,
) -> None:
    """The room line of a message she heard and the stored copy of one she answered keep
    the newest edit, not the text of the edit that happened to arrive last."""
    heard, asked = message("m1", "我的电话是 13800000000"), message("m2", "记住 139", True)
    async with await ChatService.open(echo_settings) as service:
        await service.chat(heard)
        assert (await service.chat(asked)).status == "ok"
        for request in (heard, asked):
            await service.chat(edit_of(request, "电话私信你", ago=1))
            older = await service.chat(edit_of(request, "电话是 13800000001", ago=2))
            assert (older.status, older.text) == ("heard", "")
    lines, conversation = await stored(Path(echo_settings.memory.path))
    assert lines == ["电话私信你"]
    assert conversation[0] == "电话私信你" and len(conversation) == 2


async def test_edits_that_overtake_their_message_leave_it_with_the_newest_text(
    echo_settings: Settings,
) -> None:
    """Both edits arrive before the line itself (kept meanwhile as pending edits): the
    line is stored with the newer text, and no later, older edit changes it."""
    heard = message("m3", "原话")
    async with await ChatService.open(echo_settings) as service:
        await service.chat(edit_of(heard, "第二次改的", ago=1))
        await service.chat(edit_of(heard, "第一次改的", ago=3))
        await service.chat(heard)
        await service.chat(edit_of(heard, "第一次改的", ago=2))
    assert (await stored(Path(echo_settings.memory.path)))[0] == ["第二次改的"]


async def test_edits_made_while_she_answers_leave_the_newest_text_stored(
    echo_settings: Settings,
) -> None:
    """The edits arrive while her answer is being made, newer first: the exchange stored
    afterwards holds the newer text."""
    engine = HeldEcho()
    asked = message("m4", "我的电话是 13800000000", addressed=True)
    async with await ChatService.open(echo_settings, engine=engine) as service:
        answering = asyncio.create_task(service.chat(asked))
        await asyncio.wait_for(engine.started.wait(), 5)
        await service.chat(edit_of(asked, "电话私信你", ago=1))
        await service.chat(edit_of(asked, "电话是 13800000001", ago=2))
        engine.gate.set()
        assert (await answering).status == "ok"
    conversation = (await stored(Path(echo_settings.memory.path)))[1]
    assert conversation[0] == "电话私信你"


async def test_a_message_answered_once_edited_keeps_its_text_against_an_older_edit(
    echo_settings: Settings,
) -> None:
    """Edited twice in quick succession, the second time to ask her: she answers the
    newer text, and the first edit, reaching the worker after the answer, left its text
    in her conversation."""
    asked = message("m6", "亚托莉，几点集合？", addressed=True)
    asked = asked.model_copy(update={"edited_at": NOW - 1})
    async with await ChatService.open(echo_settings) as service:
        assert (await service.chat(asked)).status == "ok"
        await service.chat(edit_of(asked, "几点集合？", ago=2))
    assert (await stored(Path(echo_settings.memory.path)))[1][0] == "亚托莉，几点集合？"


async def test_edits_without_a_time_are_kept_in_the_order_they_arrive(
    echo_settings: Settings,
) -> None:
    """A client that sends no `edited_at` (curl, a script of its own) edits as before: the
    worker's clock dates each edit as it arrives, so the last one stays."""
    asked = message("m5", "原话", addressed=True)
    async with await ChatService.open(echo_settings) as service:
        await service.chat(asked)
        for text in ("改了一次", "改了两次"):
            edit = asked.model_copy(update={"text": text, "addressed": False, "edited": True})
            assert edit.edited_at == 0.0
            await service.chat(edit)
    assert (await stored(Path(echo_settings.memory.path)))[1][0] == "改了两次"


async def test_an_older_edit_leaves_the_stored_copy_and_its_summary_alone(
    tmp_path: Path,
) -> None:
    """Memory itself: an edit older than the stored copy's changes no row, and the
    summary that folded the newer text in is kept (no summary is written again for it)."""
    async with await Memory.open(tmp_path / "m.sqlite3") as memory:
        exchange = [("user", "7", "", "原话", ""), ("assistant", "", "", "好", "")]
        await memory.append_many("s", exchange, "m1")
        assert await memory.reword_message("s", "7", "m1", "新的", edited_at=NOW) == 1
        assert await memory.add_summary("s", "- 说了新的", 2)
        assert await memory.reword_message("s", "7", "m1", "旧的", edited_at=NOW - 1) == 0
        assert [m.content for m in await memory.all_messages("s")] == ["新的", "好"]
        summary = await memory.summary("s")
        assert summary is not None and summary.text == "- 说了新的"
