"""Session 70, through the real discord.py client and the fake Discord.

In a channel she answers in full (`[discord] channels`, or `mode:all`), a message was
remembered as for her only once her answer was posted: an edit made while she was still
answering was taken for an overheard message's and dropped (the phone number edited out
stayed in her memory), and one that added her mention was answered a second time. An
edit that only took an attachment away left its note, filename and all, in her memory.
And `/atri-admin` delivered in a DM told the owner she does not take their commands."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest

from atri.config import Settings
from bot.discord.adapter import AtriClient
from bot.lines import lines
from model.protocol import ChatRequest, Reply
from model.service import ChatService
from tests.bot.discord.conftest import CountingEcho, running_client
from tests.bot.discord.fake_discord import (
    ADMIN_ID,
    BOT_ID,
    CHANNEL_ID,
    LISTEN_CHANNEL_ID,
    MEMBER_ID,
    THREAD_ID,
    FakeDiscord,
    is_a_post,
)
from tests.bot.discord.test_channel_mode_explicit_s68 import set_mode
from tests.bot.discord.test_chat import ECHO, MENTION, edited
from tests.bot.discord.test_commands import answer_to
from tests.bot.discord.test_edits_s39 import stored_texts
from tests.bot.discord.test_message_text_s50 import attachment

NUMBER = "我的电话是 13800000000"


class EditsSeen:
    """The real service; `edit_handled` is set once an edit has reached it."""

    def __init__(self, service: ChatService) -> None:
        self.service = service
        self.edit_handled = asyncio.Event()

    async def chat(self, request: ChatRequest) -> Reply:
        reply = await self.service.chat(request)
        if request.edited:
            self.edit_handled.set()
        return reply

    def __getattr__(self, name: str) -> Any:
        return getattr(self.service, name)


def edited_now(message: dict[str, object], **changes: object) -> dict[str, object]:
    """`message` as Discord reports it after an edit just now that changes `changes`."""
    return message | changes | {"edited_timestamp": datetime.now(UTC).isoformat()}


@pytest.mark.parametrize("with_mention", [False, True], ids=["plain", "mention added"])
@pytest.mark.parametrize("where", ["listed channel", "listed channel's thread", "mode all"])
async def test_an_edit_while_she_answers_in_a_channel_she_answers_in_full_is_kept(
    fake_discord: FakeDiscord, discord_settings: Settings, where: str, with_mention: bool
) -> None:
    # Where the member writes, and the channel `[discord] channels` lists for it.
    channel, listed = {
        "listed channel": (LISTEN_CHANNEL_ID, [LISTEN_CHANNEL_ID]),
        "listed channel's thread": (THREAD_ID, [CHANNEL_ID]),
        "mode all": (CHANNEL_ID, []),
    }[where]
    discord_settings.discord.channels = listed
    engine = CountingEcho()
    async with await ChatService.open(discord_settings, engine=engine) as service:
        worker = EditsSeen(service)
        async with running_client(fake_discord, worker, discord_settings):
            if where == "mode all":
                await set_mode(fake_discord, "all")
            engine.gate.clear()
            asked = await fake_discord.send_message(MEMBER_ID, NUMBER, channel_id=channel)
            await asyncio.wait_for(engine.started.wait(), 5)
            update = (
                edited(fake_discord, asked, f"{MENTION} 电话私信你")
                if with_mention
                else edited_now(asked, content="电话私信你")
            )
            await fake_discord.dispatch("MESSAGE_UPDATE", update)
            await asyncio.wait_for(worker.edit_handled.wait(), 5)
            engine.gate.set()
            await fake_discord.wait_for_calls(is_a_post)
            expected = ["电话私信你", ECHO + NUMBER]
            assert await stored_texts(service, expected) == expected
            await asyncio.sleep(0.3)  # a second answer would be posted by now
    posted = [c.body["content"] for c in fake_discord.calls_matching(is_a_post)]
    assert posted == [ECHO + NUMBER]
    assert engine.generations == 1


@pytest.mark.parametrize("in_guild", [True, False], ids=["server", "DM"])
async def test_an_edit_that_only_removes_an_attachment_takes_its_note_away(
    fake_discord: FakeDiscord, client: AtriClient, echo_service: ChatService, in_guild: bool
) -> None:
    text = f"{MENTION} 看这个" if in_guild else "看这个"
    mentions = (BOT_ID,) if in_guild else ()
    passport = [attachment("my_passport_E1234567.jpg")]
    asked = await fake_discord.send_message(
        MEMBER_ID, text, in_guild=in_guild, attachments=passport, mentions=mentions
    )
    await fake_discord.wait_for_calls(is_a_post)
    reply = ECHO + "看这个 （发来了附件：my_passport_E1234567.jpg）"
    before = ["看这个 （发来了附件：my_passport_E1234567.jpg）", reply]
    assert await stored_texts(echo_service, before) == before
    await fake_discord.dispatch("MESSAGE_UPDATE", edited_now(asked, attachments=[]))
    after = ["看这个", reply]
    assert await stored_texts(echo_service, after) == after


async def test_an_admin_command_in_a_dm_says_it_runs_in_a_server(
    fake_discord: FakeDiscord, client: AtriClient, discord_settings: Settings
) -> None:
    """Not the line a blocked person gets: the owner is not shut out."""
    discord_settings.discord.admin_ids = [ADMIN_ID]
    said = await answer_to(fake_discord, ADMIN_ID, "atri-admin", "reload", in_guild=False)
    assert said.body["data"]["content"] == lines().admin_in_servers_only
    assert lines().admin_in_servers_only != lines().not_listed
