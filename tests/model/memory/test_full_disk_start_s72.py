"""A worker or chat started on a full disk after a clean stop (no -wal, no -shm left):
SQLite could not make the WAL index (-shm) for the first read, and `atri chat`, `serve`
and `worker` exited 1 where the README says they answer without remembering. It says
that once, shares the file again once there is space, and `atri memory` commands that
write refuse with their own sentence alone (QA s72). Real SQLite files on a real small
tmpfs, mounted in a mount namespace of their own (skipped where that is not allowed)."""

from __future__ import annotations

import json
import os
import shlex
import sys
from pathlib import Path

from tests.cli_output import says
from tests.mount_namespace import run_in_mount_namespace

REPO = Path(__file__).resolve().parents[3]
# One conversation of one message, imported before the disk fills.
ONE_MESSAGE_EXPORT = {
    "format": "atri-memory",
    "version": 5,
    "scope": "qq:user:6",
    "messages": [{"role": "user", "user_id": "6", "content": "stored before", "created_at": 1.0}],
}
FULL_SENTENCE = "Replies are given but not remembered meanwhile."


def atri_line(config: Path, *args: str) -> str:
    return shlex.join([sys.executable, "-m", "atri", "--config", str(config), *args])


def full_disk_after_a_clean_stop(tmp_path: Path) -> tuple[Path, Path, str]:
    """The database (made by `atri memory import`, which closes it cleanly: no -wal, no
    -shm), its config, and the shell line that mounts a 1 MiB tmpfs, makes it, and fills
    the disk."""
    disk = tmp_path / "disk"
    disk.mkdir()
    config = tmp_path / "config.toml"
    config.write_text(
        f'[model]\nengine = "echo"\n[memory]\npath = "{disk}/mem.sqlite3"\n', encoding="utf-8"
    )
    export = tmp_path / "one.json"
    export.write_text(json.dumps(ONE_MESSAGE_EXPORT), encoding="utf-8")
    mount = (
        f"mount -t tmpfs -o size=1m tmpfs {disk} && "
        f"{atri_line(config, 'memory', 'import', str(export))} > /dev/null && "
        f"test ! -e {disk}/mem.sqlite3-shm && "
        f"(head -c 2000000 /dev/zero > {disk}/filler; true)"
    )
    return disk, config, mount


def test_chat_starts_and_says_it_once_while_commands_refuse_in_their_own_words(
    tmp_path: Path,
) -> None:
    _, config, mount = full_disk_after_a_clean_stop(tmp_path)
    results = tmp_path / "results"
    results.mkdir()
    commands = {
        "chat": f"printf 'said while full\\n' | {atri_line(config, 'chat')}",
        "purge": atri_line(config, "memory", "purge", "--yes", "qq:user:6"),
        "reset": atri_line(config, "memory", "reset", "qq:user:6"),
        "show": atri_line(config, "memory", "show", "qq:user:6"),
    }
    lines = [
        f"{c} > {results}/{n}.out 2>&1; echo $? > {results}/{n}.rc" for n, c in commands.items()
    ]
    run = run_in_mount_namespace(mount, lines, cwd=REPO, env={**os.environ, "COLUMNS": "400"})
    assert run.returncode == 0, run.stderr
    rc = {n: int((results / f"{n}.rc").read_text()) for n in commands}
    out = {n: (results / f"{n}.out").read_text(encoding="utf-8") for n in commands}

    chat = out["chat"]
    assert rc["chat"] == 0 and "said while full" in chat and "Traceback" not in chat, chat
    # One line at start; the reply that then could not be stored is not said again.
    assert chat.count("database or disk is full") == 1 and chat.count(FULL_SENTENCE) == 1, chat
    for name in ("purge", "reset"):
        assert rc[name] == 1, out[name]
        assert says(out[name], "cannot be written: its disk is full"), out[name]
        assert FULL_SENTENCE not in out[name] and "she remembers again" not in out[name]
    # Nothing of the chat was stored, nor purged.
    assert rc["show"] == 0 and "stored before" in out["show"]
    assert "said while full" not in out["show"]


# Run inside the namespace: a worker's `Memory` opened on the full disk, a command beside
# it, then space again.
HELD_THEN_SHARED = """
import asyncio, json, os, subprocess, sys
from pathlib import Path
from model.memory import Memory

path, config, filler = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])

def memory_list():
    run = subprocess.run([sys.executable, "-m", "atri", "--config", config, "memory", "list"],
                         capture_output=True, text=True)
    return run.returncode, run.stdout + run.stderr

async def main():
    said = {}
    memory = await Memory.open(path, answers_when_full=True)
    said["full_at_open"] = str(memory.full_at_open)
    said["history"] = [m.content for m in await memory.history("qq:user:6")]
    try:
        await memory.append("qq:user:6", "user", "6", "said while full")
    except Exception as exc:
        said["write_while_full"] = str(exc)
    said["list_while_full"] = memory_list()
    filler.unlink()
    await memory.append("qq:user:6", "user", "6", "said with space")
    said["shm_after"] = os.path.exists(str(path) + "-shm")
    said["list_after"] = memory_list()
    said["history_after"] = [m.content for m in await memory.history("qq:user:6")]
    await memory.close()
    print(json.dumps(said))

asyncio.run(main())
"""


def test_a_service_answers_from_the_full_disk_and_shares_the_file_once_there_is_space(
    tmp_path: Path,
) -> None:
    disk, config, mount = full_disk_after_a_clean_stop(tmp_path)
    driver = tmp_path / "driver.py"
    driver.write_text(HELD_THEN_SHARED, encoding="utf-8")
    line = shlex.join(
        [sys.executable, str(driver), f"{disk}/mem.sqlite3", str(config), f"{disk}/filler"]
    )
    run = run_in_mount_namespace(mount, [line], cwd=REPO, env={**os.environ, "COLUMNS": "400"})
    assert run.returncode == 0, run.stderr
    said = json.loads(run.stdout.strip().splitlines()[-1])
    assert "full" in said["full_at_open"] and said["history"] == ["stored before"]
    assert "full" in said["write_while_full"]
    code, listed = said["list_while_full"]
    assert code == 1 and says(listed, "is held by an ATRI worker or chat started while its disk")
    assert "Traceback" not in listed
    code, listed = said["list_after"]
    assert said["shm_after"] and code == 0 and "qq:user:6" in listed, listed
    assert said["history_after"] == ["stored before", "said with space"]
