"""Session 58: a reply none of which reached the platform, where nothing else keeps the
message it answered (a private chat): only her reply is archived; the message stays in
the conversation, unanswered, and the next prompt shows it (joined with the next message
where the template needs user and assistant to alternate)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from model.character.prompt import Window, fit_prompt
from model.engines.chat_template import TemplateRules, conform
from model.memory import Memory


@pytest.fixture
async def memory(tmp_path: Path) -> AsyncIterator[Memory]:
    mem = await Memory.open(tmp_path / "m.sqlite3")
    yield mem
    await mem.close()


async def said(memory: Memory, request_id: str, text: str, reply: str) -> None:
    await memory.append_many(
        "s", [("user", "1", "夏生", text, ""), ("assistant", "", "亚托莉", reply, "v1")], request_id
    )


async def live(memory: Memory) -> list[tuple[str, str]]:
    return [(m.role, m.content) for m in await memory.history("s")]


async def test_nothing_sent_keeps_the_message_and_archives_her_reply(memory: Memory) -> None:
    await said(memory, "r1", "你还记得我吗", "当然记得！")
    await said(memory, "r2", "去海边吧", "好呀！")
    assert await memory.cut_reply("s", "r1", "", keep_message=True) == 1
    assert await live(memory) == [
        ("user", "你还记得我吗"),
        ("user", "去海边吧"),
        ("assistant", "好呀！"),
    ]
    # Her unsent reply is archived, kept as a reset keeps it, not deleted.
    assert [m.content for m in await memory.all_messages("s") if m.archived] == ["当然记得！"]
    # Without keep_message (her reply deleted by someone) the exchange goes whole.
    assert await memory.cut_reply("s", "r2", "") == 2
    assert await live(memory) == [("user", "你还记得我吗")]


async def test_part_sent_is_stored_as_sent_whatever_keep_message_says(memory: Memory) -> None:
    await said(memory, "r1", "你好", "你好呀，夏生先生！")
    assert await memory.cut_reply("s", "r1", "你好呀", keep_message=True) == 1
    assert await live(memory) == [("user", "你好"), ("assistant", "你好呀")]


@dataclass(frozen=True)
class Turn:
    role: str
    content: str
    display_name: str = ""
    user_id: str = "1"
    created_at: float = 0.0


def test_the_unanswered_message_reaches_the_next_prompt() -> None:
    earlier = [Turn("user", "你还记得我吗"), Turn("user", "去海边吧"), Turn("assistant", "好呀！")]
    fitted = fit_prompt("你是亚托莉。", earlier, "现在出发", len, Window(4096, 64))
    roles = [(m["role"], m["content"]) for m in fitted.messages]
    assert roles == [
        ("system", "你是亚托莉。"),
        ("user", "你还记得我吗"),
        ("user", "去海边吧"),
        ("assistant", "好呀！"),
        ("user", "现在出发"),
    ]
    # A template that needs user and assistant to alternate gets the two joined.
    joined = conform(fitted.messages, TemplateRules(system=True, alternating=True))
    assert [m["role"] for m in joined] == ["system", "user", "assistant", "user"]
    assert "你还记得我吗" in joined[1]["content"] and "去海边吧" in joined[1]["content"]
