"""Session 67: Ctrl-C while `atri memory import` committed said "Stopped (Ctrl-C)." with
status 130 although every message was imported: aiosqlite commits in its own thread
whatever happens to the task awaiting it. A commit under way is now seen through and
the import reported as done."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from model.memory import Memory
from model.memory.export_format import parse_export


async def test_a_cancel_during_the_commit_reports_the_import_done(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with await Memory.open(tmp_path / "from.sqlite3") as source:
        await source.append_many(
            "qq:user:1", [("user", "1", "Ann", "hi", ""), ("assistant", "", "ATRI", "hi!", "")]
        )
        backup = parse_export(await source.backup(), "backup.json")
    async with await Memory.open(tmp_path / "to.sqlite3") as memory:
        importer = asyncio.current_task()
        assert importer is not None
        real_commit = memory._db.commit

        async def ctrl_c_while_committing() -> Any:
            importer.cancel()  # what run_async's Ctrl-C handler does
            return await real_commit()

        monkeypatch.setattr(memory._db, "commit", ctrl_c_while_committing)
        result = await memory.import_export(backup)
        monkeypatch.undo()
        assert result.counts.messages_added == 2
        assert [m.content for m in await memory.history("qq:user:1")] == ["hi", "hi!"]
        assert not importer.cancelling()
