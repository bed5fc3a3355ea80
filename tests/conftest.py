"""Shared fixtures: settings on temporary paths, a tiny random Llama, the echo service."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

# Nothing in the tests may reach a model hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from atri.config import Settings
from tests.tiny_model import build_tiny_model, build_tiny_qwen2

TINY_ARCHITECTURES = ["llama", "qwen2"]


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random 2-layer Llama with a locally trained byte-level BPE tokenizer."""
    return build_tiny_model(tmp_path_factory.mktemp("tiny-llama"))


@pytest.fixture(scope="session")
def tiny_qwen2_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random 2-layer Qwen2 (biased q/k/v, tied embeddings), CJK-trained tokenizer."""
    return build_tiny_qwen2(tmp_path_factory.mktemp("tiny-qwen2"))


@pytest.fixture(params=TINY_ARCHITECTURES)
def any_tiny_model_dir(request: pytest.FixtureRequest) -> Path:
    """Each tiny architecture in turn: for tests that must hold on both."""
    name = "tiny_model_dir" if request.param == "llama" else "tiny_qwen2_dir"
    folder: Path = request.getfixturevalue(name)
    return folder


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Embedded defaults, with every file the tests write under tmp_path."""
    s = Settings(root=tmp_path)
    s.memory.path = str(tmp_path / "memory.sqlite3")
    s.model.adapters_dir = str(tmp_path / "adapters")
    s.model.cache_dir = str(_model_cache_dir())
    s.worker.rate_limit_per_minute = 0
    return s


@pytest.fixture
def echo_settings(settings: Settings) -> Settings:
    settings.model.engine = "echo"
    return settings


@pytest.fixture
def tiny_settings(settings: Settings, tiny_model_dir: Path) -> Settings:
    settings.model.base = str(tiny_model_dir)
    settings.generation.do_sample = False
    settings.generation.max_new_tokens = 8
    settings.generation.repetition_penalty = 1.0
    # A random model speaks no language: the OOC guard's language check would regenerate
    # every reply (tests of the guard set their own).
    settings.ooc.language = "any"
    return settings


@pytest.fixture
async def echo_service(echo_settings: Settings) -> AsyncIterator[object]:
    from model.service import ChatService

    service = await ChatService.open(echo_settings)
    try:
        yield service
    finally:
        await service.close()


def _model_cache_dir() -> Path:
    """The offline default is converted once per machine, not once per test."""
    return Path(os.environ.get("ATRI_TEST_MODEL_CACHE", Path.home() / ".cache" / "atri"))
