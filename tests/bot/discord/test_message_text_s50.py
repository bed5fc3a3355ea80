"""What the model reads of a Discord message (session 50's study of real payloads), through
the real discord.py client and the fake Discord: the echo engine's reply is its input."""

from __future__ import annotations

from bot.discord.adapter import AtriClient
from tests.bot.discord.fake_discord import (
    BOT_ID,
    CHANNEL_ID,
    LISTEN_CHANNEL_ID,
    MEMBER_ID,
    FakeDiscord,
    is_message_to,
)
from tests.bot.discord.test_chat import ECHO, MENTION


async def heard(fake: FakeDiscord, payload: dict[str, object], channel_id: int = CHANNEL_ID) -> str:
    """What the model was given for `payload` (the echo engine repeats it)."""
    await fake.dispatch("MESSAGE_CREATE", payload)
    (reply,) = await fake.wait_for_calls(is_message_to(channel_id))
    content = str(reply.body["content"])
    assert content.startswith(ECHO)
    return content[len(ECHO) :]


async def test_emoji_channels_timestamps_and_commands_read_as_a_person_sees_them(
    fake_discord: FakeDiscord, client: AtriClient
) -> None:
    """Custom emoji, channel mentions, timestamps and slash-command mentions reached the
    model as raw markup (`<:pepe_cry:1234567890>`, `<#id>`, `<t:…:R>`, `</atri reset:1>`)."""
    payload = fake_discord.message_payload(
        MEMBER_ID,
        f"{MENTION} 哭了 <:pepe_cry:1234567890> <a:dance:222> 去 <#{LISTEN_CHANNEL_ID}> 和 "
        "<#123> 看 <t:1767225600:R> 和 <t:1767225600:d> 的公告，用 </atri reset:123>",
        mentions=(BOT_ID,),
    )
    assert await heard(fake_discord, payload) == (
        "哭了 :pepe_cry: :dance: 去 #atri-chat 和 #channel 看 2026-01-01 00:00 UTC 和 "
        "2026-01-01 的公告，用 /atri reset"
    )


async def test_her_reply_still_pings_nobody_after_markup_is_made_readable(
    fake_discord: FakeDiscord, client: AtriClient
) -> None:
    payload = fake_discord.message_payload(
        MEMBER_ID, f"{MENTION} <#{CHANNEL_ID}> @everyone <@{MEMBER_ID}>", mentions=(BOT_ID,)
    )
    await fake_discord.dispatch("MESSAGE_CREATE", payload)
    (reply,) = await fake_discord.wait_for_calls(is_message_to(CHANNEL_ID))
    assert reply.body["content"] == ECHO + "#general @\u200beveryone @Ryuji"
    assert reply.body["allowed_mentions"] == {"parse": [], "replied_user": False}
