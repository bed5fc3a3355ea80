"""Memory files when backing up, restoring and moving ATRI (s69): the copy an upgrade
keeps is private; a database made where `[memory] path` named none, or in an empty
file, is said; another program's SQLite file is left as it was; a file that is no
database, and a database or a gzipped export given to `atri memory import`, are named
as what they are."""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import os
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from atri.config import Settings
from atri.errors import ConfigError
from model.memory import Memory
from model.service import ChatService
from tests.atri.memory_cli import atri
from tests.cli_output import says
from tests.model.memory.test_upgrade_keeps_copy_s52 import schema_2_file

EXPORT = {
    "format": "atri-memory",
    "version": 5,
    "scope": "qq:user:6",
    "messages": [{"role": "user", "user_id": "6", "content": "from the backup", "created_at": 1.0}],
}
FOREIGN = "another program's database (tables: orders, users), not ATRI's memory"


@pytest.fixture(autouse=True)
def usual_umask() -> object:
    old = os.umask(0o022)
    yield
    os.umask(old)


def config_for(tmp_path: Path, database: str) -> Path:
    config = tmp_path / "config.toml"
    config.write_text(
        f'[model]\nengine = "echo"\n[memory]\npath = "{database}"\n', encoding="utf-8"
    )
    return config


def foreign_database(path: Path) -> str:
    """Another program's SQLite file (rollback journal, user_version 0); its digest."""
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
    con.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY)")
    con.execute("INSERT INTO users (name) VALUES ('someone')")
    con.commit()
    con.close()
    return digest(path)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def store_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "model.memory.store" and r.levelno == logging.WARNING
    ]


async def test_the_copy_an_upgrade_keeps_is_its_owners_alone(tmp_path: Path) -> None:
    path = tmp_path / "atri.sqlite3"
    schema_2_file(path)
    path.chmod(0o600)
    async with await Memory.open(path):
        pass
    copy = tmp_path / "atri.sqlite3.schema2.bak"
    assert stat.S_IMODE(copy.stat().st_mode) == 0o600


