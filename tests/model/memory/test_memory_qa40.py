"""QA pass 40 on the memory store: a user's export holds what they said in the
conversations channels share. Each test runs on a real SQLite file."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from atri.config import Settings
from model.engines.echo import EchoEngine
from model.memory import (
    EXPORT_VERSION,
    ExportError,
    Memory,
    MemoryExport,
    Message,
    parse_export,
)
from model.protocol import ChatRequest, ScopeRef
from model.service import ChatService
from tests.atri.memory_cli import atri, memory_config
from tests.model.test_rooms_qa39 import said
from tests.model.test_summaries import ScriptedEngine

SECRET = "我的电话是13800138000"


async def fill_shared_groups(settings: Settings) -> None:
    """Under `scope = "channel"`: user 1 talks in two groups beside user 2, and once
    privately; user 2 also talks in a group user 1 never spoke in."""
    settings.memory.scope = "channel"
    async with await ChatService.open(settings, EchoEngine()) as service:
        await service.chat(said("大家好", "2", "小明", "g1", "m1"))
        await service.chat(said(SECRET, "1", "小红", "g1", "m2"))
        await service.chat(said("今天下雨了", "2", "小明", "g1", "m3"))
        await service.chat(said("我也是", "1", "小红", "g2", "m4"))
        await service.chat(said("别的群", "2", "小明", "g3", "m5"))
        await service.chat(ChatRequest(platform="qq", user_id="1", text="私聊", request_id="m6"))


def texts(messages: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(m["role"], m["user_id"]) for m in messages]


async def test_a_users_export_holds_their_exchanges_in_shared_conversations(
    echo_settings: Settings,
) -> None:
    """`atri memory export qq:user:1` (what a person asking for their data gets) held
    their private conversation and room lines only: what they said in every group's
    shared conversation (`[memory] scope = "channel"`), which a purge of them deletes,
    was in no export of theirs. Now it holds their exchanges there (their messages and
    her replies to them), and nobody else's words."""
    await fill_shared_groups(echo_settings)
    async with await Memory.open(echo_settings.memory.path) as memory:
        data = await memory.export("qq:user:1")

    assert [m["content"] for m in data["messages"] if m["role"] == "user"] == ["私聊"]
    shared = data["shared_conversations"]
    assert [part["scope"] for part in shared] == ["qq:chan:g1", "qq:chan:g2"]
    g1, g2 = (part["messages"] for part in shared)
    assert texts(g1) == texts(g2) == [("user", "1"), ("assistant", "")]
    assert g1[0]["content"] == SECRET and g1[0]["request_id"] == "m2"
    assert g1[1]["request_id"] == "m2"  # her reply to it
    assert g2[0]["content"] == "我也是"
    everything = json.dumps(data, ensure_ascii=False)
    assert "大家好" not in everything and "今天下雨了" not in everything
    assert "别的群" not in everything and '"2"' not in everything
    # The file is one `atri memory import` reads.
    parsed = parse_export(data, "export.json")
    assert isinstance(parsed, MemoryExport) and len(parsed.shared_conversations) == 2


async def test_a_user_in_channel_export_holds_that_channels_shared_exchanges_only(
    echo_settings: Settings,
) -> None:
    await fill_shared_groups(echo_settings)
    async with await Memory.open(echo_settings.memory.path) as memory:
        data = await memory.export("qq:chan:g2:user:1")
    assert data["messages"] == []
    assert [part["scope"] for part in data["shared_conversations"]] == ["qq:chan:g2"]


async def test_importing_a_users_export_after_their_purge_puts_their_exchanges_back(
    echo_settings: Settings,
) -> None:
    """The export is also what restores them: imported after a purge of the user (asked
    to: `include_purged`), their exchanges are back in each shared conversation, in the
    order they were said, beside the others' (which were never touched); importing it
    twice adds nothing more."""
    await fill_shared_groups(echo_settings)
    async with await Memory.open(echo_settings.memory.path) as memory:
        before = [(m.role, m.content) for m in await memory.all_messages("qq:chan:g1")]
        data = await memory.export("qq:user:1")
        await memory.purge("qq:user:1")
        assert len(await memory.all_messages("qq:chan:g1")) == 4

        result = await memory.import_export(parse_export(data, "export.json"), include_purged=True)
        again = await memory.import_export(parse_export(data, "export.json"), include_purged=True)

        after = [(m.role, m.content) for m in await memory.all_messages("qq:chan:g1")]
        g2 = await memory.all_messages("qq:chan:g2")
    assert after == before
    assert [m.role for m in g2] == ["user", "assistant"] and g2[0].content == "我也是"
    assert result.added == 6 and result.shared_conversations == 2
    assert again.added == 0 and again.skipped == 6


