"""The QQ plugin's settings, read through NoneBot's config (`get_plugin_config`).

Under `atri serve` these come from config.toml's `[qq]` (see `runner.nonebot_options`);
in someone else's NoneBot project they come from its `.env` (`ATRI_WORKER_URL=…`).
"""

from __future__ import annotations

import difflib
import logging
import os
import re
from collections.abc import Iterable
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError, field_validator

from atri.config import (
    ATRI_ENV,
    COMMAND_NAME_RULE,
    BotSettings,
    QQSettings,
    TypingSeconds,
    WorkerSettings,
    command_name_problem,
)
from atri.errors import ConfigError

log = logging.getLogger(__name__)

_QQ = QQSettings()


class Config(BaseModel):
    # Standalone only: the `atri worker` to talk to over HTTP (`atri serve` hands the
    # plugin its in-process worker instead).
    atri_worker_url: str = ""
    atri_reply_in_private: bool = _QQ.reply_in_private
    # Who may talk to her (QQ numbers) and in which groups; blocks win, empty allows all.
    atri_allowed_users: list[str] = Field(default_factory=list)
    atri_blocked_users: list[str] = Field(default_factory=list)
    atri_allowed_groups: list[str] = Field(default_factory=list)
    atri_blocked_groups: list[str] = Field(default_factory=list)
    # QQ numbers never answered besides ATRI's own connected accounts.
    atri_bot_ids: list[str] = Field(default_factory=list)
    atri_max_replies_per_minute: int = Field(default=_QQ.max_replies_per_minute, ge=0)
    atri_split_pause_seconds: float = Field(default=_QQ.split_pause_seconds, ge=0)
    atri_send_gap_seconds: float = Field(default=_QQ.send_gap_seconds, ge=0)
    atri_sends_per_minute: int = Field(default=_QQ.sends_per_minute, ge=0)
    atri_send_retry_seconds: float = Field(default=_QQ.send_retry_seconds, ge=0)
    atri_resend_within_seconds: float = Field(default=_QQ.resend_within_seconds, ge=0)
    # Between two "typing" calls in a private chat; 0 = never show typing.
    atri_typing_seconds: TypingSeconds = _QQ.typing_seconds
    atri_max_message_chars: int = Field(default=_QQ.max_message_chars, ge=1)
    atri_max_reply_parts: int = Field(default=_QQ.max_reply_parts, ge=1)
    # Group messages not addressed to ATRI go to the worker as room context.
    atri_room_context: bool = _QQ.room_context
    # A poke (戳一戳) of her is answered as a message; one per person per cooldown.
    atri_answer_pokes: bool = _QQ.answer_pokes
    atri_poke_cooldown_seconds: float = Field(default=_QQ.poke_cooldown_seconds, ge=0)
    # Said when a command fails or the worker cannot be reached. Left at its default,
    # a worker reached over HTTP has her line said in its own language and character.
    atri_error_reply: str = Field(default=WorkerSettings().error_reply, min_length=1)
    # What members type before a command (`/atri reset`), as `[bot] command_name`.
    atri_command_name: str = BotSettings().command_name
    # Standalone only: the language the bots speak until the worker says hers, "zh",
    # "en" or "ja" (`[persona] language`); above all the plugin's description, which
    # NoneBot reads at load, before any worker answers. "": Chinese, as ATRI's card.
    atri_language: Literal["", "zh", "en", "ja"] = ""

    @field_validator("atri_worker_url")
    @classmethod
    def _an_http_address(cls, url: str) -> str:
        if url and not url.startswith(("http://", "https://")):
            raise ValueError("not an http:// address")
        return url

    @field_validator("atri_command_name")
    @classmethod
    def _a_command_name(cls, name: str) -> str:
        problem = command_name_problem(name)
        if problem is not None:
            raise ValueError(problem)
        return name

    @field_validator("atri_error_reply")
    @classmethod
    def _not_blank(cls, line: str) -> str:
        """Blanks only: as empty, and refused where the worker's settings are made from it
        (`[worker] error_reply`, a traceback then)."""
        if not line.strip():
            raise ValueError("must not be empty")
        return line

    @field_validator(
        "atri_allowed_users",
        "atri_blocked_users",
        "atri_allowed_groups",
        "atri_blocked_groups",
        "atri_bot_ids",
        mode="before",
    )
    @classmethod
    def _numbers_as_text(cls, value: Any) -> Any:
        """`[12345, 67890]`, QQ numbers without quotes, means the same numbers."""
        if isinstance(value, list):
            return [str(v) if isinstance(v, int) and not isinstance(v, bool) else v for v in value]
        return value


class PluginConfigError(ConfigError):
    """A plugin key in NoneBot's .env (or the environment) the plugin cannot use; str()
    names the key and what to write."""


