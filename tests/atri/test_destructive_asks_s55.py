"""`atri memory purge` read its confirmation from a pipe (`echo y | atri memory purge …`
deleted: the answer was whatever the pipe held), while `atri adapters prune` refused
there. Both now refuse without a terminal unless --yes is given, with one sentence naming
it, and change nothing; on a terminal they ask (on stderr, seen with stdout sent to a
file). Each runs `python -m atri` as its own process, with pipes or a pseudo-terminal,
on a real SQLite file and real adapter version folders."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
from pathlib import Path

import pytest

from model.adapters.versions import list_versions
from model.memory import Memory
from tests.atri.memory_cli import memory_config
from tests.atri.test_adapters_list_prune_s53 import (  # noqa: F401 (fixtures)
    V1,
    V2,
    V3,
    V4,
    adapters,
    no_worker,
    tiny_hash,
)
from tests.atri.test_cli_pipes_s55 import ROOT, atri, env, run_piped, terminal

PURGE_REFUSED = (
    "error: Nothing deleted: without --yes, purge asks before it deletes anything, and no "
    "one can answer here (stdin is not a terminal); add --yes to delete them."
)
PRUNE_REFUSED = (
    "error: Nothing removed: without --yes, prune asks before it removes anything, and no "
    "one can answer here (stdin is not a terminal); add --yes to remove them."
)


def two_people(tmp_path: Path) -> Path:
    async def fill(memory: Memory) -> None:
        await memory.append_many("qq:user:1", [("user", "1", "Ann", "hello", "")])
        await memory.append_many("qq:user:2", [("user", "2", "Bo", "hi", "")])

    return memory_config(tmp_path, fill)


def stored(database: Path, scope: str) -> int:
    with contextlib.closing(sqlite3.connect(database)) as con:
        return int(
            con.execute("SELECT count(*) FROM messages WHERE scope = ?", (scope,)).fetchone()[0]
        )


@pytest.mark.parametrize("stdin", ["y\n", None])
def test_purge_without_a_terminal_refuses_unless_yes(tmp_path: Path, stdin: str | None) -> None:
    """`echo y | atri memory purge …` deleted: the answer was whatever the pipe held."""
    config = two_people(tmp_path)
    database = tmp_path / "mem.sqlite3"
    run = run_piped("--config", str(config), "memory", "purge", "qq:user:2", text=stdin)
    assert run.returncode == 1
    assert run.stderr.splitlines() == [PURGE_REFUSED]
    assert "Delete every message" not in run.stdout + run.stderr  # nothing was asked
    assert stored(database, "qq:user:2") == 1

    run = run_piped("--config", str(config), "memory", "purge", "qq:user:2", "--yes", text=stdin)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines()[0] == "Purged qq:user:2: 1 message deleted."
    assert stored(database, "qq:user:2") == 0
    assert stored(database, "qq:user:1") == 1


def answered_on_a_terminal(*args: str, answer: str) -> subprocess.CompletedProcess[str]:
    """`atri ARGS` with stdin a terminal, on which `answer` is typed; stdout and stderr
    sent to pipes (the question is on stderr, seen with stdout sent to a file)."""
    with terminal(80) as (ours, theirs):
        process = subprocess.Popen(
            atri(*args),
            stdin=theirs,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env(),
            cwd=ROOT,
            text=True,
        )
        os.write(ours, answer.encode())
        out, err = process.communicate(timeout=120)
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def test_purge_on_a_terminal_asks(tmp_path: Path) -> None:
    config = two_people(tmp_path)
    database = tmp_path / "mem.sqlite3"
    purge = ("--config", str(config), "memory", "purge", "qq:user:2")
    no = answered_on_a_terminal(*purge, answer="maybe\nn\n")
    asked = "Delete every message of qq:user:2 for good? [y/N]: "
    assert no.returncode == 1
    assert no.stderr == f"{asked}Answer y or n.\n{asked}"  # asked again
    assert no.stdout == "Nothing deleted.\n"
    assert stored(database, "qq:user:2") == 1
    yes = answered_on_a_terminal(*purge, answer="y\n")
    assert yes.returncode == 0, yes.stderr
    assert yes.stdout.startswith("Purged qq:user:2: 1 message deleted.")
    assert stored(database, "qq:user:2") == 0


def version_names(folder: Path) -> list[str]:
    return [p.name for p in list_versions(folder)]


@pytest.mark.parametrize("stdin", ["y\n", None])
def test_prune_without_a_terminal_refuses_unless_yes(
    adapters: Path,  # noqa: F811
    no_worker: Path,  # noqa: F811
    stdin: str | None,
) -> None:
    run = run_piped("--config", str(no_worker), "adapters", "prune", "--keep", "1", text=stdin)
    assert run.returncode == 1
    assert run.stderr.splitlines() == [PRUNE_REFUSED]
    assert f"To remove: {V1}" in run.stdout  # what would go is said first, each one line
    assert version_names(adapters) == [V1, V2, V3, V4]

    run = run_piped(
        "--config", str(no_worker), "adapters", "prune", "--keep", "1", "--yes", text=stdin
    )
    assert run.returncode == 0, run.stderr
    assert version_names(adapters) == [V4]


def test_prune_on_a_terminal_asks(adapters: Path, no_worker: Path) -> None:  # noqa: F811
    prune = ("--config", str(no_worker), "adapters", "prune", "--keep", "3")
    no = answered_on_a_terminal(*prune, answer="n\n")
    assert no.returncode == 1
    assert no.stderr == "Remove 1 version? [y/N]: "
    assert no.stdout.splitlines()[-1] == "Nothing removed."
    assert version_names(adapters) == [V1, V2, V3, V4]
    yes = answered_on_a_terminal(*prune, answer="y\n")
    assert yes.returncode == 0, yes.stderr
    assert version_names(adapters) == [V2, V3, V4]
