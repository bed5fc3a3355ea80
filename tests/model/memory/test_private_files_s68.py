"""The memory database and its exports hold people's private chats: new ones were made
readable by every account on the machine (0644 under the usual umask)."""

from __future__ import annotations

import asyncio
import os
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from atri.cli import app
from model.memory.store import Memory

OWNER_ONLY = 0o600


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def usual_umask() -> object:
    old = os.umask(0o022)
    yield
    os.umask(old)


async def test_a_new_database_and_its_wal_are_its_owners_alone(tmp_path: Path) -> None:
    path = tmp_path / "data" / "m.sqlite3"
    memory = await Memory.open(path)
    try:
        await memory.append_many("s", [("user", "7", "", "hello", "")], "m1")
        assert mode_of(path) == OWNER_ONLY
        assert mode_of(path.with_name("m.sqlite3-wal")) == OWNER_ONLY
    finally:
        await memory.close()


async def test_an_existing_database_keeps_the_mode_its_operator_gave_it(tmp_path: Path) -> None:
    path = tmp_path / "m.sqlite3"
    await (await Memory.open(path)).close()
    path.chmod(0o640)
    await (await Memory.open(path)).close()
    assert mode_of(path) == 0o640


def test_a_new_export_is_its_owners_alone_and_an_old_one_keeps_its_mode(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "config.toml").write_text('[memory]\npath = "m.sqlite3"\n', encoding="utf-8")
    asyncio.run(_one_message(tmp_path / "m.sqlite3"))
    runner = CliRunner()
    for out in ("whole.json", "one.json"):
        args = ["memory", "export", "--out", out]
        if out == "one.json":
            args[2:2] = ["test:user:7"]
        done = runner.invoke(app, args)
        assert done.exit_code == 0, done.output
        assert mode_of(tmp_path / out) == OWNER_ONLY
    (tmp_path / "whole.json").chmod(0o644)
    assert runner.invoke(app, ["memory", "export", "--out", "whole.json"]).exit_code == 0
    assert mode_of(tmp_path / "whole.json") == 0o644


async def _one_message(path: Path) -> None:
    memory = await Memory.open(path)
    try:
        await memory.append_many("test:user:7", [("user", "7", "", "hello", "")], "m1")
    finally:
        await memory.close()
