"""`atri memory list` on a database an older ATRI wrote: it says (without --verbose) that
it upgraded the file and where the earlier one is kept; on a disk with no room for that
copy it upgrades nothing and says what to do."""

from __future__ import annotations

import os
import shlex
import sqlite3
import subprocess
import sys
from pathlib import Path

from model.memory import MIGRATIONS, SCHEMA_VERSION
from tests.atri.test_memory_cli_qa38 import in_own_mounts, table_row
from tests.cli_output import says


def schema_2_database(path: Path, messages: int = 1) -> None:
    """A database as ATRI wrote it at schema 2, `messages` messages of scope qq:user:1."""
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=WAL")
    for step in MIGRATIONS[:2]:
        con.executescript(step)
    con.executemany(
        "INSERT INTO messages (scope, role, user_id, content, created_at)"
        " VALUES ('qq:user:1', 'user', '1', ?, 1)",
        [(f"message {i} " + "x" * 200,) for i in range(messages)],
    )
    con.execute("PRAGMA user_version = 2")
    con.commit()
    con.close()


def test_list_says_it_upgraded_the_file_and_where_the_earlier_one_is(tmp_path: Path) -> None:
    """In a process of its own: the log is set up as `atri` sets it (in-process, pytest's
    handlers are there first)."""
    schema_2_database(tmp_path / "mem.sqlite3")
    config = tmp_path / "config.toml"
    config.write_text('[memory]\npath = "mem.sqlite3"\n', encoding="utf-8")
    run = subprocess.run(
        [sys.executable, "-m", "atri", "--config", str(config), "memory", "list"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "400"},
    )
    out = run.stdout + run.stderr
    assert run.returncode == 0 and table_row(out, "qq:user:1")[1] == "1", out
    copy = tmp_path / "mem.sqlite3.schema2.bak"
    assert says(
        out,
        f"memory database upgraded from schema 2 to {SCHEMA_VERSION}; the earlier file is "
        f"kept at {copy}",
    ), out
    with sqlite3.connect(copy) as con:
        assert con.execute("PRAGMA user_version").fetchone()[0] == 2


def test_no_room_for_the_copy_upgrades_nothing(tmp_path: Path) -> None:
    """A real full disk (tmpfs): room for SQLite's -shm, not for a copy of the file."""
    source = tmp_path / "mem.sqlite3"
    schema_2_database(source, messages=3000)  # about 800 KB
    disk = tmp_path / "disk"
    disk.mkdir()
    config = tmp_path / "config.toml"
    config.write_text(f'[memory]\npath = "{disk}/mem.sqlite3"\n', encoding="utf-8")
    mount = (
        f"mount -t tmpfs -o size=2m tmpfs {disk} && cp {shlex.quote(str(source))} {disk}/ && "
        f"head -c 200000 /dev/zero > {disk}/room && "
        f"(head -c 4000000 /dev/zero > {disk}/filler; true) && rm {disk}/room"
    )
    c = ["--config", str(config), "memory"]
    (code, out), (code_again, again) = in_own_mounts(tmp_path, mount, [[*c, "list"], [*c, "list"]])
    for said in (out, again):
        assert says(
            said,
            f"[memory] path {disk}/mem.sqlite3 holds a database from an older ATRI (schema 2), "
            f"which is upgraded to schema {SCHEMA_VERSION} only once a copy of it is kept, and "
            f"the copy {disk}/mem.sqlite3.schema2.bak could not be written",
        ), said
        assert says(said, "so nothing was changed: free about 1 MB on its disk and run it again.")
    # The second run found schema 2 still: the first changed nothing.
    assert code == code_again == 1
