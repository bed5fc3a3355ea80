"""Work files named after their process: one killed outright (its cleanup never ran) is
removed by the next writer; one still running, or anything else, is left alone."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from atri.files import owned_prefix, remove_dead_leftovers


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
    live = tmp_path / f"{owned_prefix('.convert-')}def"
    live.mkdir()
    other = [tmp_path / ".convert-abc", tmp_path / "model", tmp_path / ".convert-12x-a"]
    for path in other:
        path.mkdir()
    removed = remove_dead_leftovers(tmp_path, ".convert-")
    removed += remove_dead_leftovers(tmp_path, ".stale-")
    assert sorted(removed) == sorted([dead, dead_file])
    assert not dead.exists() and not dead_file.exists()
    assert live.is_dir() and all(p.is_dir() for p in other)
