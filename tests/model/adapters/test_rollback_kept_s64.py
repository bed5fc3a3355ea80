"""Session 64: a rollback holds across a restart. The job's memory of the versions
rolled back from was the worker's alone: any restart (a crash, a reboot) took the newest
again, the bad version an admin had rolled back from, without a word. They are recorded
beside the versions now; `atri adapters list` names them and prune keeps none as the
newest good version."""

from __future__ import annotations

from pathlib import Path

from atri.config import Settings
from model.adapters.inventory import WorkerView, prune_plan, status_of, versions_on_disk
from model.adapters.versions import ROLLED_BACK_FILE, rolled_back_versions
from model.service import ChatService
from tests.model.conftest import V1, V2, V3, MakeVersion


async def test_a_rollback_holds_after_a_restart_until_a_newer_version_comes(
    reload_settings: Settings, make_version: MakeVersion, adapters_dir: Path
) -> None:
    make_version(V1)
    make_version(V2, seed=2)
    async with await ChatService.open(reload_settings) as service:
        await service.reloader.check()  # the job's first look, as at start
        assert service.reloader.live == V2  # the newest
        assert (await service.rollback()).adapter_version == V1
    assert rolled_back_versions(adapters_dir) == {V2}

    async with await ChatService.open(reload_settings) as service:
        await service.reloader.check()
        assert service.reloader.live == V1  # not V2 again
        assert await service.reloader.check() is None
        make_version(V3, seed=3)
        assert (await service.reloader.check()).adapter_version == V3  # type: ignore[union-attr]
        # Asked for by name, a version rolled back from is served, and no longer held back.
        assert (await service.reload(V2)).adapter_version == V2
    assert rolled_back_versions(adapters_dir) == set()
    assert not (adapters_dir / ROLLED_BACK_FILE).exists()


async def test_two_rollbacks_restart_on_the_version_rolled_back_to(
    reload_settings: Settings, make_version: MakeVersion, adapters_dir: Path
) -> None:
    make_version(V1)
    make_version(V2, seed=2)
    make_version(V3, seed=3)
    async with await ChatService.open(reload_settings) as service:
        await service.reloader.check()
        assert (await service.rollback()).adapter_version == V2
        assert (await service.rollback()).adapter_version == V1
    async with await ChatService.open(reload_settings) as service:
        await service.reloader.check()
        assert service.reloader.live == V1


def test_the_listing_and_prune_know_a_version_rolled_back_from(
    make_version: MakeVersion, adapters_dir: Path
) -> None:
    make_version(V1)
    make_version(V2, seed=2)
    make_version(V3, seed=3)
    (adapters_dir / ROLLED_BACK_FILE).write_text(f'{{"versions": ["{V3}"]}}', encoding="utf-8")
    versions = versions_on_disk(adapters_dir)
    nobody = WorkerView("", False)
    assert [status_of(v, nobody, V2) for v in versions] == ["rolled back", "newest", ""]
    plan = prune_plan(versions, 1, nobody)
    assert [v.name for v in plan.keep] == [V2]
    assert [(v.name, why.split(",")[0]) for v, why in plan.spared] == [(V3, "rolled back from")]
    assert [v.name for v in plan.remove] == [V1]


def test_prune_keeps_no_version_the_worker_refused_as_the_newest_good_one(
    make_version: MakeVersion, adapters_dir: Path
) -> None:
    """Refused only once loaded (NaN weights): the files' checks here pass it."""
    make_version(V1)
    make_version(V2, seed=2)
    versions = versions_on_disk(adapters_dir)
    worker = WorkerView("http://127.0.0.1:1", True, live=V1, refused=V2)
    assert status_of(versions[0], worker, "") == "refused by the worker"
    plan = prune_plan(versions, 1, worker)
    assert [v.name for v in plan.keep] == [V1]
    assert [v.name for v, _ in plan.spared] == [V2]
    assert plan.remove == []


def test_an_unreadable_record_holds_nothing_back(adapters_dir: Path) -> None:
    adapters_dir.mkdir(parents=True, exist_ok=True)
    for text in ("{not json", '["x"]', '{"versions": [1, "../x", "20260101-000000"]}'):
        (adapters_dir / ROLLED_BACK_FILE).write_text(text, encoding="utf-8")
        held = rolled_back_versions(adapters_dir)
        assert held <= {"20260101-000000"}


def test_a_version_rolled_back_from_and_still_loaded_is_no_rollback_target(
    make_version: MakeVersion, adapters_dir: Path
) -> None:
    """The worker keeps the version it rolled back from loaded (keep_previous): the list
    called it "rollback", what a rollback goes to, and printed the "rolled back" legend
    beside no row of that status (s66)."""
    from atri.adapter_commands import _legend

    make_version(V1)
    make_version(V2, seed=2)
    (adapters_dir / ROLLED_BACK_FILE).write_text(f'{{"versions": ["{V2}"]}}', encoding="utf-8")
    versions = versions_on_disk(adapters_dir)
    worker = WorkerView("http://127.0.0.1:1", True, live=V1, kept=(V2,))
    assert [status_of(v, worker, V1) for v in versions] == ["rolled back", "live"]
    legend = _legend(versions, worker)
    assert any(line.startswith("rolled back:") for line in legend)
    assert not any(line.startswith("rollback:") for line in legend)
