"""QA pass 38 on `atri memory`: rooms in list and reset, scopes that do not print,
unknown scopes, a byte-order mark, and a database on a full or read-only disk."""

from __future__ import annotations

import asyncio
import json
import os
import resource
import shlex
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

import atri.cli_common as cli_common
from atri.terminal import shown, typed
from model.memory import Memory
from model.room import RoomBounds
from tests.atri.memory_cli import atri, memory_config
from tests.cli_output import says
from tests.mount_namespace import run_in_mount_namespace

ODD = "qq:user:\x1b[2J7"  # ESC [2J: clear the screen
HIDDEN = "qq:user:\u202e8"  # a right-to-left override


# An `atri memory export` file of one scope holding one message.
ONE_MESSAGE_EXPORT = json.dumps(
    {
        "format": "atri-memory",
        "version": 5,
        "scope": "qq:user:6",
        "messages": [{"role": "user", "user_id": "6", "content": "x", "created_at": 1.0}],
    }
)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    async def fill(memory: Memory) -> None:
        await memory.append_many("qq:user:2", [("user", "2", "Bo", "hi", "")])
        for room in ("qq:chan:g1", "qq:chan:g2"):
            await memory.room.add(room, "qq", "1", "甲", "甲的话", RoomBounds())
            await memory.room.add(room, "qq", "2", "乙", "乙的话", RoomBounds())

    return memory_config(tmp_path, fill)


def table_row(out: str, scope: str) -> list[str]:
    """The cells of the `atri memory list` row of `scope`."""
    for line in out.splitlines():
        cells = [c.strip() for c in line.strip("│┃ ").split("│")]
        if cells and cells[0] == scope:
            return cells
    raise AssertionError(f"no row {scope!r} in:\n{out}")


def test_list_shows_rooms_and_reset_of_a_room_archives_its_lines(config: Path) -> None:
    """A room's lines were in no `atri memory list`, and `atri memory reset` of its key
    archived messages only: the lines stayed in every later prompt."""
    code, out = atri(config, "memory", "list")
    assert code == 0
    assert table_row(out, "qq:chan:g1")[1:4] == ["0", "0", "2"]  # live, archived, lines
    assert table_row(out, "qq:user:2")[1:4] == ["1", "0", "0"]

    code, out = atri(config, "memory", "reset", "qq:chan:g1")
    assert code == 0 and "Reset qq:chan:g1: 0 messages and 2 room lines archived." in out
    _, out = atri(config, "memory", "list")
    assert table_row(out, "qq:chan:g1")[3] == "0 (+2 archived)"
    assert table_row(out, "qq:chan:g2")[3] == "2"

    code, out = atri(config, "memory", "purge", "qq:chan:g2", "--yes")
    assert code == 0 and "Purged qq:chan:g2: 0 messages and 2 room lines deleted." in out
    _, out = atri(config, "memory", "list")
    assert "qq:chan:g2" not in out


