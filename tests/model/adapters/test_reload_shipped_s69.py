"""Session 69: the reload job takes the newest good version a user ships. It kept one
high-water mark of the versions it had acted on: a refused newer version (of another
base, misnamed, a link) hid every good one named before it, even once it was gone, and
an admin's reload answered with its refusal again. A version refused for its folder (a
link, a folder gone) was never tried again once replaced; a copy on its way in was
warned of at every look; and `atri adapters list` marked as `rollback` a version kept
loaded that a rollback did not go back to."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest

from atri.config import Settings
from model.adapters.inventory import WorkerView, status_of, versions_on_disk
from model.adapters.validation import ADAPTER_WEIGHTS
from model.service import ChatService
from tests.model.adapters.make_versions import write_version
from tests.model.adapters.test_reload import set_manifest
from tests.model.conftest import V1, V2, V3, MakeVersion

OTHER_BASE = "other-org/other-model"


def make_bad(make_version: MakeVersion, how: str) -> Path:
    """V3, refused by the job's checks: of another base, or misnamed."""
    if how == "other base":
        return make_version(V3, seed=3, base_model=OTHER_BASE)
    folder = make_version(V3, seed=3)
    set_manifest(folder, version=V1)  # its manifest names another version
    return folder


@pytest.mark.parametrize("how", ["other base", "misnamed"])
@pytest.mark.parametrize("removed", [False, True])
async def test_a_good_version_shipped_after_a_refused_newer_one_is_taken(
    reload_settings: Settings, make_version: MakeVersion, how: str, removed: bool
) -> None:
    make_version(V1)
    async with await ChatService.open(reload_settings) as service:
        assert (await service.reloader.check()).ok  # type: ignore[union-attr]
        bad = make_bad(make_version, how)
        refused = await service.reloader.check()
        assert refused is not None and not refused.ok and refused.version == V3
        if removed:
            shutil.rmtree(bad)
        make_version(V2, seed=2)
        # Was: nothing, at every look (V3 held the job's mark), even once V3 was gone.
        taken = await service.reloader.check()
        assert taken is not None and taken.ok, taken
        assert service.reloader.live == V2
        assert await service.reloader.check() is None  # V3 is not tried again


async def test_an_admin_reload_passes_over_a_newer_version_of_another_base_and_says_so(
    reload_settings: Settings, make_version: MakeVersion
) -> None:
    make_version(V1)
    make_version(V2, seed=2)
    make_version(V3, seed=3, base_model=OTHER_BASE)
    async with await ChatService.open(reload_settings) as service:
        assert (await service.reload(V1)).ok
        said = await service.reload()
        # Was: V3's refusal, and V1 still served.
        assert said.ok and said.code == "switched" and said.adapter_version == V2, said
        assert said.skipped == V3 and said.reason_code == "other_base"
        assert said.message.startswith(
            f"Now serving adapter version {V2} (was adapter version {V1}). The newer "
            f"version {V3} was passed over: Version {V3} was trained on {OTHER_BASE!r}"
        )
        # A rollback never tries it either: back to V1, past nothing refused.
        back = await service.rollback()
        assert back.ok and back.adapter_version == V1


async def test_a_link_refused_then_replaced_by_a_copy_is_taken(
    reload_settings: Settings,
    make_version: MakeVersion,
    adapters_dir: Path,
    tiny_model_dir: Path,
    tiny_hash: str,
    tmp_path: Path,
) -> None:
    make_version(V1)
    elsewhere = write_version(
        tmp_path, V2, tiny_model_dir, base_model=str(tiny_model_dir), config_hash=tiny_hash, seed=2
    )
    async with await ChatService.open(reload_settings) as service:
        assert (await service.reloader.check()).ok  # type: ignore[union-attr]
        (adapters_dir / V2).symlink_to(elsewhere, target_is_directory=True)
        refused = await service.reloader.check()
        assert refused is not None and not refused.ok and refused.version == V2
        assert "points outside the adapters folder" in refused.message
        assert "Copy the folder into the adapters folder instead" in refused.message
        assert await service.reloader.check() is None  # the same link: not tried again
        (adapters_dir / V2).unlink()
        shutil.copytree(elsewhere, adapters_dir / V2)
        # Was: never tried again (no stamp of its files was taken before the refusal).
        taken = await service.reloader.check()
        assert taken is not None and taken.ok and service.reloader.live == V2, taken


