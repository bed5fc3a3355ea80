"""Session 58: a speak-up none of which Discord posted (she was timed out while she
wrote it) no longer loses the message she heard: her exchange is archived and the
message stays a room line, as on QQ. Through the real discord.py client and the fake
Discord."""

from __future__ import annotations

import asyncio

from atri.config import Settings
from model.service import ChatService
from tests.bot.discord import test_cannot_post_speak_up_s54 as speak_up
from tests.bot.discord.conftest import CountingEcho, running_client
from tests.bot.discord.fake_discord import GUILD_ID, MEMBER_ID, FakeDiscord, is_a_post
from tests.bot.discord.test_cannot_post_s53 import in_a_while

# Its service: her name in a message makes her speak up in CHANNEL_ID.
service = speak_up.service


async def test_a_refused_speak_up_leaves_the_message_a_room_line(
    fake_discord: FakeDiscord,
    discord_settings: Settings,
    service: ChatService,
    engine: CountingEcho,
) -> None:
    engine.gate.clear()
    async with running_client(fake_discord, service, discord_settings):
        await fake_discord.send_message(MEMBER_ID, "ATRI 今天好热")
        await asyncio.wait_for(engine.started.wait(), 5)
        fake_discord.bot_timed_out_until = in_a_while()
        await fake_discord.dispatch(
            "GUILD_MEMBER_UPDATE", {**fake_discord.bot_member(), "guild_id": str(GUILD_ID)}
        )
        engine.gate.set()
        await fake_discord.wait_for_calls(is_a_post)
        room = speak_up.room_of(speak_up.CHANNEL_ID)
        for _ in range(200):
            lines = [line.content for line in await service.memory.room.all_lines(room)]
            if lines:
                break
            await asyncio.sleep(0.01)
        stored = await service.memory._db.execute_fetchall(
            "SELECT role, archived FROM messages ORDER BY id"
        )
    assert lines == ["ATRI 今天好热"]
    # Her unposted speak-up was stored, then archived with the message: nothing of it
    # is in what the model sees.
    assert [tuple(row) for row in stored] == [("user", 1), ("assistant", 1)]
    assert engine.generations == 1
