"""Session 41 (second pass) on room lines that reach the worker late: a line said before
a reset or a purge that reached its room's lines, but heard after it (a bot catching up
after a reconnect, a QQ line waiting for a member's name), is not kept, whichever
`[memory] scope` the worker runs with and whichever process reset or purged (`atri
memory`). Lines said after it are kept. Each test runs on a real SQLite file."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from atri.config import Settings
from model.engines.echo import EchoEngine
from model.memory import Memory
from model.protocol import ChatRequest, ScopeRef
from model.room import MAX_CLOCK_AHEAD_SECONDS, RoomBounds
from model.service import ChatService

KINDS = ["user", "user_in_channel", "channel"]


def heard(text: str, user: str, sent_at: float, channel: str = "g1") -> ChatRequest:
    """A line said in a QQ group, not to her, at platform time `sent_at`."""
    return ChatRequest(
        platform="qq",
        user_id=user,
        display_name=f"人{user}",
        text=text,
        channel_id=channel,
        addressed=False,
        sent_at=sent_at,
    )


async def lines_in(service: ChatService, room: str = "qq:chan:g1") -> list[str]:
    return [line.content for line in await service.memory.room.recent(room, 50, 3600)]


async def all_lines(service: ChatService, room: str = "qq:chan:g1") -> list[str]:
    return [line.content for line in await service.memory.room.all_lines(room)]


@pytest.mark.parametrize("kind", KINDS)
async def test_a_line_said_before_a_channel_reset_and_heard_after_it_is_not_kept(
    echo_settings: Settings, kind: str
) -> None:
    """An admin's channel reset under `scope = "user"` wrote no reset record at all, and
    under the others none that a room line was checked against: a line said before it
    and heard after it was kept live, into the next prompt of the room it was reset out
    of."""
    echo_settings.memory.scope = kind  # type: ignore[assignment]
    async with await ChatService.open(echo_settings, EchoEngine()) as service:
        before = time.time() - 5
        await service.chat(heard("重置前说的", "1", before - 1))
        await service.reset(ScopeRef(platform="qq", channel_id="g1"))
        await service.chat(heard("重置前说的，晚到了", "1", before))
        await service.chat(heard("重置后说的", "2", time.time()))
        assert await lines_in(service) == ["重置后说的"]
        # Another room's lines are not reached by it.
        await service.chat(heard("二群早先说的", "1", before, "g2"))
        assert await lines_in(service, "qq:chan:g2") == ["二群早先说的"]


@pytest.mark.parametrize("kind", KINDS)
async def test_a_line_said_before_a_channel_purge_and_heard_after_it_is_not_stored(
    echo_settings: Settings, kind: str
) -> None:
    echo_settings.memory.scope = kind  # type: ignore[assignment]
    async with await ChatService.open(echo_settings, EchoEngine()) as service:
        before = time.time() - 5
        await service.chat(heard("清除前说的", "1", before - 1))
        await service.purge(ScopeRef(platform="qq", channel_id="g1"))
        await service.chat(heard("清除前说的，晚到了", "1", before))
        await service.chat(heard("清除后说的", "2", time.time()))
        assert await all_lines(service) == ["清除后说的"]


@pytest.mark.parametrize("kind", KINDS)
async def test_a_purged_persons_late_line_is_not_stored_anywhere(
    echo_settings: Settings, kind: str
) -> None:
    """The purge of a person (their words everywhere) is not undone by a line of theirs
    said before it that reaches the worker after it, in any room; the others' late
    lines, and their own said after it, are kept."""
    echo_settings.memory.scope = kind  # type: ignore[assignment]
    async with await ChatService.open(echo_settings, EchoEngine()) as service:
        before = time.time() - 5
        await service.purge(ScopeRef(platform="qq", user_id="1", channel_id="g1"))
        await service.chat(heard("我的电话是 13800000000", "1", before))
        await service.chat(heard("二群里也说了", "1", before, "g2"))
        await service.chat(heard("别人早先说的", "2", before))
        await service.chat(heard("清除后又说的", "1", time.time()))
        assert await all_lines(service) == ["别人早先说的", "清除后又说的"]
        # Under "user_in_channel" the key purged is the member's in g1 alone
        # (qq:chan:g1:user:1): their words in g2 are not its to delete (session 64).
        elsewhere = ["二群里也说了"] if kind == "user_in_channel" else []
        assert await all_lines(service, "qq:chan:g2") == elsewhere


async def test_a_members_own_reset_drops_their_late_line_in_that_room_only(
    echo_settings: Settings,
) -> None:
    """A member's reset in a group archives their lines there: one of theirs said
    before it and heard after it is not kept there, but is in another group, and the
    others' are kept."""
    echo_settings.memory.scope = "user_in_channel"
    async with await ChatService.open(echo_settings, EchoEngine()) as service:
        before = time.time() - 5
        await service.reset(ScopeRef(platform="qq", user_id="1", channel_id="g1"))
        await service.chat(heard("重置前说的", "1", before))
        await service.chat(heard("别人早先说的", "2", before))
        await service.chat(heard("二群早先说的", "1", before, "g2"))
        assert await lines_in(service) == ["别人早先说的"]
        assert await lines_in(service, "qq:chan:g2") == ["二群早先说的"]


