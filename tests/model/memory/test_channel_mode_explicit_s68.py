"""Session 68: a channel set to "mention" is stored as set, as "off" and "all" are, so it
holds against its parent's mode and `[discord] channels`; a backup carries it and its
import restores it. Before, "mention" was stored as no row (the same as never set), and a
backup's "mention" row was skipped as already stored where the channel had none."""

from __future__ import annotations

import json
from pathlib import Path

from model.memory import Memory
from tests.atri.memory_cli import atri, memory_config
from tests.model.memory.test_backup_channel_modes_s67 import (
    modes_of,
    restored_config,
    set_modes,
    squeezed,
)


def test_mention_is_stored_as_a_setting_of_its_own(tmp_path: Path) -> None:
    database = tmp_path / "modes.sqlite3"
    set_modes(database, ("discord", "thread", "mention"), ("discord", "parent", "off"))
    assert modes_of(database, "discord") == {"thread": "mention", "parent": "off"}
    set_modes(database, ("discord", "parent", "mention"))
    assert modes_of(database, "discord") == {"thread": "mention", "parent": "mention"}


def test_a_backup_restores_a_channel_set_to_mention(tmp_path: Path) -> None:
    async def fill(memory: Memory) -> None:
        await memory.append_many("qq:user:1", [("user", "1", "A", "hi", "")])

    config = memory_config(tmp_path, fill)
    set_modes(tmp_path / "mem.sqlite3", ("discord", "thread", "mention"), ("qq", "g1", "off"))
    backup = tmp_path / "backup.json"
    code, out = atri(config, "memory", "export", "--out", str(backup))
    assert code == 0, out
    data = json.loads(backup.read_text(encoding="utf-8"))
    assert [(m["channel_id"], m["mode"]) for m in data["channel_modes"]] == [
        ("thread", "mention"),
        ("g1", "off"),
    ]

    code, out = atri(restored_config(tmp_path), "memory", "import", str(backup))
    assert code == 0, out
    assert "(2 channel modes restored)" in squeezed(out)
    assert modes_of(tmp_path / "restored.sqlite3", "discord") == {"thread": "mention"}
