"""Session 67: two adapter-version bugs an operator reproduced.

An admin's `reload` ("look for a new version now") put back the version just rolled back
from, and deleted the record of the rollback. And a version named ahead of the clock
(a training machine's clock set ahead, `adopt --version 20991231-000000`) hid every
later one: the worker never switched to a properly named new version and said nothing,
`atri adapters list` showed it last without a word, and `prune --keep 1` planned to
remove it. Names stay the order; what goes wrong is said, and nothing is lost to it."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from atri.config import Secrets, Settings
from bot.lines import lines_for
from model.adapters.adopt import adopt_adapter
from model.adapters.versions import AdapterError, rolled_back_versions
from model.protocol import ReloadResult
from model.server.app import bind_socket, create_app, serving
from model.service import ChatService
from tests.atri.test_adapters_list_prune_s53 import atri, closed_port, config
from tests.model.adapters.test_adapter_loading_s50 import peft_adapter
from tests.model.conftest import V1, V2, V3, MakeVersion

ADMIN_TOKEN = "test-admin-token"
# Adopted with `--version` a year ahead: its manifest records when it was really made.
AHEAD, AHEAD_MADE = "20271206-000000", "2026-12-06T20:21:03+00:00"
# Trained afterwards on a machine with the right time, and copied in.
NEW, NEW_MADE = "20261206-202914", "2026-12-06T20:29:14+00:00"
HIDDEN = (
    f"Adapter version {NEW} was made after {{role}}version {AHEAD} (created_at "
    f"{NEW_MADE} in its manifest, against {AHEAD_MADE}), but its name sorts before "
    f"{AHEAD}'s and versions go by their names, so no worker takes it: rename its folder, "
    f'and the "version" in its manifest.json, to a name after {AHEAD}.'
)


# --- an admin's reload and the version rolled back from --------------------------------


async def test_an_admins_reload_passes_over_the_version_rolled_back_from(
    reload_settings: Settings, make_version: MakeVersion, adapters_dir: Path
) -> None:
    make_version(V1)
    make_version(V2, seed=2)
    async with await ChatService.open(reload_settings) as service:
        await service.reloader.check()
        assert (await service.rollback()).adapter_version == V1
        said = await service.reload()
        assert said.ok and said.code == "already_serving" and said.adapter_version == V1
        assert said.skipped == V2 and said.reason_code == "rolled_back"
        assert said.message == (
            f"Already serving adapter version {V1}. The newer version {V2} was passed over: "
            f"Version {V2} was rolled back from by an admin: only a reload naming it serves "
            f'it again (POST /reload with {{"version": "{V2}"}}).'
        )
        assert rolled_back_versions(adapters_dir) == {V2}  # the record stays
        # The bots word it in her language (reason code "rolled_back").
        told = lines_for("ATRI", "en").reload_said(said)
        assert told == (
            f"Already serving adapter version {V1}.\nThe newer adapter version {V2} was "
            "passed over: an admin rolled back from it; only a reload naming it serves it again."
        )
        # A newer version is taken as ever.
        make_version(V3, seed=3)
        newer = await service.reload()
        assert newer.adapter_version == V3 and not newer.skipped
    assert rolled_back_versions(adapters_dir) == {V2}


async def test_with_every_version_rolled_back_from_the_base_model_stays(
    reload_settings: Settings, make_version: MakeVersion, adapters_dir: Path
) -> None:
    make_version(V1)
    async with await ChatService.open(reload_settings) as service:
        await service.reloader.check()
        assert (await service.rollback()).adapter_version == ""
        said = await service.reload()
        assert said.ok and said.code == "already_serving" and said.adapter_version == ""
        assert said.skipped == V1 and said.reason_code == "rolled_back"
        assert service.reloader.live == ""
    assert rolled_back_versions(adapters_dir) == {V1}


async def test_post_reload_serves_a_version_named_in_its_body(
    reload_settings: Settings, make_version: MakeVersion, adapters_dir: Path
) -> None:
    """The way README names to take a version rolled back from again: no route took a
    version before."""
    make_version(V1)
    make_version(V2, seed=2)
    secrets = Secrets(admin_token=SecretStr(ADMIN_TOKEN))
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    async with (
        await ChatService.open(reload_settings) as service,
        serving(create_app(service, secrets), bind_socket("127.0.0.1", 0)) as url,
        httpx.AsyncClient(base_url=url, headers=admin, timeout=120) as client,
    ):
        await service.reloader.check()
        await service.rollback()
        plain = ReloadResult.model_validate((await client.post("/reload")).json())
        assert plain.adapter_version == V1 and plain.skipped == V2  # as the bots ask
        bad = await client.post("/reload", json={"version": "../secrets"})
        assert bad.status_code == 422
        assert "not an adapter version name" in bad.json()["detail"]
        named = ReloadResult.model_validate(
            (await client.post("/reload", json={"version": V2})).json()
        )
        assert named.ok and named.adapter_version == V2 and named.previous == V1
        wrong = {"Authorization": "Bearer wrong"}
        refused = await client.post("/reload", json={"version": V1}, headers=wrong)
        assert refused.status_code == 401
    assert rolled_back_versions(adapters_dir) == set()


# --- a version named ahead of the clock -------------------------------------------------


def test_adopt_refuses_a_version_named_more_than_a_day_ahead(
    reload_settings: Settings, tiny_model_dir: Path, make_version: MakeVersion, tmp_path: Path
) -> None:
    make_version(V1)
    source = peft_adapter(tiny_model_dir, tmp_path / "named", seed=5)
    with pytest.raises(AdapterError) as refused:
        adopt_adapter(reload_settings, source, "20991231-000000")
    said = str(refused.value)
    assert said.startswith("--version 20991231-000000 lies more than a day ahead of the time")
    assert "\n" not in said
    out = reload_settings.path(reload_settings.model.adapters_dir)
    assert sorted(p.name for p in out.iterdir()) == [V1]


async def test_the_job_says_once_which_version_a_name_ahead_of_the_clock_hides(
    reload_settings: Settings, make_version: MakeVersion, caplog: pytest.LogCaptureFixture
) -> None:
    make_version(V1)  # made 2025-01-01: older by both name and time, nothing to say
    make_version(AHEAD, seed=2, created_at=AHEAD_MADE)
    caplog.set_level(logging.INFO, logger="model.adapters.reload")
    async with await ChatService.open(reload_settings) as service:
        first = await service.reloader.check()
        assert first is not None and first.adapter_version == AHEAD
        make_version(NEW, seed=3, created_at=NEW_MADE)
        for _ in range(3):  # names stay the order: it is not taken, and said once
            assert await service.reloader.check() is None
            assert service.reloader.live == AHEAD
    said = [r for r in caplog.records if NEW in r.getMessage()]
    assert [(r.levelname, r.getMessage()) for r in said] == [
        ("WARNING", HIDDEN.format(role="the live "))
    ]


def hidden_version_on_disk(make_version: MakeVersion, tmp_path: Path, model_dir: Path) -> Path:
    """V1, AHEAD and NEW on disk, and a config whose worker address has nothing
    listening (a worker that is not running)."""
    make_version(V1)
    make_version(AHEAD, seed=2, created_at=AHEAD_MADE)
    make_version(NEW, seed=3, created_at=NEW_MADE)
    return config(tmp_path, model_dir, f"http://127.0.0.1:{closed_port()}")


def test_list_names_the_version_a_name_ahead_of_the_clock_hides(
    make_version: MakeVersion, tmp_path: Path, tiny_model_dir: Path
) -> None:
    no_worker = hidden_version_on_disk(make_version, tmp_path, tiny_model_dir)
    code, out = atri(no_worker, "adapters", "list")
    assert code == 0, out
    assert HIDDEN.format(role="the newest ") in " ".join(out.split())


def test_prune_keeps_the_version_a_name_ahead_of_the_clock_hides(
    make_version: MakeVersion, tmp_path: Path, tiny_model_dir: Path
) -> None:
    no_worker = hidden_version_on_disk(make_version, tmp_path, tiny_model_dir)
    code, out = atri(no_worker, "adapters", "prune", "--keep", "1", "--yes")
    assert code == 0, out
    lines = [" ".join(line.split()) for line in out.splitlines()]
    assert f"Keeping the newest good version: {AHEAD}." in lines
    assert (
        f"Keeping {NEW}: made after {AHEAD} (created_at in its manifest) but named before "
        "it, so no worker takes it: rename it rather than lose it (see `atri adapters "
        "list`)."
    ) in lines
    assert not any(line.startswith(f"To remove: {NEW}") for line in lines)
    left = sorted(p.name for p in (tmp_path / "adapters").iterdir() if p.name[0] != ".")
    assert left == [NEW, AHEAD]  # V1 went
