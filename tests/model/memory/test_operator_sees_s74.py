"""Memory failures an operator could not see (QA s74, ops report items 1, 2 and 6).

1. The database file deleted, replaced or moved under a running worker: SQLite wrote on
   into the file it held, every chat answered "ok", and the next start made a new, empty
   database without a word. Now the first write after it is one ERROR sentence that says
   what keeps her memory, counted as a failed write in /metrics; its advice is followed
   here, on real files, and works.
2. A real I/O error (a file-size limit: `ulimit -f`) was told to "free some space on its
   disk"; it now names the causes to check.
3. Writes that work again after failing (a disk freed) are said, once.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from atri.config import Settings
from model.memory import Memory
from model.memory.database import FailureLog, FileMoved
from model.protocol import ChatRequest
from model.service import ChatService

REPO = Path(__file__).resolve().parents[3]
NOT_REMEMBERED = "Replies are given but not remembered meanwhile."
LOGGER = logging.getLogger("test.operator_sees")


def said(text: str, user: str = "u1") -> ChatRequest:
    return ChatRequest(platform="p", user_id=user, text=text)


def errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


def lines(caplog: pytest.LogCaptureFixture) -> list[tuple[str, str]]:
    """What the failure log said: (level, text)."""
    return [(r.levelname, r.getMessage()) for r in caplog.records if r.name == LOGGER.name]


def failed_replies(service: ChatService) -> float | None:
    return service.metrics.registry.get_sample_value(
        "atri_memory_write_failures_total", {"what": "reply"}
    )


async def stored(path: Path, scope: str) -> list[str]:
    async with await Memory.open(path) as memory:
        return [m.content for m in await memory.history(scope)]


def copy_back_command(sentence: str) -> list[str]:
    """The `cp /proc/<pid>/fd/<n> <path>` the sentence tells the operator to run."""
    (command,) = re.findall(r"`(cp /proc/\d+/fd/\d+ [^`]+)`", sentence)
    return command.split(" ")


async def test_a_deleted_database_is_said_counted_and_copied_back(
    echo_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    path = Path(echo_settings.memory.path)
    async with await ChatService.open(echo_settings) as service:
        scope = (await service.chat(said("before the rm"))).scope
        path.unlink()  # a cleanup script, a wrong `rm`
        with caplog.at_level(logging.WARNING):
            after = [await service.chat(said(f"after the rm {i}")) for i in range(3)]
        # Replies are still given; none is remembered, and each is counted.
        assert [r.status for r in after] == ["ok"] * 3
        assert failed_replies(service) == 3
        (sentence,) = errors(caplog)  # once, not once a message
        assert sentence.startswith(f"[memory] path {path} was deleted while ATRI ran: ")
        assert "it is gone once ATRI stops, a clean stop too" in sentence
        assert NOT_REMEMBERED in sentence
        # What it says to do, done while the worker still runs.
        subprocess.run(copy_back_command(sentence), check=True)
    assert await stored(path, scope) == ["before the rm", "亚托莉听到了：before the rm"]


async def test_a_clean_stop_alone_keeps_nothing_of_a_deleted_database(
    echo_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """What the sentence says of a clean stop: SQLite does not write the -wal into a
    file that was moved, and the file is gone with the process."""
    path = Path(echo_settings.memory.path)
    async with await ChatService.open(echo_settings) as service:
        scope = (await service.chat(said("before the rm"))).scope
        path.unlink()
        with caplog.at_level(logging.WARNING):
            await service.chat(said("after the rm"))
    assert "a clean stop too" in errors(caplog)[0]
    assert await stored(path, scope) == []


async def test_a_replaced_database_is_said_and_the_new_file_kept_as_told(
    echo_settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = Path(echo_settings.memory.path)
    new = tmp_path / "restored.sqlite3"
    async with await Memory.open(new) as restored:  # closed cleanly: no -wal
        await restored.append("p:user:u9", "user", "u9", "in the restored file")
    async with await ChatService.open(echo_settings) as service:
        for i in range(20):  # pages in her -wal that the new file does not have
            await service.chat(said(f"before the restore {i} " * 20))
        os.replace(new, path)  # a restore put over a running worker's file
        with caplog.at_level(logging.WARNING):
            assert (await service.chat(said("after the restore"))).status == "ok"
    (sentence,) = errors(caplog)
    assert sentence.startswith(f"[memory] path {path} was replaced by another file while")
    assert f"to keep the new file, stop ATRI and delete {path.name}-wal and" in sentence
    assert copy_back_command(sentence)  # or hers: copied back as for a deleted file
    # Done as told, once stopped: the new file opens whole, with what it held.
    for end in ("-wal", "-shm"):
        path.with_name(path.name + end).unlink()
    assert await stored(path, "p:user:u9") == ["in the restored file"]
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]


async def test_a_moved_database_put_back_is_written_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path, aside = tmp_path / "m.sqlite3", tmp_path / "old.sqlite3"
    async with await Memory.open(path) as memory:
        memory.failures = failures = FailureLog(path, LOGGER)  # as the worker's service does
        await memory.append("p:user:u1", "user", "u1", "before the move")
        path.rename(aside)  # `mv` meant to start over, under a running worker
        with caplog.at_level(logging.WARNING), pytest.raises(FileMoved) as moved:
            await memory.append("p:user:u1", "user", "u1", "while moved")
        failures.report(moved.value, "write", NOT_REMEMBERED)
        (sentence,) = errors(caplog)
        assert sentence.startswith(f"[memory] path {path} was moved to {aside} while ATRI ran")
        aside.rename(path)  # as told
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            await memory.append("p:user:u1", "user", "u1", "once back")
            await memory.append("p:user:u1", "user", "u1", "and after")
        assert lines(caplog) == [
            ("WARNING", f"[memory] path {path} is written again (1 write failed meanwhile).")
        ]
    assert await stored(path, "p:user:u1") == ["before the move", "once back", "and after"]


async def test_a_freed_disk_is_said_once_per_error_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A full disk (SQLite's own page limit, which fails as one does), freed: one line
    says memory is written again, with how many writes failed; a failure the log did
    not say again (every few minutes) gets no second one."""
    path = tmp_path / "m.sqlite3"
    async with await Memory.open(path) as memory:
        memory.failures = failures = FailureLog(path, LOGGER)
        await memory.append("p:user:u1", "user", "u1", "room for this")
        (pages,) = next(iter(await memory._db.execute_fetchall("PRAGMA page_count")))

        async def full_then_freed(failing: int) -> None:
            await memory._db.execute(f"PRAGMA max_page_count = {pages}")
            for _ in range(failing):
                with pytest.raises(sqlite3.OperationalError) as full:
                    await memory.append("p:user:u1", "user", "u1", "x" * 20_000)
                failures.report(full.value, "write", NOT_REMEMBERED)
            await memory._db.execute("PRAGMA max_page_count = 1000000")
            await memory.append("p:user:u1", "user", "u1", "freed")

        with caplog.at_level(logging.WARNING):
            await full_then_freed(3)
            await full_then_freed(2)  # within the 5 minutes: not said again, nor freed
    (error_level, error), again = lines(caplog)
    assert error_level == "ERROR" and "database or disk is full" in error
    assert "free some space on its disk" in error  # a full disk keeps its advice
    assert again == (
        "WARNING",
        f"[memory] path {path} is written again (3 writes failed meanwhile).",
    )


