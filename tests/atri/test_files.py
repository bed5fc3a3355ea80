"""Work files named after their process: one killed outright (its cleanup never ran) is
removed by the next writer; one still running, or anything else, is left alone."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from tempfile import mkdtemp

from atri.files import owned, owned_prefix, remove_dead_leftovers, write_text_atomic


def dead_pid() -> int:
    child = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    return int(child.stdout)


def test_only_a_dead_process_leftovers_are_removed(tmp_path: Path) -> None:
    # The offline model's conversion (a whole model's size) left `.convert-…` folders
    # behind for good when it was killed; nothing removed them.
    dead = tmp_path / f".convert-{dead_pid()}-abc"
    (dead / "sub").mkdir(parents=True)
    (dead / "sub" / "model.safetensors").write_bytes(b"x" * 100)
    dead_file = tmp_path / f".stale-{dead_pid()}-x.gguf"
    dead_file.write_bytes(b"half")
    other = [tmp_path / ".convert-abc", tmp_path / "model", tmp_path / ".convert-12x-a"]
    for path in other:
        path.mkdir()
    with owned(lambda: Path(mkdtemp(prefix=owned_prefix(".convert-"), dir=tmp_path))) as live:
        removed = remove_dead_leftovers(tmp_path, ".convert-")
        removed += remove_dead_leftovers(tmp_path, ".stale-")
        assert sorted(removed) == sorted([dead, dead_file])
        assert not dead.exists() and not dead_file.exists()
        assert live.is_dir() and all(p.is_dir() for p in other)


def test_a_replaced_file_keeps_its_mode_and_no_temporary_stays(tmp_path: Path) -> None:
    # A memory backup made private with chmod 600 became 0644 when exported again.
    backup = tmp_path / "memory.json"
    backup.write_text("old", encoding="utf-8")
    backup.chmod(0o600)
    write_text_atomic(backup, "new")
    assert backup.read_text(encoding="utf-8") == "new"
    assert backup.stat().st_mode & 0o777 == 0o600
    fresh = tmp_path / "fresh.json"
    write_text_atomic(fresh, "x")
    new_file = tmp_path / "plain.txt"
    new_file.write_text("y", encoding="utf-8")
    assert fresh.stat().st_mode & 0o777 == new_file.stat().st_mode & 0o777
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fresh.json", "memory.json", "plain.txt"]


def test_a_write_killed_outright_leaves_nothing_after_the_next(tmp_path: Path) -> None:
    # Each write has a temporary of its own (two processes never share one): one left by
    # a write killed outright goes at the next write beside it.
    target = tmp_path / "manifest.json"
    stale = tmp_path / f".manifest.json.{dead_pid()}-abcd.tmp"
    stale.write_text("half", encoding="utf-8")
    write_text_atomic(target, "{}")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["manifest.json"]
