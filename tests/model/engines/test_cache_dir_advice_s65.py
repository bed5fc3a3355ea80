"""A read-only home: `[model] cache_dir` at its default (~/.cache/atri) could not be made,
and the sentence advised "such as ~/.cache/atri", the very folder that failed."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from model.engines.offline_gguf import cache_dir_error


def test_the_advice_is_not_the_folder_that_failed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    refused = OSError(errno.EROFS, "Read-only file system")
    at_home = str(cache_dir_error(tmp_path / ".cache" / "atri", refused))
    assert "(Read-only file system)" in at_home
    assert "such as ~/.cache/atri" not in at_home and "beside config.toml" in at_home
    elsewhere = str(cache_dir_error(Path("/mnt/ro/cache"), refused))
    assert "such as ~/.cache/atri" in elsewhere
