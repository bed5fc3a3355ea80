"""A worker or chat holding its file alone (opened on a full disk) shares it again once
a commit finds space (QA s72, review2 findings 2 and 6). With a little space back (more
than a commit needs, less than the 32 KiB -shm) the switch left every read failing
("disk I/O error", her error line to every chat): she must go on answering from memory,
the file held alone until a later commit. And any commit (a reset, a room line), not
only a reply's, shares it: else `atri memory` kept saying "free some space" on a disk
with space. Real SQLite files on a real small tmpfs in a mount namespace of its own."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli_output import says
from tests.model.memory.full_disk import HELD, run_driver

# Memory opened alone on the full disk, then 24 KiB freed (the rest filled again) and a
# reply written. `arg`: `SHARE_AGAIN_MARGIN_BYTES`, 0 for a switch tried whatever the
# space (its read check alone keeps reads working).
LITTLE_SPACE = """
if arg != "default":
    store.SHARE_AGAIN_MARGIN_BYTES = int(arg)

def fill(file):
    try:
        with open(file, "wb") as out:
            while True:
                out.write(bytes(4096))
                out.flush()
    except OSError:
        pass

async def main(said):
    memory = await Memory.open(path, answers_when_full=True)
    said["alone_at_open"] = memory.alone
    filler.unlink()
    little = filler.with_name("little")
    little.write_bytes(bytes(24 * 1024))
    fill(filler.with_name("filler2"))
    little.unlink()
    await memory.append("qq:user:6", "user", "6", "said with a little space")
    said["alone"] = memory.alone
    try:
        said["history"] = [m.content for m in await memory.history("qq:user:6")]
    except Exception as exc:
        said["history"] = str(exc)
    said["list"] = memory_list()
    filler.with_name("filler2").unlink()
    await memory.append("qq:user:6", "user", "6", "said with space")
    said["alone_after"] = memory.alone
    said["list_after"] = memory_list()
    await memory.close()
"""


@pytest.mark.parametrize("margin", ["default", "0"])
def test_a_little_space_back_keeps_her_answering_from_memory(tmp_path: Path, margin: str) -> None:
    said = run_driver(tmp_path, LITTLE_SPACE, margin)
    assert said["alone_at_open"]
    # The reply was stored, and her memory still reads: held alone until more space.
    assert said["history"] == ["stored before", "said with a little space"], said
    assert said["alone"]
    code, listed = said["list"]
    assert code == 1 and says(listed, HELD), listed
    # With space, the next commit shares it.
    code, listed = said["list_after"]
    assert not said["alone_after"] and code == 0 and "qq:user:6" in listed, listed


# Memory opened alone on the full disk, then space, and one write (`arg`) that is not a
# reply.
OTHER_WRITE = """
from model.room import RoomBounds

async def main(said):
    memory = await Memory.open(path, answers_when_full=True)
    said["alone_at_open"] = memory.alone
    filler.unlink()
    if arg == "reset":
        await memory.reset("qq:user:6")
    else:
        await memory.room.add("qq:chan:7", "qq", "8", "Mika", "a line overheard", RoomBounds())
    said["alone"] = memory.alone
    said["list"] = memory_list()
    await memory.close()
"""


@pytest.mark.parametrize("write", ["reset", "room line"])
def test_any_commit_with_space_shares_the_file_again(tmp_path: Path, write: str) -> None:
    said = run_driver(tmp_path, OTHER_WRITE, write)
    assert said["alone_at_open"]
    code, listed = said["list"]
    assert not said["alone"] and code == 0 and not says(listed, HELD), listed
