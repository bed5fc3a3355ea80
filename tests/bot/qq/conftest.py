"""NoneBot for the QQ tests.

nonebug (a pytest plugin) initialises NoneBot once per pytest process, for every test
session, with the kwargs stashed here; this file adds the OneBot v11 adapter and loads
the ATRI plugin once, and hands the plugin a fresh echo worker for each test. The
real-server end-to-end test runs `atri serve` in a subprocess, so it never shares
this process's NoneBot.
"""

from __future__ import annotations

import io
import socket
import sys
from collections.abc import AsyncIterator, Iterator
from types import ModuleType

import pytest
from nonebot.log import default_filter, default_format, logger
from nonebug import NONEBOT_INIT_KWARGS

from atri.config import QQSettings, Secrets, Settings
from bot.limits import QuietNotices, ReplyCap
from bot.qq import set_worker
from bot.qq.runner import PLUGIN, nonebot_options, quiet_message_events
from model.service import ChatService
from tests.bot.qq.events import SUPERUSER_ID


def pytest_configure(config: pytest.Config) -> None:
    # The options `atri serve` would pass, minus the pauses between sends, and without
    # "typing" in private chats (tested over a real WebSocket in test_serve_e2e).
    settings = Settings(
        qq=QQSettings(
            superusers=[SUPERUSER_ID],
            split_pause_seconds=0,
            send_gap_seconds=0,
            sends_per_minute=0,
            typing_seconds=0,
        )
    )
    config.stash[NONEBOT_INIT_KWARGS] = nonebot_options(settings, Secrets())


@pytest.fixture(scope="session")
async def qq_plugin(
    nonebug_init: None, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[ModuleType]:
    import nonebot
    from nonebot.adapters.onebot.v11 import Adapter

    settings = Settings(root=tmp_path_factory.mktemp("qq"))
    settings.model.engine = "echo"
    settings.reload.enabled = False
    async with await ChatService.open(settings) as service:
        set_worker(service)  # the plugin refuses to load without a worker
        nonebot.get_driver().register_adapter(Adapter)
        assert nonebot.load_plugin(PLUGIN) is not None
        # nonebug's bots fail a test at any API call it did not expect: the connect hooks
        # that ask for the official bot range and about mutes and bans are
        # tested over a real WebSocket instead.
        driver = nonebot.get_driver()
        plugin = sys.modules[PLUGIN]
        asking = {plugin._learn_robot_ranges, plugin._on_connect_recheck_mutes}
        for hook in list(driver._bot_connection_hook):
            if hook.call in asking:
                driver._bot_connection_hook.discard(hook)
        yield sys.modules[PLUGIN]
        set_worker(None)


@pytest.fixture
def plugin(
    qq_plugin: ModuleType, echo_service: ChatService, monkeypatch: pytest.MonkeyPatch
) -> Iterator[ModuleType]:
    """The loaded plugin module, talking to this test's own echo worker, with its own
    count of replies per group (tests reuse one group id, commands count too) and of
    people told a notice this minute (tests reuse one member)."""
    set_worker(echo_service)
    monkeypatch.setattr(qq_plugin, "reply_cap", ReplyCap(qq_plugin.reply_cap.per_minute))
    monkeypatch.setattr(qq_plugin, "busy_notices", QuietNotices())
    yield qq_plugin
    set_worker(None)


@pytest.fixture
def unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def quiet_log() -> Iterator[io.StringIO]:
    """NoneBot's handler as `start_nonebot` leaves it, writing here; NoneBot's own after."""
    import nonebot.log

    out = io.StringIO()
    quiet_message_events(sink=out)
    yield out
    logger.remove(nonebot.log.logger_id)
    nonebot.log.logger_id = logger.add(
        sys.stdout, level=0, diagnose=False, filter=default_filter, format=default_format
    )
