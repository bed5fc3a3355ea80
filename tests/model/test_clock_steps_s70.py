"""Session 70: a worker whose wall clock stepped. A room reset made while the clock ran
ahead kept the lines said after it out for hours; platform times far behind the clock
dropped lines without a word; an edit the platform told no time of, made before a
backward step, kept a later one (a phone number edited out) from applying; `atri memory
list` showed local times without their zone. The real service on a real SQLite file."""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import time
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

import model.room as room_module
from atri.config import Settings
from atri.memory_commands import _when
from model.memory import Memory
from model.protocol import ChatRequest, ScopeRef
from model.room import RESET_LINES, Edit, PendingEdits
from model.service import ChatService
from tests.atri.memory_cli import atri, memory_config
from tests.model.test_room import said

ROOM = "qq:chan:g1"
REAL_TIME = time.time


class Clock:
    """`time.time` moved by `ahead` seconds, as a wall clock that runs fast until NTP
    steps it back."""

    def __init__(self) -> None:
        self.ahead = 0.0

    def __call__(self) -> float:
        return REAL_TIME() + self.ahead


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    wall = Clock()
    monkeypatch.setattr(time, "time", wall)
    return wall


def line_resets(settings: Settings) -> list[float]:
    """The dates of the records of room lines reset, as the file holds them."""
    with contextlib.closing(sqlite3.connect(settings.memory.path)) as db:
        rows = db.execute("SELECT at FROM resets WHERE prefix = ?", (RESET_LINES,))
        return [row[0] for row in rows]


async def test_a_reset_made_while_the_clock_ran_ahead_keeps_no_later_line_out(
    echo_settings: Settings, clock: Clock
) -> None:
    """The reset hides the lines said before it; those said after it, once NTP has set the
    clock right, are kept (they were all thrown away for the 2 hours it ran ahead), also
    when the clock reaches the reset's date: the sweep deleted its record long before."""
    async with await ChatService.open(echo_settings) as service:
        await service.chat(said("重置前", "1", "甲", sent_at=REAL_TIME()))
        clock.ahead = 7200.0
        assert await service.reset(ScopeRef(platform="qq", channel_id="g1")) == 1
        clock.ahead = 0.0
        await service.chat(said("重置后", "2", "乙", sent_at=REAL_TIME()))
        lines = await service.memory.room.recent(ROOM, 10, 3600)
        assert [line.content for line in lines] == ["重置后"]
        await service.memory.room.sweep(service.room_bounds)  # the worker's, every 10 min
        assert line_resets(echo_settings) == []
        clock.ahead = 7200.0 - 60
        await service.chat(said("两小时后", "3", "丙", sent_at=clock()))
        lines = await service.memory.room.recent(ROOM, 10, 3 * 3600)
        assert [line.content for line in lines] == ["重置后", "两小时后"]


async def test_a_reset_dated_ahead_is_deleted_at_the_next_reset_of_another_room(
    echo_settings: Settings, clock: Clock
) -> None:
    async with await ChatService.open(echo_settings) as service:
        clock.ahead = 7200.0
        await service.reset(ScopeRef(platform="qq", channel_id="g1"))
        clock.ahead = 0.0
        await service.reset(ScopeRef(platform="qq", channel_id="g2"))
        assert len(line_resets(echo_settings)) == 1


async def test_a_reset_as_the_clock_says_still_keeps_out_a_line_said_before_it(
    echo_settings: Settings,
) -> None:
    async with await ChatService.open(echo_settings) as service:
        await service.reset(ScopeRef(platform="qq", channel_id="g1"))
        await service.chat(said("掉线时说的", "1", "甲", sent_at=time.time() - 60))
        assert await service.memory.room.recent(ROOM, 10, 3600) == []


