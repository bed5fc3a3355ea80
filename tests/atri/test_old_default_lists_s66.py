"""An upgrade keeps the user's config.toml, a copy of an earlier release's with every
default written out: its [ooc] lists pinned last release's phrases, and the newer
Japanese and English ones were never looked for, without a word."""

from __future__ import annotations

import json
from pathlib import Path

from atri.config import Settings, load_settings
from model.character.ooc import OOCDetector

# [ooc] profanity as config.toml wrote it until Japanese words were added (9cf38f43).
OLD_PROFANITY = ["傻逼", "操你", "妈的", "他妈", "滚蛋", "fuck", "shit", "bitch"]


def _load(tmp_path: Path, profanity: list[str]) -> Settings:
    path = tmp_path / "config.toml"
    path.write_text(f"[ooc]\nprofanity = {json.dumps(profanity, ensure_ascii=False)}\n", "utf-8")
    return load_settings(path)


def test_an_earlier_releases_list_gives_way_to_the_current_one(tmp_path: Path) -> None:
    settings = _load(tmp_path, OLD_PROFANITY)
    assert settings.ooc.profanity == Settings().ooc.profanity
    assert OOCDetector(settings.ooc, "ja").check("くたばれ！").reasons
    (notice,) = settings.notices
    assert "[ooc] profanity is an earlier release's default, so the current one is used" in notice


def test_a_list_of_ones_own_is_kept_as_written(tmp_path: Path) -> None:
    mine = [*OLD_PROFANITY, "heck"]
    settings = _load(tmp_path, mine)
    assert settings.ooc.profanity == mine and settings.notices == []


def test_a_merge_conflict_in_the_config_is_named(tmp_path: Path) -> None:
    """`git pull` over an edited config.toml left conflict markers: "Invalid statement"."""
    import pytest

    from atri.config import ConfigError

    path = tmp_path / "config.toml"
    path.write_text(
        "[discord]\n<<<<<<< Updated upstream\nadmin_ids = []\n=======\nadmin_ids = [1]\n"
        ">>>>>>> Stashed changes\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match="line 2: a git merge conflict marker"):
        load_settings(path)