async def test_a_worker_says_once_that_it_made_a_new_database(
    echo_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    path = Path(echo_settings.memory.path)
    with caplog.at_level(logging.INFO):
        async with await ChatService.open(echo_settings):
            pass
    # Said, not warned: a first start makes one too.
    assert store_warnings(caplog) == []
    assert [r.getMessage() for r in caplog.records if "New memory database" in r.getMessage()] == [
        f"New memory database at {path} ([memory] path named none yet); if you moved ATRI or "
        "restored a backup, stop it and point [memory] path at the old file."
    ]
    caplog.clear()
    with caplog.at_level(logging.INFO):
        async with await ChatService.open(echo_settings):
            pass
    assert not [r for r in caplog.records if "New memory database" in r.getMessage()]


async def test_a_worker_on_an_empty_file_says_a_restore_failed_and_goes_on(
    echo_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    path = Path(echo_settings.memory.path)
    path.touch()
    with caplog.at_level(logging.WARNING):
        async with await ChatService.open(echo_settings) as service:
            await service.memory.append("s", "user", "1", "hi")
    (said,) = store_warnings(caplog)
    assert said.startswith(f"[memory] path {path} is empty (0 bytes)")
    assert "if you restored a backup, the copy failed" in said
    assert path.stat().st_size > 0


def test_atri_chat_says_so_in_its_output(tmp_path: Path) -> None:
    """In a process of its own, the log set up as `atri` sets it."""
    config = config_for(tmp_path, "moved/atri.sqlite3")
    run = subprocess.run(
        [sys.executable, "-m", "atri", "--config", str(config), "chat"],
        input="",
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "400"},
    )
    out = run.stdout + run.stderr
    assert run.returncode == 0, out
    assert out.count("New memory database") == 1, out
    assert says(out, "point [memory] path at the old file."), out


@pytest.mark.parametrize("command", [["list"], ["show", "qq:user:6"], ["export"]])
def test_read_only_commands_take_an_empty_file_for_no_database(
    tmp_path: Path, command: list[str]
) -> None:
    (tmp_path / "mem.sqlite3").touch()
    code, out = atri(config_for(tmp_path, "mem.sqlite3"), "memory", *command)
    assert code == 1
    assert says(out, f"No memory database at {tmp_path / 'mem.sqlite3'} ([memory] path): the")
    assert says(out, "the file is empty (0 bytes), so nothing is stored there; if you restored")
    assert (tmp_path / "mem.sqlite3").stat().st_size == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.toml", "mem.sqlite3"]


def test_an_import_into_an_empty_file_fills_it(tmp_path: Path) -> None:
    (tmp_path / "mem.sqlite3").touch()
    (tmp_path / "one.json").write_text(json.dumps(EXPORT), encoding="utf-8")
    config = config_for(tmp_path, "mem.sqlite3")
    code, out = atri(config, "memory", "import", str(tmp_path / "one.json"))
    assert code == 0 and "Imported 1 message" in out, out


@pytest.mark.parametrize(
    "command", [["list"], ["export"], ["reset", "qq:user:6"], ["import", "one.json"]]
)
def test_another_programs_database_is_refused_and_left_as_it_was(
    tmp_path: Path, command: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "one.json").write_text(json.dumps(EXPORT), encoding="utf-8")
    before = foreign_database(tmp_path / "other.db")
    code, out = atri(config_for(tmp_path, "other.db"), "memory", *command)
    assert code != 0
    assert says(out, f"[memory] path {tmp_path / 'other.db'} holds {FOREIGN};"), out
    assert "upgraded" not in out
    assert digest(tmp_path / "other.db") == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.toml", "one.json", "other.db"]


async def test_a_worker_refuses_another_programs_database(echo_settings: Settings) -> None:
    path = Path(echo_settings.memory.path)
    before = foreign_database(path)
    with pytest.raises(ConfigError, match=FOREIGN.replace("(", r"\(").replace(")", r"\)")):
        await ChatService.open(echo_settings)
    assert digest(path) == before
    assert not path.with_name(path.name + "-wal").exists()


@pytest.mark.parametrize("kind", ["export", "gzip"])
def test_a_file_that_is_no_database_is_named_so(tmp_path: Path, kind: str) -> None:
    text = json.dumps(EXPORT).encode()
    (tmp_path / "mem.sqlite3").write_bytes(gzip.compress(text) if kind == "gzip" else text)
    code, out = atri(config_for(tmp_path, "mem.sqlite3"), "memory", "list")
    assert code != 0
    assert says(
        out,
        f"[memory] path {tmp_path / 'mem.sqlite3'} is not an SQLite database (an export? a "
        "compressed copy?): move it aside and restore the database file, or `atri memory "
        "import` an export.",
    ), out
    assert "such as data/atri.sqlite3" not in out


@pytest.mark.parametrize("gzipped", [False, True])
def test_importing_a_database_file_says_it_is_one(tmp_path: Path, gzipped: bool) -> None:
    config = config_for(tmp_path, "mem.sqlite3")
    schema_2_file(tmp_path / "old.sqlite3")
    given = tmp_path / "old.sqlite3"
    if gzipped:
        given = tmp_path / "old.sqlite3.gz"
        given.write_bytes(gzip.compress((tmp_path / "old.sqlite3").read_bytes()))
    code, out = atri(config, "memory", "import", str(given))
    assert code == 1
    assert says(out, f"{given}: is an SQLite database"), out
    assert says(out, "not an export: export from it with a config whose [memory] path names it")
    assert "UTF-16" not in out and "UTF-8" not in out
    assert not (tmp_path / "mem.sqlite3").exists()


def test_a_gzipped_export_is_imported(tmp_path: Path) -> None:
    config = config_for(tmp_path, "mem.sqlite3")
    (tmp_path / "backup.json.gz").write_bytes(gzip.compress(json.dumps(EXPORT).encode()))
    code, out = atri(config, "memory", "import", str(tmp_path / "backup.json.gz"))
    assert code == 0 and "Imported 1 message" in out, out
    code, out = atri(config, "memory", "show", "qq:user:6")
    assert code == 0 and "from the backup" in out, out


def test_a_gzip_that_unpacks_past_the_limit_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("atri.memory_commands.MAX_UNPACKED_EXPORT_BYTES", 1000)
    config = config_for(tmp_path, "mem.sqlite3")
    (tmp_path / "big.json.gz").write_bytes(gzip.compress(b" " * 5000 + json.dumps(EXPORT).encode()))
    code, out = atri(config, "memory", "import", str(tmp_path / "big.json.gz"))
    assert code == 1 and says(out, "unpacks to over"), out
    assert not (tmp_path / "mem.sqlite3").exists()
