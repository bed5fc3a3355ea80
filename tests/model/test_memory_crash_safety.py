"""kill -9 the worker during a stream of chats: every chat it answered is in memory."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
from pathlib import Path

from atri.config import Settings
from model.engines.echo import EchoEngine
from model.memory import Memory, scope_key
from tests.model.crash_worker import USERS

REPO = Path(__file__).resolve().parents[2]
CHATS = 3000
KILL_AFTER = 200


async def test_answered_chats_survive_kill_9(tmp_path: Path) -> None:
    memory_path = tmp_path / "crash.sqlite3"
    worker = subprocess.Popen(
        [sys.executable, "-m", "tests.model.crash_worker", str(memory_path)],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert worker.stdin is not None and worker.stdout is not None
    try:
        assert worker.stdout.readline().strip() == "READY"
        # The whole stream goes in at once; the worker answers as fast as it can.
        worker.stdin.write("".join(f"{i} chat {i}\n" for i in range(CHATS)))
        worker.stdin.flush()
        answered: list[int] = []
        while len(answered) < KILL_AFTER:
            line = worker.stdout.readline()
            assert line, "the worker exited before the kill"
            answered.append(int(line.split()[1]))
        os.kill(worker.pid, signal.SIGKILL)
        # What it printed before dying was sent on to users: it must all be in memory.
        answered += [int(line.split()[1]) for line in worker.stdout if line.startswith("ANSWERED")]
    finally:
        worker.kill()
        worker.wait()
    assert worker.returncode == -signal.SIGKILL
    assert len(answered) < CHATS, "the stream ended before the kill: nothing was in flight"

    kind = Settings().memory.scope  # the worker ran with the default scope
    async with await Memory.open(memory_path) as memory:
        stored: dict[str, str] = {}  # user text -> the reply stored after it
        for n in range(USERS):
            rows = await memory.all_messages(scope_key(kind, "crash", f"user{n}", "", ""))
            for user_row, reply_row in itertools.pairwise(rows):
                if user_row.role == "user" and reply_row.role == "assistant":
                    stored[user_row.content] = reply_row.content
    missing = [i for i in answered if stored.get(f"chat {i}") != EchoEngine.prefix + f"chat {i}"]
    assert not missing, f"{len(missing)} answered chats are not in memory: {missing[:10]}"
