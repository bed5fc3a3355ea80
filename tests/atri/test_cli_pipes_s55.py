"""`atri` written to a pipe or a file: one line a sentence, tables wide enough to read.

rich wrapped every line it printed to a pipe at 80 columns (or at the width of the
terminal the command was started from, read from stdin), so `atri worker > log.txt`, a
systemd journal or `docker logs` had the worker's address and long error sentences broken
in the middle. There a sentence is now one line and a table is laid out wide enough to
read; $COLUMNS, where set, is the width; a terminal is as it was.

Each test runs `python -m atri` as its own process, on this checkout's code, with its
output sent to pipes (and a pseudo-terminal where a terminal matters); so do those of
test_destructive_asks_s55.py, with the helpers here.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pty
import re
import selectors
import signal
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from atri.cli_common import PIPE_TABLE_WIDTH
from model.memory import SCHEMA_VERSION, Memory
from tests.atri.memory_cli import memory_config
from tests.atri.test_memory_cli_qa38 import table_row
from tests.atri.test_memory_upgrade_cli_s52 import schema_2_database

ROOT = Path(__file__).resolve().parents[2]
# A terminal narrower than any sentence here: where rich read its width from stdin.
NARROW = 40
LONG_SCOPE = "discord:chan:1234567890123456789:user:9876543210987654321"
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def env(**extra: str) -> dict[str, str]:
    """The environment `atri` runs in: this checkout's code, no width or colour from the
    environment the tests run in."""
    unset = ("COLUMNS", "LINES", "FORCE_COLOR", "TTY_COMPATIBLE", "ATRI_CONFIG", "ATRI_ADMIN_TOKEN")
    out = {k: v for k, v in os.environ.items() if k not in unset}
    return {**out, "PYTHONPATH": str(ROOT), **extra}


def atri(*args: str) -> list[str]:
    return [sys.executable, "-m", "atri", *args]


def test_the_commands_here_run_this_checkouts_code() -> None:
    run = subprocess.run(
        [sys.executable, "-c", "import atri.cli_common as c; print(c.__file__)"],
        capture_output=True,
        text=True,
        env=env(),
        cwd=ROOT,
        timeout=60,
    )
    assert Path(run.stdout.strip()) == ROOT / "atri" / "cli_common.py"


@contextlib.contextmanager
def terminal(columns: int) -> Iterator[tuple[int, int]]:
    """A pseudo-terminal `columns` wide: (the side the test reads and types on, the side
    `atri` is given)."""
    ours, theirs = pty.openpty()
    fcntl.ioctl(theirs, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    try:
        yield ours, theirs
    finally:
        os.close(ours)
        os.close(theirs)


def run_piped(
    *args: str, stdin: int | None = subprocess.DEVNULL, text: str | None = None, **extra: str
) -> subprocess.CompletedProcess[str]:
    """`atri ARGS` with stdout and stderr as pipes."""
    return subprocess.run(
        atri(*args),
        **({"input": text} if text is not None else {"stdin": stdin}),
        capture_output=True,
        text=True,
        env=env(**extra),
        cwd=ROOT,
        timeout=120,
    )


@contextlib.contextmanager
def started_from(where: str) -> Iterator[int | None]:
    """stdin as `atri worker > log.txt` typed in a narrow terminal has it, or as a
    service has it (nothing)."""
    if where == "service":
        yield subprocess.DEVNULL
        return
    with terminal(NARROW) as (_, theirs):
        yield theirs


def bad_config(tmp_path: Path) -> Path:
    path = tmp_path / "a-folder-with-a-rather-long-name-for-the-config" / "config.toml"
    path.parent.mkdir()
    path.write_text('[memory]\nscope = "galaxy"\n', encoding="utf-8")
    return path


BAD_SCOPE = "[memory] scope = \"galaxy\": must be one of 'user', 'user_in_channel' or 'channel'"


@pytest.mark.parametrize("where", ["service", "terminal"])
def test_a_long_error_to_a_pipe_is_one_line(tmp_path: Path, where: str) -> None:
    config = bad_config(tmp_path)
    with started_from(where) as stdin:
        run = run_piped("--config", str(config), "memory", "list", stdin=stdin)
    assert run.returncode == 2
    assert run.stderr.splitlines() == [f"error: {config}: {BAD_SCOPE}"]


def test_columns_is_the_width_of_a_pipe_when_set(tmp_path: Path) -> None:
    config = bad_config(tmp_path)
    run = run_piped("--config", str(config), "memory", "list", COLUMNS="50")
    lines = run.stderr.splitlines()
    assert len(lines) > 2 and max(len(line) for line in lines) <= 50
    assert "".join(run.stderr.split()) == "".join(f"error: {config}: {BAD_SCOPE}".split())


def test_a_terminal_still_wraps_at_its_width(tmp_path: Path) -> None:
    """On a terminal nothing changed: rich wraps at its width."""
    config = bad_config(tmp_path)
    with terminal(60) as (ours, theirs):
        process = subprocess.Popen(
            atri("--config", str(config), "memory", "list"),
            stdin=theirs,
            stdout=theirs,
            stderr=theirs,
            env=env(TERM="xterm"),
            cwd=ROOT,
        )
        shown = read_until_exit(ours, process)
    lines = [line for line in ANSI.sub("", shown).splitlines() if line.strip()]
    assert process.returncode == 2
    assert len(lines) > 2 and max(len(line) for line in lines) <= 60, lines
    assert "".join("".join(lines).split()) == "".join(f"error: {config}: {BAD_SCOPE}".split())


def read_until_exit(ours: int, process: subprocess.Popen[bytes]) -> str:
    """What `process` wrote on the terminal whose other side is `ours`, until it ended."""
    got = b""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with selectors.DefaultSelector() as selector:
            selector.register(ours, selectors.EVENT_READ)
            if selector.select(timeout=0.2):
                got += os.read(ours, 65536)
            elif process.poll() is not None:
                break
    process.wait(timeout=10)
    return got.decode().replace("\r\n", "\n")


def test_the_workers_address_is_one_line_in_its_log(tmp_path: Path) -> None:
    """`atri worker > log.txt`: the line a user copies the address from, whole."""
    config = tmp_path / "config.toml"
    config.write_text(
        '[model]\nengine = "echo"\n[memory]\npath = "mem.sqlite3"\n', encoding="utf-8"
    )
    with terminal(NARROW) as (_, theirs):
        worker = subprocess.Popen(
            atri("--config", str(config), "worker", "--port", "0"),
            stdin=theirs,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env(),
            cwd=ROOT,
        )
        try:
            line = first_line_with(worker, "listening on")
        finally:
            worker.send_signal(signal.SIGINT)
            _, err = worker.communicate(timeout=30)
    assert re.fullmatch(
        r"\S+'s worker listening on (http://127\.0\.0\.1:\d+) \(OpenAI API: \1/v1\)\. "
        r"Ctrl-C stops it\.",
        line,
    ), line
    notice = err.decode().splitlines()[0]
    assert notice.startswith("ATRI_ADMIN_TOKEN is not set:")
    assert notice.endswith(
        "(the OpenAI API, /status, /health, /metrics and /character still answer)."
    )


def first_line_with(process: subprocess.Popen[bytes], words: str) -> str:
    assert process.stdout is not None
    deadline = time.monotonic() + 90
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            if not selector.select(timeout=1):
                continue
            line = process.stdout.readline().decode()
            assert line, "the worker ended before it said where it listens"
            if words in line:
                return line.rstrip("\n")
    raise AssertionError(f"no line with {words!r} within 90 s")


def test_a_log_line_to_a_pipe_is_one_line_with_its_time(tmp_path: Path) -> None:
    """The upgrade of an older memory file is logged (without --verbose): rich's log
    handler laid it out as a table as wide as the output, broken over lines."""
    schema_2_database(tmp_path / "mem.sqlite3")
    config = tmp_path / "config.toml"
    config.write_text('[memory]\npath = "mem.sqlite3"\n', encoding="utf-8")
    with terminal(NARROW) as (_, theirs):
        run = run_piped("--config", str(config), "memory", "list", stdin=theirs)
    assert run.returncode == 0, run.stderr
    copy = tmp_path / "mem.sqlite3.schema2.bak"
    [line] = run.stderr.splitlines()
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d[+-]\d{4} INFO     "
        + re.escape(
            f"memory database upgraded from schema 2 to {SCHEMA_VERSION}; the earlier file is "
            f"kept at {copy}"
        ),
        line,
    ), line


def long_scope_config(tmp_path: Path) -> Path:
    async def fill(memory: Memory) -> None:
        await memory.append_many(LONG_SCOPE, [("user", "1", "Ann", "hello " * 40, "")])
        await memory.append_many("qq:user:2", [("user", "2", "Bo", "hi", "")])

    return memory_config(tmp_path, fill)


def test_a_table_to_a_pipe_is_laid_out_wide_enough(tmp_path: Path) -> None:
    """At 80 columns (or the 40 of the terminal it was started from) the scope column
    was folded: the key read as two."""
    config = long_scope_config(tmp_path)
    with terminal(NARROW) as (_, theirs):
        run = run_piped("--config", str(config), "memory", "list", stdin=theirs)
    assert run.returncode == 0, run.stderr
    assert table_row(run.stdout, LONG_SCOPE)[1:3] == ["1", "0"]
    assert table_row(run.stdout, "qq:user:2")[1:3] == ["1", "0"]
    assert max(len(line) for line in run.stdout.splitlines()) <= PIPE_TABLE_WIDTH
    narrow = run_piped("--config", str(config), "memory", "list", COLUMNS="50")
    assert max(len(line) for line in narrow.stdout.splitlines()) <= 50  # as asked


def test_memory_show_to_a_pipe_keeps_each_line_of_a_message_whole(tmp_path: Path) -> None:
    config = long_scope_config(tmp_path)
    run = run_piped("--config", str(config), "memory", "show", LONG_SCOPE)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == [f"user      Ann: {'hello ' * 39}hello"]
