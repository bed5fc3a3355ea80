"""Session 64: `[discord] commands_state` naming a folder, or nothing, is refused before
the login. It failed after the login and the slash commands' sync, at each start."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from atri.config import ConfigError, DiscordSettings, Secrets, Settings
from bot.discord.adapter import run_discord


async def test_a_folder_as_commands_state_is_refused_before_the_login(tmp_path: Path) -> None:
    settings = Settings(root=tmp_path)
    (tmp_path / "state").mkdir()
    settings.discord.commands_state = "state"
    secrets = Secrets(discord_token=SecretStr("not-a-real-token"))
    with pytest.raises(ConfigError, match=r"commands_state .*state is a folder: name a file"):
        await run_discord(None, settings, secrets)  # type: ignore[arg-type]


def test_an_empty_commands_state_is_refused() -> None:
    with pytest.raises(ValidationError, match="must name a file"):
        DiscordSettings(commands_state="")
