"""A version trained on a local `[model] base` folder is still taken once the model folder
moves (a new machine, another home): the manifest's path is not here, and the base's
config hash says whether it is the same model."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from atri.config import Settings
from model.adapters.validation import same_base
from model.service import ChatService
from tests.model.adapters.test_reload import set_manifest
from tests.model.conftest import V1, MakeVersion


def test_a_moved_local_base_agrees_when_a_config_hash_is_recorded(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    new = tmp_path / "models" / "smol-new"
    new.mkdir(parents=True)
    old = str(tmp_path / "gone" / "smol-old")

    with caplog.at_level(logging.INFO):
        assert same_base(old, str(new), tmp_path, recorded_hash="abc123")
        assert same_base(old, str(new), tmp_path, recorded_hash="abc123")
    assert sum("model folder moved" in r.getMessage() for r in caplog.records) == 1


def test_other_bases_are_still_told_apart(tmp_path: Path) -> None:
    new = tmp_path / "models" / "smol-new"
    new.mkdir(parents=True)
    elsewhere = tmp_path / "models" / "other"
    elsewhere.mkdir()
    old = str(tmp_path / "gone" / "smol-old")
    assert not same_base(old, str(new), tmp_path)  # no hash to check it by
    assert not same_base(str(elsewhere), str(new), tmp_path, "abc123")  # both here, differ
    assert not same_base("Qwen/Qwen2.5-7B", str(new), tmp_path, "abc123")  # a hub id
    assert not same_base(old, "Qwen/Qwen2.5-7B", tmp_path, "abc123")  # not a folder now


async def test_the_reload_job_takes_a_version_whose_base_folder_moved(
    reload_settings: Settings, make_version: MakeVersion, tmp_path: Path
) -> None:
    folder = make_version(V1)
    set_manifest(folder, base_model=str(tmp_path / "old-home" / "models" / "tiny"))
    async with await ChatService.open(reload_settings) as service:
        moved = await service.reload(V1)
    # Its config hash is the loaded base's (another's is refused: test_reload's "wrong
    # base config").
    assert moved.ok, moved.reason
