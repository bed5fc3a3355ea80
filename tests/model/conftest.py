"""Fixtures for adapter reload: the tiny model's settings, and a version writer."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from atri.config import Settings
from tests.model.adapters.make_versions import base_config_hash, write_version
from tests.tiny_model import build_tiny_model

V1, V2, V3 = "20250101-000001", "20250101-000002", "20250101-000003"

MakeVersion = Callable[..., Path]


@pytest.fixture(scope="session")
def tiny_hash(tiny_model_dir: Path) -> str:
    return base_config_hash(tiny_model_dir)


@pytest.fixture(scope="session")
def wide_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny model at another hidden size: its adapters do not fit the tiny one."""
    return build_tiny_model(
        tmp_path_factory.mktemp("wide-llama"), hidden_size=48, intermediate_size=96
    )


@pytest.fixture
def reload_settings(tiny_settings: Settings) -> Settings:
    """No scheduled job: tests call the job's `check()` themselves, deterministically."""
    tiny_settings.reload.enabled = False
    tiny_settings.reload.interval_seconds = 1
    # The random tiny model's replies often look out of character; regenerating them
    # would only slow the tests down.
    tiny_settings.worker.ooc_max_retries = 0
    return tiny_settings


@pytest.fixture
def adapters_dir(reload_settings: Settings) -> Path:
    return reload_settings.path(reload_settings.model.adapters_dir)


@pytest.fixture
def make_version(adapters_dir: Path, tiny_model_dir: Path, tiny_hash: str) -> MakeVersion:
    def make(name: str, model_dir: Path | None = None, **kwargs: Any) -> Path:
        kwargs.setdefault("base_model", str(tiny_model_dir))
        kwargs.setdefault("config_hash", tiny_hash)
        return write_version(adapters_dir, name, model_dir or tiny_model_dir, **kwargs)

    return make
