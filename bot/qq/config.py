"""The QQ plugin's settings, read through NoneBot's config (`get_plugin_config`).

Under `atri serve` these come from config.toml's `[qq]` (see `runner.nonebot_options`);
in someone else's NoneBot project they come from its `.env` (`ATRI_WORKER_URL=…`).
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from atri.config import QQSettings, WorkerSettings

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
    atri_typing_seconds: float = Field(default=_QQ.typing_seconds, ge=0)
    atri_max_message_chars: int = Field(default=_QQ.max_message_chars, ge=1)
    atri_max_reply_parts: int = Field(default=_QQ.max_reply_parts, ge=1)
    # Group messages not addressed to ATRI go to the worker as room context.
    atri_room_context: bool = _QQ.room_context
    # A poke (戳一戳) of her is answered as a message; one per person per cooldown.
    atri_answer_pokes: bool = _QQ.answer_pokes
    atri_poke_cooldown_seconds: float = Field(default=_QQ.poke_cooldown_seconds, ge=0)
    # Said when a command fails or the worker cannot be reached. Left at its default,
    # a worker reached over HTTP has her line said in its own language and character.
    atri_error_reply: str = WorkerSettings().error_reply
