"""The reload job's evaluation gate, as a review broke it: a version refused beside the
live one went live at the next start (set beside the bare base there); a NaN rate passed
and turned the gate off for every version after it, a negative one crashed its noise
estimate; another version's eval.json copied in passed `require_eval`; and a live
version whose eval.json could not be read let anything through without a word."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from atri.config import Settings
from model.service import ChatService
from tests.model.conftest import V1, V2, V3, MakeVersion


def evaluated(version: Path, adapter: object, base: float = 0.5, probes: int = 21) -> Path:
    report = {"adapter_version": version.name, "adapter": {"ooc_rate": adapter}}
    report |= {"base": {"ooc_rate": base}, "probes": probes}
    (version / "eval.json").write_text(json.dumps(report), encoding="utf-8")
    return version


async def test_a_version_refused_beside_the_live_one_is_refused_at_the_next_start(
    reload_settings: Settings, make_version: MakeVersion
) -> None:
    evaluated(make_version(V1), 0.0)
    evaluated(make_version(V2, seed=2), 0.5)
    async with await ChatService.open(reload_settings) as service:
        # Nothing live (a worker starting): V2 is set beside V1, not the bare base.
        result = await service.reloader.check()
        assert result is not None and result.ok and result.version == V1
        assert (await service.status()).adapter_version == V1


async def test_a_rate_that_is_no_rate_is_refused_and_keeps_the_gate(
    reload_settings: Settings, make_version: MakeVersion
) -> None:
    evaluated(make_version(V1), 0.0)
    evaluated(make_version(V2, seed=2), float("nan"))
    evaluated(make_version(V3, seed=3), -1)
    async with await ChatService.open(reload_settings) as service:
        await service.reload(V1)
        for version in (V2, V3):
            refused = await service.reload(version)
            assert not refused.ok and "is not a share between 0 and 1" in refused.message
            assert "run `atri eval" in refused.message
        assert (await service.status()).adapter_version == V1


async def test_another_versions_evaluation_does_not_pass_require_eval(
    reload_settings: Settings, make_version: MakeVersion
) -> None:
    reload_settings.reload.require_eval = True
    first = evaluated(make_version(V1), 0.0)
    second = make_version(V2, seed=2)
    (second / "eval.json").write_bytes((first / "eval.json").read_bytes())
    async with await ChatService.open(reload_settings) as service:
        refused = await service.reload(V2)
        assert not refused.ok
        assert f"is the evaluation of version {V1}, not of {V2}" in refused.message


async def test_an_unreadable_live_evaluation_is_said_and_the_base_is_the_yardstick(
    reload_settings: Settings, make_version: MakeVersion, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="model.adapters.reload")
    live = evaluated(make_version(V1), 0.0)
    evaluated(make_version(V2, seed=2), 1.0, base=0.0)
    async with await ChatService.open(reload_settings) as service:
        await service.reload(V1)
        (live / "eval.json").write_text('{"adapter_version": "2026', encoding="utf-8")
        refused = await service.reload(V2)
        assert not refused.ok and "the base model in 0.0%" in refused.message
        assert "the live version's evaluation cannot be used" in caplog.text
