"""Session 75: a room line is cut to `[room] max_chars` between two characters as a reader
sees them (`atri.graphemes`), as the bots cut a message: a flag, a family emoji, an accent
or a variation selector at the cut was kept as a broken half, in the memory and in every
later prompt of the group. A copy, an edit and a delete of such a message still find its
line, also one stored before (cut at a code point). Real ChatService, real SQLite file,
the echo engine."""

from __future__ import annotations

import sqlite3
import time

import pytest
import regex

from atri.config import Settings
from model.memory import Memory, channel_prefix
from model.protocol import ChatRequest, MessageRef
from model.service import ChatService

ROOM = channel_prefix("qq", "g1")
MAX_CHARS = 20
STRADDLING = {
    "flag": "🇯🇵",
    "zwj family": "👨‍👩‍👧‍👦",
    "combining accent": "e\u0301",
    "variation selector": "❤\ufe0f",
}
# Each character begins one before the limit: a cut at a code point splits it.
BEFORE = "a" * (MAX_CHARS - 1)


def heard(text: str, request_id: str, edited: bool = False) -> ChatRequest:
    return ChatRequest(
        platform="qq",
        user_id="1",
        display_name="小明",
        text=text,
        channel_id="g1",
        addressed=False,
        request_id=request_id,
        edited=edited,
    )


async def contents(service: ChatService) -> list[str]:
    return [line.content for line in await service.memory.room.all_lines(ROOM)]


async def live(service: ChatService) -> list[str]:
    return [line.content for line in await service.memory.room.recent(ROOM, 50, 3600)]


@pytest.mark.parametrize("character", STRADDLING.values(), ids=STRADDLING.keys())
async def test_a_long_line_keeps_whole_characters_and_its_copy_edit_and_delete_find_it(
    echo_settings: Settings, character: str
) -> None:
    echo_settings.room.max_chars = MAX_CHARS
    text = BEFORE + character + "后面还有很多字"
    async with await ChatService.open(echo_settings) as service:
        assert (await service.chat(heard(text, "qq-1"))).status == "heard"
        assert await live(service) == [BEFORE]  # not BEFORE + the character's first half
        # Delivered again (a OneBot reconnect): the same line, no second one.
        await service.chat(heard(text, "qq-1"))
        assert await contents(service) == [BEFORE]
        # Edited: the new text, cut the same way.
        edited = "b" * (MAX_CHARS - 1) + character + "改过了"
        assert (await service.chat(heard(edited, "qq-1", edited=True))).status == "heard"
        assert await contents(service) == ["b" * (MAX_CHARS - 1)]
        # Recalled: hidden from every later prompt.
        recalled = MessageRef(platform="qq", user_id="1", channel_id="g1", request_id="qq-1")
        assert await service.forget_message(recalled) == 1
        assert await live(service) == []


def store_code_point_cut_line(path: str, text: str, request_id: str) -> None:
    """A line as the worker stored it before lines were cut at characters."""
    now = time.time()
    con = sqlite3.connect(path)
    con.execute(
        "INSERT INTO room_lines (room, platform, user_id, display_name, content, created_at,"
        " said_at, request_id) VALUES (?, 'qq', '1', '小明', ?, ?, ?, ?)",
        (ROOM, text[:MAX_CHARS], now, now, request_id),
    )
    con.commit()
    con.close()


@pytest.mark.parametrize("character", STRADDLING.values(), ids=STRADDLING.keys())
async def test_a_line_stored_cut_at_a_code_point_is_still_found(
    echo_settings: Settings, character: str
) -> None:
    echo_settings.room.max_chars = MAX_CHARS
    text = BEFORE + character + "后面还有很多字"
    path = echo_settings.memory.path
    async with await Memory.open(path):
        pass
    store_code_point_cut_line(path, text, "qq-old")
    async with await ChatService.open(echo_settings) as service:
        broken = await contents(service)
        assert broken == [text[:MAX_CHARS]] and len(regex.findall(r"\X", broken[0])) == MAX_CHARS
        # Its copy, delivered after the upgrade (within the day): no second line.
        assert (await service.chat(heard(text, "qq-old"))).status == "heard"
        assert await contents(service) == broken
        # Nor is the copy spoken up to where she may speak unasked: it is a line already.
        service.speak_up.channels = frozenset({"g1"})
        service.speak_up.probability = 1.0
        assert (await service.chat(heard(text, "qq-old"))).status == "heard"
        assert await contents(service) == broken
        # An edit and a recall of it find it too.
        await service.chat(heard("改过了", "qq-old", edited=True))
        assert await contents(service) == ["改过了"]
        recalled = MessageRef(platform="qq", user_id="1", channel_id="g1", request_id="qq-old")
        assert await service.forget_message(recalled) == 1
        assert await live(service) == []
