"""`[bot] command_name = "eileen"`: the slash commands synced with Discord are `/eileen`
and `/eileen-admin`, and they run."""

from __future__ import annotations

import pytest

from atri.config import Settings
from bot.discord.adapter import AtriClient
from bot.lines import lines
from tests.bot.discord.fake_discord import MEMBER_ID, FakeDiscord, is_command_sync
from tests.bot.discord.test_installs_s50 import answer


@pytest.fixture
def discord_settings(echo_settings: Settings) -> Settings:
    echo_settings.bot.command_name = "eileen"
    return echo_settings


async def test_the_groups_synced_are_named_after_the_setting(
    fake_discord: FakeDiscord, client: AtriClient
) -> None:
    (sync,) = fake_discord.calls_matching(is_command_sync)
    assert {command["name"] for command in sync.body} == {"eileen", "eileen-admin"}


async def test_eileen_reset_runs(fake_discord: FakeDiscord, client: AtriClient) -> None:
    said = await answer(fake_discord, MEMBER_ID, "eileen", "reset")
    assert said == lines().reset_done.format(count=0)
