"""Session 46: a status never names the new adapter version beside the old reload record.
The engine serves the new version (set on its own thread) a moment before the job,
back on the loop, records the switch; a status in between showed the one and not the
other."""

from __future__ import annotations

import asyncio

from atri.config import Settings
from model.adapters.reload import AdapterEngine
from model.service import ChatService
from tests.model.conftest import V1, MakeVersion


async def test_a_status_during_a_switch_shows_the_version_and_record_of_one_moment(
    reload_settings: Settings, make_version: MakeVersion
) -> None:
    make_version(V1)
    async with await ChatService.open(reload_settings) as service:
        assert (await service.status()).adapter_version == ""
        reloader = service.reloader
        switched, go_on = asyncio.Event(), asyncio.Event()
        unload_old = reloader._unload_old

        async def held_after_the_switch(engine: AdapterEngine) -> None:
            switched.set()  # the engine serves V1 now; the switch is not recorded yet
            await go_on.wait()
            await unload_old(engine)

        reloader._unload_old = held_after_the_switch  # type: ignore[method-assign]
        reload = asyncio.create_task(service.reload(V1))
        try:
            await asyncio.wait_for(switched.wait(), 30)
            assert service.engine.adapter_version == V1
            during = await service.status()
        finally:
            go_on.set()  # else closing the service waits on the held reload
        assert (during.adapter_version, during.last_reload.get("version")) == ("", None)
        assert (await reload).ok
        after = await service.status()
        assert (after.adapter_version, after.last_reload["version"]) == (V1, V1)
