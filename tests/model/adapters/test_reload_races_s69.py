"""An admin's reload sent together with a rollback (two admins, or one clicking twice):
the reload chose its version before the rollback's switch ended, then switched back to
the version just rolled back from and unrecorded it. And a worker stopped while the
scheduled job waited logged an ERROR with a traceback (the job cancelled)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from atri.config import Settings
from model.adapters.versions import rolled_back_versions
from model.service import ChatService
from tests.model.conftest import V1, V2, MakeVersion


async def test_a_reload_beside_a_rollback_does_not_undo_it(
    reload_settings: Settings, make_version: MakeVersion, adapters_dir: Path
) -> None:
    reload_settings.reload.keep_previous = 0  # the rollback loads its version: it takes a while
    make_version(V1)
    make_version(V2, seed=2)
    async with await ChatService.open(reload_settings) as service:
        job = service.reloader
        first = await job.check()
        assert first is not None and first.ok
        assert job.live == V2
        back, again = await asyncio.gather(job.rollback(), job.reload())
        assert back.ok and back.adapter_version == V1, back
        assert job.live == V1, again
        assert V2 in rolled_back_versions(adapters_dir)


async def test_a_job_cancelled_by_the_stop_is_no_failure(
    reload_settings: Settings, make_version: MakeVersion
) -> None:
    make_version(V1)
    async with await ChatService.open(reload_settings) as service:
        job = service.reloader
        async with job._choosing:  # a reload in progress
            waiting = asyncio.create_task(job.check())
            await asyncio.sleep(0.05)
            job._closed = True  # `stop` began: the scheduler's shutdown cancels the job
            waiting.cancel()
        assert await waiting is None  # ended quietly, not with CancelledError
