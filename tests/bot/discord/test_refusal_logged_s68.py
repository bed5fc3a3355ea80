"""A command the lists refuse, or one run where she takes no commands, says why in the
log: the line ended in "not run: " with nothing after it."""

from __future__ import annotations

import logging

import pytest

from atri.config import Settings
from bot.discord.adapter import AtriClient
from bot.lines import lines
from tests.bot.discord.fake_discord import CHANNEL_ID, MEMBER_ID, FakeDiscord
from tests.bot.discord.test_commands import answer_to


async def test_the_log_says_why_a_command_was_not_run(
    fake_discord: FakeDiscord,
    client: AtriClient,
    discord_settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="bot.discord.commands")
    discord_settings.discord.blocked_users = [MEMBER_ID]
    refused = await answer_to(fake_discord, MEMBER_ID, "atri", "reset")
    assert refused.body["data"]["content"] == lines().not_listed
    listed = [r.getMessage() for r in caplog.records if "not run" in r.getMessage()]
    assert listed and listed[-1].endswith(
        f"allow and block lists leave out user {MEMBER_ID} in channel {CHANNEL_ID}"
    )
    discord_settings.discord.blocked_users = []
    caplog.clear()
    # The admin group in a DM: she takes admin commands in servers only.
    await answer_to(fake_discord, MEMBER_ID, "atri-admin", "reset-channel", in_guild=False)
    said = [r.getMessage() for r in caplog.records if "not run" in r.getMessage()]
    assert said and "where she takes no commands" in said[-1]