_EXAMPLES = {
    "atri_worker_url": "http://127.0.0.1:8765",
    "atri_error_reply": "出错了，稍后再试",
    "atri_command_name": "eileen",
}


def _env_name(field: str) -> str:
    return field.upper()


def what_to_write(field: str) -> str:
    """What the key `field` (atri_max_message_chars) takes, and an example line."""
    info = Config.model_fields[field]
    key = _env_name(field)
    least = next((m.ge for m in info.metadata if hasattr(m, "ge")), None)
    if info.annotation is bool:
        rule, example = "true or false", "true" if info.default else "false"
    elif info.annotation == list[str]:
        rule, example = "a JSON list of QQ numbers in quotes", '["12345", "67890"]'
    elif info.annotation is int:
        rule, example = f"a whole number, {least} or more", str(info.default)
    elif info.annotation is float:
        unit = " of seconds" if field.endswith("_seconds") else ""
        rule, example = f"a number{unit}, {least} or more", str(info.default)
    elif field == "atri_command_name":
        rule, example = COMMAND_NAME_RULE, _EXAMPLES[field]
    elif field == "atri_worker_url":
        rule, example = "the http:// address `atri worker` listens at", _EXAMPLES[field]
    elif field == "atri_language":
        rule, example = "zh, en or ja", "en"
    else:
        rule, example = "", _EXAMPLES.get(field, str(info.default))
    must = f"must be {rule}" if rule else "must not be empty"
    if field == "atri_error_reply":
        # Older releases took it empty and then sent nothing when the worker failed; no
        # setting does that now. Left out, she says her own line in the worker's language.
        return (
            f"{key} in NoneBot's .env (or the environment) {must} (staying silent when the "
            f"worker fails is no longer possible): remove the line for her own error line, "
            f"or write {key}={example}"
        )
    return f"{key} in NoneBot's .env (or the environment) {must}: write {key}={example}"


def _likely_key(name: str) -> str | None:
    """The plugin key an unknown ATRI_ name is most likely a slip of."""
    known = [_env_name(f) for f in Config.model_fields]
    found = difflib.get_close_matches(name.upper(), known, n=1, cutoff=0.75)
    return found[0] if found else None


def misspelt_keys(names: Iterable[str]) -> list[str]:
    """A sentence for each ATRI_ name among `names` that neither the plugin nor ATRI
    reads: with the key it likely means, or saying it is ignored."""
    # ATRI's own environment variables are not plugin keys, but no slip either.
    known = {_env_name(f) for f in Config.model_fields} | ATRI_ENV
    said = []
    for name in sorted({n.upper() for n in names if n.upper().startswith("ATRI_")} - known):
        likely = _likely_key(name)
        hint = f"did you mean {likely}?" if likely else "no part of ATRI reads it."
        said.append(f"{name} is not a key of ATRI's QQ plugin; {hint}")
    return said


def config_from(values: dict[str, Any]) -> Config:
    """The plugin's config from NoneBot's values; a bad one is one sentence naming it."""
    try:
        return Config.model_validate(values)
    except ValidationError as exc:
        field = str(exc.errors()[0]["loc"][0])
        raise PluginConfigError(f"{what_to_write(field)}.") from None


def read_plugin_config(serving: bool) -> Config:
    """The plugin's config as NoneBot holds it. Under `atri serve` that is config.toml's
    `[qq]` (already checked), and ATRI_ names in its environment are not the plugin's;
    standalone it is the project's .env and environment, read key by key here so that a
    slip is one sentence naming the key rather than a parse error deep in NoneBot."""
    from nonebot import get_driver
    from nonebot.compat import model_dump
    from nonebot.config import BaseSettings, SettingsError

    settings = get_driver().config
    values = model_dump(settings)
    if serving:
        # A stray .env's: `atri serve` has its worker, and config.toml's language.
        values.pop("atri_worker_url", None)
        values.pop("atri_language", None)
        return config_from(values)
    try:
        values = BaseSettings._settings_build_values(
            Config,
            values,
            env_file=settings._env_file,
            env_file_encoding=settings._env_file_encoding,
            env_nested_delimiter=settings._env_nested_delimiter,
        )
    except SettingsError as exc:
        named = re.search(r'env var "(\w+)"', str(exc))
        if named is None or named.group(1).lower() not in Config.model_fields:
            raise
        raise PluginConfigError(f"{what_to_write(named.group(1).lower())}.") from None
    _check_spelling([*values, *os.environ])
    return config_from(values)


def _check_spelling(names: Iterable[str]) -> None:
    """A slip of a plugin key stops the plugin (the setting meant would be silently
    unset: an allow list left open); an ATRI_ name like no key is only warned about."""
    for sentence in misspelt_keys(names):
        if "did you mean" in sentence:
            raise PluginConfigError(sentence)
        log.warning("%s", sentence)
