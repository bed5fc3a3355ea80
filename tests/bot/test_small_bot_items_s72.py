"""Session 72, small bot items from a Chinese QQ group's report: a Discord message over
4,000 characters is said to be cut, as on QQ; QQ's refusal of a reload names groups, not
servers; her name in Traditional characters (亞托莉) calls her in a QQ group."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from nonebot.adapters.onebot.v11.bot import _check_nickname

from atri.config import Secrets, Settings
from bot import commands
from bot.commands import Actor
from bot.limits import MAX_INPUT_CHARS
from bot.lines import lines
from bot.qq.runner import nonebot_options
from model.service import ChatService
from tests.bot.discord.conftest import fake_discord_gateway, running_client
from tests.bot.discord.fake_discord import BOT_ID, CHANNEL_ID, MEMBER_ID, is_message_to
from tests.bot.discord.test_chat import ECHO, MENTION
from tests.bot.qq.events import group_event


async def test_a_discord_message_over_the_limit_is_said_to_be_cut_before_her_answer(
    monkeypatch: pytest.MonkeyPatch, echo_service: ChatService, echo_settings: Settings
) -> None:
    async with (
        fake_discord_gateway(monkeypatch) as fake,
        running_client(fake, echo_service, echo_settings),
    ):
        sent = await fake.send_message(MEMBER_ID, f"{MENTION} {'啊' * 5000}", mentions=(BOT_ID,))
        # The note, then her echo of the 4,000 characters read, in three parts.
        posts = await fake.wait_for_calls(is_message_to(CHANNEL_ID), count=4)
    note, *answer = (post.body for post in posts)
    assert note["content"] == lines().input_cut.format(count=MAX_INPUT_CHARS)
    assert "4000" in note["content"]
    assert str(note["message_reference"]["message_id"]) == sent["id"]
    assert note["allowed_mentions"] == {"parse": [], "replied_user": False}
    assert "".join(part["content"] for part in answer) == ECHO + "啊" * MAX_INPUT_CHARS


async def test_a_discord_message_within_the_limit_gets_no_note(
    monkeypatch: pytest.MonkeyPatch, echo_service: ChatService, echo_settings: Settings
) -> None:
    words = "啊" * (MAX_INPUT_CHARS - 1)  # with the blank after her mention: 4,000 read
    async with (
        fake_discord_gateway(monkeypatch) as fake,
        running_client(fake, echo_service, echo_settings),
    ):
        await fake.send_message(MEMBER_ID, f"{MENTION} {words}", mentions=(BOT_ID,))
        posts = await fake.wait_for_calls(is_message_to(CHANNEL_ID), count=3)
    assert "".join(post.body["content"] for post in posts) == ECHO + words


async def test_a_qq_group_admin_refused_a_reload_is_told_of_groups_not_servers(
    echo_service: ChatService,
) -> None:
    admin = Actor("qq", "4000", is_admin=True, channel_id="100")
    for refused in [
        await commands.reload(echo_service, admin),
        await commands.rollback(echo_service, admin),
    ]:
        assert refused.refused
        assert (
            refused.text == "只有机器人的主人才能换亚托莉的版本哦：所有群和私聊用的是同一个版本。"
        )
    # Discord keeps its servers.
    server_admin = Actor("discord", "4000", is_admin=True, channel_id="100", guild_id="7")
    assert (await commands.reload(echo_service, server_admin)).text == lines().owners_only
    assert "服务器" in lines().owners_only


@pytest.mark.parametrize(
    ("said", "heard"),
    [("亞托莉，早安", "早安"), ("亚托莉，早安", "早安"), ("亞託莉 早安", "早安")],
    ids=["traditional-as-taiwan-writes-it", "simplified", "traditional-as-opencc-writes-it"],
)
def test_her_name_in_traditional_characters_calls_her_in_a_qq_group(said: str, heard: str) -> None:
    """NoneBot's own nickname check, with the names `atri serve` gives it by default."""
    nicknames = nonebot_options(Settings(), Secrets())["nickname"]
    bot = SimpleNamespace(config=SimpleNamespace(nickname=nicknames))
    event = group_event(said)
    _check_nickname(bot, event)  # type: ignore[arg-type]
    assert event.to_me and event.get_plaintext() == heard
