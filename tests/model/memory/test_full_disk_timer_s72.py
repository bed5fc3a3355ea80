"""A worker or chat holding its file alone (opened on a full disk) shares it again on a
timer too, not only after a commit (QA s72, replay finding 2): on a quiet bot no message
is written, and `atri memory list` stayed refused ("free some space on it and run it
again") after space was freed. Real SQLite files on a real small tmpfs in a mount
namespace of its own (`run_in_mount_namespace` skips where mounting is not allowed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli_output import says
from tests.model.memory.full_disk import HELD, run_driver

# Memory opened alone on the full disk, the timer (patched short) ticking while it is
# still full, then space freed and nothing written. `arg`: `SHARE_AGAIN_MARGIN_BYTES`, 0
# for a switch tried on the full disk at each tick.
QUIET_BOT = """
store.SHARE_AGAIN_EVERY_SECONDS = 0.05
if arg != "default":
    store.SHARE_AGAIN_MARGIN_BYTES = int(arg)

async def main(said):
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
"""


@pytest.mark.parametrize("margin", ["default", "0"])
def test_freed_space_is_enough_on_a_quiet_bot(tmp_path: Path, margin: str) -> None:
    said = run_driver(tmp_path, QUIET_BOT, margin)
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
