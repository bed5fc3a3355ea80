"""Session 70, a small machine (report G): out of memory and full disks. Running out of
RAM printed a raw traceback in every command and turned continuous batching off for
good; a worker or chat on a full memory disk refused to start; an export onto a full
disk printed a traceback under its sentence; the offline model's conversion onto a full
`cache_dir` ended in a SafetensorError traceback."""

from __future__ import annotations

import asyncio
import errno
import gc
import logging
import os
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import aiosqlite
import pytest
import torch
from typer.testing import CliRunner

import dataprep.encoding
from atri.cli import app
from atri.config import Settings
from atri.errors import UserError
from atri.out_of_memory import is_out_of_memory, out_of_memory_sentence
from model.engines import gguf_files, offline_gguf
from model.engines.base import EngineRequestFailed
from model.engines.local import LocalEngine
from model.engines.local_steps import Reading
from model.memory import Memory
from model.memory.backup import _ImportPart, _ImportPlan
from model.memory.export_format import ImportCounts, ScopeExport
from model.memory.purged import LeftOut
from tests.cli_output import says
from tests.model.engines.test_local import chat

FIXTURE = Path(__file__).parents[1] / "dataprep" / "fixtures" / "plain_zh.txt"
TORCH_CPU = (
    "[enforce fail at alloc_cpu.cpp:127] data. DefaultCPUAllocator: can't allocate memory: "
    "you tried to allocate 98500608 bytes. Error code 12 (Cannot allocate memory)"
)

OUT_OF_MEMORY = [
    MemoryError(),
    RuntimeError(TORCH_CPU),
    RuntimeError(
        "unable to mmap 538090408 bytes from file </root/.cache/atri/smollm2-135m-instruct/"
        "model.safetensors>: Cannot allocate memory (12)"
    ),
    OSError(errno.ENOMEM, os.strerror(errno.ENOMEM)),
    RuntimeError(
        "Failed to load shared library '/x/libllama.so': /x/libllama.so: failed to map "
        "segment from shared object"
    ),
    torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 MiB"),
]


def prep_failing_with(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, exc: BaseException | None
) -> Any:
    """`atri prep` whose decoding of the script raises `exc` (None: a real allocation
    past what any machine has)."""

    def decode(data: bytes, encoding: str) -> str:
        if exc is None:
            return bytes(1 << 62).decode()
        raise exc

    monkeypatch.chdir(tmp_path)
    shutil.copy(FIXTURE, tmp_path / "plain_zh.txt")
    monkeypatch.setattr(dataprep.encoding, "_decode_strict", decode)
    return CliRunner().invoke(app, ["prep", "plain_zh.txt", "--out", "out"])


@pytest.mark.parametrize("exc", [None, *OUT_OF_MEMORY], ids=lambda e: type(e).__name__)
def test_running_out_of_memory_is_one_sentence(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, exc: BaseException | None
) -> None:
    # Before: the raw traceback of each layer's error.
    result = prep_failing_with(tmp_path, monkeypatch, exc)
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)
    assert says(result.output, "error: Memory ran out during `atri prep`")
    assert says(result.output, "close other programs, then run it again.")
    assert not (tmp_path / "out").exists()


def test_another_error_keeps_its_traceback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result = prep_failing_with(tmp_path, monkeypatch, RuntimeError("a bug of ours"))
    assert isinstance(result.exception, RuntimeError)
    assert not is_out_of_memory(OSError(errno.ENOSPC, "No space left on device"))


def test_the_sentence_names_what_lowers_each_commands_memory() -> None:
    train = out_of_memory_sentence("__main__.py train", RuntimeError(TORCH_CPU))
    assert train.startswith("Memory ran out during `atri train` (RuntimeError: [enforce")
    assert "--batch-size 1" in train
    for command in ("atri chat", "atri serve", "atri worker"):
        said = out_of_memory_sentence(command, MemoryError())
        assert 'engine = "llamacpp"' in said and "context_window" in said


@pytest.fixture
async def engine(tiny_settings: Settings) -> Any:
    engine = await LocalEngine.load(tiny_settings)
    try:
        yield engine
    finally:
        await engine.close()


