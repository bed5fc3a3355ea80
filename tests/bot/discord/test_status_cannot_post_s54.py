"""Session 54: `/atri status` says why she is silent. Timed out, or denied Send Messages
where it is asked, it says so to whoever asks (the answer is the interaction's, which
goes out where she may not post); to an admin it names the server's other channels
where someone spoke to her while she could not post, checked again when asked. Through
the real discord.py client and the fake Discord."""

from __future__ import annotations

import asyncio
import itertools
from datetime import datetime

from atri.config import Settings
from bot.lines import lines
from model.service import ChatService
from tests.bot.discord.conftest import running_client
from tests.bot.discord.fake_discord import (
    ADMIN_ID,
    CHANNEL_ID,
    LISTEN_CHANNEL_ID,
    MEMBER_ID,
    SEND_MESSAGES,
    SEND_MESSAGES_IN_THREADS,
    THREAD_ID,
    FakeDiscord,
    is_a_post,
    text_channel_payload,
)
from tests.bot.discord.test_cannot_post_s53 import in_a_while
from tests.bot.discord.test_chat import say
from tests.bot.discord.test_commands import answer_to


async def status_of(fake: FakeDiscord, user: int) -> list[str]:
    """The lines of `/atri status` as `user` is answered in CHANNEL_ID."""
    call = await answer_to(fake, user, "atri", "status")
    return str(call.body["data"]["content"]).splitlines()


def elsewhere(status: list[str]) -> list[str]:
    """The places an admin is told of, one a line after their heading."""
    heading = status.index(lines().cannot_post_elsewhere)
    return list(itertools.takewhile(lambda line: " — " in line, status[heading + 1 :]))


def here_lines(status: list[str]) -> list[str]:
    """The lines saying she cannot post where it was asked."""
    return [line for line in status if line.startswith(lines().cannot_post_here.partition("{")[0])]


async def test_timed_out_whoever_asks_is_told_until_when(
    fake_discord: FakeDiscord, echo_service: ChatService, discord_settings: Settings
) -> None:
    fake_discord.bot_timed_out_until = in_a_while()
    ends = datetime.fromisoformat(fake_discord.bot_timed_out_until)
    said = lines()
    told = said.cannot_post_here.format(
        reason=said.blocked_timed_out.format(ends=f"<t:{int(ends.timestamp())}:f>")
    )
    async with running_client(fake_discord, echo_service, discord_settings):
        await say(fake_discord, MEMBER_ID, "在吗", channel_id=LISTEN_CHANNEL_ID)
        member = await status_of(fake_discord, MEMBER_ID)
        admin = await status_of(fake_discord, ADMIN_ID)
    assert told in member and told in admin
    # The whole server is silent: no list of channels besides.
    assert said.cannot_post_elsewhere not in admin
    assert fake_discord.calls_matching(is_a_post) == []


async def test_an_admin_is_told_of_the_channels_spoken_to_her_in_vain(
    fake_discord: FakeDiscord, echo_service: ChatService, discord_settings: Settings
) -> None:
    fake_discord.denied_to_bot[LISTEN_CHANNEL_ID] = SEND_MESSAGES
    fake_discord.denied_to_bot[CHANNEL_ID] = SEND_MESSAGES_IN_THREADS
    said = lines()
    async with running_client(fake_discord, echo_service, discord_settings):
        first = await status_of(fake_discord, ADMIN_ID)
        await say(fake_discord, MEMBER_ID, "这里呢", channel_id=LISTEN_CHANNEL_ID)
        await say(fake_discord, MEMBER_ID, "线程里", channel_id=THREAD_ID)
        await asyncio.sleep(0.2)  # both handled: neither answered
        admin = await status_of(fake_discord, ADMIN_ID)
        member = await status_of(fake_discord, MEMBER_ID)
        # Send Messages given back in the channel: it is no longer named.
        await fake_discord.dispatch(
            "CHANNEL_UPDATE", text_channel_payload(LISTEN_CHANNEL_ID, "atri-chat", 1)
        )
        await asyncio.sleep(0.1)
        later = await status_of(fake_discord, ADMIN_ID)
    # Nothing said to her yet: nothing known (a channel she may only read is no news).
    assert said.cannot_post_elsewhere not in first
    assert elsewhere(admin) == [
        f"<#{THREAD_ID}> — {said.blocked_no_send_in_threads}",
        f"<#{LISTEN_CHANNEL_ID}> — {said.blocked_no_send}",
    ]
    # She can post in CHANNEL_ID itself: no line about here.
    assert here_lines(admin) == []
    assert said.cannot_post_elsewhere not in member
    assert not any(str(LISTEN_CHANNEL_ID) in line for line in member)
    assert elsewhere(later) == [f"<#{THREAD_ID}> — {said.blocked_no_send_in_threads}"]
    assert fake_discord.calls_matching(is_a_post) == []


async def test_denied_send_messages_where_asked_whoever_asks_is_told(
    fake_discord: FakeDiscord, echo_service: ChatService, discord_settings: Settings
) -> None:
    fake_discord.denied_to_bot[CHANNEL_ID] = SEND_MESSAGES
    said = lines()
    told = said.cannot_post_here.format(reason=said.blocked_no_send)
    async with running_client(fake_discord, echo_service, discord_settings):
        await say(fake_discord, MEMBER_ID, "在吗")
        await asyncio.sleep(0.1)
        member = await status_of(fake_discord, MEMBER_ID)
        admin = await status_of(fake_discord, ADMIN_ID)
    assert told in member and told in admin
    # Where it is asked is said once, not again among the other channels.
    assert said.cannot_post_elsewhere not in admin
