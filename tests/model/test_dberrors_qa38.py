"""A damaged, locked or full memory database (QA 38): the worker logs one sentence per
kind of failure, again at most every few minutes, never a traceback per message; the
sentence says whether reading or writing failed, and so does `atri memory`."""

from __future__ import annotations

import logging
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from atri.config import Settings
from model.memory import Memory, database_error
from model.memory.database import REPEAT_SECONDS
from model.protocol import ChatRequest
from model.service import ChatService

REPO = Path(__file__).resolve().parents[2]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def hello(user: str = "u1", text: str = "hello there, how is the sea today?") -> ChatRequest:
    return ChatRequest(platform="p", user_id=user, text=text, channel_id="c1")


def heard(user: str = "u2") -> ChatRequest:
    return hello(user, "a line she only overhears").model_copy(update={"addressed": False})


def failures(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """The failure lines; not the one warning that writes work again (s74), which follows
    a failure once the next write goes through."""
    return [
        r
        for r in caplog.records
        if r.levelno >= logging.WARNING and "is written again" not in r.getMessage()
    ]


def assert_sentences(records: list[logging.LogRecord]) -> None:
    """No traceback anywhere: each record one sentence (the text holds no newline)."""
    for record in records:
        assert record.exc_info is None and record.exc_text is None
        assert "\n" not in record.getMessage() and "Traceback" not in record.getMessage()


def damage(path: Path) -> None:
    """Overwrite every page past the schema's first ones, as a failing disk might."""
    con = sqlite3.connect(path)
    page_size = con.execute("PRAGMA page_size").fetchone()[0]
    pages = con.execute("PRAGMA page_count").fetchone()[0]
    con.close()
    data = bytearray(path.read_bytes())
    for page in range(5, pages):
        data[(page - 1) * page_size : page * page_size] = b"\xff" * page_size
    path.write_bytes(bytes(data))


async def fill_the_disk(service: ChatService) -> None:
    """No more pages for the database: SQLite's own limit on the file's size, which gives
    what a full disk gives (SQLITE_FULL) once the free room in its last pages is used."""
    db = service.memory._db
    pages = (await (await db.execute("PRAGMA page_count")).fetchone())[0]
    await db.execute(f"PRAGMA max_page_count = {pages}")


async def filled(settings: Settings, users: int = 5, each: int = 60) -> Path:
    """A database with enough conversation in it to span many pages."""
    path = Path(settings.memory.path)
    async with await Memory.open(path) as memory:
        for i in range(users * each):
            user = f"u{i % users}"
            said = "hello there, how is the sea? " * 8
            await memory.append_many(
                f"p:user:{user}", [("user", user, "", said, ""), ("assistant", "", "", said, "")]
            )
    return path


async def test_a_damaged_file_is_one_read_sentence_every_few_minutes(
    echo_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    damage(await filled(echo_settings))
    clock = Clock()
    async with await ChatService.open(echo_settings) as service:
        service.database_failures.clock = clock
        with caplog.at_level(logging.INFO):
            replies = [await service.chat(hello()) for _ in range(4)]
            assert [r.status for r in replies] == ["error"] * 4
            assert {r.text for r in replies} == {service.lines.error}
            (said,) = failures(caplog)
            clock.now += REPEAT_SECONDS  # a few minutes on, and still damaged
            await service.chat(hello())
        records = failures(caplog)
    assert_sentences(records)
    assert len(records) == 2
    text = said.getMessage()
    assert text.startswith(f"[memory] path {echo_settings.memory.path} could not be read (")
    assert "the file is damaged" in text and "could not be written" not in text
    assert "Chats get her error line meanwhile." in text
    assert "It happened 3 more times since it was last logged." in records[1].getMessage()


async def test_a_full_disk_is_one_write_sentence(
    echo_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    async with await ChatService.open(echo_settings) as service:
        assert (await service.chat(hello())).status == "ok"
        await fill_the_disk(service)
        with caplog.at_level(logging.INFO):
            statuses = []
            for i in range(40):  # past the free room left in the last pages
                statuses.append((await service.chat(hello(text=f"message {i} " * 40))).status)
                await service.chat(heard())
        records = failures(caplog)
        # The replies were made in time: given, though not remembered (logged once).
        assert "error" not in statuses
        # What was stored before the disk filled is still read.
        assert (await service.memory.history(service.scope_for("p", "u1", "c1")))[0].content
    assert_sentences(records)
    assert len(records) == 1, [r.getMessage() for r in records]
    text = records[0].getMessage()
    assert "could not be written (database or disk is full)" in text
    assert "free some space on its disk" in text


async def test_another_program_writing_is_one_sentence(
    echo_settings: Settings, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("model.memory.database.BUSY_TIMEOUT_SECONDS", 0.1)
    async with await ChatService.open(echo_settings) as service:
        assert (await service.chat(hello())).status == "ok"
        writer = sqlite3.connect(echo_settings.memory.path, isolation_level=None)
        writer.execute("BEGIN IMMEDIATE")  # an `atri memory import` in the middle of a write
        try:
            with caplog.at_level(logging.INFO):
                replies = [await service.chat(hello()) for _ in range(3)]
        finally:
            writer.execute("ROLLBACK")
            writer.close()
        # Made in time, so given; not remembered (the log says so once).
        assert [r.status for r in replies] == ["ok"] * 3
        assert (await service.chat(hello())).status == "ok"  # once it is done
    records = failures(caplog)
    assert_sentences(records)
    assert len(records) == 1
    assert "is in use: another program has been writing to it for over 0.1 seconds" in (
        records[0].getMessage()
    )


def test_a_read_error_is_not_called_a_write_error() -> None:
    path = Path("data/atri.sqlite3")
    read = sqlite3.OperationalError("disk I/O error")
    read.sqlite_errorcode = sqlite3.SQLITE_IOERR_READ  # type: ignore[attr-defined]
    said = str(database_error(path, read, "write"))
    assert "could not be read (disk I/O error)" in said and "written" not in said
    write = sqlite3.OperationalError("disk I/O error")
    write.sqlite_errorcode = sqlite3.SQLITE_IOERR_WRITE  # type: ignore[attr-defined]
    said = str(database_error(path, write, "read"))
    assert "could not be written (disk I/O error)" in said and "free some space" in said


async def test_atri_memory_on_a_damaged_file_says_it_could_not_be_read(
    echo_settings: Settings, tmp_path: Path
) -> None:
    path = await filled(echo_settings)
    async with await Memory.open(path) as memory:  # a first look: it is all there
        assert len(await memory.history("p:user:u1")) > 10
    damage(path)
    config = tmp_path / "config.toml"
    config.write_text(f'[memory]\npath = "{path}"\n', encoding="utf-8")
    env = {**os.environ, "COLUMNS": "300", "PYTHONPATH": str(REPO)}
    for command in (["show", "p:user:u1"], ["export", "p:user:u1"]):
        run = subprocess.run(
            [sys.executable, "-m", "atri", "--config", str(config), "memory", *command],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
        )
        out = " ".join((run.stdout + run.stderr).split())
        assert run.returncode == 1, out
        assert "Traceback" not in out
        assert "could not be read (database disk image is malformed): the file is damaged" in out
        assert "could not be written" not in out


async def test_a_route_on_a_damaged_file_answers_503_with_the_sentence(
    echo_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """Over HTTP (`atri worker`), a reset or a deleted message's `/forget-message` on a
    damaged file: 503 with the sentence, and the same one log line as for chats."""
    import httpx
    from pydantic import SecretStr

    from atri.config import Secrets
    from model.server.app import bind_socket, create_app, serving

    damage(await filled(echo_settings))
    secrets = Secrets(admin_token=SecretStr("t"))
    async with (
        await ChatService.open(echo_settings) as service,
        serving(create_app(service, secrets), bind_socket("127.0.0.1", 0)) as url,
        httpx.AsyncClient(base_url=url, headers={"Authorization": "Bearer t"}) as client,
    ):
        with caplog.at_level(logging.INFO):
            for path, body in [
                ("/reset", {"platform": "p", "user_id": "u1"}),
                ("/forget-message", {"platform": "p", "user_id": "u1", "request_id": "m1"}),
                ("/chat", {"platform": "p", "user_id": "u1", "text": "hi"}),
            ]:
                answer = await client.post(path, json=body)
                if path == "/chat":  # her error line, as in-process
                    assert answer.status_code == 200 and answer.json()["status"] == "error"
                    continue
                assert answer.status_code == 503, answer.text
                assert "the file is damaged" in answer.json()["detail"]
    records = failures(caplog)
    assert_sentences(records)
    assert len(records) == 1 and "A reset was refused." in records[0].getMessage()
    assert "could not be used (database disk image is malformed)" in records[0].getMessage()
