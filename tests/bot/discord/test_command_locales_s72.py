"""The slash-command menu is localised for each member's own Discord client: zh-CN,
zh-TW and ja names and descriptions for every subcommand and option, English ones for
en-US and en-GB, whatever language she is served in; the registered names stay English.
A sync compares what it would send, localisations included."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import fields
from typing import Any

import pytest

from atri.config import Settings
from bot.discord.adapter import AtriClient
from bot.lines import SLASH_ZH_TW, BotLines, lines_for
from model.protocol import Worker
from tests.bot.discord.conftest import running_client
from tests.bot.discord.fake_discord import FakeDiscord, is_command_sync

# Discord's rule for a command's or option's name (letters of any script, lowercase).
VALID_NAME = re.compile(r"^[-_\w]{1,32}$")
HAN = re.compile(r"[\u4e00-\u9fff]")
LOCALES = ("zh-CN", "zh-TW", "ja", "en-US", "en-GB")
SUBCOMMAND = 1


def named_parts(command: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every subcommand and option under a top-level command."""
    for option in command.get("options", []):
        yield option
        yield from named_parts(option)


def synced(fake: FakeDiscord) -> list[dict[str, Any]]:
    (sync,) = fake.calls_matching(is_command_sync)
    body: list[dict[str, Any]] = sync.body
    return body


async def test_every_subcommand_and_option_has_chinese_names_and_descriptions(
    fake_discord: FakeDiscord, client: AtriClient
) -> None:
    body = synced(fake_discord)
    names = {part["name"] for command in body for part in named_parts(command)}
    # The names interactions arrive with are still the English ones.
    assert {"reset", "forget", "confirm", "reset-user", "user", "rollback"} <= names
    for command in body:
        assert command["description_localizations"]["zh-CN"] == command["description"]
        for part in named_parts(command):
            for locale in LOCALES:
                name = part["name_localizations"][locale]
                assert VALID_NAME.match(name) and name == name.lower(), (part["name"], name)
                assert part["description_localizations"][locale], (part["name"], locale)
            assert HAN.search(part["name_localizations"]["zh-CN"]), part["name"]
            assert part["name_localizations"]["en-US"] == part["name"]
    atri = next(command for command in body if command["name"] == "atri")
    reset = next(part for part in atri["options"] if part["name"] == "reset")
    assert reset["name_localizations"]["zh-CN"] == "重置"
    assert reset["name_localizations"]["zh-TW"] == "重置"
    assert reset["description_localizations"]["zh-TW"] == "讓亚托莉忘掉和你的對話"
    assert reset["description_localizations"]["en-US"] == "Make 亚托莉 forget your conversation"


async def test_siblings_keep_distinct_names_in_every_locale(
    fake_discord: FakeDiscord, client: AtriClient
) -> None:
    def siblings(parent: dict[str, Any]) -> Iterator[list[dict[str, Any]]]:
        options = parent.get("options", [])
        yield options
        for option in options:
            yield from siblings(option)

    for command in synced(fake_discord):
        for group in siblings(command):
            for locale in LOCALES:
                localised = [part["name_localizations"][locale] for part in group]
                assert len(set(localised)) == len(localised), (command["name"], locale)


async def test_an_english_persona_still_gives_chinese_clients_chinese(
    fake_discord: FakeDiscord,
    echo_service: Worker,
    discord_settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("bot.lines._current", lines_for("ATRI", "en"))
    async with running_client(fake_discord, echo_service, discord_settings):
        pass
    admin = next(command for command in synced(fake_discord) if command["name"] == "atri-admin")
    assert admin["description"] == "Manage ATRI's memory and model (admins)"
    assert admin["description_localizations"]["zh-CN"] == "管理ATRI的记忆和模型（管理员）"
    channel = next(part for part in admin["options"] if part["name"] == "channel")
    mode = next(option for option in channel["options"] if option["name"] == "mode")
    assert mode["name_localizations"]["zh-CN"] == "模式"
    off = next(choice for choice in mode["choices"] if choice["value"] == "off")
    assert off["name"] == "Off: quiet here"
    assert off["name_localizations"]["zh-CN"] == "关闭：在这里不说话"
    assert off["name_localizations"]["ja"] == "オフ：ここでは話さない"


def unlocalised_digest(client: AtriClient, targets: list[int | None]) -> str:
    """The digest a sync recorded before the menu was localised (names and descriptions
    only), as an upgraded install finds it."""
    payload = {
        "targets": targets,
        "commands": [command.to_dict(client.tree) for command in client.tree.get_commands()],
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


async def test_an_upgrade_syncs_once_and_a_restart_does_not(
    fake_discord: FakeDiscord, echo_service: Worker, discord_settings: Settings
) -> None:
    state = discord_settings.path(discord_settings.discord.commands_state)
    async with running_client(fake_discord, echo_service, discord_settings) as client:
        old = unlocalised_digest(client, [None])
    recorded = json.loads(state.read_text(encoding="utf-8"))
    assert recorded["digest"] != old
    # The state an older version left: the same commands, synced without localisations.
    state.write_text(json.dumps({**recorded, "digest": old}), encoding="utf-8")
    async with running_client(fake_discord, echo_service, discord_settings):
        pass
    assert len(fake_discord.calls_matching(is_command_sync)) == 2
    async with running_client(fake_discord, echo_service, discord_settings):
        pass
    assert len(fake_discord.calls_matching(is_command_sync)) == 2


def test_every_menu_text_has_a_traditional_chinese_one() -> None:
    """A `slash_*` line added without one would make every sync fail (zh-TW's lookup)."""
    menu = {field.name for field in fields(BotLines) if field.name.startswith("slash_")}
    assert menu <= set(SLASH_ZH_TW)
