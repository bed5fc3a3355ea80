"""A worker or chat started on a full disk after a clean stop (no -wal, no -shm left):
SQLite could not make the WAL index (-shm) for the first read, and `atri chat`, `serve`
and `worker` exited 1 where the README says they answer without remembering. It says
that once, shares the file again once there is space, and `atri memory` commands that
write refuse with their own sentence alone (QA s72). Real SQLite files on a real small
tmpfs, mounted in a mount namespace of their own (skipped where that is not allowed)."""

from __future__ import annotations

from pathlib import Path

from tests.cli_output import says
from tests.model.memory.full_disk import (
    ENV,
    HELD,
    REPO,
    atri_line,
    full_disk_after_a_clean_stop,
    run_driver,
)
from tests.mount_namespace import run_in_mount_namespace

FULL_SENTENCE = "Replies are given but not remembered meanwhile."


def test_chat_starts_and_says_it_once_while_commands_refuse_in_their_own_words(
    tmp_path: Path,
) -> None:
    _, config, mount = full_disk_after_a_clean_stop(tmp_path)
    results = tmp_path / "results"
    results.mkdir()
    commands = {
        "chat": f"printf 'said while full\\n' | {atri_line(config, 'chat')}",
        "purge": atri_line(config, "memory", "purge", "--yes", "qq:user:6"),
        "reset": atri_line(config, "memory", "reset", "qq:user:6"),
        "show": atri_line(config, "memory", "show", "qq:user:6"),
    }
    lines = [
        f"{c} > {results}/{n}.out 2>&1; echo $? > {results}/{n}.rc" for n, c in commands.items()
    ]
    run = run_in_mount_namespace(mount, lines, cwd=REPO, env=ENV)
    assert run.returncode == 0, run.stderr
    rc = {n: int((results / f"{n}.rc").read_text()) for n in commands}
    out = {n: (results / f"{n}.out").read_text(encoding="utf-8") for n in commands}

    chat = out["chat"]
    assert rc["chat"] == 0 and "said while full" in chat and "Traceback" not in chat, chat
    # One line at start; the reply that then could not be stored is not said again.
    assert chat.count("database or disk is full") == 1 and chat.count(FULL_SENTENCE) == 1, chat
    for name in ("purge", "reset"):
        assert rc[name] == 1, out[name]
        assert says(out[name], "cannot be written: its disk is full"), out[name]
        assert FULL_SENTENCE not in out[name] and "she remembers again" not in out[name]
    # Nothing of the chat was stored, nor purged.
    assert rc["show"] == 0 and "stored before" in out["show"]
    assert "said while full" not in out["show"]


# A worker's `Memory` opened on the full disk, a command beside it, then space again.
HELD_THEN_SHARED = """
async def main(said):
    memory = await Memory.open(path, answers_when_full=True)
    said["full_at_open"] = str(memory.full_at_open)
    said["history"] = [m.content for m in await memory.history("qq:user:6")]
    try:
        await memory.append("qq:user:6", "user", "6", "said while full")
    except Exception as exc:
        said["write_while_full"] = str(exc)
    said["list_while_full"] = memory_list()
    filler.unlink()
    await memory.append("qq:user:6", "user", "6", "said with space")
    said["shm_after"] = os.path.exists(str(path) + "-shm")
    said["list_after"] = memory_list()
    said["history_after"] = [m.content for m in await memory.history("qq:user:6")]
    await memory.close()
"""


def test_a_service_answers_from_the_full_disk_and_shares_the_file_once_there_is_space(
    tmp_path: Path,
) -> None:
    said = run_driver(tmp_path, HELD_THEN_SHARED)
    assert "full" in said["full_at_open"] and said["history"] == ["stored before"]
    assert "full" in said["write_while_full"]
    code, listed = said["list_while_full"]
    assert code == 1 and says(listed, HELD)
    assert "Traceback" not in listed
    code, listed = said["list_after"]
    assert said["shm_after"] and code == 0 and "qq:user:6" in listed, listed
    assert said["history_after"] == ["stored before", "said with space"]
