"""Session 67: the QQ plugin's keys and ATRI's own environment variables, each in one
place. `nonebot_options` listed the `atri_*` keys by hand (a new `[qq]` key read from
config.toml could be left out, the plugin then using its default), and the plugin's copy
of ATRI's variables lacked ATRI_API_KEYS ("no part of ATRI reads it", at every start of a
NoneBot project beside a worker)."""

from __future__ import annotations

from atri.config import ATRI_ENV, QQSettings, Secrets, settings_from_dict
from bot.qq.config import Config, misspelt_keys
from bot.qq.runner import nonebot_options

# Keys that do not come from `[qq]`: the standalone plugin's worker and language, and the
# lines that come from the worker's settings and the card.
NOT_FROM_QQ = {"atri_worker_url", "atri_language", "atri_error_reply", "atri_command_name"}


def test_every_plugin_key_of_the_qq_section_reaches_the_plugin() -> None:
    changed = {"max_message_chars": 77, "room_context": False, "bot_ids": ["42"]}
    settings = settings_from_dict({"qq": changed})
    options = nonebot_options(settings, Secrets())
    plugin_keys = set(Config.model_fields) - {"atri_worker_url", "atri_language"}
    assert plugin_keys <= set(options)
    for field in set(Config.model_fields) - NOT_FROM_QQ:
        key = field.removeprefix("atri_")
        assert key in QQSettings.model_fields, field
        assert options[field] == getattr(settings.qq, key), field
    assert Config.model_validate(options).atri_max_message_chars == 77


def test_atri_s_own_variables_are_no_slip() -> None:
    assert "ATRI_API_KEYS" in ATRI_ENV
    assert misspelt_keys(ATRI_ENV) == []
    assert misspelt_keys(["ATRI_API_KEY"]) == [
        "ATRI_API_KEY is not a key of ATRI's QQ plugin; no part of ATRI reads it."
    ]
