"""A message she only heard is one room line, however often the platform delivers it.

A OneBot implementation delivers its events again after a reconnect, and a Discord
resume can replay a MESSAGE_CREATE: each copy of a heard message was kept as a room line
of its own, so her prompt showed the line twice; a copy of a message she spoke up to
that came in her cooldown was kept as a room line besides her exchange, and a copy of a
heard one could be spoken up to after it. Real ChatService, real SQLite, the echo engine.
"""

from __future__ import annotations

import asyncio
import sqlite3

from atri.config import Settings
from model.engines.echo import EchoEngine
from model.memory import Memory, channel_prefix
from model.memory.schema import SCHEMA_VERSION
from model.protocol import ChatRequest
from model.room import _INSERT_LINE
from model.service import COPY_WITHIN_SECONDS, ChatService

ROOM = channel_prefix("qq", "g1")


def heard(text: str, request_id: str, user: str = "1") -> ChatRequest:
    return ChatRequest(
        platform="qq",
        user_id=user,
        display_name=f"人{user}",
        text=text,
        channel_id="g1",
        addressed=False,
        request_id=request_id,
    )


async def lines(service: ChatService) -> list[tuple[str, str]]:
    return [(line.user_id, line.content) for line in await service.memory.room.all_lines(ROOM)]


def speaking_up(settings: Settings, probability: float) -> None:
    settings.room.speak_up_channels = ["g1"]
    settings.room.speak_up_probability = probability
    settings.room.speak_up_cooldown_seconds = 600
    settings.memory.summaries = False


async def test_a_heard_message_delivered_twice_is_one_room_line(echo_settings: Settings) -> None:
    async with await ChatService.open(echo_settings) as service:
        for _ in range(2):
            assert (await service.chat(heard("有人吗", "qq-1"))).status == "heard"
        # Two copies at once (each platform event has its own task): one line too.
        replies = await asyncio.gather(*(service.chat(heard("在的", "qq-2", "2")) for _ in "ab"))
        assert [r.status for r in replies] == ["heard", "heard"]
        # Another message with the same words is a line of its own, as is one with no id.
        await service.chat(heard("有人吗", "qq-3"))
        for _ in range(2):
            await service.chat(heard("没有编号", ""))
        assert await lines(service) == [
            ("1", "有人吗"),
            ("2", "在的"),
            ("1", "有人吗"),
            ("1", "没有编号"),
            ("1", "没有编号"),
        ]
        prompt_room = await service.memory.room.recent(ROOM, 50, 3600)
        assert [line.content for line in prompt_room].count("在的") == 1


async def test_an_id_heard_longer_ago_than_the_copy_window_names_a_new_message(
    echo_settings: Settings,
) -> None:
    async with await ChatService.open(echo_settings) as service:
        await service.chat(heard("第一次", "qq-5"))
        await service.memory.room.idle()
        # Not every platform's ids stay unique for ever (a OneBot database wiped).
        await service.memory._db.execute(
            "UPDATE room_lines SET created_at = created_at - ?", (COPY_WITHIN_SECONDS + 60,)
        )
        await service.memory._db.commit()
        await service.chat(heard("新的一句", "qq-5"))
        assert await lines(service) == [("1", "第一次"), ("1", "新的一句")]


async def test_a_copy_of_a_message_she_spoke_up_to_is_no_room_line(
    echo_settings: Settings,
) -> None:
    speaking_up(echo_settings, probability=1.0)
    async with await ChatService.open(echo_settings) as service:
        first = await service.chat(heard("今天好热", "qq-7"))
        assert first.status == "ok"
        # The copy comes in her cooldown: no speak-up, and no room line besides her exchange.
        again = await service.chat(heard("今天好热", "qq-7"))
        assert (again.status, again.text) == ("recalled", "")
        assert await lines(service) == []
        messages = await service.memory.all_messages(first.scope)
        assert [(m.role, m.content) for m in messages] == [
            ("user", "今天好热"),
            ("assistant", EchoEngine.prefix + "今天好热"),
        ]
        # Another message, in her cooldown, is heard as ever.
        assert (await service.chat(heard("今天好热", "qq-8"))).status == "heard"
        assert await lines(service) == [("1", "今天好热")]


async def test_a_copy_of_a_message_kept_as_a_room_line_is_not_spoken_up_to(
    echo_settings: Settings,
) -> None:
    speaking_up(echo_settings, probability=0.0)
    async with await ChatService.open(echo_settings) as service:
        first = await service.chat(heard("下雨了", "qq-9"))
        assert first.status == "heard"
        # The copy rolls the dice again: it comes up, yet the message is heard once.
        service.speak_up.probability = 1.0
        assert (await service.chat(heard("下雨了", "qq-9"))).status == "heard"
        assert await lines(service) == [("1", "下雨了")]
        assert await service.memory.all_messages(first.scope) == []
        # A new message there is spoken up to.
        assert (await service.chat(heard("下雨了", "qq-10"))).status == "ok"


async def test_an_older_database_gets_the_index_of_line_ids_at_open(
    echo_settings: Settings,
) -> None:
    path = echo_settings.memory.path
    async with await Memory.open(path):
        pass
    con = sqlite3.connect(path)
    con.execute("DROP INDEX IF EXISTS room_lines_request")
    con.execute("PRAGMA user_version = 13")
    con.commit()
    con.close()
    for _ in range(2):  # upgraded once; opened again, nothing to do
        async with await Memory.open(path) as memory:
            assert await memory.schema_version() == SCHEMA_VERSION
    con = sqlite3.connect(path)
    # The copy check of each heard line takes the index, not a walk of the room's lines.
    plan = con.execute(f"EXPLAIN QUERY PLAN {_INSERT_LINE}", [""] * 11).fetchall()
    con.close()
    assert any("room_lines_request" in str(step) for step in plan), plan


async def test_an_id_reused_for_other_words_or_by_another_is_a_line_of_its_own(
    echo_settings: Settings,
) -> None:
    """A OneBot implementation whose counter started again (or whose ids are per chat)
    names new messages by ids it used before: only the same person's same words under
    the id are a copy."""
    async with await ChatService.open(echo_settings) as service:
        await service.chat(heard("第一句", "qq-5000"))
        await service.chat(heard("重启后的新消息", "qq-5000"))  # its counter started again
        await service.chat(heard("第一句", "qq-5000", "2"))  # another member, same id
        assert await lines(service) == [
            ("1", "第一句"),
            ("1", "重启后的新消息"),
            ("2", "第一句"),
        ]
