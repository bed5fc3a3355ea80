"""The plugin's keys in someone's own NoneBot project, as they are mistyped in its .env.

Each slip was NoneBot's traceback for the plugin's import, after which the project ran
on, exit status 0, without the plugin: nobody was answered. Now it is one sentence
naming the key and what to write, and the project stops."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from atri.config import Settings
from tests.bot.qq.test_runner import REPO
from tests.bot.qq.test_serve_e2e import USER_ID
from tests.bot.qq.test_standalone_qa40 import error_line_said

# Loads the plugin as README says; what the plugin reads comes from ./.env.
LOAD_ONLY = """
import nonebot
from nonebot.adapters.onebot.v11 import Adapter

nonebot.init(driver="~fastapi")
nonebot.get_driver().register_adapter(Adapter)
assert nonebot.load_plugin("bot.qq.atri") is not None
print("loaded")
"""


def load_with_env_file(tmp_path: Path, dotenv: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / ".env").write_text(
        f"ATRI_WORKER_URL=http://127.0.0.1:8765\n{dotenv}\n", encoding="utf-8"
    )
    environment = {k: v for k, v in os.environ.items() if not k.startswith("ATRI_")}
    return subprocess.run(
        [sys.executable, "-c", LOAD_ONLY],
        cwd=tmp_path,
        env=environment | {"PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("dotenv", "sentence"),
    [
        (
            "ATRI_ALLOWED_USERS=12345,67890",
            "ATRI_ALLOWED_USERS in NoneBot's .env (or the environment) must be a JSON list of "
            'QQ numbers in quotes: write ATRI_ALLOWED_USERS=["12345", "67890"].',
        ),
        ("ATRI_BLOCKED_GROUPS=[1 2]", "ATRI_BLOCKED_GROUPS in NoneBot's .env"),
        ("ATRI_MAX_MESSAGE_CHARS=abc", "ATRI_MAX_MESSAGE_CHARS in NoneBot's .env (or the"),
        ("ATRI_MAX_REPLY_PARTS=0", "must be a whole number, 1 or more"),
        ("ATRI_SEND_GAP_SECONDS=-1", "ATRI_SEND_GAP_SECONDS in NoneBot's .env"),
        ("ATRI_ROOM_CONTEXT=maybe", "ATRI_ROOM_CONTEXT in NoneBot's .env"),
        ("ATRI_ERROR_REPLY=", "ATRI_ERROR_REPLY in NoneBot's .env (or the environment) must not"),
        ("ATRI_WORKER_URL=127.0.0.1:8765", "must be the http:// address `atri worker` listens"),
        (
            "ATRI_REPLY_IN_PRIVAT=true",
            "ATRI_REPLY_IN_PRIVAT is not a key of ATRI's QQ plugin; did you mean "
            "ATRI_REPLY_IN_PRIVATE?",
        ),
    ],
)
def test_a_slip_in_the_env_file_is_one_sentence_and_stops_the_project(
    tmp_path: Path, dotenv: str, sentence: str
) -> None:
    done = load_with_env_file(tmp_path, dotenv)
    said = done.stdout + done.stderr
    assert done.returncode != 0 and "loaded" not in done.stdout, said
    assert sentence in said
    assert "Traceback" not in said and "validation error" not in said


def test_a_key_like_none_of_the_plugin_s_is_only_warned_about(tmp_path: Path) -> None:
    done = load_with_env_file(tmp_path, "ATRI_SOMETHING_ELSE=1")
    assert done.returncode == 0, done.stderr
    assert "ATRI_SOMETHING_ELSE is not a key of ATRI's QQ plugin" in done.stdout + done.stderr


def test_yes_is_true(tmp_path: Path) -> None:
    """pydantic reads yes/no, on/off as a bool: no reason to refuse them."""
    done = load_with_env_file(tmp_path, "ATRI_ROOM_CONTEXT=yes")
    assert done.returncode == 0, done.stderr


async def test_qq_numbers_without_quotes_are_the_numbers(
    tmp_path: Path, echo_settings: Settings
) -> None:
    """`ATRI_ALLOWED_USERS=[12345]` means that person: over a real WebSocket she answers
    them (the worker is gone, so with her error line)."""
    echo_settings.reload.enabled = False
    said = await error_line_said(tmp_path, echo_settings, ATRI_ALLOWED_USERS=f"[{USER_ID}]")
    assert said


def test_under_atri_serve_a_stray_atri_variable_is_not_the_plugin_s(
    qq_plugin: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`atri serve` hands the plugin config.toml's [qq]: a variable in its environment
    that would not parse no longer stops the plugin from loading."""
    from bot.qq.config import read_plugin_config

    monkeypatch.setenv("ATRI_ALLOWED_USERS", "1,2,3")
    monkeypatch.setenv("ATRI_MAX_MESSAGE_CHARS", "abc")
    config = read_plugin_config(serving=True)
    assert config.atri_allowed_users == [] and config.atri_max_message_chars > 1
