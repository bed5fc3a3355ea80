"""Session 53: a fresh worker under a low descriptor limit (`ulimit -n 64`) answered the
first burst of users with her error line, logging "[memory] path … could not be read
(unable to open database file)". The memory's reading connection (`_open_reader`) opened
the -wal beside the file only at its first read, which was the first prompt's: by then
the burst's connections had taken every descriptor (asyncio accepts all that wait), and
every read failed until one was freed. It is opened with the connection now, so no read
or write of the worker opens a file. Run in a child process, whose limit is lowered and
whose every descriptor is then taken, on a real SQLite file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("resource")  # no descriptor limit to lower on Windows

CHILD = r"""
import asyncio, json, os, resource, sys
from pathlib import Path

from atri.config import Settings
from model.memory import Memory
from model.protocol import ChatRequest
from model.service import ChatService

from tests.descriptor_limits import lower_descriptor_limit, with_none_left

lower_descriptor_limit()


async def store(path: Path) -> dict:
    async with await Memory.open(path) as memory:
        async def use() -> list:
            await memory.append("s", "user", "u", "hi")
            return [
                len(await memory.history("s")),
                await memory.summary("s"),
                len(await memory.messages_after("s", 0)),
            ]
        return {"store": await with_none_left(use)}


async def worker(root: Path) -> dict:
    settings = Settings(root=root)
    settings.memory.path = str(root / "worker.sqlite3")
    settings.model.engine = "echo"
    settings.reload.enabled = False
    settings.worker.rate_limit_per_minute = 0
    async with await ChatService.open(settings) as service:
        said = ChatRequest(platform="test", user_id="u", text="hello there")

        async def chat() -> str:
            return (await service.chat(said)).text

        reply = await with_none_left(chat)
        stored = await service.memory.history(service.scope_for("test", "u"))
        return {"chat": [reply, len(stored)]}


root = Path(sys.argv[1])
found = asyncio.run(store(root / "m.sqlite3"))
found.update(asyncio.run(worker(root)))
print(json.dumps(found))
"""


@pytest.fixture(scope="module")
def found(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """What the child found, every descriptor taken."""
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(tmp_path_factory.mktemp("descriptors"))],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[3],
    )
    assert done.returncode == 0, done.stderr[-3000:]
    found: dict[str, object] = json.loads(done.stdout.splitlines()[-1])
    return found


def test_with_no_descriptor_left_the_memory_still_reads_and_writes(
    found: dict[str, object],
) -> None:
    """Before: every read failed ("OperationalError: unable to open database file"),
    the write (on the connection that had opened its -wal) alone went through."""
    assert found["store"] == [1, None, 1]


def test_with_no_descriptor_left_a_chat_is_answered_and_remembered(
    found: dict[str, object],
) -> None:
    """Before: her error line (the echo engine echoes the message), nothing stored."""
    reply, stored = found["chat"]  # type: ignore[misc]
    assert "hello there" in reply
    assert stored == 2