async def test_running_out_of_ram_fails_the_request_and_keeps_continuous_batching(
    engine: LocalEngine,
    tiny_settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A CPU allocation failure is a plain RuntimeError: it turned the step loop off for
    the worker's life and logged a traceback per row."""
    read = Reading.read
    failures = [RuntimeError(TORCH_CPU)]

    def short_of_memory(self: Reading, *args: Any, **kwargs: Any) -> Any:
        if failures:
            raise failures.pop()
        return read(self, *args, **kwargs)

    monkeypatch.setattr(Reading, "read", short_of_memory)
    gen = tiny_settings.generation
    with caplog.at_level(logging.WARNING):
        (row,) = engine.generate_rows([chat("hi")], gen)
        with pytest.raises(EngineRequestFailed) as failed:
            await asyncio.wait_for(row, 60)
        (again,) = engine.generate_rows([chat("hi")], gen)
        reply = await asyncio.wait_for(again, 60)
    said = str(failed.value)
    assert said.startswith("Memory ran out generating 1 row(s) (the longest prompt ")
    assert f"lower [model] context_window (now {engine.context_window})" in said
    assert engine.steps is not None and reply.new_tokens > 0
    assert "continuous batching turned off" not in caplog.text
    assert not any(record.exc_info for record in caplog.records)


async def test_running_out_of_ram_in_generate_keeps_the_prefix_cache(
    engine: LocalEngine, tiny_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    def short_of_memory(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError(TORCH_CPU)

    monkeypatch.setattr(engine.model, "generate", short_of_memory)
    with pytest.raises(RuntimeError, match="can't allocate memory"):
        await engine.generate([chat("hi"), chat("hello")], tiny_settings.generation)
    assert engine.prefix_cache.enabled


def failing_probe(monkeypatch: pytest.MonkeyPatch, message: str, code: int) -> None:
    """The start's write probe (`PRAGMA user_version = N` on an up-to-date file) fails
    as SQLite fails it on a full disk or a read-only file."""
    execute = aiosqlite.Connection.execute

    def probed(self: aiosqlite.Connection, sql: str, *args: Any, **kwargs: Any) -> Any:
        if sql.startswith("PRAGMA user_version = "):
            exc = sqlite3.OperationalError(message)
            exc.sqlite_errorcode = code  # type: ignore[attr-defined]
            raise exc
        return execute(self, sql, *args, **kwargs)

    monkeypatch.setattr(aiosqlite.Connection, "execute", probed)


async def test_a_worker_starts_on_a_full_memory_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Before: "cannot be written: its disk is full", and the restarted bot stayed down.
    path = tmp_path / "mem.sqlite3"
    async with await Memory.open(path) as memory:
        await memory.append("qq:user:1", "user", "1", "hello")
    failing_probe(monkeypatch, "database or disk is full", sqlite3.SQLITE_FULL)
    # A worker's open; the service logs why, once (tests/model/memory/test_full_disk_start_s72.py).
    async with await Memory.open(path, answers_when_full=True) as memory:
        assert [m.content for m in await memory.history("qq:user:1")] == ["hello"]
        assert "database or disk is full" in str(memory.full_at_open)
    with pytest.raises(UserError, match="cannot be written: its disk is full"):
        await Memory.open(path)  # a command refuses


async def test_a_read_only_memory_file_still_stops_the_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "mem.sqlite3"
    async with await Memory.open(path):
        pass
    failing_probe(monkeypatch, "attempt to write a readonly database", sqlite3.SQLITE_READONLY)
    with pytest.raises(UserError):
        await Memory.open(path)


async def test_an_export_onto_a_full_disk_closes_its_reading(tmp_path: Path) -> None:
    """Before: asyncio's finalizer closed the message stream on a closed connection and
    logged a 20-line traceback under the error's sentence."""
    seen: list[dict[str, Any]] = []
    asyncio.get_running_loop().set_exception_handler(lambda loop, context: seen.append(context))
    memory = await Memory.open(tmp_path / "mem.sqlite3")
    for scope in range(3):
        rows = [("user", "1", "", "hello " * 400, "")] * 1500
        await memory.append_many(f"qq:user:{scope}", rows)
    writes = []

    def onto_full_disk(text: str) -> None:
        writes.append(text)
        if len(writes) > 1:
            raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OSError):
        await memory.write_backup(onto_full_disk)
    await memory.close()
    gc.collect()
    for _ in range(3):
        await asyncio.sleep(0)
    assert not seen, seen


def test_a_full_cache_dir_is_one_sentence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import transformers

    class Saved:
        def save_pretrained(self, out: Path) -> None:
            raise Exception(  # safetensors' SafetensorError, as Rust's io::Error says it
                "Error while serializing: I/O error: No space left on device (os error 28)"
            )

    def loaded(*args: Any, **kwargs: Any) -> Saved:
        return Saved()

    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", loaded)
    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", loaded)
    with pytest.raises(UserError) as refused:
        offline_gguf.convert_offline(tmp_path / "source", tmp_path / "cache" / "work")
    assert str(refused.value) == (
        f"[model] cache_dir {tmp_path / 'cache'} cannot hold the offline model (its disk is "
        "full): it needs about 520 MB there; free some space or point cache_dir at another "
        "disk."
    )


def test_a_gguf_read_that_ran_out_of_memory_is_not_taken_for_an_unreadable_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def out_of_memory(path: Path) -> str:
        raise MemoryError

    monkeypatch.setattr(gguf_files, "gguf_config_hash", out_of_memory)
    with pytest.raises(MemoryError):
        gguf_files.gguf_config_hash_or_none(tmp_path / "model.gguf")


def test_a_stopped_import_counts_the_scopes_it_wrote() -> None:
    # Before: "Imported 75000 messages into 2000 scope(s)" where 750 were written.
    plan = _ImportPlan(include_purged=False, name="3 scope(s)", names_scopes=True)
    for scope in ("qq:user:1", "qq:user:2", "qq:user:3"):
        plan.parts.append(_ImportPart(scopes=[(ScopeExport(scope=scope, messages=[]), False)]))
    plan.merge(ImportCounts(messages_added=5), LeftOut(), plan.parts[0])
    assert plan.stopped_result().scope == "1 scope(s)"
    assert plan.result().scope == "3 scope(s)"
