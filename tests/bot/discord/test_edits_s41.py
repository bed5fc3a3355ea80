"""A message update that is no fresh edit (a pin, an edit long ago) of a message that
mentions her, after she has forgotten it (a restart, the cache), is not answered
again (the real discord.py client against the fake Discord)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from bot.discord.adapter import AtriClient
from tests.bot.discord.fake_discord import BOT_ID, CHANNEL_ID, MEMBER_ID, FakeDiscord, is_message_to
from tests.bot.discord.test_chat import ECHO, MENTION, edited, say


def stamp(ago: timedelta) -> str:
    return (datetime.now(UTC) - ago).isoformat()


@pytest.mark.parametrize(
    "update",
    [
        {"pinned": True},  # never edited: Discord's edited_timestamp stays null
        {"pinned": True, "edited_timestamp": stamp(timedelta(hours=1))},
    ],
    ids=["pinned", "pinned-after-an-old-edit"],
)
async def test_an_old_message_to_her_pinned_is_not_answered_again(
    fake_discord: FakeDiscord, client: AtriClient, update: dict[str, object]
) -> None:
    """A moderator pins a message someone asked her before the bot restarted (or before
    the cache let it go): Discord sends a MESSAGE_UPDATE with the whole message, and she
    answered it again, as if it had just been edited to mention her."""
    asked = fake_discord.message_payload(MEMBER_ID, f"{MENTION} 明天几点集合？", mentions=(BOT_ID,))
    await fake_discord.dispatch("MESSAGE_UPDATE", asked | update)
    await say(fake_discord, MEMBER_ID, "对照")
    await fake_discord.wait_for_calls(is_message_to(CHANNEL_ID))
    await asyncio.sleep(0.2)
    texts = [c.body["content"] for c in fake_discord.calls_matching(is_message_to(CHANNEL_ID))]
    assert texts == [ECHO + "对照"]


async def test_a_message_she_never_saw_edited_now_to_mention_her_is_answered(
    fake_discord: FakeDiscord, client: AtriClient
) -> None:
    """An edit made just now still counts, whether or not she saw the message before."""
    plain = fake_discord.message_payload(MEMBER_ID, "几点集合？")
    await fake_discord.dispatch("MESSAGE_UPDATE", edited(fake_discord, plain, f"{MENTION} 几点？"))
    (reply,) = await fake_discord.wait_for_calls(is_message_to(CHANNEL_ID))
    assert reply.body["content"] == ECHO + "几点？"
