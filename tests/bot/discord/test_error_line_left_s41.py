"""A Discord chat the worker fails says her error line as the worker speaks it, as a QQ
chat and a chat over the relay do (the real discord.py client against the fake Discord,
the bots' real relay client, the worker's real app over real HTTP)."""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Receive, Scope, Send

from atri.config import Settings
from bot.serve import speak_as_the_worker
from model.protocol import MEMORY_UNAVAILABLE
from tests.bot.discord.conftest import running_client
from tests.bot.discord.fake_discord import CHANNEL_ID, MEMBER_ID, FakeDiscord, is_message_to
from tests.bot.discord.test_chat import say
from tests.bot.test_relay_character_s41 import bot_side, in_language, relayed_worker


class ChatMemoryUnavailable:
    """The worker's real app, whose /chat answers that its memory is unavailable (the
    503 and `code` its MemoryUnavailable handler gives), which the relay raises."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/chat":
            body = {"detail": "[memory] path could not be used.", "code": MEMORY_UNAVAILABLE}
            headers = [(b"content-type", b"application/json")]
            await send({"type": "http.response.start", "status": 503, "headers": headers})
            await send({"type": "http.response.body", "body": json.dumps(body).encode()})
            return
        await self.app(scope, receive, send)


async def test_a_chat_the_worker_fails_says_the_line_learned_from_it(
    fake_discord: FakeDiscord, echo_settings: Settings
) -> None:
    """Beside a worker serving her in Chinese, a chat whose call raised said the bot's
    own (English) line, where a failed chat over the relay and on QQ say the worker's."""
    bot, card, english, chinese = bot_side(echo_settings)
    chinese_worker = in_language(echo_settings, "zh")
    async with relayed_worker(chinese_worker, ChatMemoryUnavailable, bot, english) as (_, remote):
        await speak_as_the_worker(remote, bot, card)
        assert remote.error_reply == chinese
        bot.worker.error_reply = english  # the line the client is made with
        async with running_client(fake_discord, remote, bot):
            await say(fake_discord, MEMBER_ID, "你好")
            (reply,) = await fake_discord.wait_for_calls(is_message_to(CHANNEL_ID))
    assert reply.body["content"] == chinese
