"""Session 42 on a person's reset (`atri memory reset qq:user:1`, or their reset in a DM):
it ends their own conversations everywhere, as a purge of them does, keeping what was
said (archived). Each test runs on a real SQLite file."""

from __future__ import annotations

import pytest

from atri.config import Settings
from model.memory import Memory
from model.protocol import ScopeRef
from model.service import ChatService
from tests.model.memory.test_memory_qa40 import SECRET, answer_held, who_spoke
from tests.model.test_rooms_qa39 import said
from tests.model.test_summaries import ScriptedEngine


@pytest.mark.parametrize("reset_by", ["their DM", "atri memory"])
async def test_a_reset_during_a_first_message_in_a_group_leaves_it_unstored(
    settings: Settings, reset_by: str
) -> None:
    """Under `scope = "user_in_channel"`, their reset lands while she answers their first
    message in a group, whose conversation does not exist yet. A purge recorded the
    person, so that reply was not stored; a reset recorded only the conversations it
    found, so the exchange (made before the reset) was stored after it, live in the new
    context. Now it is given and not stored, and what they said before stays archived."""
    settings.memory.scope = "user_in_channel"
    engine = ScriptedEngine()
    async with await ChatService.open(settings, engine=engine) as service:  # type: ignore[arg-type]
        await service.chat(said("早", "1", "小红", "g1", "m1"))
        neighbour = await service.memory.conversation("qq:chan:g3:user:2")
        held = await answer_held(service, engine, said(SECRET, "1", "小红", "g2", "m9"))
        if reset_by == "their DM":
            await service.reset(ScopeRef(platform="qq", user_id="1"))
        else:
            async with await Memory.open(settings.memory.path) as other:
                await other.reset_with_room("qq:user:1")
        held.gate.set()
        assert (await held.task).status == "ok"  # the reply is still given
        assert await service.memory.all_messages("qq:chan:g2:user:1") == []
        before = await service.memory.all_messages("qq:chan:g1:user:1")
        assert [(m.content, m.archived) for m in before if m.role == "user"] == [("早", True)]
        # Another person's first exchange read before the reset, and theirs after it, are
        # stored.
        exchange = [("user", "2", "小明", "第一次", ""), ("assistant", "", "", "好", "")]
        await service.memory.append_many(
            "qq:chan:g3:user:2", exchange, "m8", None, neighbour.reset_mark
        )
        await service.chat(said("我回来了", "1", "小红", "g2", "m4"))
        kept = await service.memory.all_messages("qq:chan:g2:user:1")
        others = await service.memory.all_messages("qq:chan:g3:user:2")
    assert who_spoke(kept) == [("user", "1"), ("assistant", "")]
    assert [m.content for m in kept if m.role == "user"] == ["我回来了"]
    assert who_spoke(others) == [("user", "2"), ("assistant", "")]