async def test_a_version_gone_when_asked_for_is_taken_once_it_is_back(
    reload_settings: Settings, make_version: MakeVersion, adapters_dir: Path, tmp_path: Path
) -> None:
    make_version(V1)
    async with await ChatService.open(reload_settings) as service:
        assert (await service.reloader.check()).ok  # type: ignore[union-attr]
        folder = make_version(V2, seed=2)
        folder.rename(tmp_path / "moved")  # gone between the listing and the load
        gone = await service.reload(V2)
        assert not gone.ok and f"If its folder was renamed or moved, rename it back to {V2}" in (
            gone.message
        )
        (tmp_path / "moved").rename(folder)
        taken = await service.reloader.check()
        assert taken is not None and taken.ok and service.reloader.live == V2, taken


async def test_a_version_being_copied_in_is_warned_of_once_not_at_each_look(
    reload_settings: Settings,
    make_version: MakeVersion,
    caplog: pytest.LogCaptureFixture,
) -> None:
    make_version(V1)
    async with await ChatService.open(reload_settings) as service:
        assert (await service.reloader.check()).ok  # type: ignore[union-attr]
        # Manifest first, then the weights in chunks, as a copy by hand writes them.
        weights = make_version(V2, seed=2) / ADAPTER_WEIGHTS
        whole = weights.read_bytes()
        caplog.clear()
        with caplog.at_level(logging.DEBUG, logger="model.adapters.reload"):
            for part in (4, 3, 2):
                weights.write_bytes(whole[: len(whole) // part])
                result = await service.reloader.check()
                assert result is not None and not result.ok and "truncated" in result.message
            warned = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
            # Was: one "truncated (N bytes …)" warning per look, N changing each time.
            assert len(warned) == 2, warned
            assert warned[0].startswith("adapter reload refused:") and "truncated" in warned[0]
            assert warned[1].endswith("still being copied? It is tried again when they change.")
            weights.write_bytes(whole)
            taken = await service.reloader.check()
        assert taken is not None and taken.ok and service.reloader.live == V2, taken


async def test_a_copy_that_stops_half_way_says_its_refusal_once_it_settles(
    reload_settings: Settings, make_version: MakeVersion, caplog: pytest.LogCaptureFixture
) -> None:
    make_version(V1)
    async with await ChatService.open(reload_settings) as service:
        assert (await service.reloader.check()).ok  # type: ignore[union-attr]
        weights = make_version(V2, seed=2) / ADAPTER_WEIGHTS
        whole = weights.read_bytes()
        for part in (4, 3, 2):
            weights.write_bytes(whole[: len(whole) // part])
            await service.reloader.check()
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="model.adapters.reload"):
            assert await service.reloader.check() is None  # unchanged: not tried again
            assert await service.reloader.check() is None
        [said] = [r.getMessage() for r in caplog.records]
        assert said.startswith(f"adapter reload refused: Version {V2}") and "truncated" in said
        assert service.reloader.live == V1


async def test_what_stays_loaded_for_a_rollback_is_where_a_rollback_goes(
    reload_settings: Settings, make_version: MakeVersion, adapters_dir: Path
) -> None:
    reload_settings.reload.keep_previous = 1
    for seed, name in enumerate((V1, V2, V3), start=1):
        make_version(name, seed=seed)
    async with await ChatService.open(reload_settings) as service:

        async def marked_rollback() -> list[str]:
            """What `atri adapters list` marks `rollback`, from the worker's /status."""
            status = await service.status()
            live = status.adapter_version
            kept = tuple(n for n in status.details["loaded_adapters"] if n != live)  # type: ignore[union-attr]
            worker = WorkerView("http://127.0.0.1:1", True, live=live, kept=kept)
            versions = versions_on_disk(adapters_dir)
            return [v.name for v in versions if status_of(v, worker, live) == "rollback"]

        for name in (V1, V3, V2):
            assert (await service.reload(name)).ok
        # Was: V3, served just before, kept loaded and marked; a rollback went to V1.
        assert await marked_rollback() == []
        assert (await service.reload(V3)).ok
        assert await marked_rollback() == [V2]
        back = await service.rollback()
        assert back.ok and back.adapter_version == V2
