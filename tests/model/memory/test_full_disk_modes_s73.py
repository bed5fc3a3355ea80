"""A worker or chat started on a full disk holds its memory file alone (QA s72), and the
channel modes opened a second connection to it: that waited out the busy timeout and
failed, at start and at every read of the modes, so the bots answered the groups an admin
had turned off, and `/atri mode` was refused blaming "another program" (review s73). They
are read and set through the memory's connection now. Real SQLite on a real full 1 MiB
tmpfs, in a mount namespace of its own (skipped where that is not allowed)."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

from model.memory.database import BUSY_TIMEOUT_SECONDS
from tests.cli_output import says
from tests.model.memory.full_disk import ENV, REPO
from tests.mount_namespace import run_in_mount_namespace

# Run as `python -c PROGRAM CONFIG FILLER STEP`: "set" turns group g1 off before the disk
# fills; "full" starts on the full disk, reads and sets modes, frees space, sets again.
PROGRAM = """
import asyncio, json, sys, time
from pathlib import Path

from atri.config import load_settings
from bot.channel_modes import ChannelModeCache
from model.protocol import ChannelSetting, MemoryUnavailable
from model.service import ChatService

config, filler, step = sys.argv[1], Path(sys.argv[2]), sys.argv[3]


async def modes(service):
    try:
        return await service.channel_modes("qq")
    except Exception as exc:  # said, so that the test shows it
        return repr(exc)


async def main(said):
    started = time.monotonic()
    service = await ChatService.open(load_settings(config))
    said["open_seconds"] = time.monotonic() - started
    said["alone"] = service.memory.alone
    async with service:
        if step == "set":
            await service.set_channel_mode(ChannelSetting(platform="qq", channel_id="g1", mode="off"))
            return
        began = time.monotonic()
        said["bot_sees_g1"] = await ChannelModeCache(service, "qq").mode("g1")
        said["read_seconds"] = time.monotonic() - began
        try:
            await service.set_channel_mode(ChannelSetting(platform="qq", channel_id="g1", mode="all"))
        except MemoryUnavailable as exc:
            said["set_while_full"] = str(exc)
        said["modes_after_refused"] = await modes(service)
        filler.unlink()
        try:
            await service.set_channel_mode(ChannelSetting(platform="qq", channel_id="g1", mode="all"))
        except MemoryUnavailable as exc:
            said["set_with_space"] = str(exc)
        said["modes_with_space"] = await modes(service)
        said["alone_with_space"] = service.memory.alone


said = {}
asyncio.run(main(said))
print(json.dumps(said))
"""


def test_modes_are_read_at_once_obeyed_and_set_once_there_is_space(tmp_path: Path) -> None:
    disk = tmp_path / "disk"
    disk.mkdir()
    config = tmp_path / "config.toml"
    config.write_text(
        f'[model]\nengine = "echo"\n[memory]\npath = "{disk}/mem.sqlite3"\n', encoding="utf-8"
    )
    filler = disk / "filler"

    def step(name: str) -> str:
        return shlex.join([sys.executable, "-c", PROGRAM, str(config), str(filler), name])

    # g1 turned off by a worker on a disk with space, stopped cleanly; then the disk fills.
    mount = (
        f"mount -t tmpfs -o size=1m tmpfs {disk} && {step('set')} > /dev/null && "
        f"test ! -e {disk}/mem.sqlite3-wal && (head -c 2000000 /dev/zero > {filler}; true)"
    )
    run = run_in_mount_namespace(mount, [step("full")], cwd=REPO, env=ENV)
    assert run.returncode == 0, run.stderr
    said = json.loads(run.stdout.strip().splitlines()[-1])

    assert said["alone"] is True, said  # the case at hand: the file held alone
    # Before: the start waited out the busy timeout, and so did each read, which failed.
    assert said["open_seconds"] < BUSY_TIMEOUT_SECONDS, said
    assert said["read_seconds"] < BUSY_TIMEOUT_SECONDS / 2, said
    assert said["bot_sees_g1"] == "off", said  # before: "mention", answered again
    refused = said["set_while_full"]
    assert says(refused, "disk is full") and says(refused, "once there is space"), refused
    assert "another program" not in refused, refused
    assert said["modes_after_refused"] == {"g1": "off"}, said
    # With space the change is stored, and its commit shares the file again.
    assert said["modes_with_space"] == {"g1": "all"}, said
    assert said["alone_with_space"] is False, said
