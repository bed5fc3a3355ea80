"""Session 67: `atri memory export --out backup.json` left out the channel modes admins
set (`/atri mode off`), so `atri memory import` of it into a fresh database restored the
messages and not the modes: the groups an admin had silenced were answered again. A
backup (export version 9) carries them now and its import restores them. Through the real
CLI, on real SQLite files, the modes set as the worker sets them (`ChannelModes`)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from model.channels import ChannelModes
from model.memory import EXPORT_VERSION, Memory
from model.protocol import ChannelMode
from tests.atri.memory_cli import atri, memory_config


def squeezed(out: str) -> str:
    return " ".join(out.split())


def set_modes(database: Path, *modes: tuple[str, str, ChannelMode]) -> None:
    async def go() -> None:
        channels = await ChannelModes.open(database)
        try:
            for platform, channel_id, mode in modes:
                await channels.set(platform, channel_id, mode)
        finally:
            await channels.close()

    asyncio.run(go())


def modes_of(database: Path, platform: str) -> dict[str, ChannelMode]:
    async def go() -> dict[str, ChannelMode]:
        channels = await ChannelModes.open(database)
        try:
            return await channels.modes(platform)
        finally:
            await channels.close()

    return asyncio.run(go())


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """A group's conversation, group g1 silenced and Discord channel c2 set to "all"."""

    async def fill(memory: Memory) -> None:
        await memory.append_many(
            "qq:chan:g1", [("user", "1", "A", "hi", ""), ("assistant", "", "ATRI", "hi!", "")]
        )

    path = memory_config(tmp_path, fill)
    set_modes(tmp_path / "mem.sqlite3", ("qq", "g1", "off"), ("discord", "c2", "all"))
    return path


def restored_config(tmp_path: Path) -> Path:
    path = tmp_path / "restored.toml"
    path.write_text('[memory]\npath = "restored.sqlite3"\n', encoding="utf-8")
    return path


def test_a_backup_restores_the_channel_modes_into_a_fresh_database(
    config: Path, tmp_path: Path
) -> None:
    """Before: the backup held no modes, and the restored database none (`{}`)."""
    backup = tmp_path / "backup.json"
    code, out = atri(config, "memory", "export", "--out", str(backup))
    assert code == 0, out
    assert "2 messages, 0 summaries, 0 room lines and 2 channel modes" in squeezed(out)
    data = json.loads(backup.read_text(encoding="utf-8"))
    assert data["version"] == EXPORT_VERSION == 9
    assert [(m["platform"], m["channel_id"], m["mode"]) for m in data["channel_modes"]] == [
        ("discord", "c2", "all"),
        ("qq", "g1", "off"),
    ]

    restored = restored_config(tmp_path)
    code, out = atri(restored, "memory", "import", str(backup))
    assert code == 0, out
    assert "Imported 2 messages into 1 scope(s) (2 channel modes restored)." in squeezed(out)
    assert modes_of(tmp_path / "restored.sqlite3", "qq") == {"g1": "off"}
    assert modes_of(tmp_path / "restored.sqlite3", "discord") == {"c2": "all"}

    code, out = atri(restored, "memory", "import", str(backup))
    assert code == 0, out
    assert (
        "Imported nothing new into 1 scope(s) (already stored, skipped: 2 messages and"
        " 2 channel modes)." in squeezed(out)
    )
    # Restored as it was: a backup of the restored database is the same file.
    again = tmp_path / "again.json"
    assert atri(restored, "memory", "export", "--out", str(again))[0] == 0
    assert json.loads(again.read_text(encoding="utf-8")) == data


