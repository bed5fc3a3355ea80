"""Memory on a full disk, for the full-disk tests (QA s72): a database closed cleanly (no
-wal, no -shm) on a 1 MiB tmpfs that a filler file then fills, in a mount namespace of its
own (`run_in_mount_namespace` skips where mounting is not allowed), and a driver program
run there."""

from __future__ import annotations

import json
import os
import shlex
import sys
from pathlib import Path
from typing import Any

from tests.mount_namespace import run_in_mount_namespace

REPO = Path(__file__).resolve().parents[3]
# One conversation of one message, imported before the disk fills.
ONE_MESSAGE_EXPORT = {
    "format": "atri-memory",
    "version": 5,
    "scope": "qq:user:6",
    "messages": [{"role": "user", "user_id": "6", "content": "stored before", "created_at": 1.0}],
}
# What `atri memory` says of a file a worker or chat holds alone.
HELD = "is held by an ATRI worker or chat started while its disk"
# Wide enough that no sentence an `atri` command says is wrapped.
ENV = {**os.environ, "COLUMNS": "400"}

# Each driver starts so: `driver.py PATH CONFIG FILLER ARG`, and `memory_list()` runs
# `atri memory list` beside it. Its `main(said)` fills `said`, printed as JSON at the end.
DRIVER_PROLOGUE = """
import asyncio, json, os, subprocess, sys
from pathlib import Path
import model.memory.store as store
from model.memory import Memory

path, config, filler = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
arg = sys.argv[4]

def memory_list():
    run = subprocess.run([sys.executable, "-m", "atri", "--config", config, "memory", "list"],
                         capture_output=True, text=True)
    return run.returncode, run.stdout + run.stderr
"""
DRIVER_EPILOGUE = """
said = {}
asyncio.run(main(said))
print(json.dumps(said))
"""


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


def run_driver(tmp_path: Path, main: str, arg: str = "") -> dict[str, Any]:
    """`main` (the source of `async def main(said)`) run between the driver's prologue and
    epilogue on the full disk; the `said` it filled."""
    disk, config, mount = full_disk_after_a_clean_stop(tmp_path)
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER_PROLOGUE + main + DRIVER_EPILOGUE, encoding="utf-8")
    line = shlex.join(
        [sys.executable, str(driver), f"{disk}/mem.sqlite3", str(config), f"{disk}/filler", arg]
    )
    run = run_in_mount_namespace(mount, [line], cwd=REPO, env=ENV)
    assert run.returncode == 0, run.stderr
    said: dict[str, Any] = json.loads(run.stdout.strip().splitlines()[-1])
    return said
