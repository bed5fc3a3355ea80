"""The echo engine names the configured character, in her card's language."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from atri.config import Settings
from model.engines import create_engine
from model.engines.echo import EchoEngine
from model.protocol import ChatRequest
from model.service import ChatService


def card_settings(tmp_path: Path, name: str, description: str) -> Settings:
    card = {"spec": "chara_card_v2", "data": {"name": name, "description": description}}
    (tmp_path / "card.json").write_text(json.dumps(card), encoding="utf-8")
    settings = Settings(root=tmp_path)
    settings.model.engine = "echo"
    settings.memory.path = "atri.sqlite3"
    settings.persona.card = "card.json"
    return settings


@pytest.mark.parametrize(
    ("name", "description", "prefix"),
    [
        ("Yuki", "A girl who lives in the snow.", "Yuki heard: "),
        ("雪", "住在雪山里的女孩。", "雪听到了："),
        ("ユキ", "雪国に住んでいる女の子です。", "ユキに聞こえたよ："),
    ],
)
async def test_another_card_echoes_with_its_own_name_and_language(
    tmp_path: Path, name: str, description: str, prefix: str
) -> None:
    async with await ChatService.open(card_settings(tmp_path, name, description)) as service:
        reply = await service.chat(ChatRequest(platform="console", user_id="u", text="hello"))
    assert reply.text == prefix + "hello"
    assert "亚托莉" not in reply.text


async def test_atris_own_card_keeps_her_chinese_prefix(echo_settings: Settings) -> None:
    engine = await create_engine(echo_settings)
    assert isinstance(engine, EchoEngine)
    assert engine.prefix == EchoEngine.prefix == "亚托莉听到了："
    echo_settings.persona.language = "en"  # her card's English version
    engine = await create_engine(echo_settings)
    assert isinstance(engine, EchoEngine) and engine.prefix == "ATRI heard: "
