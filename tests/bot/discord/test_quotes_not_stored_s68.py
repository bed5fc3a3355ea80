"""Session 68: a reply to someone's message was stored with that message's words in it (the
quote note was the message's text), so a message its author deleted, or a purged
person's words, stayed in the conversation of whoever replied to it. The words are read
for that one reply; memory keeps whose message it was. The real discord.py client
against the fake Discord, on the echo worker (which repeats what the model read) and
over the relay as a separate worker is reached."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from atri.config import Secrets, Settings
from bot.discord.adapter import AtriClient
from bot.relay import HttpWorker
from model.protocol import ScopeRef
from model.server.app import bind_socket, create_app, serving
from model.service import ChatService
from tests.bot.discord.conftest import running_client
from tests.bot.discord.fake_discord import (
    ADMIN_ID,
    BOT_ID,
    CHANNEL_ID,
    GUILD_ID,
    MEMBER_ID,
    FakeDiscord,
    is_message_to,
)
from tests.bot.discord.test_chat import ECHO, MENTION
from tests.model.server.conftest import ADMIN_TOKEN

PHONE = "139-MINAMO-DELETED"
READ = f"（引用了Minamo的消息：我的电话是 {PHONE}）"
KEPT = "（引用了Minamo的消息）"
MEMBER = ScopeRef(
    platform="discord", user_id=str(MEMBER_ID), channel_id=str(CHANNEL_ID), guild_id=str(GUILD_ID)
)


async def ask_about_minamos_message(fake: FakeDiscord) -> dict[str, object]:
    """The member's reply to Minamo's message, mentioning her; answered."""
    quoted = fake.message_payload(ADMIN_ID, f"我的电话是 {PHONE}")
    asked = fake.message_payload(
        MEMBER_ID, f"{MENTION} 他说的是真的吗？", mentions=(BOT_ID,), reply_to=quoted
    )
    await fake.dispatch("MESSAGE_CREATE", asked)
    (reply,) = await fake.wait_for_calls(is_message_to(CHANNEL_ID))
    assert reply.body["content"] == f"{ECHO}{READ} 他说的是真的吗？"
    return asked


async def stored_message(service: ChatService, expected: str) -> str:
    """The member's stored message, once it is `expected` (or a while later)."""
    for _ in range(200):
        turns = (await service.remembered(MEMBER)).turns
        if turns and turns[0].content == expected:
            break
        await asyncio.sleep(0.01)
    return turns[0].content


async def test_a_reply_to_a_message_is_stored_without_its_words(
    fake_discord: FakeDiscord, client: AtriClient, echo_service: ChatService
) -> None:
    asked = await ask_about_minamos_message(fake_discord)
    expected = f"{KEPT} 他说的是真的吗？"
    assert await stored_message(echo_service, expected) == expected
    # Edited, it is stored the same way.
    edit = {"content": f"{MENTION} 真的吗？", "edited_timestamp": datetime.now(UTC).isoformat()}
    await fake_discord.dispatch("MESSAGE_UPDATE", asked | edit)
    assert await stored_message(echo_service, f"{KEPT} 真的吗？") == f"{KEPT} 真的吗？"


async def test_over_the_relay_the_words_reach_her_prompt_and_not_her_memory(
    fake_discord: FakeDiscord, echo_service: ChatService, discord_settings: Settings
) -> None:
    secrets = Secrets.from_env({"ATRI_ADMIN_TOKEN": ADMIN_TOKEN})
    async with serving(create_app(echo_service, secrets), bind_socket("127.0.0.1", 0)) as url:
        relay = discord_settings.worker.model_copy(update={"url": url})
        async with (
            HttpWorker(relay, secrets) as remote,
            running_client(fake_discord, remote, discord_settings),
        ):
            await ask_about_minamos_message(fake_discord)
    expected = f"{KEPT} 他说的是真的吗？"
    assert await stored_message(echo_service, expected) == expected
