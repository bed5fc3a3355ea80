"""The platform-neutral command layer against the real in-process worker."""

from __future__ import annotations

import logging

import pytest

from atri.config import Settings
from bot import commands
from bot.commands import Actor
from bot.lines import lines
from model.protocol import ChatRequest
from model.service import ChatService


def say(user: str, text: str, channel: str = "c1") -> ChatRequest:
    return ChatRequest(platform="p", user_id=user, text=text, channel_id=channel, guild_id="g")


def member(user: str = "m", channel: str = "c1") -> Actor:
    return Actor("p", user, is_admin=False, channel_id=channel, guild_id="g")


def admin(channel: str = "c1") -> Actor:
    return Actor("p", "boss", is_admin=True, channel_id=channel, guild_id="g")


async def live(service: ChatService, user: str, channel: str = "c1") -> list[str]:
    scope = service.scope_for("p", user, channel, "g")
    return [m.content for m in await service.memory.history(scope)]


async def test_member_resets_only_themselves(echo_settings: Settings) -> None:
    async with await ChatService.open(echo_settings) as service:
        await service.chat(say("m", "mine"))
        await service.chat(say("other", "theirs"))
        result = await commands.reset_self(service, member())
        assert result.ok and "2" in result.text
        assert await live(service, "m") == []
        assert len(await live(service, "other")) == 2


async def test_reset_of_another_user_needs_admin(
    echo_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    async with await ChatService.open(echo_settings) as service:
        await service.chat(say("victim", "keep me"))
        with caplog.at_level(logging.WARNING, logger="bot.commands"):
            refused = await commands.reset_user(service, member(), "victim")
        assert refused.refused and not refused.ok
        assert "refused reset of user victim by p user m" in caplog.text
        assert len(await live(service, "victim")) == 2
        # Under `[memory] scope = "user"` a server's admin cannot reach it (their DMs
        # and other servers share it: tests/bot/test_admin_qa38.py); the owner can.
        kept = await commands.reset_user(service, admin(), "victim")
        assert not kept.ok and kept.text == lines().personal_user_reset
        assert len(await live(service, "victim")) == 2
        owner = Actor("p", "boss", is_admin=True, channel_id="c1", guild_id="g", is_owner=True)
        done = await commands.reset_user(service, owner, "victim")
        assert done.ok
        assert await live(service, "victim") == []


@pytest.mark.parametrize("scope", ["user_in_channel", "channel"])
async def test_channel_reset_is_admin_only_and_stays_in_the_channel(
    echo_settings: Settings, scope: str
) -> None:
    echo_settings.memory.scope = scope  # type: ignore[assignment]
    async with await ChatService.open(echo_settings) as service:
        await service.chat(say("a", "here"))
        await service.chat(say("b", "here too"))
        await service.chat(say("a", "elsewhere", channel="c2"))
        assert (await commands.reset_channel(service, member())).refused
        assert (await commands.reset_channel(service, admin())).ok
        assert await live(service, "a") == [] and await live(service, "b") == []
        assert len(await live(service, "a", channel="c2")) == 2


async def test_shared_channel_conversation_is_not_reset_by_a_member(
    echo_settings: Settings,
) -> None:
    echo_settings.memory.scope = "channel"
    async with await ChatService.open(echo_settings) as service:
        await service.chat(say("a", "shared"))
        result = await commands.reset_self(service, member("a"))
        assert result.refused
        assert len(await live(service, "a")) == 2
        # Nor by an admin's own reset (the reset keyword said alone to show someone how
        # it works): the whole channel's is reset by its own command, which she names.
        kept = await commands.reset_self(service, admin())
        assert not kept.ok and "/atri reset group" in kept.text
        assert len(await live(service, "a")) == 2
        assert (await commands.reset_channel(service, admin())).ok
        assert await live(service, "a") == []


async def test_status_shows_admins_more(echo_service: ChatService) -> None:
    plain = await commands.status(echo_service, member())
    full = await commands.status(echo_service, admin())
    assert "排队中：0" in plain.text and "引擎" not in plain.text
    assert "引擎：echo" in full.text


async def test_reload_and_rollback_need_the_bot_s_owner(echo_service: ChatService) -> None:
    """Not a server's or group's own admin: the adapter version is everyone's."""
    for command in (commands.reload, commands.rollback):
        assert (await command(echo_service, member())).refused
        refused = await command(echo_service, admin())
        assert refused.refused and "只有机器人的主人" in refused.text  # not "only admins"
        owner = Actor("p", "boss", is_admin=True, channel_id="c1", guild_id="g", is_owner=True)
        assert not (await command(echo_service, owner)).refused


async def test_memory_shows_the_asker_their_summary_and_recent_turns(
    echo_service: ChatService,
) -> None:
    # The summary is written by hand below: one of the echo engine's own, written in the
    # background meanwhile and ending later, would be the one shown (it failed now and
    # then). Summaries stay on (the view shows them), their writer stops.
    assert echo_service.summarizer is not None
    await echo_service.summarizer.stop()
    assert (await commands.remembered(echo_service, member())).text == lines().nothing_remembered
    for i in range(12):
        await echo_service.chat(say("m", f"message {i} " + "x" * 300))
    await echo_service.chat(say("other", "the other member's secret"))
    scope = echo_service.scope_for("p", "m", "c1", "g")
    folded = (await echo_service.memory.all_messages(scope))[3]
    await echo_service.memory.add_summary(scope, "- m likes the sea " + "y" * 2000, folded.id)
    text = (await commands.remembered(echo_service, member())).text
    assert "- m likes the sea" in text and "message 11" in text
    assert "message 1 " not in text  # folded into the summary
    assert "secret" not in text  # nobody else's conversation
    assert len(text) <= 2000  # one Discord message


async def test_a_channel_reset_outside_a_channel_says_so(echo_settings: Settings) -> None:
    # A Discord admin (`admin_ids`) sending /atri-admin reset-channel in a DM.
    async with await ChatService.open(echo_settings) as service:
        await service.chat(ChatRequest(platform="p", user_id="boss", text="dm"))
        result = await commands.reset_channel(service, admin(channel=""))
        assert not result.ok and result.text == lines().not_a_channel
        history = await service.memory.history(service.scope_for("p", "boss"))
        assert len(history) == 2


async def test_an_admin_reset_of_one_member_of_a_shared_conversation_says_nothing_was_reset(
    echo_settings: Settings,
) -> None:
    echo_settings.memory.scope = "channel"
    async with await ChatService.open(echo_settings) as service:
        await service.chat(say("victim", "shared"))
        result = await commands.reset_user(service, admin(), "victim")
        # It used to say "reset that member's conversation (0 messages)": done, it read.
        assert not result.ok and result.text == lines().shared_user_reset
        assert len(await live(service, "victim")) == 2


async def test_memory_of_a_shared_conversation_names_the_other_members(
    echo_settings: Settings,
) -> None:
    # Under `[memory] scope = "channel"` every member's turn read "you".
    echo_settings.memory.scope = "channel"
    async with await ChatService.open(echo_settings) as service:
        await service.chat(say("m", "mine").model_copy(update={"display_name": "Me"}))
        await service.chat(say("other", "theirs").model_copy(update={"display_name": "Bob"}))
        text = (await commands.remembered(service, member())).text
    you = lines().you
    assert f"{you}：mine" in text and "Bob：theirs" in text
    assert f"{you}：theirs" not in text
