"""Session 76: copy checks arriving together are one statement (`_holds_groups`), so one
check whose text can't be bound (a lone surrogate) failed every check beside it. Each caller
now hears its own answer, the bad one its own error. A real SQLite file."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from model.memory import Memory

SCOPE, OTHER = "qq:user:42", "qq:user:43"


async def test_a_bad_copy_check_fails_only_itself(tmp_path: Path) -> None:
    async with await Memory.open(tmp_path / "mem.sqlite3") as memory:
        await memory.append_many(SCOPE, [("user", "42", "A", "hello", "")], request_id="m1")
        found = await asyncio.gather(
            memory.holds_request(SCOPE, "m1", "42", "hello", 0.0),
            memory.holds_request(OTHER, "m1", "43", "bad \ud800", 0.0),
            memory.holds_request(SCOPE, "m1", "42", "another text", 0.0),
            return_exceptions=True,
        )
        assert found[0] is True
        assert isinstance(found[1], UnicodeEncodeError)  # as it raises alone
        assert found[2] is False
        with pytest.raises(UnicodeEncodeError):
            await memory.holds_request(OTHER, "m1", "43", "bad \ud800", 0.0)
        # The checks after it are grouped and answered as before.
        again = await asyncio.gather(
            memory.holds_request(SCOPE, "m1", "42", "hello", 0.0),
            memory.holds_request(SCOPE, "m2", "42", "hello", 0.0),
        )
        assert again == [True, False]
