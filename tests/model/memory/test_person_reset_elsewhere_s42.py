"""Session 42: `atri memory reset` / `purge` of a person's key runs in a process of its
own beside the worker. It listed the person's conversations (`member_scopes_of`) before
SQLite's write lock was taken, so the worker could commit the person's first exchange in
a new group in between: read before the reset, stored before its record, found by none
of its statements, and live after it. Now the lock comes first: the worker's store waits
for the commit, then finds the reset's record. Real SQLite file, two connections."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from model.memory import Memory

NEW_GROUP = "qq:chan:g9:user:1"
EXCHANGE = [("user", "1", "小红", "我的电话是 123", ""), ("assistant", "", "", "记住了", "")]


@pytest.mark.parametrize("how", ["reset", "purge"])
async def test_a_first_exchange_stored_while_another_process_resets_the_person_is_not_kept(
    tmp_path: Path, how: str
) -> None:
    path = tmp_path / "memory.db"
    async with await Memory.open(path) as worker, await Memory.open(path) as elsewhere:
        await worker.append_many("qq:chan:g1:user:1", [EXCHANGE[0]], "m1")
        before = await worker.conversation(NEW_GROUP)  # her prompt, read before the reset
        stored: list[asyncio.Task[None]] = []
        listed = elsewhere.member_scopes_of

        async def list_then_let_the_worker_store(scope: str) -> list[str]:
            found = await listed(scope)
            stored.append(
                asyncio.create_task(
                    worker.append_many(NEW_GROUP, EXCHANGE, "m9", None, before.reset_mark)
                )
            )
            # Before: the store committed here, between the listing and the reset's commit.
            await asyncio.wait(stored, timeout=1.0)
            return found

        elsewhere.member_scopes_of = list_then_let_the_worker_store  # type: ignore[method-assign]
        if how == "reset":
            await elsewhere.reset_with_room("qq:user:1")
        else:
            await elsewhere.purge("qq:user:1")
        await stored[0]
        left = await worker.all_messages(NEW_GROUP)
        earlier = await worker.all_messages("qq:chan:g1:user:1")
    assert [m.content for m in left if not m.archived] == []
    assert all(m.archived for m in earlier)  # empty after a purge