async def test_platform_times_hours_behind_the_clock_are_warned_of_once_an_hour(
    echo_settings: Settings, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The lines are kept within `[room] max_age_hours` as ever; the log says why they
    would look old when this machine's clock runs ahead."""
    hours = types.SimpleNamespace(monotonic=0.0)
    monkeypatch.setattr(
        room_module,
        "time",
        types.SimpleNamespace(time=time.time, monotonic=lambda: hours.monotonic),
    )
    caplog.set_level(logging.WARNING, "model.room")
    async with await ChatService.open(echo_settings) as service:
        for n in range(3):
            await service.chat(said(f"第{n}句", "1", "甲", sent_at=time.time() - 2 * 3600 - n))
        await service.chat(said("准时的", "1", "甲", sent_at=time.time()))
        lines = await service.memory.room.recent(ROOM, 10, 24 * 3600)
        assert len(lines) == 4
        warned = [r.getMessage() for r in caplog.records if r.name == "model.room"]
        assert len(warned) == 1
        assert "2.0 hours behind this machine's clock" in warned[0]
        assert "keep the clock synced (NTP)" in warned[0]
        hours.monotonic = 3600.0
        await service.chat(said("一小时后", "1", "甲", sent_at=time.time() - 3 * 3600))
    assert len([r for r in caplog.records if r.name == "model.room"]) == 2


def edit(request: ChatRequest, text: str) -> ChatRequest:
    """`request`'s message edited to `text`, with no edit time (a /chat client whose
    platform tells none)."""
    return request.model_copy(update={"text": text, "edited": True, "addressed": False})


async def stored(path: Path, scope: str) -> tuple[list[str], list[str]]:
    """The room's lines and the scope's conversation, as the file holds them."""
    async with await Memory.open(path) as memory:
        lines = [line.content for line in await memory.room.all_lines(ROOM)]
        return lines, [m.content for m in await memory.all_messages(scope)]


async def test_edits_without_a_time_apply_in_arrival_order_after_the_clock_steps_back(
    echo_settings: Settings, clock: Clock
) -> None:
    """The tester's case: the number stayed after the second edit, since the first was
    dated an hour ahead. Both a message she answered and a line she heard."""
    asked = ChatRequest(platform="web", user_id="42", text="call me at 555-0100", request_id="m1")
    heard = said("电话 13800000000", "5", "甲", sent_at=REAL_TIME(), request_id="m2")
    async with await ChatService.open(echo_settings) as service:
        assert (await service.chat(asked)).status == "ok"
        await service.chat(heard)
        clock.ahead = 3600.0
        await service.chat(edit(asked, "call me at 555-0100 tonight"))
        await service.chat(edit(heard, "电话 13800000000 今晚"))
        clock.ahead = 0.0
        assert (await service.chat(edit(asked, "call me (number removed)"))).status == "heard"
        await service.chat(edit(heard, "电话私信"))
    lines, conversation = await stored(Path(echo_settings.memory.path), "web:user:42")
    assert lines == ["电话私信"]
    assert conversation[0] == "call me (number removed)"


async def test_edits_without_a_time_that_overtake_their_message_keep_arrival_order(
    echo_settings: Settings, clock: Clock
) -> None:
    heard = said("原话 13800000000", "5", "甲", sent_at=REAL_TIME(), request_id="m3")
    async with await ChatService.open(echo_settings) as service:
        clock.ahead = 3600.0
        await service.chat(edit(heard, "改过一次 13800000000"))
        clock.ahead = 0.0
        await service.chat(edit(heard, "号码删了"))
        await service.chat(heard)
    assert (await stored(Path(echo_settings.memory.path), "x"))[0] == ["号码删了"]


def test_a_pending_edit_dated_on_arrival_is_newer_than_any_kept() -> None:
    edits = PendingEdits(60.0)
    assert edits.note("s", "m", "7", Edit("ahead", 2000.0))
    assert edits.note("s", "m", "7", Edit("after the step back", 1000.0, on_arrival=True))
    assert edits.newest("s", "m", "7") == Edit("after the step back", 2000.0, on_arrival=True)
    assert not edits.note("s", "m", "7", Edit("older by the platform", 1500.0))


async def test_an_older_edit_with_a_platform_time_still_changes_nothing(
    echo_settings: Settings,
) -> None:
    heard = said("原话", "5", "甲", sent_at=time.time() - 60, request_id="m4")
    async with await ChatService.open(echo_settings) as service:
        await service.chat(heard)
        newer = edit(heard, "新的").model_copy(update={"edited_at": time.time() - 1})
        older = edit(heard, "旧的").model_copy(update={"edited_at": time.time() - 2})
        await service.chat(newer)
        await service.chat(older)
    assert (await stored(Path(echo_settings.memory.path), "x"))[0] == ["新的"]


@pytest.fixture
def shanghai(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "CST-8")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_memory_list_shows_times_with_their_utc_offset(tmp_path: Path, shanghai: None) -> None:
    async def one(memory: Memory) -> None:
        await memory.append("qq:user:42", "user", "42", "你好")

    assert _when(1_796_000_000) == "2026-11-30 08:53 +0800"
    code, out = atri(memory_config(tmp_path, one), "memory", "list")
    assert code == 0, out
    assert "+0800" in out