def test_the_export_and_import_commands_count_the_shared_messages(
    echo_settings: Settings, tmp_path: Path
) -> None:
    import asyncio

    asyncio.run(fill_shared_groups(echo_settings))
    config = tmp_path / "config.toml"
    config.write_text(f'[memory]\npath = "{echo_settings.memory.path}"\n', encoding="utf-8")
    out_file = tmp_path / "mine.json"

    code, out = atri(config, "memory", "export", "qq:user:1", "--out", str(out_file))

    assert code == 0, out
    assert "Wrote 6 messages" in out
    assert "4 of them from 2 conversations channels share" in out
    # Restored after a purge of them, the command says where they went.
    assert atri(config, "memory", "purge", "qq:user:1", "--yes")[0] == 0
    code, out = atri(config, "memory", "import", str(out_file), "--include-purged")
    assert code == 0, out
    assert "(4 of them into 2 conversations channels share)" in out


def test_an_older_atri_is_told_the_export_is_newer() -> None:
    """An export with `shared_conversations` is a version an ATRI before it refuses as
    newer (one sentence), not as a file with a field it does not know."""
    assert EXPORT_VERSION == 9  # session 67: a backup's `channel_modes`
    with pytest.raises(ExportError, match="must be 1, 2, 3, 4, 5, 6, 7, 8 or 9"):
        parse_export(
            {"format": "atri-memory", "version": 0, "scope": "qq:user:1", "messages": []}, "f"
        )


class InFlight(NamedTuple):
    """User 1's message in g1 being answered under `scope = "channel"`, after user 1 and
    user 2 each said something there: its reply waits until `gate` is set."""

    service: ChatService
    task: asyncio.Task[Any]
    gate: asyncio.Event


async def answer_held(
    service: ChatService, engine: ScriptedEngine, request: ChatRequest
) -> InFlight:
    """`request` being answered: the engine holds its reply until the gate is set."""
    engine.gate = gate = asyncio.Event()
    engine.started = asyncio.Event()
    task = asyncio.create_task(service.chat(request))
    await engine.started.wait()
    return InFlight(service, task, gate)


@pytest.fixture
async def member_answered_in_g1(settings: Settings) -> AsyncIterator[InFlight]:
    settings.memory.scope = "channel"
    engine = ScriptedEngine()
    async with await ChatService.open(settings, engine=engine) as service:  # type: ignore[arg-type]
        await service.chat(said("早", "1", "小红", "g1", "m1"))
        await service.chat(said("大家好", "2", "小明", "g1", "m2"))
        yield await answer_held(service, engine, said(SECRET, "1", "小红", "g1", "m9"))


def who_spoke(messages: list[Message]) -> list[tuple[str, str]]:
    return [(m.role, m.user_id) for m in messages]


async def test_a_reply_in_flight_when_a_member_is_purged_is_not_stored(
    member_answered_in_g1: InFlight,
) -> None:
    """Purging a member of a shared conversation (`[memory] scope = "channel"`) while
    she was answering them stored the exchange right after the purge: the message they
    had just sent (a phone number, say) was back in the conversation, in every later
    prompt and summary, though the purge had said it was done."""
    service, task, gate = member_answered_in_g1
    await service.purge_counts(ScopeRef(platform="qq", user_id="1", channel_id="g1"))
    gate.set()
    reply = await task

    assert reply.status == "ok"  # the reply is still given
    kept = await service.memory.all_messages("qq:chan:g1")
    assert who_spoke(kept) == [("user", "2"), ("assistant", "")]
    # Her next replies there are remembered again.
    await service.chat(said("还在吗", "2", "小明", "g1", "m3"))
    assert len(await service.memory.all_messages("qq:chan:g1")) == 4


async def test_a_purge_from_another_process_during_a_reply_leaves_it_unstored(
    settings: Settings, member_answered_in_g1: InFlight
) -> None:
    """`atri memory purge qq:user:1` run beside a worker answering them in a group."""
    async with await Memory.open(settings.memory.path) as other:
        await other.purge("qq:user:1")
    member_answered_in_g1.gate.set()
    await member_answered_in_g1.task

    kept = await member_answered_in_g1.service.memory.all_messages("qq:chan:g1")
    assert who_spoke(kept) == [("user", "2"), ("assistant", "")]


