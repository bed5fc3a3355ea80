"""Memory's errors where the system has no statvfs (Windows): a database ATRI may not
write is still one sentence naming it, not an AttributeError."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from model.memory import database_error


def test_a_read_only_database_without_statvfs_is_named_in_a_sentence(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "atri.sqlite3"
    sqlite3.connect(path).close()
    read_only = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        with pytest.raises(sqlite3.Error) as failed:
            read_only.execute("CREATE TABLE t (x)")
    finally:
        read_only.close()
    monkeypatch.delattr(os, "statvfs")
    # Before: os.statvfs(folder) raised AttributeError, asking whether the disk was
    # mounted read-only.
    error = database_error(path, failed.value)
    assert str(path) in str(error) and "ATRI may not write the file" in str(error)
