"""Session 56: a thread discord.py forgot (archived) was asked of Discord for every message
in it, one request each, a busy old thread running into Discord's rate limit. Now once
per thread, kept (a bounded number of threads) until the gateway says it changed: locked,
reopened, deleted, its channel deleted, or resent (THREAD_LIST_SYNC)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import pytest

from atri.config import Settings
from model.service import ChatService
from tests.bot.discord.conftest import running_client
from tests.bot.discord.fake_discord import (
    ADMIN_ID,
    CHANNEL_ID,
    GUILD_ID,
    LISTEN_CHANNEL_ID,
    MEMBER_ID,
    SEND_MESSAGES_IN_THREADS,
    THREAD_ID,
    Call,
    FakeDiscord,
    is_a_post,
    is_channel_lookup,
    is_message_to,
)
from tests.bot.discord.test_cannot_post_s53 import ADAPTER_LOG, adapter_lines
from tests.bot.discord.test_chat import ECHO, say


def is_lookup_of(channel_id: int) -> Callable[[Call], bool]:
    return lambda c: is_channel_lookup(c) and c.path == f"/channels/{channel_id}"


async def test_messages_in_a_forgotten_thread_ask_discord_once(
    fake_discord: FakeDiscord, discord_settings: Settings, service: ChatService
) -> None:
    async with running_client(fake_discord, service, discord_settings):
        await fake_discord.update_thread(THREAD_ID, archived=True)
        # Two at once: the second waits for the first one's request.
        await say(fake_discord, MEMBER_ID, "一", channel_id=THREAD_ID)
        await say(fake_discord, ADMIN_ID, "二", channel_id=THREAD_ID)
        await fake_discord.wait_for_calls(is_message_to(THREAD_ID), count=2)
        await say(fake_discord, MEMBER_ID, "三", channel_id=THREAD_ID)
        replies = await fake_discord.wait_for_calls(is_message_to(THREAD_ID), count=3)
    assert sorted(r.body["content"] for r in replies) == [ECHO + t for t in ("一", "三", "二")]
    assert len(fake_discord.calls_matching(is_lookup_of(THREAD_ID))) == 1


async def test_a_thread_locked_since_it_was_asked_is_seen_locked(
    fake_discord: FakeDiscord,
    discord_settings: Settings,
    service: ChatService,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger=ADAPTER_LOG)
    async with running_client(fake_discord, service, discord_settings):
        await fake_discord.update_thread(THREAD_ID, archived=True)
        await say(fake_discord, MEMBER_ID, "一", channel_id=THREAD_ID)
        await fake_discord.wait_for_calls(is_message_to(THREAD_ID))
        await fake_discord.update_thread(THREAD_ID, archived=True, locked=True)
        await say(fake_discord, MEMBER_ID, "二", channel_id=THREAD_ID)
        await say(fake_discord, MEMBER_ID, "三", channel_id=THREAD_ID)
        await say(fake_discord, MEMBER_ID, "对照", channel_id=CHANNEL_ID)
        await fake_discord.wait_for_calls(is_message_to(CHANNEL_ID))
        await asyncio.sleep(0.1)
        # Not one post tried in the locked thread (Discord would refuse it).
        assert len(fake_discord.calls_matching(is_message_to(THREAD_ID))) == 1
        # Asked again after the update, then kept locked.
        assert len(fake_discord.calls_matching(is_lookup_of(THREAD_ID))) == 2
        (told,) = adapter_lines(caplog, logging.INFO)
        assert f"channel {THREAD_ID}" in told and "the thread is locked" in told
        await fake_discord.update_thread(THREAD_ID, archived=True, locked=False)
        await say(fake_discord, MEMBER_ID, "四", channel_id=THREAD_ID)
        replies = await fake_discord.wait_for_calls(is_message_to(THREAD_ID), count=2)
    assert replies[1].body["content"] == ECHO + "四"
    assert len(fake_discord.calls_matching(is_lookup_of(THREAD_ID))) == 3


async def test_a_thread_changed_while_discord_answers_is_not_kept(
    fake_discord: FakeDiscord, discord_settings: Settings, service: ChatService
) -> None:
    """The answer on its way says what the thread was when asked: not kept past a
    THREAD_UPDATE that came meanwhile."""
    fake_discord.channel_lookup_seconds = 0.3
    async with running_client(fake_discord, service, discord_settings):
        await fake_discord.update_thread(THREAD_ID, archived=True)
        await say(fake_discord, MEMBER_ID, "一", channel_id=THREAD_ID)
        await fake_discord.wait_for_calls(is_lookup_of(THREAD_ID))
        await fake_discord.update_thread(THREAD_ID, archived=True, locked=True)
        # Sent before the lock, answered as the thread was then (and refused).
        await fake_discord.wait_for_calls(is_message_to(THREAD_ID))
        await say(fake_discord, MEMBER_ID, "二", channel_id=THREAD_ID)
        await fake_discord.wait_for_calls(is_lookup_of(THREAD_ID), count=2)
        await asyncio.sleep(0.5)
    assert len(fake_discord.calls_matching(is_message_to(THREAD_ID))) == 1


async def test_threads_kept_are_bounded_the_one_unused_longest_forgotten(
    fake_discord: FakeDiscord, discord_settings: Settings, service: ChatService
) -> None:
    async with running_client(fake_discord, service, discord_settings) as client:
        client.limits.threads.kept = 2
        # Threads discord.py never heard of: their first message comes first.
        a, b, c = [
            await fake_discord.create_thread(CHANNEL_ID, f"旧帖{i}", announce=False)
            for i in range(3)
        ]
        # `a` used again before `c` comes: `b` is the one forgotten, and asked again.
        for count, thread_id in enumerate([a, b, a, c, a, b], start=1):
            await say(fake_discord, MEMBER_ID, f"第{count}条", channel_id=thread_id)
            await fake_discord.wait_for_calls(is_a_post, count=count)
        assert len(client.limits.threads) == 2
    asked = [len(fake_discord.calls_matching(is_lookup_of(t))) for t in (a, b, c)]
    assert asked == [1, 2, 1]


def thread_delete() -> tuple[str, dict[str, Any]]:
    data = {"id": str(THREAD_ID), "guild_id": str(GUILD_ID), "parent_id": str(CHANNEL_ID)}
    return "THREAD_DELETE", data | {"type": 11}


def channel_delete(fake: FakeDiscord, channel_id: int) -> tuple[str, dict[str, Any]]:
    return "CHANNEL_DELETE", fake.channel_payload(channel_id)


def thread_list_sync() -> tuple[str, dict[str, Any]]:
    data = {"guild_id": str(GUILD_ID), "channel_ids": [str(CHANNEL_ID)], "threads": []}
    return "THREAD_LIST_SYNC", data | {"members": []}


@pytest.mark.parametrize(
    ("event", "kept"),
    [("thread_delete", 0), ("parent_delete", 0), ("list_sync", 0), ("other_delete", 1)],
)
async def test_gateway_events_that_change_a_thread_forget_it(
    fake_discord: FakeDiscord,
    discord_settings: Settings,
    service: ChatService,
    event: str,
    kept: int,
) -> None:
    events = {
        "thread_delete": thread_delete(),
        "parent_delete": channel_delete(fake_discord, CHANNEL_ID),
        "list_sync": thread_list_sync(),
        "other_delete": channel_delete(fake_discord, LISTEN_CHANNEL_ID),
    }
    async with running_client(fake_discord, service, discord_settings) as client:
        await fake_discord.update_thread(THREAD_ID, archived=True)
        await say(fake_discord, MEMBER_ID, "一", channel_id=THREAD_ID)
        await fake_discord.wait_for_calls(is_message_to(THREAD_ID))
        assert len(client.limits.threads) == 1
        await fake_discord.dispatch(*events[event])
        await asyncio.sleep(0.1)
        assert len(client.limits.threads) == kept


async def test_a_thread_kept_from_before_a_new_session_is_asked_again(
    fake_discord: FakeDiscord, discord_settings: Settings, service: ChatService
) -> None:
    """Its updates while she was away are not replayed in a new gateway session."""

    async def at_once(shard_id: int | None, *, initial: bool = False) -> None:
        """discord.py waits 5 s before identifying again (Discord's identify limit)."""

    async with running_client(fake_discord, service, discord_settings) as client:
        client.before_identify_hook = at_once  # type: ignore[method-assign]
        await fake_discord.update_thread(THREAD_ID, archived=True)
        await say(fake_discord, MEMBER_ID, "一", channel_id=THREAD_ID)
        await fake_discord.wait_for_calls(is_message_to(THREAD_ID))
        before = client.get_guild(GUILD_ID)
        fake_discord.threads[THREAD_ID]["thread_metadata"] |= {"archived": True, "locked": True}
        await fake_discord.new_session()
        # A new Guild object (equal to the old one: discord.py compares ids).
        while client.get_guild(GUILD_ID) is before or client.get_guild(GUILD_ID) is None:
            await asyncio.sleep(0.01)
        await say(fake_discord, MEMBER_ID, "二", channel_id=THREAD_ID)
        await fake_discord.wait_for_calls(is_lookup_of(THREAD_ID), count=2)
        await asyncio.sleep(0.1)
    assert len(fake_discord.calls_matching(is_message_to(THREAD_ID))) == 1


async def test_a_kept_thread_reads_her_permissions_from_its_channel_as_they_are_now(
    fake_discord: FakeDiscord, discord_settings: Settings, service: ChatService
) -> None:
    """Send Messages in Threads taken away on the channel after the thread was asked:
    the thread is not asked again, and still she does not try to post there."""
    async with running_client(fake_discord, service, discord_settings):
        await fake_discord.update_thread(THREAD_ID, archived=True)
        await say(fake_discord, MEMBER_ID, "一", channel_id=THREAD_ID)
        await fake_discord.wait_for_calls(is_message_to(THREAD_ID))
        fake_discord.denied_to_bot[CHANNEL_ID] = SEND_MESSAGES_IN_THREADS
        await fake_discord.dispatch("CHANNEL_UPDATE", fake_discord.channel_payload(CHANNEL_ID))
        await say(fake_discord, MEMBER_ID, "二", channel_id=THREAD_ID)
        await say(fake_discord, MEMBER_ID, "对照", channel_id=LISTEN_CHANNEL_ID)
        await fake_discord.wait_for_calls(is_message_to(LISTEN_CHANNEL_ID))
        await asyncio.sleep(0.1)
    assert len(fake_discord.calls_matching(is_message_to(THREAD_ID))) == 1
    assert len(fake_discord.calls_matching(is_lookup_of(THREAD_ID))) == 1
