"""`[memory] delete_after_days` and `atri memory prune`, as a tester found them (session
71): a returning user's exchange answered while her old messages were deleted was lost
(the insert read the deletion as a reset); the sweep said nothing without --verbose and
first ran 10 minutes after the start; and neither it nor prune said that an upgrade's
kept copy still holds what they deleted."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import pytest

from atri.cli import TOLD_LOGGERS
from atri.config import Settings
from model import service as service_module
from model.memory.store import Memory
from model.protocol import ChatRequest
from model.service import ChatService
from tests.atri.memory_cli import atri, memory_config
from tests.held_echo import HeldEcho
from tests.model.test_memory_retention_s71 import DAY, age, exchange

SCOPE = "qq:user:old"


async def old_conversation(memory: Memory) -> None:
    """Two exchanges of a user away for 100 days, too few for a summary."""
    for n in range(2):
        await memory.append_many(SCOPE, exchange(n, f"long ago {n}"), f"o{n}")


def back(text: str) -> ChatRequest:
    return ChatRequest(platform="qq", user_id="old", text=text, request_id="back")


async def test_an_exchange_answered_while_her_old_messages_are_deleted_is_stored(
    echo_settings: Settings,
) -> None:
    engine = HeldEcho()
    async with await ChatService.open(echo_settings, engine=engine) as service:
        await old_conversation(service.memory)
        age(service.memory.path, 100)
        reply = asyncio.create_task(service.chat(back("I am back")))
        await asyncio.wait_for(engine.started.wait(), 5)  # her prompt holds the old ones
        deleted = await service.memory.delete_older(time.time() - 90 * DAY)
        assert deleted.messages == 4
        engine.gate.set()
        assert (await reply).status == "ok"
        kept = [m.content for m in await service.memory.all_messages(SCOPE)]
        assert kept[:1] == ["I am back"] and len(kept) == 2  # not dropped as after a reset


async def test_a_reset_while_she_answers_still_drops_the_exchange(
    echo_settings: Settings,
) -> None:
    """What the deletion must not look like: a reset ends the context she answered."""
    engine = HeldEcho()
    async with await ChatService.open(echo_settings, engine=engine) as service:
        await old_conversation(service.memory)
        reply = asyncio.create_task(service.chat(back("I am back")))
        await asyncio.wait_for(engine.started.wait(), 5)
        await service.memory.reset(SCOPE)
        engine.gate.set()
        await reply
        assert await service.memory.all_messages(SCOPE, include_archived=False) == []


async def test_atri_memory_prune_while_she_answers_keeps_the_new_exchange(
    echo_settings: Settings, tmp_path: Path
) -> None:
    config = await asyncio.to_thread(memory_config, tmp_path, old_conversation)
    echo_settings.memory.path = str(tmp_path / "mem.sqlite3")
    age(tmp_path / "mem.sqlite3", 100)
    engine = HeldEcho()
    async with await ChatService.open(echo_settings, engine=engine) as service:
        reply = asyncio.create_task(service.chat(back("back again")))
        await asyncio.wait_for(engine.started.wait(), 5)
        code, out = await asyncio.to_thread(
            atri, config, "memory", "prune", "--older-than", "90", "--yes"
        )
        assert code == 0 and "Pruned: 4 messages" in out, out
        engine.gate.set()
        assert (await reply).status == "ok"
        kept = [m.content for m in await service.memory.all_messages(SCOPE)]
        assert kept[:1] == ["back again"] and len(kept) == 2


async def test_the_first_sweep_comes_soon_and_is_told_without_verbose(
    echo_settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The start says retention is on; its first sweep comes within a minute (here at
    once), not after the room sweep's 10 minutes, on a logger shown without --verbose,
    with purge's sentence about the upgrade's kept copy."""
    path = tmp_path / "memory.sqlite3"
    async with await Memory.open(path) as memory:
        await old_conversation(memory)
    age(path, 100)
    kept_copy = tmp_path / "memory.sqlite3.schema13.bak"
    kept_copy.write_bytes(b"")
    echo_settings.memory.delete_after_days = 90
    monkeypatch.setattr(service_module, "FIRST_RETENTION_SWEEP_SECONDS", 0.05, raising=False)
    caplog.set_level(logging.INFO)
    async with await ChatService.open(echo_settings) as service:
        for _ in range(100):
            await asyncio.sleep(0.05)
            if any("memory: deleted" in r.msg for r in caplog.records):
                break
        assert await service.memory.all_messages(SCOPE) == []
    told = [r.getMessage() for r in caplog.records if r.name in TOLD_LOGGERS and "memory:" in r.msg]
    assert told == [
        "memory: retention is on: messages older than 90 days are deleted every 10 minutes,"
        " the first time in 0.05 seconds",
        "memory: deleted 4 messages and 0 archived summaries older than 90 days"
        f" ([memory] delete_after_days). Not from {kept_copy}: the copy kept when an older"
        " ATRI's database was upgraded still holds what was stored before the upgrade;"
        " delete it once the upgrade is checked.",
    ]


async def test_a_first_sweep_that_finds_nothing_says_so(
    echo_settings: Settings, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    echo_settings.memory.delete_after_days = 90
    monkeypatch.setattr(service_module, "FIRST_RETENTION_SWEEP_SECONDS", 0.01, raising=False)
    caplog.set_level(logging.INFO)
    async with await ChatService.open(echo_settings):
        await asyncio.sleep(0.3)
    assert "memory: nothing older than 90 days to delete" in [
        r.getMessage() for r in caplog.records if r.name in TOLD_LOGGERS
    ]


def test_atri_memory_prune_names_the_upgrades_kept_copy(tmp_path: Path) -> None:
    config = memory_config(tmp_path, old_conversation)
    age(tmp_path / "mem.sqlite3", 100)
    (tmp_path / "mem.sqlite3.schema13.bak").write_bytes(b"")
    code, out = atri(config, "memory", "prune", "--older-than", "90", "--yes")
    assert code == 0, out
    said = " ".join(out.split())
    assert "Pruned: 4 messages older than 90 days deleted" in said
    assert "mem.sqlite3.schema13.bak: the copy kept when an older ATRI's database" in said
