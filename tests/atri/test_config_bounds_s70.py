"""Values no test refused or read: a negative `rate_limit_per_minute` (read as "no
limit", it turned limiting off unseen), `[qq] max_reply_parts = 0` (no part to send),
and Discord ids written in quotes, as `[room]` takes them."""

from __future__ import annotations

import tomllib

import pytest

from atri.config import ConfigError, settings_from_dict


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        (
            "[worker]\nrate_limit_per_minute = -1",
            "config.toml: [worker] rate_limit_per_minute = -1: must be at least 0",
        ),
        (
            "[qq]\nmax_reply_parts = 0",
            "config.toml: [qq] max_reply_parts = 0: must be a positive integer",
        ),
    ],
)
def test_a_value_below_the_range_is_refused(toml: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        settings_from_dict(tomllib.loads(toml))
    assert str(info.value).startswith(message)


def test_discord_ids_written_in_quotes_are_read_as_ids() -> None:
    toml = '[discord]\nadmin_ids = ["123"]\nchannels = ["456", 789]\nblocked_roles = ["42"]'
    discord = settings_from_dict(tomllib.loads(toml)).discord
    assert discord.admin_ids == [123]
    assert discord.channels == [456, 789]
    assert discord.blocked_roles == [42]
