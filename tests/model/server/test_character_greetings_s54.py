"""`GET /character` of a card with no greeting (SillyTavern's `first_mes` left empty, as in
README's Eileen card) lists no greetings: it listed one, the empty string, which a chat
front end reading `greetings` would show as an empty first message. The worker's app on
loopback, with the card read from its file."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx

from atri.config import Secrets, Settings
from model.engines.echo import EchoEngine
from model.server.app import bind_socket, create_app, serving
from model.service import ChatService

EILEEN = "Eileen is a cheerful sailor in a harbour town; she calls Max her captain."


async def character(settings: Settings) -> Any:
    async with (
        await ChatService.open(settings, EchoEngine()) as service,
        serving(create_app(service, Secrets()), bind_socket("127.0.0.1", 0)) as url,
        httpx.AsyncClient(base_url=url) as client,
    ):
        response = await client.get("/character")
        assert response.status_code == 200
        return response.json()


def card(tmp_path: Path, settings: Settings, **fields: Any) -> None:
    data = {"name": "Eileen", "description": EILEEN, **fields}
    path = tmp_path / "eileen.json"
    path.write_text(json.dumps({"spec": "chara_card_v2", "data": data}), encoding="utf-8")
    settings.persona.card = str(path)


def test_a_card_without_a_greeting_lists_none(echo_settings: Settings, tmp_path: Path) -> None:
    card(tmp_path, echo_settings)

    answer = asyncio.run(character(echo_settings))

    assert answer["name"] == "Eileen"
    assert answer["greeting"] == "" and answer["greetings"] == []


def test_a_blank_greeting_is_none_either(echo_settings: Settings, tmp_path: Path) -> None:
    card(tmp_path, echo_settings, first_mes="  ", alternate_greetings=["", " "])

    assert asyncio.run(character(echo_settings))["greetings"] == []


def test_greetings_are_listed_first_mes_first(echo_settings: Settings, tmp_path: Path) -> None:
    card(tmp_path, echo_settings, first_mes="Ahoy, {{user}}!", alternate_greetings=["Morning!"])

    answer = asyncio.run(character(echo_settings))

    assert answer["greetings"] == ["Ahoy, {{user}}!", "Morning!"]
