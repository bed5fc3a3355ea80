"""Session 66: `/atri-admin channel mode:mention` promises only what Discord does.

On Discord she answers an @mention or a reply, not her name (`is_addressed`), yet the
answer said "(@me, my name, or a reply to me)" in all three languages. QQ, where her
name does call her, keeps its line.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from atri.config import Settings
from bot import commands
from bot.commands import Actor
from bot.discord.adapter import AtriClient
from bot.lines import lines, lines_for, use_card
from model.service import ChatService
from tests.bot.discord.conftest import running_client
from tests.bot.discord.fake_discord import (
    ADMIN_ID,
    BOT_ID,
    CHANNEL_ID,
    MEMBER_ID,
    FakeDiscord,
    is_message_to,
)
from tests.bot.discord.test_commands import _sent_here, answer_to
from tests.bot.test_lines import card_settings

# How each language names "my name" in the QQ line, which Discord's must not say.
NAME_WORDS = {"zh": "名字", "en": "name", "ja": "名前"}


async def set_mode(fake: FakeDiscord, mode: str) -> str:
    answer = await answer_to(fake, ADMIN_ID, "atri-admin", "channel", string_options={"mode": mode})
    return str(answer.body["data"]["content"])


async def test_discord_s_mention_mode_line_promises_no_answer_to_her_name(
    fake_discord: FakeDiscord, client: AtriClient
) -> None:
    said = await set_mode(fake_discord, "mention")
    assert said == "好的，在这里叫到亚托莉（@我或回复我）我才回答。"
    # And so it is: her name alone is not answered there, her @mention is.
    await fake_discord.send_message(MEMBER_ID, "亚托莉，在吗？")
    await asyncio.sleep(0.2)
    assert _sent_here(fake_discord) == []
    await fake_discord.send_message(MEMBER_ID, f"<@{BOT_ID}> 在吗？", mentions=(BOT_ID,))
    (reply,) = await fake_discord.wait_for_calls(is_message_to(CHANNEL_ID))
    assert reply.body["content"] == "亚托莉听到了：在吗？"


async def test_an_english_card_s_discord_line_says_the_same(
    fake_discord: FakeDiscord,
    echo_service: ChatService,
    discord_settings: Settings,
    tmp_path: Path,
) -> None:
    use_card(card_settings(tmp_path, "Yuki", "A girl who lives in the snow."))
    async with running_client(fake_discord, echo_service, discord_settings):
        said = await set_mode(fake_discord, "mention")
    assert said == "OK, here Yuki answers only when called (@me or a reply to me)."


@pytest.mark.parametrize("language", ["zh", "en", "ja"])
def test_each_language_has_a_discord_line_without_her_name(language: str) -> None:
    said = lines_for("Yuki", language)
    assert NAME_WORDS[language] not in said.mode_done("mention", "discord")
    assert NAME_WORDS[language] in said.mode_done("mention", "qq")
    assert said.mode_done("off", "discord") == said.mode_off


async def test_qq_keeps_the_line_that_names_her_name(echo_service: ChatService) -> None:
    admin = Actor("qq", "boss", is_admin=True, channel_id=str(CHANNEL_ID), guild_id="g")
    result = await commands.set_channel_mode(echo_service, admin, "mention")
    assert result.text == lines().mode_mention
    assert "叫我的名字" in result.text
