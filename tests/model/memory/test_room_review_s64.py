"""Session 64, a group operator's review of room memory: purging one member's key in one
group (`qq:chan:g1:user:101`, `[memory] scope = "user_in_channel"`) deleted their room
lines in every group, where a reset of the same key archives only that group's."""

from __future__ import annotations

from atri.config import Settings
from model.protocol import ChatRequest, ScopeRef
from model.service import ChatService


def said(text: str, channel: str, rid: str, addressed: bool = False) -> ChatRequest:
    return ChatRequest(
        platform="qq",
        user_id="101",
        display_name="小明",
        text=text,
        channel_id=channel,
        addressed=addressed,
        request_id=rid,
    )


async def room_lines(service: ChatService) -> list[tuple[str, str]]:
    rows = await service.memory._db.execute_fetchall("SELECT room, content FROM room_lines")
    return sorted((str(r[0]), str(r[1])) for r in rows)


async def test_a_members_purge_in_one_group_leaves_their_lines_in_another(
    echo_settings: Settings,
) -> None:
    echo_settings.memory.scope = "user_in_channel"
    echo_settings.worker.rate_limit_per_minute = 0
    async with await ChatService.open(echo_settings) as service:
        await service.chat(said("第一组的话", "g1", "r1"))
        await service.chat(said("你好", "g1", "r2", addressed=True))
        await service.chat(said("第二组的话", "g2", "r3"))
        member = ScopeRef(platform="qq", user_id="101", channel_id="g1")
        assert service.scope_for("qq", "101", "g1") == "qq:chan:g1:user:101"
        await service.purge(member)
        assert await room_lines(service) == [("qq:chan:g2", "第二组的话")]