async def test_a_group_admins_reset_of_a_member_under_user_scope_drops_their_late_line(
    echo_settings: Settings,
) -> None:
    """Under `scope = "user"` a group admin's reset of a member archives only their room
    lines there (`here_only`), and wrote no reset record: a late line of theirs came back."""
    async with await ChatService.open(echo_settings, EchoEngine()) as service:
        before = time.time() - 5
        done = await service.reset(
            ScopeRef(platform="qq", user_id="1", channel_id="g1", here_only=True)
        )
        assert done < 0  # PERSONAL_SCOPE: their conversation is not the admin's
        await service.chat(heard("重置前说的", "1", before))
        await service.chat(heard("二群早先说的", "1", before, "g2"))
        assert await lines_in(service) == []
        assert await lines_in(service, "qq:chan:g2") == ["二群早先说的"]


async def test_a_purge_by_atri_memory_drops_a_late_line_in_the_running_worker(
    echo_settings: Settings,
) -> None:
    """`atri memory purge qq:user:1` runs in a process of its own: the worker still
    finds that the person's late line was said before it."""
    async with await ChatService.open(echo_settings, EchoEngine()) as service:
        before = time.time() - 5
        await service.chat(heard("早先说的", "1", before - 1))
        async with await Memory.open(echo_settings.memory.path) as cli:
            assert await cli.purge("qq:user:1") == (0, 1)
        await service.chat(heard("早先说的，晚到了", "1", before))
        await service.chat(heard("后来说的", "1", time.time()))
        assert await all_lines(service) == ["后来说的"]


async def test_a_line_without_a_platform_time_or_one_too_far_ahead_is_kept(
    echo_settings: Settings,
) -> None:
    """A line whose platform gave no time (0), or one past MAX_CLOCK_AHEAD_SECONDS, is
    placed at when the worker heard it, after the reset: kept, as any line said now."""
    async with await ChatService.open(echo_settings, EchoEngine()) as service:
        await service.reset(ScopeRef(platform="qq", channel_id="g1"))
        await service.chat(heard("没说时间", "1", 0))
        await service.chat(heard("时钟太快", "2", time.time() + 2 * MAX_CLOCK_AHEAD_SECONDS))
        assert await lines_in(service) == ["没说时间", "时钟太快"]


async def test_a_room_reset_record_ends_no_conversation(tmp_path: Path) -> None:
    """The records kept for room lines are not resets of a conversation: a reply being
    written in the person's DM conversation is stored after their lines were purged
    from every room (`scope = "channel"` purges only their exchanges in the group)."""
    async with await Memory.open(tmp_path / "m.sqlite3") as memory:
        read = await memory.conversation("qq:user:1")
        await memory.room.add("qq:chan:g1", "qq", "1", "", "一句", RoomBounds())
        assert await memory.room.delete_user("qq", "1") == 1
        await memory.append_many(
            "qq:user:1",
            [("user", "1", "", "你好", ""), ("assistant", "", "亚托莉", "你好呀", "")],
            "m1",
            None,
            read.reset_mark,
        )
        assert len(await memory.all_messages("qq:user:1")) == 2
