"""QA round 43: a slash command Discord no longer takes an answer for, through the real
discord.py client and the fake Discord. An interaction that reached her after Discord's
3 s (a slow moment), or one delivered twice, is refused when she defers it: that
refusal escaped as the command's failure, an ERROR with a traceback in the log and one
more refused answer, while the work itself went on unwatched."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from typing import Any

import pytest
from aiohttp import web

from atri.config import Settings
from model.service import ChatService
from tests.bot.discord.conftest import running_client
from tests.bot.discord.fake_discord import MEMBER_ID, Call, FakeDiscord, is_callback
from tests.bot.discord.test_commands import SlowWorker, chat, live_messages

UNKNOWN_INTERACTION = {"message": "Unknown interaction", "code": 10062}


def expire_interactions(fake: FakeDiscord, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every interaction callback refused as Discord refuses an expired one."""
    answer = fake._answer

    def refuse_callbacks(call: Call) -> Any:
        if call.method == "POST" and re.fullmatch(r"/interactions/\d+/[^/]+/callback", call.path):
            raise web.HTTPNotFound(
                text=json.dumps(UNKNOWN_INTERACTION), content_type="application/json"
            )
        return answer(call)

    monkeypatch.setattr(fake, "_answer", refuse_callbacks)


async def test_an_expired_slow_command_still_does_its_work_and_logs_no_failure(
    fake_discord: FakeDiscord,
    echo_service: ChatService,
    discord_settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    worker = SlowWorker(echo_service, delay=0.3)
    async with running_client(fake_discord, worker, discord_settings, defer_after=0.05):
        await chat(fake_discord, MEMBER_ID, "你好")
        expire_interactions(fake_discord, monkeypatch)
        with caplog.at_level(logging.WARNING):
            await fake_discord.run_command(MEMBER_ID, "atri", "reset")
            await fake_discord.wait_for_calls(is_callback)
            for _ in range(50):
                if await live_messages(echo_service, MEMBER_ID) == 0:
                    break
                await asyncio.sleep(0.05)
    assert await live_messages(echo_service, MEMBER_ID) == 0  # the reset was done
    assert len(fake_discord.calls_matching(is_callback)) == 1  # and not answered again
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
    assert "could not defer Discord command" in caplog.text
    # Which command, whose, where, and why Discord no longer takes its answer (session
    # 71: the line named the interaction's id alone).
    assert f"Discord command /atri reset of user {MEMBER_ID} in channel " in caplog.text
    assert "after Discord's 3 s to acknowledge a command" in caplog.text
