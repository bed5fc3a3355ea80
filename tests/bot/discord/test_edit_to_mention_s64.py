"""Session 64, through the real discord.py client and the fake Discord: a message she
only heard, edited to mention her and to take a phone number out, keeps no copy of the
number. Its room line was archived as it was: the number stayed in the database file
and in `atri memory export`, where the README says an edit leaves it nowhere."""

from __future__ import annotations

from pathlib import Path

from atri.config import Settings
from bot.discord.adapter import AtriClient
from model.service import ChatService
from tests.bot.discord.fake_discord import CHANNEL_ID, MEMBER_ID, FakeDiscord, is_message_to
from tests.bot.discord.test_chat import MENTION, edited
from tests.bot.discord.test_room import ROOM, room_lines

NUMBER = "13800000000"


async def test_an_edit_that_mentions_her_leaves_the_old_text_nowhere(
    fake_discord: FakeDiscord,
    client: AtriClient,
    echo_service: ChatService,
    discord_settings: Settings,
) -> None:
    discord_settings.discord.room_context = True
    sent = await fake_discord.send_message(MEMBER_ID, f"我的电话是 {NUMBER}")
    await room_lines(echo_service, 1)
    await fake_discord.dispatch(
        "MESSAGE_UPDATE", edited(fake_discord, sent, f"{MENTION} 刚才那条别看")
    )
    await fake_discord.wait_for_calls(is_message_to(CHANNEL_ID))
    lines = [line.content for line in await echo_service.memory.room.all_lines(ROOM)]
    assert all(NUMBER not in line for line in lines), lines
    database = Path(echo_service.settings.path(echo_service.settings.memory.path))
    on_disk = b"".join(p.read_bytes() for p in database.parent.glob(database.name + "*"))
    assert NUMBER.encode() not in on_disk
