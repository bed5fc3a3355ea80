"""A worker or chat holding its file alone (opened on a full disk) shares it again on a
timer too, not only after a commit (QA s72, replay finding 2): on a quiet bot no message
is written, and `atri memory list` stayed refused ("free some space on it and run it
again") after space was freed. Real SQLite files on a real small tmpfs in a mount
namespace of its own (`run_in_mount_namespace` skips where mounting is not allowed)."""

from __future__ import annotations

import json
import os
import shlex
import sys
from pathlib import Path

import pytest

from tests.cli_output import says
from tests.model.memory.test_full_disk_share_s72 import HELD
from tests.model.memory.test_full_disk_start_s72 import REPO, full_disk_after_a_clean_stop
from tests.mount_namespace import run_in_mount_namespace

# Run inside the namespace: memory opened alone on the full disk, the timer (patched
# short) ticking while it is still full, then space freed and nothing written. `margin`:
# `SHARE_AGAIN_MARGIN_BYTES`, 0 for a switch tried on the full disk at each tick.
QUIET_BOT = """
import asyncio, json, subprocess, sys
from pathlib import Path
import model.memory.store as store
from model.memory import Memory

path, config, filler, margin = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3]), sys.argv[4]
store.SHARE_AGAIN_EVERY_SECONDS = 0.05
if margin != "default":
    store.SHARE_AGAIN_MARGIN_BYTES = int(margin)

def memory_list():
    run = subprocess.run([sys.executable, "-m", "atri", "--config", config, "memory", "list"],
                         capture_output=True, text=True)
    return run.returncode, run.stdout + run.stderr

async def main():
    said = {}
    memory = await Memory.open(path, answers_when_full=True)
    said["alone_at_open"] = memory.alone
    await asyncio.sleep(0.5)  # ticks on the full disk
    said["alone_while_full"] = memory.alone
    said["history_while_full"] = [m.content for m in await memory.history("qq:user:6")]
    said["list_while_full"] = memory_list()
    filler.unlink()
    await asyncio.sleep(0.5)  # nothing written: only the timer can share it
    said["alone_after"] = memory.alone
    said["list_after"] = memory_list()
    await memory.close()
    print(json.dumps(said))

asyncio.run(main())
"""


@pytest.mark.parametrize("margin", ["default", "0"])
def test_freed_space_is_enough_on_a_quiet_bot(tmp_path: Path, margin: str) -> None:
    disk, config, mount = full_disk_after_a_clean_stop(tmp_path)
    driver = tmp_path / "driver.py"
    driver.write_text(QUIET_BOT, encoding="utf-8")
    line = shlex.join(
        [sys.executable, str(driver), f"{disk}/mem.sqlite3", str(config), f"{disk}/filler", margin]
    )
    run = run_in_mount_namespace(mount, [line], cwd=REPO, env={**os.environ, "COLUMNS": "400"})
    assert run.returncode == 0, run.stderr
    said = json.loads(run.stdout.strip().splitlines()[-1])
    assert said["alone_at_open"]
    # While full, the timer's tries change nothing: held alone, her memory still reads.
    assert said["alone_while_full"]
    assert said["history_while_full"] == ["stored before"], said
    code, listed = said["list_while_full"]
    assert code == 1 and says(listed, HELD), listed
    # Space freed, no write: the timer shared it, and `atri memory list` works.
    code, listed = said["list_after"]
    assert not said["alone_after"] and code == 0 and not says(listed, HELD), listed
    assert "qq:user:6" in listed, listed
