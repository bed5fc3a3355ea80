"""QA pass 37: defaults that follow --config, secrets in the file, list hints that can be
followed, ids in either spelling, and a config or background path that is no file."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, get_origin

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from atri.cli import app
from atri.config import ConfigError, Section, Settings, settings_from_dict
from model.protocol import ChatRequest
from model.service import listed_channel

SCRIPT = Path(__file__).parents[1] / "dataprep" / "fixtures" / "plain_zh.txt"
SECRET = "s3cr3t-Value-42"


def flat(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.parametrize(
    ("train_lines", "folder"),
    [("", "data/dataset"), ('[train]\ndataset = "sets/atri_sharegpt.json"\n', "sets")],
)
def test_prep_writes_where_train_reads_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, train_lines: str, folder: str
) -> None:
    """Started elsewhere, `atri --config …/config.toml prep script.txt` wrote
    ./data/dataset, and `atri --config … train` right after found no dataset."""
    home = tmp_path / "echo"
    home.mkdir()
    config = home / "config.toml"
    config.write_text("[dataprep]\neval_ratio = 0\n" + train_lines, encoding="utf-8")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    monkeypatch.delenv("ATRI_CONFIG", raising=False)

    result = CliRunner(env={"COLUMNS": "400"}).invoke(
        app, ["--config", str(config), "prep", str(SCRIPT)]
    )
    assert result.exit_code == 0, result.output
    trained_on = settings_from_dict(tomllib.loads(config.read_text("utf-8")), root=home)
    assert trained_on.path(trained_on.train.dataset) == home / folder / "atri_sharegpt.json"
    assert (home / folder / "atri_sharegpt.json").is_file()
    assert not any(elsewhere.iterdir())
    # Nothing to add to `atri train`: its own default is the file just written.
    assert "Train on it with" not in result.output

    # --out, as every flag, is still read from the working folder.
    result = CliRunner(env={"COLUMNS": "400"}).invoke(
        app, ["--config", str(config), "prep", str(SCRIPT), "--out", "mine"]
    )
    assert result.exit_code == 0, result.output
    assert (elsewhere / "mine" / "atri_sharegpt.json").is_file()
    assert "Train on it with" in result.output


@pytest.mark.parametrize(
    ("section", "key", "env"),
    [
        ("discord", "token", "ATRI_DISCORD_TOKEN"),
        ("discord", "bot_token", "ATRI_DISCORD_TOKEN"),
        ("qq", "access_token", "ATRI_ONEBOT_ACCESS_TOKEN"),
        ("worker", "admin_token", "ATRI_ADMIN_TOKEN"),
        ("model", "openai_api_key", "ATRI_OPENAI_API_KEY"),
    ],
)
def test_a_secret_in_the_file_is_not_shown_and_points_at_its_variable(
    tmp_path: Path, section: str, key: str, env: str
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'[{section}]\n{key} = "{SECRET}"\n', encoding="utf-8")
    result = CliRunner(env={"COLUMNS": "400"}).invoke(app, ["--config", str(config), "chat"])
    said = flat(result.output)
    assert result.exit_code == 2, result.output
    assert SECRET not in said
    assert f"[{section}] {key}: is not a known key" in said
    assert f"set the environment variable {env} instead" in said


@pytest.mark.parametrize(
    "data",
    [
        {"generation": {"stop_token": SECRET}},
        {"password": SECRET},
        {"model": {"hub_token": SECRET}},  # no ATRI variable is for a model hub
    ],
)
def test_any_secret_looking_key_is_not_shown_and_names_every_variable(
    data: dict[str, Any],
) -> None:
    with pytest.raises(ConfigError) as caught:
        settings_from_dict(data)
    said = str(caught.value)
    assert SECRET not in said and "is not a known key" in said
    for env in (
        "ATRI_DISCORD_TOKEN",
        "ATRI_ONEBOT_ACCESS_TOKEN",
        "ATRI_ADMIN_TOKEN",
        "ATRI_OPENAI_API_KEY",
    ):
        assert env in said


@pytest.mark.parametrize(
    ("section", "key", "hint"),
    [
        ("discord", "channels", "[123, 456]"),
        ("discord", "admin_ids", "[123, 456]"),
        ("room", "off_channels", '["123", "456"]'),
        ("qq", "superusers", '["123", "456"]'),
        ("dataprep", "output_formats", '["sharegpt", "messages"]'),
    ],
)
def test_a_list_hint_shows_the_kind_of_entry(section: str, key: str, hint: str) -> None:
    with pytest.raises(ConfigError) as caught:
        settings_from_dict({section: {key: "123"}})
    assert str(caught.value).endswith(f'[{section}] {key} = "123": must be a list like {hint}')


def _list_settings() -> list[tuple[str, str]]:
    found = []
    for name, field in Settings.model_fields.items():
        model = field.annotation
        if isinstance(model, type) and issubclass(model, Section):
            found += [
                (name, key)
                for key, f in model.model_fields.items()
                if get_origin(f.annotation) is list
            ]
    return found


def test_following_a_list_hint_gives_no_type_error() -> None:
    """`channels = "123"` said to write ["a", "b"]; written so, it said "must be an
    integer". Whatever a setting's own rules say next, the entries' type is right."""
    wrong = []
    for section, key in _list_settings():
        with pytest.raises(ConfigError) as caught:
            settings_from_dict({section: {key: "x"}})
        hint = str(caught.value).split("must be a list like ")[1]
        followed = tomllib.loads(f"value = {hint}")["value"]
        try:
            Settings.model_validate({section: {key: followed}})
        except ValidationError as exc:
            kinds = {e["type"] for e in exc.errors()}
            if kinds & {"int_type", "string_type", "float_type", "literal_error"}:
                wrong.append(f"[{section}] {key} = {hint}")
    assert len(_list_settings()) > 30 and not wrong, wrong


