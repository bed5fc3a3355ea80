"""`atri memory purge` after an upgrade: the copy the upgrade kept beside the database
(`mem.sqlite3.schema12.bak`) still holds the purged person's words, which the purge cannot
reach; the command says so, and names the copy."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from model.memory import MIGRATIONS
from tests.atri.memory_cli import atri
from tests.cli_output import says


def schema_12_database(path: Path) -> None:
    """A database as the release before purge records wrote it, a message each of qq:user:1
    and qq:user:2."""
    with sqlite3.connect(path) as con:
        for step in MIGRATIONS[:12]:
            con.executescript(step)
        con.execute(
            "INSERT INTO messages (scope, role, user_id, content, created_at)"
            " VALUES ('qq:user:1', 'user', '1', 'my phone is 555', 1),"
            " ('qq:user:2', 'user', '2', 'hello', 1)"
        )
        con.execute("PRAGMA user_version = 12")
    con.close()


def test_a_purge_names_the_upgrade_copy_that_still_holds_their_words(tmp_path: Path) -> None:
    schema_12_database(tmp_path / "mem.sqlite3")
    config = tmp_path / "config.toml"
    config.write_text('[memory]\npath = "mem.sqlite3"\n', encoding="utf-8")

    code, out = atri(config, "memory", "purge", "qq:user:1", "--yes")

    assert code == 0 and says(out, "Purged qq:user:1: 1 message deleted."), out
    copy = tmp_path / "mem.sqlite3.schema12.bak"
    assert b"my phone is 555" in copy.read_bytes()  # what the sentence warns of
    assert b"my phone is 555" not in (tmp_path / "mem.sqlite3").read_bytes()
    assert says(out, f"Not from {copy}: the copy kept when an older ATRI's database was"), out
    assert "delete it once the upgrade is checked" in out

    copy.unlink()  # checked and deleted: a later purge says nothing of it
    code, out = atri(config, "memory", "purge", "qq:user:2", "--yes")
    assert code == 0 and "Not from" not in out, out
