"""Session 41 on the memory store: under `[memory] scope = "user_in_channel"` each member
of a group has a conversation of their own there (`qq:chan:g1:user:1`). A channel's key
and a person's key cover those conversations in every `atri memory` command alike: what
a purge deletes, an export holds and `show` shows. Each test runs on a real SQLite file."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from atri.config import Settings
from model.engines.echo import EchoEngine
from model.memory import EXPORT_VERSION, Memory, MemoryExport, parse_export
from model.protocol import ChatRequest
from model.room import RoomBounds
from model.service import ChatService
from tests.atri.memory_cli import atri, memory_config
from tests.model.memory.test_memory_qa40 import (
    SECRET,
    answer_held,
    fill_shared_groups,
    who_spoke,
)
from tests.model.test_rooms_qa39 import said
from tests.model.test_summaries import ScriptedEngine

MEMBER_SCOPES = ["qq:chan:g1:user:1", "qq:chan:g1:user:2", "qq:chan:g2:user:1"]


async def fill_member_conversations(settings: Settings) -> None:
    """User 1 talks to her in g1 and g2, user 2 in g1, user 10 (whose id starts like
    user 1's) in g2, and user 1 also on Discord; g1:user:1 has a summary."""
    settings.memory.scope = "user_in_channel"
    async with await ChatService.open(settings, EchoEngine()) as service:
        await service.chat(said(SECRET, "1", "小红", "g1", "m1"))
        await service.chat(said("大家好", "2", "小明", "g1", "m2"))
        await service.chat(said("我也在二群", "1", "小红", "g2", "m3"))
        await service.chat(said("我是十号", "10", "十号", "g2", "m4"))
        await service.chat(
            ChatRequest(platform="discord", user_id="1", text="别处", channel_id="c9")
        )
        first = (await service.memory.all_messages("qq:chan:g1:user:1"))[1]
        assert await service.memory.add_summary("qq:chan:g1:user:1", "小红留了电话", first.id)


def cli_config(settings: Settings, tmp_path: Path) -> Path:
    config = tmp_path / "config.toml"
    config.write_text(f'[memory]\npath = "{settings.memory.path}"\n', encoding="utf-8")
    return config


async def stored_scopes(settings: Settings) -> list[str]:
    async with await Memory.open(settings.memory.path) as memory:
        return sorted(row["scope"] for row in await memory.scopes())


async def test_a_channels_export_holds_its_members_own_conversations(
    echo_settings: Settings,
) -> None:
    """`atri memory export qq:chan:g1` wrote no message at all under
    `scope = "user_in_channel"` (the channel's key holds none of its own), though a purge
    of it deletes every member's conversation there: the backup an admin makes before a
    purge held nothing to restore. Now it holds each of them whole, with its summary,
    and an import after the purge puts them back."""
    await fill_member_conversations(echo_settings)
    async with await Memory.open(echo_settings.memory.path) as memory:
        data = await memory.export("qq:chan:g1")
        members = data["member_conversations"]
        assert [part["scope"] for part in members] == MEMBER_SCOPES[:2]
        assert members[0]["messages"][0]["content"] == SECRET
        assert [s["text"] for s in members[0]["summaries"]] == ["小红留了电话"]
        assert "我也在二群" not in json.dumps(data, ensure_ascii=False)  # g2's stays out

        parsed = parse_export(data, "g1.json")
        assert isinstance(parsed, MemoryExport) and data["version"] == EXPORT_VERSION == 9
        await memory.purge("qq:chan:g1")
        assert await memory.all_messages("qq:chan:g1:user:1") == []
        result = await memory.import_export(parsed, include_purged=True)
        again = await memory.import_export(parsed, include_purged=True)

        restored = await memory.all_messages("qq:chan:g1:user:1")
        assert [m.content for m in restored if m.role == "user"] == [SECRET]
        summary = await memory.summary("qq:chan:g1:user:1")
        assert summary is not None and summary.text == "小红留了电话"
        assert summary.covers_up_to == restored[1].id
    assert result.added == 5 and result.member_conversations == 2
    assert again.added == 0


async def test_a_persons_purge_and_export_reach_their_conversation_in_every_group(
    echo_settings: Settings,
) -> None:
    """`atri memory purge qq:user:1` (and `POST /purge` without a channel) deleted their
    overheard lines in every group but kept their own conversation in each group, phone
    number and summary included, and their export held none of those: a person asking to
    be forgotten was not. Now both reach `qq:chan:*:user:1` on the platform, and nobody
    else's (user 10, user 2, their Discord conversation)."""
    await fill_member_conversations(echo_settings)
    async with await Memory.open(echo_settings.memory.path) as memory:
        assert await memory.member_scopes_of("qq:user:1") == [MEMBER_SCOPES[0], MEMBER_SCOPES[2]]
        data = await memory.export("qq:user:1")
        assert [p["scope"] for p in data["member_conversations"]] == [
            MEMBER_SCOPES[0],
            MEMBER_SCOPES[2],
        ]
        assert "大家好" not in json.dumps(data, ensure_ascii=False)
        messages, _ = await memory.purge("qq:user:1")
    assert messages == 4
    assert await stored_scopes(echo_settings) == [
        "discord:chan:c9:user:1",
        "qq:chan:g1:user:2",
        "qq:chan:g2:user:10",
    ]


def test_the_commands_treat_a_channels_and_a_persons_key_alike(
    echo_settings: Settings, tmp_path: Path
) -> None:
    """`atri memory show qq:chan:g1` said "No messages in scope qq:chan:g1." though
    `reset` of it archives four; now `show` lists each member's conversation there, and
    `reset`, `export` and `show` of `qq:user:1` reach theirs in every group (a person
    who only ever talked in groups was not even remembered under their key)."""
    asyncio.run(fill_member_conversations(echo_settings))
    config = cli_config(echo_settings, tmp_path)

    code, out = atri(config, "memory", "show", "qq:chan:g1")
    assert code == 0, out
    assert "conversation qq:chan:g1:user:1:" in out and "conversation qq:chan:g1:user:2:" in out
    assert "小红留了电话" in out and "大家好" in out and "No messages" not in out

    code, out = atri(config, "memory", "show", "qq:user:1")
    assert code == 0 and "我也在二群" in out and "大家好" not in out, out

    out_file = tmp_path / "g1.json"
    code, out = atri(config, "memory", "export", "qq:chan:g1", "--out", str(out_file))
    assert code == 0 and "Wrote 4 messages (4 of them from 2 members' own" in out, out
    assert "1 summary and" in out

    code, out = atri(config, "memory", "reset", "qq:user:1")
    assert code == 0 and "Reset qq:user:1: 4 messages archived." in out, out
    assert atri(config, "memory", "purge", "qq:chan:g1", "--yes")[0] == 0
    code, out = atri(config, "memory", "import", str(out_file), "--include-purged")
    assert code == 0 and "(with 2 members' own conversations)" in out, out


async def test_a_purge_during_a_first_message_in_a_group_leaves_it_unstored(
    settings: Settings,
) -> None:
    """The race of `test_memory_qa40` under `scope = "user_in_channel"`: their purge
    lands while she answers their first message in a group, whose conversation does not
    exist yet; the reply is given, and not stored."""
    settings.memory.scope = "user_in_channel"
    engine = ScriptedEngine()
    async with await ChatService.open(settings, engine=engine) as service:  # type: ignore[arg-type]
        await service.chat(said("早", "1", "小红", "g1", "m1"))
        held = await answer_held(service, engine, said(SECRET, "1", "小红", "g2", "m9"))
        async with await Memory.open(settings.memory.path) as other:
            await other.purge("qq:user:1")
        held.gate.set()
        assert (await held.task).status == "ok"
        assert await service.memory.all_messages("qq:chan:g2:user:1") == []
        assert await service.memory.all_messages("qq:chan:g1:user:1") == []
        await service.chat(said("我回来了", "1", "小红", "g2", "m4"))
        kept = await service.memory.all_messages("qq:chan:g2:user:1")
    assert who_spoke(kept) == [("user", "1"), ("assistant", "")]


def test_show_of_a_person_lists_their_exchanges_in_shared_conversations(
    echo_settings: Settings, tmp_path: Path
) -> None:
    """Under `scope = "channel"`, `atri memory show qq:user:1` printed their private
    conversation only, though their export and their purge reach what they said in each
    group's shared conversation: an admin checking what a purge would delete saw none of
    it. Now it lists their exchanges there, and nobody else's words."""
    asyncio.run(fill_shared_groups(echo_settings))
    code, out = atri(cli_config(echo_settings, tmp_path), "memory", "show", "qq:user:1")
    assert code == 0, out
    assert "私聊" in out and SECRET in out and "我也是" in out
    assert "their exchanges in qq:chan:g1, a conversation the channel shares:" in out
    assert "大家好" not in out and "别的群" not in out


def test_show_lists_the_room_lines_a_reset_of_the_key_reaches(tmp_path: Path) -> None:
    """`atri memory list` counted a group's room lines, and `reset` and `purge` of its
    key (or of a member's) reach them, but `show` said "No messages in scope qq:chan:g1."
    Now it lists them by room, live ones (archived ones too with `--archived`)."""

    async def fill(memory: Memory) -> None:
        bounds = RoomBounds()
        await memory.room.add("qq:chan:g1", "qq", "3", "路人", "随便说说", bounds, request_id="a")
        await memory.room.add("qq:chan:g2", "qq", "3", "路人", "二群的话", bounds, request_id="b")
        await memory.room.add("qq:chan:g1", "qq", "4", "别人", "别人的话", bounds, request_id="c")
        await memory.room.archive_message("qq:chan:g1", "4", "c")

    config = memory_config(tmp_path, fill)
    code, out = atri(config, "memory", "show", "qq:chan:g1")
    assert code == 0 and "room lines in qq:chan:g1:\nheard     路人: 随便说说\n" in out, out
    assert "别人的话" not in out
    assert (
        "别人 (archived): 别人的话" in atri(config, "memory", "show", "qq:chan:g1", "--archived")[1]
    )
    code, out = atri(config, "memory", "show", "qq:user:3")
    assert "room lines in qq:chan:g1:" in out and "room lines in qq:chan:g2:" in out, out
    assert "别人的话" not in out