def test_ids_are_read_as_numbers_or_text_wherever_they_are_listed() -> None:
    """A Discord channel id is an integer in [discord] and text in [room]: the same id
    copied from one list into the other was refused."""
    settings = settings_from_dict(
        {
            "discord": {"channels": ["1234567890123456789", 42], "admin_ids": ["7"]},
            "room": {"off_channels": [1234567890123456789, "5"], "speak_up_channels": [9]},
            "qq": {"superusers": [12345678], "allowed_groups": [987, "654"]},
        }
    )
    assert settings.discord.channels == [1234567890123456789, 42]
    assert settings.discord.admin_ids == [7]
    assert settings.room.off_channels == ["1234567890123456789", "5"]
    assert settings.room.speak_up_channels == ["9"]
    assert settings.qq.superusers == ["12345678"]
    assert settings.qq.allowed_groups == ["987", "654"]
    # The channel written as a number is off for the request the bot sends (text ids).
    heard = ChatRequest(
        platform="discord", user_id="1", text="hi", channel_id="1234567890123456789"
    )
    assert listed_channel(heard, settings.room.off_channels) == "1234567890123456789"
    # What is no id in either spelling is still refused.
    refused: list[tuple[dict[str, Any], str]] = [
        ({"discord": {"channels": ["general"]}}, '[discord] channels.0 = "general": must be'),
        ({"discord": {"channels": ["-5"]}}, '[discord] channels.0 = "-5": must be'),
        ({"room": {"off_channels": [True]}}, "[room] off_channels.0 = true: must be"),
        ({"qq": {"superusers": [-5]}}, '"-5" is not a QQ number'),
    ]
    for data, message in refused:
        with pytest.raises(ConfigError) as caught:
            settings_from_dict(data)
        assert message in str(caught.value)


def test_a_config_that_is_a_folder_is_named_as_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "somefolder"
    folder.mkdir()
    monkeypatch.delenv("ATRI_CONFIG", raising=False)
    runner = CliRunner(env={"COLUMNS": "400"})
    result = runner.invoke(app, ["--config", str(folder), "chat"])
    said = flat(result.output)
    assert result.exit_code == 2, result.output
    assert f"{folder}: is a folder, not a config file (given by --config)" in said
    assert "give the config file itself (a .toml file)" in said
    assert "not found" not in said
    # With a config.toml inside, the sentence names it.
    (folder / "config.toml").write_text("", encoding="utf-8")
    result = runner.invoke(app, ["chat"], env={"ATRI_CONFIG": str(folder)})
    assert result.exit_code == 2, result.output
    assert (
        f"(given by ATRI_CONFIG); give the config file itself, like {folder / 'config.toml'}"
        in flat(result.output)
    )


def test_a_missing_background_file_is_not_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "echo"
    home.mkdir()
    config = home / "config.toml"
    config.write_text('[dataprep]\nbackground = "facts.md"\n', encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    result = CliRunner(env={"COLUMNS": "400"}).invoke(
        app, ["--config", str(config), "prep", str(SCRIPT), "-o", "out"]
    )
    said = flat(result.output)
    assert result.exit_code == 1, result.output
    assert f"{home / 'facts.md'}: background file not found ([dataprep] background)." in said
    assert "cannot be read" not in said
