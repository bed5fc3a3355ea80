"""The reload job's schedule: an APScheduler interval job that keeps to the event loop's
monotonic clock when the wall clock steps.

APScheduler times a job by the wall clock, in the machine's zone unless told one. So:
- a `TZ` that tzlocal cannot name (`CST-8`, common on Chinese servers and in Docker,
  which glibc reads well) made the worker fail at start: the schedule runs in UTC;
- a step back (NTP correcting a clock set from a hardware clock kept in local time)
  held the next look back by as long as the step, hours without a new adapter: the
  loop's monotonic clock checks the job every interval and brings a look so held
  forward;
- a step forward (a clock that started at 1970) had APScheduler list every look the
  step passed over before running one, stalling the loop for seconds: the missed looks
  are skipped (`_SkipsMissedLooks`), and the one look due runs.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

log = logging.getLogger(__name__)

JOB_ID = "atri-adapter-reload"


class _SkipsMissedLooks(IntervalTrigger):  # type: ignore[misc]
    """An interval whose fire times a forward clock step passed over are skipped: the
    next is the first on the interval's grid after now, found at once."""

    def get_next_fire_time(
        self, previous_fire_time: dt.datetime | None, now: dt.datetime
    ) -> dt.datetime | None:
        following = super().get_next_fire_time(previous_fire_time, now)
        if previous_fire_time is not None and following is not None and following <= now:
            return super().get_next_fire_time(None, now)
        return following


class ReloadSchedule:
    """Runs `look` every `seconds` (one at a time; a look that would start while the last
    still runs is skipped) until `stop`."""

    def __init__(
        self, look: Callable[[], Awaitable[Any]], seconds: int, logger: logging.Logger
    ) -> None:
        # `logger`: APScheduler's own lines go there.
        self.look = look
        self.seconds = seconds
        self.logger = logger
        self._scheduler: Any = None
        self._watch: asyncio.TimerHandle | None = None

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        scheduler = AsyncIOScheduler(event_loop=loop, logger=self.logger, timezone=dt.UTC)
        scheduler.add_job(
            self.look,
            _SkipsMissedLooks(seconds=self.seconds, timezone=dt.UTC),
            id=JOB_ID,
            next_run_time=dt.datetime.now(dt.UTC) + dt.timedelta(seconds=self.seconds),
            max_instances=1,
            coalesce=True,
            # A look late (the loop busy, the machine loaded) still runs, unlogged.
            misfire_grace_time=None,
        )
        scheduler.start()
        self._scheduler = scheduler
        self._watch = loop.call_later(self.seconds, self._keep_on_time)

    def stop(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
            self._watch = None
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
            self._scheduler = None

    def _keep_on_time(self) -> None:
        """Every interval by the monotonic clock: a next look further off than one
        interval (and a second's slack) by the wall clock means the clock stepped back
        since it was set; it runs now instead."""
        if self._scheduler is None:
            return
        job = self._scheduler.get_job(JOB_ID)
        now = dt.datetime.now(dt.UTC)
        slack = dt.timedelta(seconds=self.seconds + 1)
        if job is not None and job.next_run_time is not None and job.next_run_time - now > slack:
            log.info("the wall clock stepped back; the adapter reload job looks now")
            job.modify(next_run_time=now)
        self._watch = asyncio.get_running_loop().call_later(self.seconds, self._keep_on_time)
