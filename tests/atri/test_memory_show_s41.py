"""Session 41 (second pass): `atri memory show` reads what it prints as of one moment,
as `export` does. It read a scope's summaries, its messages and its live summary one
statement at a time, so a summary the worker stored between those reads was the live
one the turns were cut by, yet missing from the summaries printed: the exchanges it
folded in were shown neither as turns nor through it. A real SQLite file; the worker's
write is a second connection's, committed while `show` reads."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from model.memory import Memory
from tests.atri.memory_cli import atri, memory_config

SCOPE = "qq:user:1"


async def two_exchanges(memory: Memory) -> None:
    for said, answer in (("第一句话", "第一个回答"), ("第二句话", "第二个回答")):
        await memory.append(SCOPE, "user", "1", said)
        await memory.append(SCOPE, "assistant", "", answer)


def test_show_prints_one_moment_while_a_summary_is_stored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = memory_config(tmp_path, two_exchanges)
    database = tmp_path / "mem.sqlite3"
    read_messages = Memory.all_messages
    stored: list[int] = []

    async def messages_then_a_summary(self: Memory, scope: str, **kwargs: Any) -> Any:
        found = await read_messages(self, scope, **kwargs)
        if not stored:  # the worker folds the first exchange in, just then
            with sqlite3.connect(database) as worker:
                worker.execute(
                    "INSERT INTO summaries (scope, text, covers_up_to, created_at)"
                    " VALUES (?, '他说了第一句话', 2, ?)",
                    (SCOPE, time.time()),
                )
            stored.append(1)
        return found

    monkeypatch.setattr(Memory, "all_messages", messages_then_a_summary)
    code, out = atri(config, "memory", "show", SCOPE)
    assert code == 0 and stored, out
    # As before the summary: every turn, and no summary cutting them.
    assert "第一句话" in out and "第一个回答" in out and "第二句话" in out, out
    assert "他说了第一句话" not in out

    # Shown again, it is in what is read: the summary, then the turns after it.
    code, out = atri(config, "memory", "show", SCOPE)
    assert code == 0 and "他说了第一句话" in out and "第一个回答" not in out, out
    assert "第二句话" in out
