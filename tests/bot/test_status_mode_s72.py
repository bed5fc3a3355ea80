"""Session 72 (a Chinese-speaking Discord server): why she is silent, said in her
language. `/atri status` in a channel or group an admin turned off says so, and which
admin command turns her back on (members there got silence and no word why). And
`/atri-admin reload` with the worker down named it in English inside her Chinese line.
Through the real discord.py client and the fake Discord, with a worker URL nothing
listens at; QQ through the command layer on a real echo worker."""

from __future__ import annotations

import socket

from pydantic import SecretStr

from atri.config import Secrets, Settings
from bot import commands
from bot.commands import Actor
from bot.lines import lines
from bot.relay import HttpWorker
from model.protocol import ChannelSetting
from model.service import ChatService
from tests.bot.discord.conftest import fake_discord, running_client  # noqa: F401
from tests.bot.discord.fake_discord import (
    ADMIN_ID,
    MEMBER_ID,
    OWNER_ID,
    FakeDiscord,
)
from tests.bot.discord.test_commands import answer_to
from tests.bot.discord.test_status_cannot_post_s54 import status_of


def nothing_listens() -> str:
    """A worker URL where nothing listens: a worker down when the bot starts."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


async def test_discord_status_in_a_channel_turned_off_says_so_in_her_language(
    fake_discord: FakeDiscord,  # noqa: F811
    echo_service: ChatService,
    echo_settings: Settings,
) -> None:
    said = lines()
    told = said.turned_off_here.format(how="/atri-admin channel")
    async with running_client(fake_discord, echo_service, echo_settings):
        before = await status_of(fake_discord, MEMBER_ID)
        await answer_to(
            fake_discord, ADMIN_ID, "atri-admin", "channel", string_options={"mode": "off"}
        )
        member = await status_of(fake_discord, MEMBER_ID)
        admin = await status_of(fake_discord, ADMIN_ID)
    assert told not in before
    assert told in member and told in admin
    assert told.startswith("管理员在这里关闭了亚托莉")


async def test_qq_status_in_a_group_turned_off_names_the_qq_command(
    echo_service: ChatService,
) -> None:
    await echo_service.set_channel_mode(ChannelSetting(platform="qq", channel_id="300", mode="off"))
    told = lines().turned_off_here.format(how="/atri mode on")
    admin = Actor(platform="qq", user_id="1", is_admin=True, channel_id="300")
    elsewhere = Actor(platform="qq", user_id="1", is_admin=True, channel_id="301")
    private = Actor(platform="qq", user_id="1", is_admin=True)
    assert told in (await commands.status(echo_service, admin)).text.splitlines()
    assert told not in (await commands.status(echo_service, elsewhere)).text
    assert told not in (await commands.status(echo_service, private)).text


async def test_reload_with_the_worker_down_is_one_sentence_in_her_language(
    fake_discord: FakeDiscord,  # noqa: F811
    echo_settings: Settings,
) -> None:
    url = nothing_listens()
    away = echo_settings.worker.model_copy(update={"url": url})
    secrets = Secrets(admin_token=SecretStr("admintok"))
    async with (
        HttpWorker(away, secrets) as remote,
        running_client(fake_discord, remote, echo_settings),
    ):
        fake_discord.add_person(OWNER_ID, "owner")
        call = await answer_to(fake_discord, OWNER_ID, "atri-admin", "reload")
    text = str(call.body["data"]["content"])
    assert text == lines().reload_unreachable
    assert "[worker] url" in text and url not in text
    assert "Cannot reach" not in text