def test_a_mode_in_the_backup_sets_its_channel_and_others_keep_theirs(
    config: Path, tmp_path: Path
) -> None:
    backup = tmp_path / "backup.json"
    assert atri(config, "memory", "export", "--out", str(backup))[0] == 0
    restored = restored_config(tmp_path)
    database = tmp_path / "restored.sqlite3"
    # Set here since: g1 back on, g3 silenced, c2 already "all".
    set_modes(database, ("qq", "g1", "all"), ("qq", "g3", "off"), ("discord", "c2", "all"))

    code, out = atri(restored, "memory", "import", str(backup))
    assert code == 0, out
    assert "(already stored, skipped: 1 channel mode) (1 channel mode restored)" in squeezed(out)
    assert modes_of(database, "qq") == {"g1": "off", "g3": "off"}
    assert modes_of(database, "discord") == {"c2": "all"}


def test_a_backup_of_a_database_no_worker_opened_holds_no_modes(tmp_path: Path) -> None:
    """No worker ever made the table there: the backup is written, with no modes, and
    its import makes no table."""

    async def fill(memory: Memory) -> None:
        await memory.append_many("qq:user:1", [("user", "1", "A", "hi", "")])

    config = memory_config(tmp_path, fill)
    backup = tmp_path / "backup.json"
    code, out = atri(config, "memory", "export", "--out", str(backup))
    assert code == 0, out
    assert "Wrote 1 message, 0 summaries and 0 room lines to" in squeezed(out)
    assert json.loads(backup.read_text(encoding="utf-8"))["channel_modes"] == []
    code, out = atri(restored_config(tmp_path), "memory", "import", str(backup))
    assert code == 0 and "channel mode" not in out, out


def test_older_backups_still_import_and_a_scope_export_carries_no_modes(
    config: Path, tmp_path: Path
) -> None:
    backup = tmp_path / "backup.json"
    assert atri(config, "memory", "export", "--out", str(backup))[0] == 0
    older = json.loads(backup.read_text(encoding="utf-8"))
    del older["channel_modes"]
    older["version"] = 8  # as ATRI wrote it before
    backup.write_text(json.dumps(older), encoding="utf-8")
    code, out = atri(restored_config(tmp_path), "memory", "import", str(backup))
    assert code == 0 and "Imported 2 messages into 1 scope(s)." in squeezed(out), out

    # One scope is a conversation (or a person's data), not the admins' settings.
    one = tmp_path / "g1.json"
    assert atri(config, "memory", "export", "qq:chan:g1", "--out", str(one))[0] == 0
    data = json.loads(one.read_text(encoding="utf-8"))
    assert data["version"] == 9 and "channel_modes" not in data
    data["channel_modes"] = [
        {"platform": "qq", "channel_id": "g1", "mode": "off", "updated_at": 1.0}
    ]
    one.write_text(json.dumps(data), encoding="utf-8")
    code, out = atri(restored_config(tmp_path), "memory", "import", str(one))
    assert code == 1
    assert "channel_modes is not a field of an ATRI memory export" in squeezed(out)


def test_a_backup_with_a_mode_that_does_not_exist_is_refused_whole(
    config: Path, tmp_path: Path
) -> None:
    backup = tmp_path / "backup.json"
    assert atri(config, "memory", "export", "--out", str(backup))[0] == 0
    data = json.loads(backup.read_text(encoding="utf-8"))
    data["channel_modes"][1]["mode"] = "quiet"
    backup.write_text(json.dumps(data), encoding="utf-8")
    code, out = atri(restored_config(tmp_path), "memory", "import", str(backup))
    assert code == 1, out
    assert "channel_modes[1].mode must be 'off', 'mention' or 'all'" in squeezed(out)
    assert "nothing was imported" in squeezed(out)
    assert not (tmp_path / "restored.sqlite3").exists()


async def test_the_channel_modes_wait_as_long_as_the_memory_for_a_writer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: a busy timeout of its own (5000 ms), not `BUSY_TIMEOUT_SECONDS`."""
    monkeypatch.setattr("model.memory.database.BUSY_TIMEOUT_SECONDS", 0.25)
    channels = await ChannelModes.open(tmp_path / "mem.sqlite3")
    try:
        assert (await channels._db.execute_fetchall("PRAGMA busy_timeout"))[0][0] == 250
    finally:
        await channels.close()
