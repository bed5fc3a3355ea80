"""`[model] adapter` names what a restart serves: the reload job's first look switched to
the newest version already in the folder, for a pinned version and a bare peft folder
alike. Only versions published after the start replace it. And a bare folder naming
another base was warned of as "its layer shapes fit, so it is taken" just before its
shapes refused it."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from atri.config import Settings
from atri.errors import ConfigError
from model.engines.local import LocalEngine
from model.service import ChatService
from tests.model.adapters.make_versions import write_version
from tests.model.adapters.test_reload import set_adapter_config
from tests.model.conftest import V1, V2, V3, MakeVersion

V4 = "20250101-000004"


def bare_folder(model_dir: Path, out: Path, tiny_hash: str, **config: object) -> Path:
    """A peft adapter folder without manifest.json, as another trainer leaves one."""
    folder = write_version(out.parent, out.name, model_dir, base_model="", config_hash=tiny_hash)
    (folder / "manifest.json").unlink()
    if config:
        set_adapter_config(folder, **config)
    return folder


async def test_a_pinned_version_is_served_with_newer_ones_in_the_folder(
    reload_settings: Settings, make_version: MakeVersion
) -> None:
    reload_settings.reload.enabled = True
    reload_settings.reload.interval_seconds = 3600  # only the start's look runs
    pinned = make_version(V1)
    make_version(V2, seed=2)
    make_version(V3, seed=3)
    reload_settings.model.adapter = str(pinned)
    async with await ChatService.open(reload_settings) as service:
        assert (await service.status()).adapter_version == V1
        assert await service.reloader.check() is None
        assert (await service.status()).adapter_version == V1
        make_version(V4, seed=4)  # published after the start
        switched = await service.reloader.check()
        assert switched is not None and switched.ok, switched
        assert (await service.status()).adapter_version == V4


async def test_a_pinned_bare_folder_is_served_with_versions_in_the_folder(
    reload_settings: Settings,
    make_version: MakeVersion,
    tiny_model_dir: Path,
    tiny_hash: str,
    tmp_path: Path,
) -> None:
    reload_settings.reload.enabled = True
    reload_settings.reload.interval_seconds = 3600
    make_version(V1)
    make_version(V2, seed=2)
    bare = bare_folder(tiny_model_dir, tmp_path / "bare", tiny_hash)
    reload_settings.model.adapter = str(bare)
    async with await ChatService.open(reload_settings) as service:
        assert (await service.status()).adapter_version == "bare"
        assert await service.reloader.check() is None
        make_version(V3, seed=3)
        switched = await service.reloader.check()
        assert switched is not None and switched.ok, switched
        assert (await service.status()).adapter_version == V3


async def test_without_a_pin_the_newest_version_is_taken_at_start_as_before(
    reload_settings: Settings, make_version: MakeVersion
) -> None:
    reload_settings.reload.enabled = True
    reload_settings.reload.interval_seconds = 3600
    make_version(V1)
    make_version(V2, seed=2)
    async with await ChatService.open(reload_settings) as service:
        assert (await service.status()).adapter_version == V2


async def test_a_bare_folder_of_another_size_is_refused_without_being_called_taken(
    reload_settings: Settings,
    wide_model_dir: Path,
    tiny_hash: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    folder = bare_folder(
        wide_model_dir, tmp_path / "wide", tiny_hash, base_model_name_or_path="org/wide-llama"
    )
    reload_settings.model.adapter = str(folder)
    with caplog.at_level(logging.WARNING), pytest.raises(ConfigError) as refused:
        await LocalEngine.load(reload_settings)
    assert "another model size" in str(refused.value)
    assert not [r for r in caplog.records if "it is taken" in r.getMessage()]


async def test_a_bare_folder_that_fits_is_still_warned_of_another_base(
    reload_settings: Settings,
    tiny_model_dir: Path,
    tiny_hash: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    folder = bare_folder(
        tiny_model_dir, tmp_path / "fits", tiny_hash, base_model_name_or_path="org/other-llama"
    )
    reload_settings.model.adapter = str(folder)
    with caplog.at_level(logging.WARNING):
        engine = await LocalEngine.load(reload_settings)
    try:
        assert engine.adapter_version == "fits"
    finally:
        await engine.close()
    [warned] = [r.getMessage() for r in caplog.records if "it is taken" in r.getMessage()]
    assert "'org/other-llama'" in warned and "its layer shapes fit, so it is taken" in warned
