"""A hub id in `[model] base` with no network is one sentence at once, not ~50 s of
huggingface_hub's retry warnings first; a model in the HF cache still loads from there."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from huggingface_hub import constants

from atri.config import Settings
from model.engines import loading
from model.engines.loading import resolve_base
from model.engines.offline_gguf import ModelNotFoundError


def _no_network(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    timeouts: list[float] = []

    def head(url: str, timeout: float) -> None:
        timeouts.append(timeout)
        raise httpx.ConnectError("[Errno -2] Name or service not known")

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(httpx, "head", head)
    return timeouts


def _settings(base: str) -> Settings:
    settings = Settings()
    settings.model.base = base
    return settings


def test_an_uncached_hub_id_with_no_network_is_one_sentence_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    timeouts = _no_network(monkeypatch)
    monkeypatch.setattr(loading, "cached_hub_folder", lambda hub_id, name: None)
    with pytest.raises(ModelNotFoundError) as caught:
        resolve_base(_settings("Qwen/Qwen2.5-7B-Instruct"))
    message = str(caught.value)
    assert message.startswith('[model] base = "Qwen/Qwen2.5-7B-Instruct" could not be loaded')
    assert "does not answer: [Errno -2] Name or service not known" in message
    assert "not in the local Hugging Face cache" in message
    assert "check the hub id and your network" in message
    assert timeouts == [loading.HUB_PROBE_SECONDS] and loading.HUB_PROBE_SECONDS <= 10


def test_a_cached_hub_id_with_no_network_loads_from_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _no_network(monkeypatch)
    monkeypatch.setattr(loading, "cached_hub_folder", lambda hub_id, name: tmp_path)
    assert resolve_base(_settings("Qwen/Qwen2.5-7B-Instruct")) == str(tmp_path)


def test_a_hub_that_answers_gets_the_id(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(httpx, "head", lambda url, timeout: None)
    assert resolve_base(_settings("Qwen/Qwen2.5-7B-Instruct")) == "Qwen/Qwen2.5-7B-Instruct"


def test_hf_hub_offline_asks_nothing_of_the_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def head(url: str, timeout: float) -> None:
        raise AssertionError("the hub was asked")

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(httpx, "head", head)
    assert resolve_base(_settings("Qwen/Qwen2.5-7B-Instruct")) == "Qwen/Qwen2.5-7B-Instruct"
