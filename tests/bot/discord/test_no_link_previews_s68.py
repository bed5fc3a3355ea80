"""Her posts unfold no link: a member who had her repeat a GIF's address made her show
the picture they chose, in her name."""

from __future__ import annotations

from bot.discord.adapter import AtriClient
from tests.bot.discord.fake_discord import BOT_ID, CHANNEL_ID, MEMBER_ID, FakeDiscord, is_message_to
from tests.bot.discord.test_chat import MENTION

SUPPRESS_EMBEDS = 1 << 2


async def test_every_part_she_posts_suppresses_link_previews(
    fake_discord: FakeDiscord, client: AtriClient
) -> None:
    long = "word " * 450
    await fake_discord.send_message(
        MEMBER_ID, f"{MENTION} {long} https://cdn.example.com/shock.gif", mentions=(BOT_ID,)
    )
    parts = await fake_discord.wait_for_calls(is_message_to(CHANNEL_ID), count=2)
    assert "https://cdn.example.com/shock.gif" in parts[-1].body["content"]
    assert all(part.body.get("flags", 0) & SUPPRESS_EMBEDS for part in parts)
