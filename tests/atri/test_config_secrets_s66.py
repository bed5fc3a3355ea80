"""A secret written into config.toml by mistake is never printed back: not by the hint
for a line TOML cannot read, nor with a URL that carries `user:password@`."""

from __future__ import annotations

from pathlib import Path

import pytest

from atri.config import without_credentials
from tests.atri.test_config_toml_hints_s51 import _error


@pytest.mark.parametrize(
    ("toml", "variable"),
    [
        ("[discord]\ntoken = MTA5secretDiscordToken.abc\n", "ATRI_DISCORD_TOKEN"),
        ("[discord]\ntoken = “MTA5secretDiscordToken.abc”\n", "ATRI_DISCORD_TOKEN"),
        ('[model]\nbase = "x"\napi_key ＝ "MTA5secretDiscordToken.abc"\n', "ATRI_OPENAI_API_KEY"),
        ('[qq]\n"access_token" = MTA5secretDiscordToken.abc\n', "ATRI_ONEBOT_ACCESS_TOKEN"),
    ],
)
def test_a_secret_on_a_line_toml_cannot_read_is_not_shown_mended(
    tmp_path: Path, toml: str, variable: str
) -> None:
    said = _error(tmp_path, toml)
    assert "MTA5secret" not in said
    assert f"set the environment variable {variable} instead (the value is not shown here)" in said


@pytest.mark.parametrize(
    "toml",
    [
        '[worker]\nurl = "http://bob:pw-in-url-123@127.0.0.1:18765"\n',
        '[model]\nengine = "openai"\nopenai_base_url = "https://bob:pw-in-url-123@h.example/v1"\n',
        '[model]\nopenai_base_url = ["http://a:9/v1", "http://bob:pw-in-url-123@b:9/v1"]\n',
    ],
)
def test_a_url_with_a_password_is_refused_without_showing_it(tmp_path: Path, toml: str) -> None:
    """`atri serve` ended in aiohttp's traceback with the worker's; the console printed the
    OpenAI server's password twice in "Cannot reach …"."""
    said = _error(tmp_path, toml)
    assert "pw-in-url" not in said and "bob" not in said
    assert "must not carry a user name or password (user:password@)" in said
    assert "//…@" in said


def test_credentials_leave_any_url_in_a_text() -> None:
    assert without_credentials('like url = "http://u:p@h:1/v1" and ws://t@x') == (
        'like url = "http://…@h:1/v1" and ws://…@x'
    )


def test_a_config_path_ending_in_a_carriage_return_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ATRI_CONFIG from a .env file with Windows line endings: "config file not found"
    printed a path that looked right, its "\\r" unseen (s66)."""
    from atri.config import ConfigError, load_settings

    (tmp_path / "config.toml").write_text("", encoding="utf-8")
    monkeypatch.setenv("ATRI_CONFIG", f"{tmp_path / 'config.toml'}\r")
    with pytest.raises(ConfigError, match=r"ends or starts with a blank or a carriage return"):
        load_settings()
