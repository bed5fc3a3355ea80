"""Session 64: a Ctrl-C that lands while `atri memory import` closes the database (the
close checkpoints the log into the file: a moment after a big import) lets the close
finish and the command report the import, which was complete. It said "Stopped (Ctrl-C)."
and exited 130 over an import that had happened. A Ctrl-C during the import itself still
stops it."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest

import atri.cli_common as cli_common
from model.memory import Memory
from tests.atri.memory_cli import atri, memory_config
from tests.atri.test_memory_import_s53 import T0, backup_file, nothing, said


def ended_now(*args: object) -> None:
    raise SystemExit(131)


def stopped_now(*args: object) -> None:
    raise SystemExit(130)


def test_ctrl_c_while_the_import_closes_the_database_reports_the_import(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = memory_config(tmp_path, nothing)
    file = backup_file(tmp_path, said("first", T0), said("second", T0 + 1))
    close = Memory.close
    closes: list[str] = []

    async def pressed_while_closing(self: Memory) -> None:
        os.kill(os.getpid(), signal.SIGINT)
        await asyncio.sleep(0.2)  # the signal is handled while the close is under way
        await close(self)
        closes.append("closed")

    monkeypatch.setattr(Memory, "close", pressed_while_closing)
    # Ending the process at once (as a stop with a thread still busy does) would end the
    # test run: an exit status stands in for it.
    monkeypatch.setattr(cli_common, "end_now", ended_now)
    code, out = atri(config, "memory", "import", str(file))
    monkeypatch.setattr(Memory, "close", close)

    assert closes == ["closed"]
    assert code == 0, out
    assert "Imported 2 messages into 1 scope(s)." in out
    assert "Stopped" not in out
    assert "second" in atri(config, "memory", "show", "qq:user:42")[1]


def test_ctrl_c_during_the_import_still_stops_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = memory_config(tmp_path, nothing)
    file = backup_file(tmp_path, said("first", T0))
    imported = Memory.import_export

    async def pressed_while_importing(self: Memory, *args: object, **kwargs: object) -> object:
        os.kill(os.getpid(), signal.SIGINT)
        await asyncio.sleep(0.2)
        return await imported(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Memory, "import_export", pressed_while_importing)
    # Stopped at once where a thread is still busy: an exit status stands in for it.
    monkeypatch.setattr(cli_common, "end_now", stopped_now)
    code, out = atri(config, "memory", "import", str(file))

    assert code == 130, out
