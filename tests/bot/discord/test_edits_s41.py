"""A message update that is no fresh edit (a pin, an edit long ago) of a message that
mentions her, after she has forgotten it (a restart, the cache), is not answered
again (the real discord.py client against the fake Discord)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from atri.config import Secrets, Settings
from bot.discord.adapter import AtriClient
from bot.relay import HttpWorker
from model.server.app import bind_socket, create_app, serving
from model.service import ChatService
from tests.bot.discord.conftest import running_client
from tests.bot.discord.fake_discord import BOT_ID, CHANNEL_ID, MEMBER_ID, FakeDiscord, is_message_to
from tests.bot.discord.test_chat import ECHO, MENTION, edited, say
from tests.bot.discord.test_edits_qa40 import EditsFirst
from tests.bot.discord.test_room import live_lines
from tests.model.server.conftest import ADMIN_TOKEN


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


async def test_an_edit_that_overtakes_its_message_over_the_relay_is_kept(
    fake_discord: FakeDiscord, echo_service: ChatService, discord_settings: Settings
) -> None:
    """Over the relay too (its own HTTP request each): the worker's /chat hands the edit
    to the same service, which keeps it until its line arrives."""
    discord_settings.discord.room_context = True
    secrets = Secrets.from_env({"ATRI_ADMIN_TOKEN": ADMIN_TOKEN})
    async with serving(create_app(echo_service, secrets), bind_socket("127.0.0.1", 0)) as url:
        relay = discord_settings.worker.model_copy(update={"url": url})
        async with HttpWorker(relay, secrets) as remote:
            worker = EditsFirst(remote)  # type: ignore[arg-type]
            async with running_client(fake_discord, worker, discord_settings):  # type: ignore[arg-type]
                sent = await fake_discord.send_message(MEMBER_ID, "我的电话是 13800000000")
                await asyncio.wait_for(worker.heard_on_the_way.wait(), 5)
                edit = {"content": "电话发你私信了", "edited_timestamp": stamp(timedelta())}
                await fake_discord.dispatch("MESSAGE_UPDATE", sent | edit)
                assert await live_lines(echo_service, ["电话发你私信了"]) == ["电话发你私信了"]


async def test_where_she_may_not_read_the_history_she_answers_without_quoting(
    fake_discord: FakeDiscord, client: AtriClient, echo_service: ChatService
) -> None:
    """A channel whose overwrites take Read Message History from her: Discord refuses
    every reply that quotes its message (code 160002), and she said nothing there at
    all, only a warning in the log. Now the answer is posted without the quote."""
    fake_discord.no_history_channels.add(CHANNEL_ID)
    await say(fake_discord, MEMBER_ID, "在吗")
    (reply,) = await fake_discord.wait_for_calls(
        lambda c: is_message_to(CHANNEL_ID)(c) and "message_reference" not in c.body
    )
    assert reply.body["content"] == ECHO + "在吗"
    stored = await echo_service.memory.all_messages(f"discord:user:{MEMBER_ID}")
    assert [m.content for m in stored] == ["在吗", ECHO + "在吗"]
