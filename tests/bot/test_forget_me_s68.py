"""A member's reset said "forgot our conversation (13 messages)" while it only archived
it (kept, shown by `atri memory show --archived`, carried by exports), and no bot command
deleted anything. The reset now says it archives; `forget_self` (`/atri forget`) deletes
what is kept of the person, once confirmed. Under `[memory] scope = "channel"`, asked in
private by someone with no conversation of their own, reset and memory said "0
messages" and "nothing yet" while their words stayed live in the group's conversation."""

from __future__ import annotations

import sqlite3

import pytest
from pydantic import SecretStr

from atri.config import Secrets, Settings
from bot import commands
from bot.commands import Actor
from bot.console import FORGET_ASK, RESET_NOTE
from bot.lines import lines
from bot.relay import HttpWorker
from model.protocol import ChatRequest
from model.server.app import bind_socket, create_app, serving
from model.service import ChatService
from tests.bot.test_console_repl import chat_in_console

SECRET = "my phone is 5550100"


def in_group(user: str, text: str, channel: str = "c1") -> ChatRequest:
    return ChatRequest(platform="qq", user_id=user, text=text, channel_id=channel)


def member(user: str, channel: str = "c1") -> Actor:
    return Actor("qq", user, is_admin=False, channel_id=channel)


def in_private(user: str) -> Actor:
    return Actor("qq", user, is_admin=False)


def stored(service: ChatService) -> list[str]:
    """Every message the database file holds, archived ones included."""
    with sqlite3.connect(service.memory.path) as db:
        return [row[0] for row in db.execute("SELECT content FROM messages")]


async def test_a_reset_says_it_archives_and_forget_deletes_once_confirmed(
    echo_settings: Settings,
) -> None:
    async with await ChatService.open(echo_settings) as service:
        await service.chat(in_group("m", SECRET))
        await service.chat(in_group("m", "in private too", channel=""))
        await service.chat(in_group("other", "keep me"))
        reset = await commands.reset_self(service, member("m"))
        assert reset.text == lines().counted(lines().reset_done, count=4)
        assert "/atri forget" in reset.text and "没有删除" in reset.text  # archived, kept
        assert sum(SECRET in text for text in stored(service)) == 2  # hers echoes it

        asked = await commands.forget_self(service, member("m"))
        assert asked.text == lines().forget_ask.format(place="QQ", how="/atri forget confirm")
        assert sum(SECRET in text for text in stored(service)) == 2  # nothing yet

        done = await commands.forget_self(service, member("m"), confirmed=True)
        assert done.ok and done.text == lines().forget_done.format(place="QQ", count=4)
        left = stored(service)
        assert not any(SECRET in text or "in private too" in text for text in left)
        assert sum("keep me" in text for text in left) == 2  # another member's stay


async def test_in_private_her_words_in_a_shared_conversation_are_said_so(
    echo_settings: Settings,
) -> None:
    echo_settings.memory.scope = "channel"
    async with await ChatService.open(echo_settings) as service:
        await service.chat(in_group("4100", SECRET))
        await service.chat(in_group("4200", "keep me"))
        place = lines().place_group
        seen = await commands.remembered(service, in_private("4100"))
        assert seen.text == lines().shared_only_remembered.format(place=place)
        reset = await commands.reset_self(service, in_private("4100"))
        assert not reset.ok and reset.text == lines().shared_only_reset.format(place=place)
        assert "/atri forget" in reset.text
        group = await service.history(member("4100").scope(user_id=""))
        assert len(group) == 4  # the group's conversation goes on, hers in it

        done = await commands.forget_self(service, in_private("4100"), confirmed=True)
        assert done.text == lines().forget_done.format(place="QQ", count=2)
        left = [turn.content for turn in await service.history(member("4100").scope(user_id=""))]
        assert len(left) == 2 and not any(SECRET in text for text in left)
        assert not any(SECRET in text for text in stored(service))


async def test_a_member_in_the_group_is_pointed_to_forget(echo_settings: Settings) -> None:
    echo_settings.memory.scope = "channel"
    async with await ChatService.open(echo_settings) as service:
        await service.chat(in_group("4100", SECRET))
        refused = await commands.reset_self(service, member("4100"))
        assert refused.refused and "/atri forget" in refused.text


async def test_someone_with_nothing_kept_is_told_nothing_yet(echo_service: ChatService) -> None:
    echo_service.settings.memory.scope = "channel"
    seen = await commands.remembered(echo_service, in_private("4100"))
    assert seen.text == lines().nothing_remembered
    reset = await commands.reset_self(echo_service, in_private("4100"))
    assert reset.ok and reset.text == lines().counted(lines().reset_done, count=0)


async def test_the_console_says_its_reset_archives_and_forget_deletes_when_repeated(
    echo_service: ChatService, monkeypatch: pytest.MonkeyPatch
) -> None:
    typed = f"{SECRET}\n/reset\n/forget\nhi\n/forget\n/forget\n/history\n"
    shown = await chat_in_console(echo_service, monkeypatch, typed)
    assert RESET_NOTE in shown
    # A line between the two does not confirm: it is asked again, then deleted.
    assert shown.count(FORGET_ASK) == 2
    assert "Deleted for good: 4 stored messages." in shown  # the archived exchange too
    assert "(no messages yet)" in shown
    assert not any(SECRET in text or text == "hi" for text in stored(echo_service))


async def test_a_worker_over_http_says_so_too(echo_settings: Settings) -> None:
    """`Remembered.shared_conversations` crosses the wire: a separate worker's bots said
    "nothing yet" where an in-process one said where her words are."""
    echo_settings.memory.scope = "channel"
    secrets = Secrets(admin_token=SecretStr("forget-me-token"))
    async with (
        await ChatService.open(echo_settings) as service,
        serving(create_app(service, secrets), bind_socket("127.0.0.1", 0)) as url,
    ):
        await service.chat(in_group("4100", SECRET))
        client = echo_settings.worker.model_copy(update={"url": url})
        async with HttpWorker(client, secrets) as remote:
            seen = await commands.remembered(remote, in_private("4100"))
    assert seen.text == lines().shared_only_remembered.format(place=lines().place_group)
