"""`atri memory import` reads a backup Windows PowerShell saved, and says what it did kind
by kind."""

from __future__ import annotations

import json
from pathlib import Path

from model.memory import Memory
from tests.atri.memory_cli import atri, memory_config

T0 = 1796119200.0


def said(text: str, at: float, archived: bool = False) -> dict[str, object]:
    return {
        "role": "user",
        "user_id": "42",
        "content": text,
        "created_at": at,
        "archived": archived,
    }


def backup_file(tmp_path: Path, *messages: dict[str, object], room: bool = False) -> Path:
    line = {
        "room": "qq:chan:9",
        "platform": "qq",
        "user_id": "7",
        "content": "hi all",
        "created_at": T0,
    }
    data = {
        "format": "atri-memory",
        "version": 7,
        "scopes": [{"scope": "qq:user:42", "messages": list(messages)}],
        "room_lines": [line] if room else [],
    }
    file = tmp_path / "backup.json"
    file.write_text(json.dumps(data), encoding="utf-8")
    return file


async def nothing(memory: Memory) -> None:
    pass


def test_a_backup_powershell_saved_as_utf16_is_imported(tmp_path: Path) -> None:
    config = memory_config(tmp_path, nothing)
    file = backup_file(tmp_path, said("こんにちは", T0), said("second", T0 + 1))
    # What Windows PowerShell 5.1's `atri memory export > backup.json` writes.
    file.write_bytes(file.read_text(encoding="utf-8").encode("utf-16"))

    code, out = atri(config, "memory", "import", str(file))

    assert code == 0, out
    assert "Imported 2 messages into 1 scope(s)." in out
    assert "こんにちは" in atri(config, "memory", "show", "qq:user:42")[1]


def test_the_summary_counts_each_kind_and_every_key_list_shows(tmp_path: Path) -> None:
    config = memory_config(tmp_path, nothing)
    file = backup_file(tmp_path, said("hello", T0), room=True)

    code, out = atri(config, "memory", "import", str(file))
    assert code == 0 and "Imported 1 message and 1 room line into 2 scope(s)." in out
    listed = atri(config, "memory", "list")[1]
    assert "qq:user:42" in listed and "qq:chan:9" in listed

    code, out = atri(config, "memory", "import", str(file))
    assert code == 0 and (
        "Imported nothing new into 2 scope(s) (already stored, skipped: 1 message and"
        " 1 room line)." in out
    )


def test_the_summary_names_the_stored_messages_a_newer_backup_archived(tmp_path: Path) -> None:
    config = memory_config(tmp_path, nothing)
    atri(config, "memory", "import", str(backup_file(tmp_path, said("my old secret", T0))))
    newer = backup_file(tmp_path, said("my old secret", T0, archived=True), said("after", T0 + 9))

    code, out = atri(config, "memory", "import", str(newer))

    assert code == 0 and "(1 stored message archived, as the file has them archived" in out
    shown = atri(config, "memory", "show", "qq:user:42")[1]
    assert "after" in shown and "my old secret" not in shown


def test_a_backup_from_before_a_purge_leaves_the_person_out_and_says_so(tmp_path: Path) -> None:
    config = memory_config(tmp_path, nothing)
    file = backup_file(tmp_path, said("my phone is 555", T0))
    atri(config, "memory", "import", str(file))
    assert atri(config, "memory", "purge", "qq:user:42", "--yes")[0] == 0

    code, out = atri(config, "memory", "import", str(file))

    assert code == 0 and "Imported nothing new into 1 scope(s) (left out, purged since" in out
    assert "1 message of qq:user:42; --include-purged restores them)" in out
    assert atri(config, "memory", "show", "qq:user:42")[0] == 1  # nothing stored

    code, out = atri(config, "memory", "import", str(file), "--include-purged")
    assert code == 0 and "Imported 1 message into 1 scope(s)." in out
