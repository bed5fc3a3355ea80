"""Session 53: the channel modes' connection to the memory file was opened at the first
read of a mode. Under a low descriptor limit (`ulimit -n 64`) or a busy worker, none was
free then: the read failed ("unable to open database file"), and the bot took every
channel for "mention" until its next refresh. It is opened when the service starts now,
holding every file it needs; a file that cannot be used then does not stop the start."""

from __future__ import annotations

import json
import logging
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from atri.config import Settings
from model.channels import ChannelModes
from model.service import ChatService

pytest.importorskip("resource")  # no descriptor limit to lower on Windows

CHILD = r"""
import asyncio, json, os, resource, sys
from pathlib import Path

from atri.config import Settings
from model.service import ChatService
from model.protocol import ChannelSetting

from tests.descriptor_limits import lower_descriptor_limit, with_none_left

lower_descriptor_limit()


async def worker(root: Path) -> dict:
    settings = Settings(root=root)
    settings.memory.path = str(root / "worker.sqlite3")
    settings.model.engine = "echo"
    settings.reload.enabled = False
    async with await ChatService.open(settings) as service:
        async def read_then_set() -> list:
            before = await service.channel_modes("test")
            await service.set_channel_mode(
                ChannelSetting(platform="test", channel_id="c1", mode="all")
            )
            return [before, await service.channel_modes("test")]

        return {"modes": await with_none_left(read_then_set)}


print(json.dumps(asyncio.run(worker(Path(sys.argv[1])))))
"""


def test_with_no_descriptor_left_channel_modes_are_read_and_set(tmp_path: Path) -> None:
    """Before: "OperationalError: unable to open database file" at the first read."""
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(done.stdout.splitlines()[-1])
    assert found["modes"] == [{}, {"c1": "all"}]


async def test_channel_modes_that_cannot_open_at_start_open_at_first_use(
    echo_settings: Settings, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A file locked or damaged at start is no reason to stop: nothing is logged then,
    and the first read of a mode opens the connection (or says why it cannot)."""
    opened = ChannelModes.open
    tries: list[str] = []

    async def locked_at_start(path: str | Path) -> ChannelModes:
        tries.append(str(path))
        if len(tries) == 1:
            raise sqlite3.OperationalError("database is locked")
        return await opened(path)

    monkeypatch.setattr(ChannelModes, "open", locked_at_start)
    with caplog.at_level(logging.INFO):
        async with await ChatService.open(echo_settings) as service:
            assert len(tries) == 1  # tried at start
            assert await service.channel_modes("p") == {}
            assert len(tries) == 2
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
