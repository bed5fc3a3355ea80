"""Session 68: `/atri-admin channel mode:mention` holds where it is set, and a whole forum
can be set from anywhere in its server, through the real discord.py client and the fake
Discord.

Before, "mention" was stored as no row, the same as never set: a thread set to it
followed its parent's "off" (silent to an @) or "all" (answering everything), and a
channel in `[discord] channels` still answered every message. And the command acted only
on the channel it was run in: in a forum one can only type in a post, so a whole forum
could not be switched."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from atri.config import Settings
from bot.discord.adapter import AtriClient
from bot.lines import lines
from model.service import ChatService
from tests.bot.discord.conftest import running_client
from tests.bot.discord.fake_discord import (
    ADMIN_ID,
    CHANNEL_ID,
    CHANNELS,
    FORUM_ID,
    FORUM_POST_ID,
    LISTEN_CHANNEL_ID,
    MEDIA_ID,
    MEDIA_POST_ID,
    MEMBER_ID,
    THREAD_ID,
    Call,
    FakeDiscord,
    is_a_post,
    is_command_sync,
    is_message_to,
)
from tests.bot.discord.test_chat import ECHO, say
from tests.bot.discord.test_commands import answer_to

# A channel of some other server (not in the fake's one).
ELSEWHERE_ID = 920_000_000_000_000_099


async def set_mode(
    fake: FakeDiscord, mode: str, where: int = CHANNEL_ID, target: int | None = None
) -> Call:
    """`/atri-admin channel mode:<mode>` run by the admin in `where`, naming `target` as
    its `channel:` when given (as Discord sends it: the option, and the channel resolved)."""
    if target is None:
        return await answer_to(
            fake, ADMIN_ID, "atri-admin", "channel", string_options={"mode": mode}, channel_id=where
        )
    dispatch = fake.dispatch

    async def with_channel_option(event: str, data: dict[str, Any]) -> None:
        if event == "INTERACTION_CREATE":
            name, kind = CHANNELS.get(target, ("elsewhere", 0))
            command = data["data"]
            command["options"][0]["options"].append(
                {"type": 7, "name": "channel", "value": str(target)}
            )
            command["resolved"]["channels"] = {
                str(target): {"id": str(target), "type": kind, "name": name, "permissions": "0"}
            }
        await dispatch(event, data)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(fake, "dispatch", with_channel_option)
        return await answer_to(
            fake, ADMIN_ID, "atri-admin", "channel", string_options={"mode": mode}, channel_id=where
        )


async def posts_to(fake: FakeDiscord, channel_id: int) -> list[str]:
    await asyncio.sleep(0.2)  # long enough for an answer that would come
    return [str(c.body["content"]) for c in fake.calls_matching(is_message_to(channel_id))]


async def test_a_thread_set_to_mention_answers_its_mentions_under_a_channel_turned_off(
    fake_discord: FakeDiscord, client: AtriClient, echo_service: ChatService
) -> None:
    """Before: silent even to an @ in the thread, as its channel."""
    await set_mode(fake_discord, "off")
    answer = await set_mode(fake_discord, "mention", where=THREAD_ID)
    assert answer.body["data"]["content"] == lines().mode_done("mention", "discord")
    assert await echo_service.channel_modes("discord") == {
        str(CHANNEL_ID): "off",
        str(THREAD_ID): "mention",
    }
    await say(fake_discord, MEMBER_ID, "线程里在吗", channel_id=THREAD_ID)
    (reply,) = await fake_discord.wait_for_calls(is_message_to(THREAD_ID))
    assert reply.body["content"] == ECHO + "线程里在吗"
    await say(fake_discord, MEMBER_ID, "频道里在吗")
    assert await posts_to(fake_discord, CHANNEL_ID) == []  # the channel itself still off


async def test_a_thread_set_to_mention_answers_only_mentions_under_a_channel_set_to_all(
    fake_discord: FakeDiscord, client: AtriClient
) -> None:
    """Before: she answered every message in the thread, as in its channel."""
    await set_mode(fake_discord, "all")
    await set_mode(fake_discord, "mention", where=THREAD_ID)
    await fake_discord.send_message(MEMBER_ID, "大家好", channel_id=THREAD_ID)
    assert await posts_to(fake_discord, THREAD_ID) == []
    await say(fake_discord, MEMBER_ID, "你好呀", channel_id=THREAD_ID)
    (reply,) = await fake_discord.wait_for_calls(is_message_to(THREAD_ID))
    assert reply.body["content"] == ECHO + "你好呀"
    await fake_discord.send_message(MEMBER_ID, "大家好")
    (reply,) = await fake_discord.wait_for_calls(is_message_to(CHANNEL_ID))  # still all
    assert reply.body["content"] == ECHO + "大家好"


async def test_a_listed_channel_set_to_mention_stops_answering_every_message(
    fake_discord: FakeDiscord, client: AtriClient, discord_settings: Settings
) -> None:
    """`[discord] channels` holds only where no admin set a mode. Before: "mention" set
    there changed nothing."""
    discord_settings.discord.channels = [LISTEN_CHANNEL_ID]
    await fake_discord.send_message(MEMBER_ID, "第一条", channel_id=LISTEN_CHANNEL_ID)
    (reply,) = await fake_discord.wait_for_calls(is_message_to(LISTEN_CHANNEL_ID))
    assert reply.body["content"] == ECHO + "第一条"

    await set_mode(fake_discord, "mention", where=LISTEN_CHANNEL_ID)
    await fake_discord.send_message(MEMBER_ID, "第二条", channel_id=LISTEN_CHANNEL_ID)
    assert await posts_to(fake_discord, LISTEN_CHANNEL_ID) == [ECHO + "第一条"]
    await say(fake_discord, MEMBER_ID, "叫你呢", channel_id=LISTEN_CHANNEL_ID)
    await fake_discord.wait_for_calls(is_message_to(LISTEN_CHANNEL_ID), count=2)

    await set_mode(fake_discord, "all", where=LISTEN_CHANNEL_ID)
    await fake_discord.send_message(MEMBER_ID, "第三条", channel_id=LISTEN_CHANNEL_ID)
    (*_, last) = await fake_discord.wait_for_calls(is_message_to(LISTEN_CHANNEL_ID), count=3)
    assert last.body["content"] == ECHO + "第三条"


@pytest.mark.parametrize(
    ("forum", "post"),
    [(FORUM_ID, FORUM_POST_ID), (MEDIA_ID, MEDIA_POST_ID)],
    ids=["forum", "media"],
)
@pytest.mark.parametrize("where", ["text-channel", "its-post"])
async def test_a_whole_forum_is_set_by_naming_it(
    fake_discord: FakeDiscord,
    client: AtriClient,
    echo_service: ChatService,
    forum: int,
    post: int,
    where: str,
) -> None:
    """Before: the command had no `channel:`, and acted on the post it was run in."""
    run_in = CHANNEL_ID if where == "text-channel" else post
    answer = await set_mode(fake_discord, "off", where=run_in, target=forum)
    # "Here" is said of the channel named, not the one it was run in.
    named = lines().mode_set_for.format(channel=f"<#{forum}>")
    assert answer.body["data"]["content"] == f"{lines().mode_off}\n{named}"
    assert await echo_service.channel_modes("discord") == {str(forum): "off"}
    await say(fake_discord, MEMBER_ID, "在吗", channel_id=post)
    assert await posts_to(fake_discord, post) == []

    await set_mode(fake_discord, "all", where=run_in, target=forum)
    await fake_discord.send_message(MEMBER_ID, "大家好", channel_id=post)
    (reply,) = await fake_discord.wait_for_calls(is_message_to(post))
    assert reply.body["content"] == ECHO + "大家好"


async def test_a_text_channel_named_is_set_and_not_the_one_it_was_run_in(
    fake_discord: FakeDiscord, client: AtriClient, echo_service: ChatService
) -> None:
    await set_mode(fake_discord, "all", where=CHANNEL_ID, target=LISTEN_CHANNEL_ID)
    assert await echo_service.channel_modes("discord") == {str(LISTEN_CHANNEL_ID): "all"}


async def test_naming_a_channel_is_for_admins_of_its_server_only(
    fake_discord: FakeDiscord, client: AtriClient, echo_service: ChatService
) -> None:
    refused = await answer_to(
        fake_discord, MEMBER_ID, "atri-admin", "channel", string_options={"mode": "off"}
    )
    assert refused.body["data"]["content"] == lines().refused
    # A channel of another server (Discord's menu offers none): one line, nothing set.
    elsewhere = await set_mode(fake_discord, "off", target=ELSEWHERE_ID)
    assert elsewhere.body["data"]["content"] == lines().command_not_understood
    assert await echo_service.channel_modes("discord") == {}
    await say(fake_discord, MEMBER_ID, "还在吗")
    (reply,) = await fake_discord.wait_for_calls(is_message_to(CHANNEL_ID))
    assert reply.body["content"] == ECHO + "还在吗"
    assert len(fake_discord.calls_matching(is_a_post)) == 1


async def test_the_channel_option_offers_the_server_s_channels_forums_included(
    fake_discord: FakeDiscord, echo_service: ChatService, discord_settings: Settings
) -> None:
    async with running_client(fake_discord, echo_service, discord_settings):
        pass
    (synced,) = fake_discord.calls_matching(is_command_sync)
    (admin,) = [group for group in synced.body if group["name"] == "atri-admin"]
    (channel,) = [sub for sub in admin["options"] if sub["name"] == "channel"]
    option = {o["name"]: o for o in channel["options"]}["channel"]
    assert option["type"] == 7 and not option.get("required", False)
    # Text, announcement, forum, media, voice and stage: never a category or a thread.
    assert sorted(option["channel_types"]) == [0, 2, 5, 13, 15, 16]
