"""A `[model] cache_dir` the file system refuses is one sentence, not the traceback of
the mkdir deep in the offline default's first load."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from atri.errors import ConfigError
from model.engines import offline_gguf


def test_a_cache_dir_that_is_a_file_is_one_sentence(tmp_path: Path) -> None:
    afile = tmp_path / "afile"
    afile.write_text("")
    with pytest.raises(ConfigError) as caught:
        offline_gguf.offline_default_folder(afile)
    message = str(caught.value)
    assert f"[model] cache_dir {afile} cannot be created ({afile} is a file)" in message
    assert "~/.cache/atri" in message


def test_a_cache_dir_under_a_file_names_the_file(tmp_path: Path) -> None:
    afile = tmp_path / "afile"
    afile.write_text("")
    with pytest.raises(ConfigError, match=f"{afile} is a file"):
        offline_gguf.offline_default_folder(afile / "cache")


def test_a_cache_dir_without_write_permission_is_one_sentence(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(**_: object) -> str:
        raise PermissionError(13, "Permission denied", str(tmp_path))

    monkeypatch.setattr(tempfile, "mkdtemp", refuse)
    with pytest.raises(ConfigError, match=r"cannot be created \(Permission denied\)"):
        offline_gguf.offline_default_folder(tmp_path / "cache")
