"""QA 39: conversation memory in a busy group over days: a channel's shared conversation,
its rolling summary and its room lines. Each test runs on a real SQLite file."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from atri.config import Settings
from model import room as room_module
from model.character.prompt import Recalled, Room, Turn, Window, fit_prompt
from model.engines.echo import EchoEngine
from model.memory import Memory, Message
from model.protocol import ChatRequest, ScopeRef
from model.room import RoomBounds, RoomLine
from model.service import ChatService
from tests.model.test_room import RecordingEngine
from tests.model.test_summaries import ScriptedEngine, english

SECRET = "我的电话是13800138000"


def said(text: str, user: str, name: str, channel: str = "g1", request_id: str = "") -> ChatRequest:
    return ChatRequest(
        platform="qq",
        user_id=user,
        display_name=name,
        text=text,
        channel_id=channel,
        request_id=request_id,
    )


async def test_purging_a_member_of_a_shared_conversation_takes_her_replies_without_ids(
    echo_settings: Settings,
) -> None:
    """Under `scope = "channel"`, purging one member deleted their messages but kept her
    replies to those sent without a platform message id (an HTTP client's): the echo of
    their words stayed in the conversation, and so in every later prompt and summary."""
    echo_settings.memory.scope = "channel"
    async with await ChatService.open(echo_settings, EchoEngine()) as service:
        await service.chat(said("大家好", "2", "小明"))
        await service.chat(said(SECRET, "1", "小红"))
        await service.chat(said("今天下雨了", "2", "小明", request_id="m3"))
        await service.chat(said("我也在", "1", "小红", request_id="m4"))
        scope = service.scope_for("qq", "1", "g1")
        assert len(await service.memory.all_messages(scope)) == 8

        messages, _ = await service.purge_counts(
            ScopeRef(platform="qq", user_id="1", channel_id="g1")
        )

        kept = await service.memory.all_messages(scope)
        assert messages == 4  # their two messages and her two replies
        assert not any(SECRET in m.content or "我也在" in m.content for m in kept)
        # The other member's exchanges stay whole, in order.
        assert [(m.role, m.user_id) for m in kept] == [("user", "2"), ("assistant", "")] * 2
        assert "今天下雨了" in kept[3].content


async def test_a_fold_reads_the_exchanges_it_takes_not_the_whole_backlog(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A conversation with thousands of messages not summarized yet (summaries turned on
    for an old database, or one rebuilt after a purge) was read whole at every fold,
    eight exchanges at a time: catching up cost time growing with its length each time,
    on the worker's event loop."""
    read: list[int] = []
    messages_after = Memory.messages_after

    async def counted(self: Memory, *args: Any, **kwargs: Any) -> list[Message]:
        found = await messages_after(self, *args, **kwargs)
        read.append(len(found))
        return found

    monkeypatch.setattr(Memory, "messages_after", counted)
    engine = ScriptedEngine()
    async with await ChatService.open(english(settings), engine=engine) as service:
        assert service.summarizer is not None
        scope = service.scope_for("test", "u1")
        await service.memory.append_many(
            scope,
            [
                row
                for n in range(1000)
                for row in (
                    ("user", "u1", "Natsuki", f"My number {n} is lucky.", ""),
                    ("assistant", "", "ATRI", f"ok {n}", ""),
                )
            ],
        )
        assert await service.summarizer.fold(scope)
        assert await service.summarizer.fold(scope)
        summary = await service.memory.summary(scope)
        stored = await service.memory.all_messages(scope)
    assert read and max(read) < 100
    # The same folds as before: the oldest three exchanges, then the next three.
    assert summary is not None and summary.covers_up_to == stored[11].id
    assert "My number 0 is lucky." in summary.text and "My number 5 is lucky." in summary.text
    assert "My number 6 is lucky." not in summary.text


async def test_room_lines_past_their_age_go_though_no_room_is_heard_again(
    echo_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Lines past `[room] max_age_hours` were deleted only when some room was heard
    again: in a group that went quiet (or after a restart with none heard since) they
    stayed in the database, and in `atri memory export`, for good; so did lines past a
    `max_lines_per_channel` lowered since."""
    path = echo_settings.path(echo_settings.memory.path)
    async with await Memory.open(path) as memory:
        for n, user in enumerate(["1", "2", "3"]):
            await memory.room.add("qq:chan:g1", "qq", user, f"人{n}", f"第{n}句", RoomBounds())
        for n in range(5):  # kept under a higher count bound than the one set now
            await memory.room.add("qq:chan:g2", "qq", "3", "人", f"第{n}行", RoomBounds())
        # Two said and heard two days ago, one just now.
        await memory._db.execute(
            "UPDATE room_lines SET created_at = created_at - 2 * 86400,"
            " said_at = said_at - 2 * 86400 WHERE user_id != '3'"
        )
        await memory._db.commit()
    monkeypatch.setattr(room_module, "SWEEP_INTERVAL_SECONDS", 0.01)  # ten minutes
    echo_settings.room.max_lines_per_channel = 2
    async with await ChatService.open(echo_settings, EchoEngine()) as service:
        for _ in range(300):  # nothing said anywhere: no write sweeps them
            exported = [
                [line["content"] for line in (await service.memory.export(room))["room_lines"]]
                for room in ("qq:chan:g1", "qq:chan:g2")
            ]
            if exported == [["第2句"], ["第3行", "第4行"]]:
                break
            await asyncio.sleep(0.01)
    assert exported == [["第2句"], ["第3行", "第4行"]]


def test_a_summary_cut_to_its_share_keeps_whole_lines() -> None:
    """In a busy group the room lines take their share, and a summary near
    `summary_max_tokens` no longer fits the half of the rest it may take (its heading
    counts too): it was cut inside a line, and the model read half a fact as one
    ("小红：我明天不去大阪了" became "小红：我明天不去")."""
    summary = "\n".join(["小明：我的猫叫Mochi", "小红：我明天不去大阪了，改去京都"])
    recalled = Recalled(summary, "（记得）")
    room = Room([RoomLine("3", "阿强", "哈" * 10, 0.0)] * 10, 0.5)
    window = Window(10_000, 10, max_history_tokens=80)
    fitted = fit_prompt("sys", [], "在吗", len, window, room_context=room, recalled=recalled)
    content = fitted.messages[-1]["content"]
    assert fitted.summary_shown
    # Its newest line, whole (QA 40: a rolling summary keeps its end).
    assert content.startswith("（记得）\n小红：我明天不去大阪了，改去京都\n\n")
    assert "小明" not in content


def test_the_newest_exchange_is_kept_before_room_lines_and_the_summary() -> None:
    """In a busy group, room lines took their whole share and the summary half of the
    rest before the conversation's own exchanges were fitted: a long message (a
    paragraph) and her reply no longer fit what was left, so the next prompt held
    neither, though the summary did not hold them yet either ("what do you think of what
    I just said?" was asked of a prompt without it)."""
    told = "我想跟你说说我的计划：" + "明年春天我要骑车环岛一圈" * 4
    earlier = [
        Turn("user", "早上好", "小明"),
        Turn("assistant", "早上好呀"),
        Turn("user", told, "小红"),
        Turn("assistant", "听起来很棒，要注意安全哦"),
    ]
    room = Room([RoomLine(str(n), f"人{n}", "哈" * 12, 0.0) for n in range(20)], 0.5)
    recalled = Recalled("小明：我的猫叫Mochi\n小红：我住在大阪", "（记得）")
    window = Window(10_000, 10, max_history_tokens=200)
    fitted = fit_prompt("sys", earlier, "你觉得呢", len, window, "小红", True, room, "r", recalled)
    shown = [m["content"] for m in fitted.messages]
    assert any(told in content for content in shown)
    assert "听起来很棒，要注意安全哦" in shown
    assert fitted.room_lines > 0  # the room still has what the exchange leaves
    assert fitted.prompt_tokens <= 10_000 - 10
    # Without a summary or a room, nothing changes: the two exchanges both fit.
    alone = fit_prompt("sys", earlier, "你觉得呢", len, window, "小红", True)
    assert alone.dropped_turns == 0


async def test_purging_a_user_takes_their_exchanges_out_of_every_shared_conversation(
    echo_settings: Settings,
) -> None:
    """Under `scope = "channel"`, `atri memory purge qq:user:1` (or `POST /purge` with no
    channel) deleted their room lines and their private conversation, but their
    exchanges in every group's shared conversation, and the summaries holding them,
    stayed: only a purge naming each channel took them, and no listing shows those."""
    echo_settings.memory.scope = "channel"
    async with await ChatService.open(echo_settings, EchoEngine()) as service:
        await service.chat(said(SECRET, "1", "小红", "g1", "m1"))
        await service.chat(said("大家好", "2", "小明", "g1", "m2"))
        await service.chat(said(SECRET, "1", "小红", "g2", "m3"))
        await service.chat(said("我也是", "1", "小红", "g2", "m4"))
        await service.chat(ChatRequest(platform="qq", user_id="1", text="私聊", request_id="m5"))
        await service.chat(
            said("别人的群", "1", "小红", "g3").model_copy(update={"platform": "dc"})
        )
        memory = service.memory
        g1, g2 = service.scope_for("qq", "2", "g1"), service.scope_for("qq", "2", "g2")
        await memory.add_summary(g2, "小红：" + SECRET, (await memory.all_messages(g2))[1].id)
        assert await memory.remembers("qq:user:2")  # said only in a shared conversation

        messages, _ = await memory.purge("qq:user:1")

        assert messages == 2 + 2 * 1 + 2 * 2  # the private chat, then g1's and g2's
        assert await memory.all_messages(g2) == [] and await memory.all_summaries(g2) == []
        assert [m.user_id for m in await memory.all_messages(g1)] == ["2", ""]
        # Another platform's person with the same id is someone else.
        assert len(await memory.all_messages(service.scope_for("dc", "1", "g3"))) == 2
        assert not await memory.remembers("qq:user:1")


async def test_two_members_of_one_name_stay_two_people_in_a_shared_conversation(
    echo_settings: Settings,
) -> None:
    """Under `scope = "channel"` her prompt named each earlier message by its display
    name alone: two members called 小明 (a common group card) read as one person, who
    both has a cat and has none, while room lines told them apart by id."""
    echo_settings.memory.scope = "channel"
    engine = RecordingEngine()
    async with await ChatService.open(echo_settings, engine) as service:
        await service.chat(said("我家有一只猫", "101", "小明"))
        await service.chat(said("我从来没养过猫", "202", "小明"))
        await service.chat(said("大家好", "303", "小红"))
        await service.chat(said("我刚才说我养了什么？", "101", "小明"))
    users = [m["content"] for m in engine.prompts[-1] if m["role"] == "user"]
    assert users == [
        "小明(101)：我家有一只猫",
        "小明(202)：我从来没养过猫",
        "小红：大家好",
        "小明(101)：我刚才说我养了什么？",
    ]