# A worker's service in a process whose files may not grow past 200 KiB (`ulimit -f
# 200`, systemd's LimitFSIZE=) on a disk with room: its -wal stops there, and SQLite says
# "disk I/O error" (EFBIG). SIGXFSZ, which would kill it, is ignored (Python does, as
# `atri` runs). Prints the log's error lines as JSON.
FILE_SIZE_LIMITED = """
import asyncio, json, logging, resource, signal, sys
from pathlib import Path
from atri.config import Settings
from model.protocol import ChatRequest
from model.service import ChatService

signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (200 * 1024, 200 * 1024))
root = Path(sys.argv[1])
settings = Settings(root=root)
settings.memory.path = str(root / "memory.sqlite3")
settings.model.adapters_dir = str(root / "adapters")
settings.model.engine = "echo"
settings.worker.rate_limit_per_minute = 0
lines = []
handler = logging.Handler(logging.ERROR)
handler.emit = lambda record: lines.append(record.getMessage())
logging.getLogger().addHandler(handler)

async def main():
    async with await ChatService.open(settings) as service:
        for i in range(80):
            text = f"message {i} " + "long words " * 320
            await service.chat(ChatRequest(platform="p", user_id="u1", text=text))

asyncio.run(main())
print(json.dumps(lines))
"""


@pytest.mark.skipif(sys.platform == "win32", reason="no RLIMIT_FSIZE")
def test_a_file_size_limit_is_not_called_a_full_disk(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-c", FILE_SIZE_LIMITED, str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    (sentence,) = json.loads(run.stdout.splitlines()[-1])
    assert "could not be written (disk I/O error)" in sentence, sentence
    # Space is one thing to check, no longer the only one, nor what brings her memory back.
    assert "the unfinished change was undone: check the disk for errors (`dmesg`)" in sentence
    assert "`ulimit -f`" in sentence and "LimitFSIZE=" in sentence
    assert "she remembers again once it is fixed" in sentence
    assert "once there is space" not in sentence


async def test_the_service_hears_writes_that_work_again(echo_service: ChatService) -> None:
    """The worker's failure log is the memory's: its "written again" line is the one that
    follows the worker's own ERROR lines."""
    assert echo_service.memory.failures is echo_service.database_failures