def test_a_scope_that_does_not_print_is_shown_escaped_and_typed_back(
    config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`printable` dropped the ESC, so the listed scope named another one (or none) when
    typed back, and a direction override turned the line around."""

    async def fill() -> None:
        async with await Memory.open(tmp_path / "mem.sqlite3") as memory:
            await memory.append_many(ODD, [("user", "7", "Eve", "odd one", "")])
            await memory.append_many(HIDDEN, [("user", "8", "Mal", "hidden one", "")])
            await memory.append_many("qq:user:a\\b", [("user", "9", "Bs", "backslash", "")])

    asyncio.run(fill())
    code, out = atri(config, "memory", "list")
    assert code == 0 and not any(c in out for c in "\x1b\u202e")
    for as_shown, said in (
        ("qq:user:\\x1b[2J7", "odd one"),
        ("qq:user:\\u202e8", "hidden one"),
        ("qq:user:a\\\\b", "backslash"),
    ):
        assert table_row(out, as_shown)[1] == "1"
        code, out_show = atri(config, "memory", "show", as_shown)
        assert code == 0 and said in out_show
    code, out = atri(config, "memory", "export", "qq:user:\\x1b[2J7")
    assert code == 0 and json.loads(out)["scope"] == ODD
    code, out = atri(config, "memory", "reset", "qq:user:\\x1b[2J7")
    assert code == 0 and "Reset qq:user:\\x1b[2J7: 1 message archived." in out
    monkeypatch.setattr(cli_common, "stdin_is_terminal", lambda: True)  # the question
    code, out = atri(config, "memory", "purge", "qq:user:\\u202e8", stdin="y\n")
    assert code == 0 and "Delete every message of qq:user:\\u202e8 for good?" in out
    assert "Purged qq:user:\\u202e8: 1 message deleted." in out
    _, out = atri(config, "memory", "list")
    assert "u202e" not in out and table_row(out, "qq:user:\\x1b[2J7")[1:3] == ["0", "1"]


@pytest.mark.parametrize(
    "key",
    ["qq:user:2", "qq:user:\x1b[2J7", "a\\b", "\\x41", "\u2028", "x\U000e0001y", "\\xZZ"],
)
def test_shown_keys_read_back_as_themselves(key: str) -> None:
    assert typed(shown(key)) == key
    assert shown(key).isprintable()


@pytest.mark.parametrize("command", ["reset", "purge"])
def test_an_unknown_scope_is_named_not_reset_as_zero(
    config: Path, tmp_path: Path, command: str
) -> None:
    """`atri memory reset qq:user:22` (a typo) said "0 messages archived" as if done."""
    before = (tmp_path / "mem.sqlite3").read_bytes()
    code, out = atri(config, "memory", command, "qq:user:22", stdin="y\n")
    assert code == 1 and "Traceback" not in out
    assert says(out, "No scope qq:user:22 is remembered (see `atri memory list`).")
    assert says(out, "Did you mean qq:user:2?")
    assert "for good?" not in out  # nothing to confirm
    assert (tmp_path / "mem.sqlite3").read_bytes() == before
    # A user heard only in groups has no conversation, but lines a purge deletes.
    extra = ["--yes"] if command == "purge" else []
    code, out = atri(config, "memory", command, "qq:user:1", *extra)
    assert code == 0 and "qq:user:1:" in out


def test_import_reads_a_file_with_a_byte_order_mark(config: Path, tmp_path: Path) -> None:
    """A file saved by Notepad starts with a BOM: the import said it was no JSON."""
    export = {
        "format": "atri-memory",
        "version": 5,
        "scope": "qq:user:6",
        "messages": [{"role": "user", "user_id": "6", "content": "hello", "created_at": 1.0}],
    }
    file = tmp_path / "bom.json"
    file.write_bytes(b"\xef\xbb\xbf" + json.dumps(export).encode("utf-8"))
    code, out = atri(config, "memory", "import", str(file))
    assert code == 0 and "Imported 1 message into qq:user:6." in out


def test_a_disk_that_refuses_a_new_database_is_named_not_the_path(
    config: Path, tmp_path: Path
) -> None:
    """Files may not grow (EFBIG, SQLite's disk I/O error): the disk is the problem, and
    no empty file is left for the next command to take for a database."""
    (tmp_path / "mem.sqlite3").unlink()
    file = tmp_path / "one.json"
    file.write_text(
        ONE_MESSAGE_EXPORT,
        encoding="utf-8",
    )

    def tiny_files() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (1024, resource.RLIM_INFINITY))

    run = subprocess.run(
        [sys.executable, "-m", "atri", "--config", str(config), "memory", "import", str(file)],
        preexec_fn=tiny_files,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "400"},
    )
    out = run.stdout + run.stderr
    assert run.returncode == 1 and "Traceback" not in out, out
    assert says(out, "could not be read or written (disk I/O error): its disk may be full")
    assert "cannot be used as ATRI's database" not in out
    assert not (tmp_path / "mem.sqlite3").exists()


def in_own_mounts(tmp_path: Path, mount: str, commands: list[list[str]]) -> list[tuple[int, str]]:
    """Run `atri` commands where `mount` (shell) made a full or read-only disk, in a mount
    namespace of their own (`unshare`): no privileges needed, nothing left mounted."""
    results = tmp_path / "results"
    results.mkdir()
    lines = []
    for i, command in enumerate(commands):
        atri_command = shlex.join([sys.executable, "-m", "atri", *command])
        lines.append(f"{atri_command} > {results}/{i}.out 2>&1; echo $? > {results}/{i}.rc")
    run_in_mount_namespace(mount, lines, env={**os.environ, "COLUMNS": "400"})
    return [
        (
            int((results / f"{i}.rc").read_text()),
            (results / f"{i}.out").read_text(encoding="utf-8"),
        )
        for i in range(len(commands))
    ]


def test_a_full_disk_is_named_at_open_and_reading_still_works(tmp_path: Path) -> None:
    """ "database or disk is full" at open was told as a wrong `[memory] path` ("point it
    at a database file in a folder ATRI can write"); reading needs room for the -shm."""
    disk = tmp_path / "disk"
    disk.mkdir()
    config = tmp_path / "config.toml"
    config.write_text(f'[memory]\npath = "{disk}/mem.sqlite3"\n', encoding="utf-8")
    new_config = tmp_path / "new.toml"
    new_config.write_text(f'[memory]\npath = "{disk}/new.sqlite3"\n', encoding="utf-8")
    export = tmp_path / "one.json"
    export.write_text(
        ONE_MESSAGE_EXPORT,
        encoding="utf-8",
    )
    mount = (
        f"mount -t tmpfs -o size=256k tmpfs {disk} && "
        f"{shlex.join([sys.executable, '-m', 'atri', '--config', str(config)])}"
        f" memory import {export} > /dev/null && "
        f"(head -c 1000000 /dev/zero > {disk}/filler; true)"
    )
    c = ["--config", str(config), "memory"]
    results = in_own_mounts(
        tmp_path,
        mount,
        [
            ["--config", str(new_config), "memory", "import", str(export)],
            [*c, "reset", "qq:user:6"],
            [*c, "list"],
            [*c, "export", "qq:user:6"],
        ],
    )
    (code, new), (code_reset, reset), (code_list, listed), (code_export, exported) = results
    for out in (new, reset):
        assert says(out, "cannot be written: its disk is full"), out
        assert says(out, "free some space on it and run it again") and "point it at" not in out
    assert code == 1 and code_reset == 1
    assert code_list == 0 and table_row(listed, "qq:user:6")[1] == "1"
    assert code_export == 0 and json.loads(exported)["messages"][0]["content"] == "x"


def test_a_read_only_disk_is_named_and_reading_commands_still_work(
    config: Path, tmp_path: Path
) -> None:
    """A WAL database on a read-only disk could not even be listed (SQLite could not
    make its -shm there), and the error pointed at `[memory] path`."""
    source = tmp_path / "source"
    source.mkdir()
    shutil.move(tmp_path / "mem.sqlite3", source / "mem.sqlite3")
    with sqlite3.connect(source / "mem.sqlite3") as con:  # a WAL database, cleanly closed
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    con.close()
    assert not (source / "mem.sqlite3-shm").exists()
    disk = tmp_path / "disk"
    disk.mkdir()
    config.write_text(f'[memory]\npath = "{disk}/mem.sqlite3"\n', encoding="utf-8")
    mount = f"mount --bind {source} {disk} && mount -o remount,ro,bind {disk}"
    c = ["--config", str(config), "memory"]
    results = in_own_mounts(
        tmp_path,
        mount,
        [
            [*c, "list"],
            [*c, "export"],
            [*c, "show", "qq:user:2"],
            [*c, "reset", "qq:user:2"],
        ],
    )
    (code_list, listed), (code_export, exported), (code_show, showed), (code, reset) = results
    assert code_list == 0 and table_row(listed, "qq:user:2")[1] == "1", listed
    assert code_export == 0 and len(json.loads(exported)["room_lines"]) == 4
    assert code_show == 0 and "hi" in showed
    assert code == 2 and says(reset, "is on a read-only disk: nothing can be written there")
    assert "Traceback" not in reset
