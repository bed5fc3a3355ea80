"""A new version's smoke test greets the configured character, not ATRI.

Every version of an English card named Mio was asked "你好，亚托莉！今天过得怎么样？":
another character's name, in a language its adapter was never trained on."""

from __future__ import annotations

import pytest

from atri.config import Settings
from model.service import ChatService
from tests.model.engines.test_echo import card_settings

MIO = ("Mio", "A boy who fixes fishing boats in a seaside town. He is cheerful.")


async def _smoke_message(settings: Settings) -> str:
    async with await ChatService.open(settings) as service:
        return str(service.reloader.smoke_messages("")[-1]["content"])


async def test_an_english_card_is_greeted_by_its_own_name_in_english(tmp_path) -> None:
    assert await _smoke_message(card_settings(tmp_path, *MIO)) == "Hi, Mio! How has your day been?"


@pytest.mark.parametrize(
    "old_default", ["你好，亚托莉！今天过得怎么样？", "你好，{{char}}！今天过得怎么样？"]
)
async def test_a_config_left_at_an_old_or_new_default_follows_the_card(
    tmp_path, old_default: str
) -> None:
    settings = card_settings(tmp_path, *MIO)
    settings.reload.smoke_prompt = old_default
    assert await _smoke_message(settings) == "Hi, Mio! How has your day been?"


async def test_atris_chinese_card_keeps_her_greeting(echo_settings: Settings) -> None:
    assert await _smoke_message(echo_settings) == "你好，亚托莉！今天过得怎么样？"


@pytest.mark.parametrize(
    ("written", "asked"),
    [("Yo {{char}}, ready?", "Yo Mio, ready?"), ("今天天气不错。", "今天天气不错。")],
)
async def test_a_prompt_the_user_wrote_is_kept(tmp_path, written: str, asked: str) -> None:
    settings = card_settings(tmp_path, *MIO)
    settings.reload.smoke_prompt = written
    assert await _smoke_message(settings) == asked
