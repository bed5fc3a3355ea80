"""`/atri forget` through the real client and the fake gateway: without `confirm` it
says what it deletes and how to go ahead; with it, the member's words are deleted. In a
DM under `[memory] scope = "channel"`, memory and reset name the channel's shared
conversation their words are in."""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest

from atri.config import Settings
from bot.discord.adapter import AtriClient
from bot.lines import lines
from model.service import ChatService
from tests.bot.discord.fake_discord import ADMIN_ID, MEMBER_ID, Call, FakeDiscord
from tests.bot.discord.test_commands import answer_to, chat, live_messages

SECRET = "my phone is 5550100"


async def forget(fake: FakeDiscord, monkeypatch: pytest.MonkeyPatch, confirm: bool | None) -> Call:
    """`/atri forget`, with `confirm:` as Discord sends a boolean option when given."""
    if confirm is None:
        return await answer_to(fake, MEMBER_ID, "atri", "forget")
    with monkeypatch.context() as patched:
        sent = fake.dispatch

        async def with_boolean(event: str, data: dict[str, Any]) -> None:
            for option in data["data"]["options"][0]["options"]:
                option.update(type=5, value=confirm)
            await sent(event, data)

        patched.setattr(fake, "dispatch", with_boolean)
        return await answer_to(fake, MEMBER_ID, "atri", "forget", string_options={"confirm": ""})


def stored(service: ChatService) -> list[str]:
    with sqlite3.connect(service.memory.path) as db:
        return [row[0] for row in db.execute("SELECT content FROM messages")]


async def test_forget_asks_first_then_deletes_the_members_words(
    fake_discord: FakeDiscord,
    client: AtriClient,
    echo_service: ChatService,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await chat(fake_discord, MEMBER_ID, SECRET)
    await chat(fake_discord, ADMIN_ID, "你好")
    for confirm in (None, False):
        asked = await forget(fake_discord, monkeypatch, confirm)
        how = "/atri forget confirm:True"
        assert asked.body["data"]["content"] == lines().forget_ask.format(place="Discord", how=how)
        assert await live_messages(echo_service, MEMBER_ID) == 2
    done = await forget(fake_discord, monkeypatch, True)
    said = lines().forget_done.format(place="Discord", count=2)
    assert done.body["data"]["content"] == said
    assert not any(SECRET in text for text in stored(echo_service))
    assert await live_messages(echo_service, ADMIN_ID) == 2


async def test_in_a_dm_memory_and_reset_name_the_channels_shared_conversation(
    fake_discord: FakeDiscord,
    client: AtriClient,
    echo_service: ChatService,
    discord_settings: Settings,
) -> None:
    discord_settings.memory.scope = "channel"
    await chat(fake_discord, MEMBER_ID, SECRET)
    memory = await answer_to(fake_discord, MEMBER_ID, "atri", "memory", in_guild=False)
    place = lines().place_channel
    assert memory.body["data"]["content"] == lines().shared_only_remembered.format(place=place)
    reset = await answer_to(fake_discord, MEMBER_ID, "atri", "reset", in_guild=False)
    assert reset.body["data"]["content"] == lines().shared_only_reset.format(place=place)
    assert sum(SECRET in text for text in stored(echo_service)) == 2  # still live there
