"""`[bot] command_name`: a community serving another character types `/eileen reset`, not
`/atri reset`. The name is checked against Discord's slash-command rule (the admin group
`<name>-admin` too), and every line that shows a command names it. The Discord groups
are tested in tests/bot/discord, the QQ matcher in tests/bot/qq (their fixtures)."""

from __future__ import annotations

from pathlib import Path

import pytest

from atri.adapter_commands import adopted_lines
from atri.config import settings_from_dict
from atri.errors import ConfigError
from bot.lines import BotLines, lines, lines_for, use_card, use_character, use_command


def command_lines(said: BotLines) -> list[str]:
    """Every line that shows a command."""
    return [said.qq_usage, said.personal_user_reset]


@pytest.mark.parametrize("language", ["zh", "en", "ja"])
def test_every_line_showing_a_command_names_the_configured_one(language: str) -> None:
    for line in command_lines(lines_for("Eileen", language, "eileen")):
        assert "/eileen reset" in line
        assert "/atri" not in line


def test_serving_a_config_names_its_command_and_a_worker_s_character_keeps_it() -> None:
    use_card(settings_from_dict({"bot": {"command_name": "eileen"}}))
    assert "/eileen memory" in lines().qq_usage
    use_character("Eileen", "en")  # learned from a separate worker later
    assert lines().qq_usage.startswith("Chat with Eileen")
    assert "/eileen memory" in lines().qq_usage and "/atri" not in lines().qq_usage


def test_naming_the_command_keeps_her_name_and_language() -> None:
    use_character("Eileen", "en")
    said = use_command("eileen")
    assert said == lines_for("Eileen", "en", "eileen")


def test_the_default_is_atri() -> None:
    assert "/atri reset" in lines_for("亚托莉", "zh").qq_usage
    assert settings_from_dict({}).bot.command_name == "atri"


@pytest.mark.parametrize("name", ["eileen", "亚托莉", "アトリ", "eileen_2", "e-chan", "a" * 26])
def test_names_discord_takes_are_taken(name: str) -> None:
    assert settings_from_dict({"bot": {"command_name": name}}).bot.command_name == name


@pytest.mark.parametrize(
    "name",
    [
        "Eileen",  # Discord wants lower case
        "ei leen",
        "eileen.bot",  # NoneBot's command separator
        "/eileen",
        "",
        "a" * 27,  # "-admin" would take the admin group past 32 characters
    ],
)
def test_a_name_discord_refuses_is_one_sentence_naming_the_key(name: str) -> None:
    with pytest.raises(ConfigError) as refused:
        settings_from_dict({"bot": {"command_name": name}}, "config.toml")
    said = str(refused.value)
    assert said.startswith("config.toml: [bot] command_name = ")
    assert "must be 1 to 26 lower-case letters of any script, digits, - or _" in said
    assert "\n" not in said


def test_atri_adapters_adopt_names_the_configured_reload_command(tmp_path: Path) -> None:
    settings = settings_from_dict({"bot": {"command_name": "eileen"}})
    said = " ".join(adopted_lines(settings, tmp_path / "lora", tmp_path / "20260101-000000"))
    assert "`/eileen-admin reload` (QQ: `/eileen reload`)" in said
    assert "/atri" not in said
