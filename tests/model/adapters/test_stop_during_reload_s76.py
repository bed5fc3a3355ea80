"""A worker stopped (Ctrl-C on `atri serve`) while the scheduled job was staging a new
adapter version waited for the whole reload: 39 s on a loaded box, after which the
version was logged "Now serving" in a worker already stopped. The stop now abandons the
staging: it waits for the engine's step in progress at most, the half-loaded version is
released, the live one stays, and nothing goes live after the stop began.

Real tiny model, real scheduled job; only the step the stop lands in is made slow."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from atri.config import Settings
from model.adapters.versions import rolled_back_versions
from model.service import ChatService
from tests.model.conftest import V1, V2, MakeVersion

# How long the slowed step takes: a stop that waits for the whole reload waits this long.
SLOW_SECONDS = 20.0
# The stop's bound where it lands in a step that is only awaited (the smoke reply's turn).
QUICK_STOP_SECONDS = 5.0
# How long a load on the engine thread takes here: the stop waits for it, not more.
LOAD_SECONDS = 2.0


def folder_files(folder: Path) -> list[tuple[str, int, int]]:
    return sorted(
        (str(p.relative_to(folder)), p.stat().st_size, p.stat().st_mtime_ns)
        for p in folder.rglob("*")
        if p.is_file()
    )


def loaded_in_engine(service: ChatService) -> set[str]:
    return set(getattr(service.engine.model, "peft_config", {}))  # type: ignore[attr-defined]


async def wait_for(event: asyncio.Event | threading.Event, what: str) -> None:
    deadline = time.monotonic() + 60
    while not event.is_set():
        assert time.monotonic() < deadline, f"the job never reached {what}"
        await asyncio.sleep(0.05)


async def open_serving_v1(reload_settings: Settings, make_version: MakeVersion) -> ChatService:
    """A worker with the scheduled job on (every second), serving V1."""
    reload_settings.reload.enabled = True
    make_version(V1)
    service = await ChatService.open(reload_settings)
    assert service.reloader.live == V1
    return service


async def stop_timed(service: ChatService) -> tuple[float, float]:
    """`service.close()` as `atri serve` stops it; when it began, and how long it took."""
    began = time.time()
    await service.close()
    return began, time.time() - began


def assert_still_v1(
    service: ChatService, adapters_dir: Path, files_before: list[tuple[str, int, int]]
) -> None:
    assert service.reloader.live == V1
    assert service.reloader.loaded == [V1]
    assert V2 not in loaded_in_engine(service)  # the staged version was released
    assert not rolled_back_versions(adapters_dir)
    assert folder_files(adapters_dir) == files_before


def switches_after(caplog: pytest.LogCaptureFixture, began: float) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if "Now serving" in r.getMessage() and r.created >= began
    ]


async def test_a_stop_during_the_smoke_test_abandons_the_reload_at_once(
    reload_settings: Settings,
    make_version: MakeVersion,
    adapters_dir: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="model.adapters.reload")
    service = await open_serving_v1(reload_settings, make_version)
    engine: Any = service.engine
    real_smoke_test = engine.smoke_test
    reached = asyncio.Event()

    async def slow_smoke_test(*args: Any) -> str:
        # The smoke reply waiting its turn among the replies in flight (a busy worker).
        reached.set()
        await asyncio.sleep(SLOW_SECONDS)
        result: str = await real_smoke_test(*args)
        return result

    engine.smoke_test = slow_smoke_test
    make_version(V2, seed=2)
    files_before = folder_files(adapters_dir)
    await wait_for(reached, "the smoke test")
    assert V2 in loaded_in_engine(service)  # loaded beside V1, not live

    began, took = await stop_timed(service)

    assert took < QUICK_STOP_SECONDS, f"the stop waited {took:.1f} s for the reload"
    assert_still_v1(service, adapters_dir, files_before)
    assert not switches_after(caplog, began)
    assert any("the worker is stopping" in r.getMessage() for r in caplog.records)


async def test_a_stop_during_a_load_waits_for_that_step_only_and_releases_it(
    reload_settings: Settings,
    make_version: MakeVersion,
    adapters_dir: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="model.adapters.reload")
    service = await open_serving_v1(reload_settings, make_version)
    engine: Any = service.engine
    real_load = engine.load_adapter_sync
    loading = threading.Event()

    def slow_load(*args: Any) -> None:
        # A big version's weights: a call on the engine thread nothing can cut short.
        loading.set()
        time.sleep(LOAD_SECONDS)
        real_load(*args)

    engine.load_adapter_sync = slow_load
    make_version(V2, seed=2)
    files_before = folder_files(adapters_dir)
    await wait_for(loading, "the load")

    began, took = await stop_timed(service)

    assert took < LOAD_SECONDS + QUICK_STOP_SECONDS
    assert_still_v1(service, adapters_dir, files_before)  # loaded after all, then freed
    assert not switches_after(caplog, began)