def test_purging_a_channels_key_takes_its_members_conversations_there(tmp_path: Path) -> None:
    """Under `[memory] scope = "user_in_channel"` each member of a group has a
    conversation of their own there (`qq:chan:g1:user:1`). `atri memory purge qq:chan:g1`
    deleted the group's room lines only and said so, though the README promises the
    conversations that belong to the channel go too (as `POST /purge` of the channel
    does); with no room line left, the key was not even remembered."""

    async def fill(memory: Memory) -> None:
        for user in ("1", "2"):
            await memory.append_many(
                f"qq:chan:g1:user:{user}",
                [("user", user, "A", "hi", ""), ("assistant", "", "", "yo", "")],
            )
        await memory.append_many("qq:chan:g10:user:1", [("user", "1", "A", "other group", "")])

    config = memory_config(tmp_path, fill)
    code, out = atri(config, "memory", "reset", "qq:chan:g1")
    assert code == 0 and "Reset qq:chan:g1: 4 messages archived." in out, out
    code, out = atri(config, "memory", "purge", "qq:chan:g1", "--yes")
    assert code == 0 and "Purged qq:chan:g1: 4 messages deleted." in out, out

    async def left() -> list[str]:
        async with await Memory.open(tmp_path / "mem.sqlite3") as memory:
            return [row["scope"] for row in await memory.scopes()]

    assert asyncio.run(left()) == ["qq:chan:g10:user:1"]  # another group's stays


@pytest.mark.parametrize("group_has_talked", [False, True])
async def test_a_purge_during_a_members_first_message_in_a_group_leaves_it_unstored(
    settings: Settings, group_has_talked: bool
) -> None:
    """`atri memory purge qq:user:1` (or `POST /purge` without a channel) while she
    answers user 1's very first message in a group: their words were in no conversation
    yet, so the purge recorded no reset there and the exchange was stored right after
    it (a phone number back in the group's conversation, in every later prompt). In a
    group nobody had talked in as in one where others had."""
    settings.memory.scope = "channel"
    engine = ScriptedEngine()
    async with await ChatService.open(settings, engine=engine) as service:  # type: ignore[arg-type]
        await service.chat(said("早", "1", "小红", "g1", "m1"))  # their words elsewhere
        if group_has_talked:
            await service.chat(said("大家好", "2", "小明", "g2", "m2"))
        held = await answer_held(service, engine, said(SECRET, "1", "小红", "g2", "m9"))

        async with await Memory.open(settings.memory.path) as other:
            await other.purge("qq:user:1")
        held.gate.set()
        assert (await held.task).status == "ok"  # the reply is still given

        kept = await service.memory.all_messages("qq:chan:g2")
        assert who_spoke(kept) == ([("user", "2"), ("assistant", "")] if group_has_talked else [])
        assert await service.memory.all_messages("qq:chan:g1") == []
        # The others' replies there, and theirs later on, are remembered again.
        await service.chat(said("还在吗", "2", "小明", "g2", "m3"))
        await service.chat(said("我回来了", "1", "小红", "g2", "m4"))
        kept = await service.memory.all_messages("qq:chan:g2")
        assert [m.content for m in kept if m.role == "user"][-2:] == ["还在吗", "我回来了"]


async def test_a_users_own_reset_does_not_drop_their_reply_in_a_group(settings: Settings) -> None:
    """Only a purge reaches their words in every conversation: a reset of their own key
    (`atri memory reset qq:user:1`) ends their own conversation, not the group's, so the
    exchange she was answering there is stored."""
    settings.memory.scope = "channel"
    engine = ScriptedEngine()
    async with await ChatService.open(settings, engine=engine) as service:  # type: ignore[arg-type]
        await service.chat(ChatRequest(platform="qq", user_id="1", text="私聊", request_id="m0"))
        held = await answer_held(service, engine, said(SECRET, "1", "小红", "g2", "m9"))
        async with await Memory.open(settings.memory.path) as other:
            await other.reset_with_room("qq:user:1")
        held.gate.set()
        await held.task
        kept = await service.memory.all_messages("qq:chan:g2")
    assert who_spoke(kept) == [("user", "1"), ("assistant", "")]
