"""An import meets messages the database already holds in another state: archived in the
file (a reset after the database's state), or edited on one side."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from model.memory import Memory, parse_export

T0 = 1796119200.0


def msg(role: str, text: str, at: float, archived: bool = False, rid: str = "") -> dict[str, Any]:
    user = "42" if role == "user" else ""
    return {
        "role": role,
        "user_id": user,
        "content": text,
        "created_at": at,
        "archived": archived,
        "request_id": rid,
    }


def backup(*messages: dict[str, Any], summaries: list[Any] | None = None) -> Any:
    data = {
        "format": "atri-memory",
        "version": 7,
        "scopes": [
            {"scope": "qq:user:42", "messages": list(messages), "summaries": summaries or []}
        ],
        "room_lines": [],
    }
    return parse_export(data, "backup.json")


async def test_a_newer_backup_with_a_reset_archives_the_stored_live_twins(tmp_path: Path) -> None:
    old = [msg("user", "my old secret", T0), msg("assistant", "heard it", T0 + 1)]
    summary = {"text": "they told a secret", "covers": 1, "created_at": T0 + 2}
    new = [dict(m, archived=True) for m in old] + [msg("user", "after reset", T0 + 9)]
    async with await Memory.open(tmp_path / "mem.sqlite3") as memory:
        await memory.import_export(backup(*old, summaries=[summary]))
        result = await memory.import_export(backup(*new, summaries=[dict(summary, archived=True)]))

        assert [m.content for m in await memory.history("qq:user:42")] == ["after reset"]
        assert await memory.summary("qq:user:42") is None
        assert result.counts.messages_archived == 2
        assert (result.counts.messages_added, result.counts.messages_skipped) == (1, 2)


async def test_an_older_backup_does_not_bring_an_archived_message_back(tmp_path: Path) -> None:
    live = msg("user", "hello", T0)
    async with await Memory.open(tmp_path / "mem.sqlite3") as memory:
        await memory.import_export(backup(dict(live, archived=True)))
        result = await memory.import_export(backup(live))

        assert await memory.history("qq:user:42") == []
        assert result.counts.messages_archived == 0


async def test_a_backup_from_before_an_edit_adds_no_second_copy(tmp_path: Path) -> None:
    async with await Memory.open(tmp_path / "mem.sqlite3") as memory:
        before_edit = backup(
            msg("user", "my cat is Mochi", T0, rid="e1"),
            msg("assistant", "cute", T0 + 1, rid="e1"),
            msg("user", "second", T0 + 5, rid="e2"),
        )
        await memory.import_export(before_edit)
        await memory.reword_message("qq:user:42", "42", "e1", "my cat is Tama", T0 + 60)

        result = await memory.import_export(before_edit)

        texts = [m.content for m in await memory.all_messages("qq:user:42")]
        assert texts == ["my cat is Tama", "cute", "second"]
        assert (result.counts.messages_added, result.counts.messages_skipped) == (0, 3)


async def test_an_edit_made_elsewhere_replaces_the_text_never_edited_here(
    tmp_path: Path,
) -> None:
    async with await Memory.open(tmp_path / "mem.sqlite3") as memory:
        await memory.import_export(backup(msg("user", "my cat is Mochi", T0, rid="e1")))

        result = await memory.import_export(backup(msg("user", "my cat is Tama", T0, rid="e1")))

        texts = [m.content for m in await memory.all_messages("qq:user:42")]
        assert texts == ["my cat is Tama"]
        assert result.counts.messages_reworded == 1


async def test_a_reply_cut_short_here_keeps_what_was_sent(tmp_path: Path) -> None:
    async with await Memory.open(tmp_path / "mem.sqlite3") as memory:
        full = backup(
            msg("user", "hi", T0, rid="r1"), msg("assistant", "hello there", T0 + 1, rid="r1")
        )
        await memory.import_export(full)
        await memory.cut_reply("qq:user:42", "r1", "hello")

        await memory.import_export(full)

        texts = [m.content for m in await memory.all_messages("qq:user:42")]
        assert texts == ["hi", "hello"]
