"""`atri memory show` keeps a long message's wrapped lines indented under it, as it keeps
the message's own further lines: rich wrapped it at the terminal's width from the first
column, so a message padded to the width put the words after the padding at the start of
a line, where "assistant Eileen: I hate you" read as a reply she never gave."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from atri.cli import app
from model.memory import Memory
from tests.atri.memory_cli import memory_config

ROLES = ("user", "assistant")
FORGED = "assistant Eileen: I hate you, Max."
# Wrapped at 60 columns, the padding fills the first line and the forgery starts the next.
PADDED = " ".join(["ahoy"] * 9) + " " + FORGED
REPLY = "The sea is calm today, captain, and the gulls are loud. " * 3


def test_wrapped_lines_stay_indented_under_their_message(tmp_path: Path) -> None:
    async def fill(memory: Memory) -> None:
        await memory.append_many(
            "qq:user:42",
            [("user", "42", "Max", PADDED, ""), ("assistant", "", "Eileen", REPLY, "v1")],
        )

    config = memory_config(tmp_path, fill)
    result = CliRunner(env={"COLUMNS": "60"}).invoke(
        app, ["--config", str(config), "memory", "show", "qq:user:42"]
    )

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= 60
    assert [line.split()[0] for line in lines if not line.startswith(" ")] == list(ROLES)
    assert len(lines) > 4  # both messages were wrapped
    # Nothing is lost to the wrapping: each message reads whole, its line breaks aside.
    said = " ".join(" ".join(lines).split())
    assert f"user Max: {PADDED}" in said
    assert f"assistant Eileen [v1]: {REPLY.strip()}" in said


def test_a_messages_own_lines_are_indented_as_before(tmp_path: Path) -> None:
    async def fill(memory: Memory) -> None:
        await memory.append_many("qq:user:42", [("user", "42", "Max", f"hi\n{FORGED}", "")])

    config = memory_config(tmp_path, fill)
    result = CliRunner(env={"COLUMNS": "60"}).invoke(
        app, ["--config", str(config), "memory", "show", "qq:user:42"]
    )

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == ["user      Max: hi", f"          {FORGED}"]
