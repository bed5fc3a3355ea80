"""Session 64: a bot that has never reached its worker knows no channel modes, and keeps
every channel off until it does. It took them all as "mention": started before its
worker (after a reboot, or while a big model loads), it posted the worker's failure line
to every @ and member command in groups an admin had turned off. Once read, the modes
known last hold while the worker is away, as before."""

from __future__ import annotations

import socket
from typing import Any

import pytest
from pydantic import SecretStr

import bot.channel_modes as channel_modes
from atri.config import Secrets, Settings
from bot.channel_modes import ChannelModeCache
from bot.relay import HttpWorker
from model.protocol import ChannelSetting
from model.server.app import bind_socket, create_app, serving
from model.service import ChatService
from tests.model.server.conftest import ADMIN_TOKEN


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_modes_are_off_until_the_worker_is_first_reached(
    echo_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(channel_modes, "MODES_RETRY_SECONDS", 0.0)
    secrets = Secrets(admin_token=SecretStr(ADMIN_TOKEN))
    url = f"http://127.0.0.1:{free_port()}"
    client = echo_settings.worker.model_copy(update={"url": url})
    async with HttpWorker(client, secrets) as remote:
        modes = ChannelModeCache(remote, "qq")
        assert await modes.mode("100") == "off"  # nothing listens there yet
        assert await modes.mode("200") == "off"

        async with await ChatService.open(echo_settings) as service:
            await service.set_channel_mode(
                ChannelSetting(platform="qq", channel_id="100", mode="off")
            )
            port = int(url.rsplit(":", 1)[1])
            async with serving(create_app(service, secrets), bind_socket("127.0.0.1", port)):
                assert await modes.mode("100") == "off"
                assert await modes.mode("200") == "mention"

        # The worker gone again: the modes read last hold (and are read again later).
        monkeypatch.setattr(channel_modes, "MODES_REFRESH_SECONDS", 0.0)
        assert await modes.mode("100") == "off"
        assert await modes.mode("200") == "mention"


class FailingMemory:
    """A worker in the same process whose memory cannot be read: chats still work."""

    async def channel_modes(self, platform: str) -> dict[str, Any]:
        raise RuntimeError("database disk image is malformed")


async def test_memory_failing_in_process_leaves_channels_at_mention() -> None:
    modes = ChannelModeCache(FailingMemory(), "qq")  # type: ignore[arg-type]
    assert await modes.mode("100") == "mention"
