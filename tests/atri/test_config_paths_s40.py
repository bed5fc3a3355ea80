"""Paths in config.toml as Windows users write them: backslashes (in single quotes, in
double quotes), `~`, folders named in Chinese or Japanese."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from atri.config import ConfigError, Settings, load_settings


def load(tmp_path: Path, text: str) -> Settings:
    config = tmp_path / "config.toml"
    config.write_text(text, encoding="utf-8")
    return load_settings(config)


def test_a_path_whose_backslashes_became_escapes_is_named_with_what_to_write(
    tmp_path: Path,
) -> None:
    # Before: "C:\new\tmp.db" loaded as "C:", a newline, "ew", a tab, "mp.db", and the
    # database was later made under that name.
    with pytest.raises(ConfigError) as raised:
        load(tmp_path, '[memory]\npath = "C:\\new\\tmp.db"\n')
    said = str(raised.value)
    assert '[memory] path = "C:\\new\\tmp.db": holds a control character' in said
    assert "write a Windows path in single quotes ('C:\\Users\\me\\atri')" in said


def test_a_backslash_toml_cannot_read_says_how_to_write_a_windows_path(tmp_path: Path) -> None:
    # Before: only "not valid TOML (Invalid hex value (at line 3, column 14))".
    with pytest.raises(ConfigError) as raised:
        load(tmp_path, '[model]\nbase = "x"\ncache_dir = "C:\\Users\\me\\cache"\n')
    said = str(raised.value)
    assert "not valid TOML (Invalid hex value (at line 3" in said
    assert "in double quotes a backslash starts an escape" in said
    # A mistake on a line without a backslash gets no such advice.
    with pytest.raises(ConfigError) as other:
        load(tmp_path, 'cache_dir = "C:\\\\x"\n[model\n')
    assert "starts an escape" not in str(other.value)


def test_windows_paths_in_single_quotes_tilde_and_non_ascii_folders(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "家"))
    monkeypatch.setattr("atri.config.ON_WINDOWS", True)  # elsewhere such a path is refused
    settings = load(
        tmp_path,
        "[model]\ncache_dir = '~/模型'\n"
        "[memory]\npath = 'C:\\Users\\夏生\\atri.sqlite3'\n"
        '[train]\ndataset = "データ/atri_sharegpt.json"\n',
    )
    assert settings.memory.path == "C:\\Users\\夏生\\atri.sqlite3"
    assert settings.path(settings.model.cache_dir) == tmp_path / "家" / "模型"
    dataset = settings.path(settings.train.dataset)
    assert dataset == tmp_path / "データ" / "atri_sharegpt.json"
    dataset.parent.mkdir()
    dataset.write_text("[]", encoding="utf-8")
    assert os.path.isfile(dataset)


@pytest.mark.parametrize(
    ("value", "said"),
    [
        (
            "data\\mem.sqlite3",
            "is written with Windows backslashes, which this system reads as "
            "one file name: write it with / ('data/mem.sqlite3')",
        ),
        ("D:\\atri\\mem.sqlite3", "names a Windows drive, which this system has not"),
        ("C:/atri/mem.sqlite3", "names a Windows drive, which this system has not"),
    ],
)
def test_a_windows_path_elsewhere_is_refused_with_the_path_for_here(
    tmp_path: Path, value: str, said: str
) -> None:
    """Copied from a Windows machine, `data\\mem.sqlite3` made a file of that name beside
    the config, and prep wrote its dataset into the config's folder (s66)."""
    (tmp_path / "config.toml").write_text(f"[memory]\npath = '{value}'\n", encoding="utf-8")
    with pytest.raises(ConfigError) as refused:
        load_settings(tmp_path / "config.toml")
    assert said in str(refused.value)
