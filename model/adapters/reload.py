"""Adapter hot reload: find a new version, validate it, load it beside the live one,
switch between two batches, and roll back on demand.

The engine-specific half is four methods on the engine (`AdapterEngine`): the local
and llama.cpp engines run them on their model thread, so a load or switch waits for the
batch in flight (llama.cpp's running pass takes no new rows once one waits) and the
next batch uses the new adapter; no request is dropped or repeated.
Anything that fails leaves the live adapter serving and says why in `last`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import errno
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from pydantic import ValidationError

from atri.config import ReloadSettings
from atri.errors import ConfigError
from atri.terminal import suggested_command
from model.adapters.gguf_lora import ADAPTER_GGUF, GGUF_RECORD
from model.adapters.reload_schedule import ReloadSchedule
from model.adapters.validation import (
    AdapterManifest,
    AdapterVersion,
    EvalFigures,
    check_config_hash,
    check_trained_template,
    eval_figures,
    read_version,
    same_base,
)
from model.adapters.versions import (
    EVAL_JSON,
    ROLLED_BACK_FILE,
    AdapterConflict,
    AdapterError,
    AdapterWriteError,
    CharacterId,
    bare_folders_hint,
    bare_peft_folders,
    complete_versions,
    hidden_by_name,
    hidden_by_name_hint,
    is_anothers,
    misnamed_hint,
    misnamed_versions,
    pickled_versions,
    read_manifest,
    record_rolled_back,
    recorded_character,
    recorded_creation,
    recorded_named_after,
    rolled_back_versions,
    trained_as,
    version_folder,
    version_order,
)
from model.character.prompt import ChatMessages
from model.engines.base import EngineUnavailable, chat_template_of, reasoning_removed
from model.memory.database import REPEAT_SECONDS
from model.protocol import ReloadResult
from model.summaries import RepeatedFailures

log = logging.getLogger(__name__)


class _LookStillRunning(logging.Filter):
    """A look that comes while the last one still runs (a 7B version loading for
    minutes) is skipped by design: APScheduler said so at each interval, in its words."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "maximum number of running instances" not in str(record.msg)


# Under APScheduler's own name: its INFO lines ("Scheduler started") stay behind -v as
# they were (this module's INFO lines are shown without it).
_scheduler_log = logging.getLogger("apscheduler.scheduler.atri")
_scheduler_log.addFilter(_LookStillRunning())
BASE_LABEL = "the base model"
# The one kind of `Reloader._unlistable` failure: the adapters folder cannot be listed.
UNLISTABLE = "unlistable"
# One-sided 95%: a rate difference smaller than this many standard errors may be chance.
NOISE_Z = 1.645
# A version folder's own entry and files as `files_stamp` sees them.
FilesStamp = tuple[tuple[str, int, int], ...]
# What to do about a version folder refused before any of its files is read (by the
# `short` of its refusal): the job tries it again once the folder changes.
FOLDER_NEXT_STEPS = {
    "link": "Copy the folder into the adapters folder instead (a link to a folder elsewhere "
    "is never served); the job tries it again then.",
    "missing": "If its folder was renamed or moved, rename it back to {name}; the job tries "
    "it again then.",
}


def ooc_rate_noise(
    rate: float, probes: int | None, other: float, other_probes: int | None
) -> float:
    """How far two OOC rates, each taken over a few probe replies, can differ by chance.

    With 21 probes one reply is ~5 points: a fixed margin alone refuses a version for
    one unlucky reply. Zero when a count is unknown (an eval.json without "probes")."""
    if not probes or not other_probes:
        return 0.0
    pooled = (rate * probes + other * other_probes) / (probes + other_probes)
    return NOISE_Z * (pooled * (1 - pooled) * (1 / probes + 1 / other_probes)) ** 0.5


def same_yardstick(one: EvalFigures, other: EvalFigures) -> bool:
    """Were both rates taken with the same probe set and longest reply? A trial `atri eval
    --probes two.toml` of the live version set every new one beside 2 probes' rate. An
    eval.json from before this was recorded is taken as comparable, as it was then."""
    return one.yardstick is None or other.yardstick is None or one.yardstick == other.yardstick


class StopAbandoned(Exception):
    """The worker began to stop while a switch was under way: the version being staged
    is released and never goes live; the live one stays."""


class VersionRefused(AdapterError):
    """A refusal of the reload job's own checks: the English sentence (str()) for the log
    and the HTTP API, and a `ReloadResult.reason_code` with its details for the bots to
    word in her language."""

    def __init__(self, sentence: str, code: str, **details: str) -> None:
        super().__init__(sentence)
        self.code = code
        self.details = details


def reason_code_of(exc: BaseException) -> tuple[str, dict[str, str]]:
    """`ReloadResult.reason_code` and details for what refused a version."""
    if isinstance(exc, VersionRefused):
        return exc.code, exc.details
    if isinstance(exc, EngineUnavailable):
        return "engine_unavailable", {}
    if isinstance(exc, AdapterConflict):
        return "conflict", {}
    if isinstance(exc, AdapterWriteError):
        return "unwritten", {}
    if isinstance(exc, AdapterError):
        return "invalid", {}
    return "load_error", {}


@runtime_checkable
class AdapterEngine(Protocol):
    """What an engine implements to take adapter versions at run time."""

    name: str
    base_id: str
    config_hash: str

    @property
    def adapter_version(self) -> str: ...

    def accepts_config_hash(self, value: str) -> bool:
        """Was an adapter whose manifest records this base config hash made for us?"""
        ...

    async def load_adapter(self, path: Path, name: str) -> None:
        """Load beside the live adapter without serving it; raise with the reason."""
        ...

    async def smoke_test(self, name: str, messages: ChatMessages, max_new_tokens: int) -> str:
        """One short greedy reply from adapter `name`; the live one keeps serving."""
        ...

    async def activate(self, name: str) -> None:
        """Serve `name` from the next batch on ("" = the base model)."""
        ...

    async def unload_adapter(self, name: str) -> None:
        """Free a loaded adapter that is not live."""
        ...


@runtime_checkable
class DroppingAdapterEngine(Protocol):
    """An engine that can drop a loaded version by itself: the openai engine forgets a
    kept one a restarted vLLM cannot load again (its folder deleted)."""

    def holds(self, name: str) -> bool: ...


@runtime_checkable
class RemoteAdapterEngine(Protocol):
    """An engine whose server outlives the worker (vLLM): versions an earlier run
    registered can still be held there."""

    async def unload_leftovers(self, adapters_dir: Path) -> list[str]: ...


class Reloader:
    """The reload job and the reload/rollback commands of one worker."""

    def __init__(
        self,
        settings: ReloadSettings,
        adapters_dir: Path,
        root: Path,
        engine: object,
        card_prompt: str,
        smoke_text: str,
        on_result: Callable[[ReloadResult, dict[str, Any]], None] | None = None,
        live_prompt: str | None = None,
        character: CharacterId | None = None,
        config_file: str = "",
    ) -> None:
        self.settings = settings
        # The worker's config file, named in the `atri` commands its refusals suggest:
        # pasted without it, a command ran under another folder's config.
        self.config_file = config_file
        self.adapters_dir = adapters_dir
        self.root = root  # relative base-model paths in manifests hang off it
        self.engine = engine if isinstance(engine, AdapterEngine) else None
        self.engine_name = str(getattr(engine, "name", "this"))
        self.card_prompt = card_prompt
        self.smoke_text = smoke_text
        self.on_result = on_result
        # Whom this worker serves: a version trained as someone else (another character's
        # `atri train` into the same folder) is refused. None: any version is taken.
        self.character = character
        self._trained_as: dict[str, CharacterId | None] = {}  # read from each manifest
        # Bare peft folders (no manifest.json) the job has logged: each is said once.
        self._bare_logged: set[str] = set()
        # Each version's manifest created_at, and those logged as hidden by a later name.
        self._made: dict[str, dt.datetime | None] = {}
        self._hidden_said: set[str] = set()
        live = self.live
        # Each loaded version's system prompt (the one it was trained with): it goes live
        # with the version and leaves with it. No adapter ("") gets the character card.
        self.prompts: dict[str, str] = {"": card_prompt}
        if live:
            self.prompts[live] = live_prompt or card_prompt
        # Versions in the order they went live ("" = the base model), live last.
        self.served: list[str] = [live]
        self.loaded: list[str] = [live] if live else []
        self.failed: set[str] = set()
        # Each refused version's folder and files as they were when it was tried: the job
        # tries it again once they change (a folder copied in by hand and caught half-way,
        # a link replaced by a copy, an eval.json rewritten), never while they stay so.
        self.refused_files: dict[str, FilesStamp] = {}
        # Versions refused for a reason not their own (`AdapterError.retried`: a full
        # disk, vLLM started without its LoRA API): the job tries the newest of them
        # again at each check.
        self.retried: set[str] = set()
        # Each version's refusal as last logged: the same one again is not logged again.
        self._refusals_said: dict[str, str] = {}
        # Versions already acted on (served, refused, rolled back from): the job passes
        # them over, but not an older one behind them that it has not tried yet, and not
        # one it refused whose files changed since (`refused_files`).
        self.tried: set[str] = {live} if version_order(live) else set()
        # Refused versions whose files changed since, tried again at each change: a copy
        # in progress, whose refusals are said once, not at each look (`_record`).
        self._changing: set[str] = set()
        # The last refusal of each of them, not said yet: said once its files settle.
        self._unsaid: dict[str, str] = {}
        # `[model] adapter` live at start is pinned: only versions published later
        # replace it, not the newer ones already there (the job passes over every
        # version up to this one).
        self.pinned_past = newest_version_in(adapters_dir) if pinned_at_start(engine, live) else ""
        # Versions rolled back from (`ROLLED_BACK_FILE`): the job passes them over, after
        # a restart too, until one is asked for by name.
        self.rolled_back = rolled_back_versions(adapters_dir)
        self.last: dict[str, Any] = {}
        # The version live before a switch whose record is not written yet (`shown`).
        self._switching_from: str | None = None
        self._lock = asyncio.Lock()
        # Held from choosing a version to switching to it (the job, a reload, a
        # rollback; before `_lock`): a reload that chose while a rollback held the
        # lock switched back to the version rolled back from, and unrecorded it.
        self._choosing = asyncio.Lock()
        self._scheduler: ReloadSchedule | None = None
        self._closed = False
        # The version being validated, loaded and smoke-tested, in a task of its own that
        # `stop` cancels (`_stage_unless_stopped`).
        self._staging: asyncio.Task[None] | None = None
        # The adapters folder failing to list, as memory's failures are logged: once,
        # then at most every few minutes (each look said it, 1,440 times a day).
        self._unlistable = RepeatedFailures(REPEAT_SECONDS, time.monotonic)

    @property
    def live(self) -> str:
        return self.engine.adapter_version if self.engine is not None else ""

    @property
    def shown(self) -> str:
        """The live version as a status shows it beside `last`: during a switch, the one
        before until the switch is recorded. The engine serves the new one from its own
        thread a moment before the job, back on the loop, records it, and a status in
        between named the new version beside the old record."""
        return self.live if self._switching_from is None else self._switching_from

    def prompt_for(self, version: str) -> str:
        """The system prompt to serve `version` with (its training prompt)."""
        return self.prompts.get(version, self.card_prompt)

    def smoke_messages(self, version: str) -> ChatMessages:
        return [
            {"role": "system", "content": self.prompt_for(version)},
            {"role": "user", "content": self.smoke_text},
        ]

    @property
    def running(self) -> bool:
        return self._scheduler is not None

    async def start(self) -> bool:
        """Take the newest complete version now, then start the scheduled job; False if
        there is nothing to run. The first look is awaited, so the first message after
        start-up is already answered by the newest version `atri train` wrote. A server
        that outlived an earlier run (vLLM) is then cleared of the versions that run left."""
        if not self.settings.enabled or self.engine is None or self._scheduler:
            return False
        await self.check()
        if isinstance(self.engine, RemoteAdapterEngine):
            # Now that the live version is settled, versions a previous run left loaded
            # on the server are only taking room there.
            try:
                await self.engine.unload_leftovers(self.adapters_dir)
            except Exception:
                log.exception("unloading adapter versions an earlier run left failed")
        schedule = ReloadSchedule(self.check, self.settings.interval_seconds, _scheduler_log)
        schedule.start()
        self._scheduler = schedule
        log.info(
            "adapter reload job: every %d s in %s",
            self.settings.interval_seconds,
            self.adapters_dir,
        )
        return True

    def begin_stop(self) -> None:
        """The part of `stop` that waits for nothing, for the moment the worker begins to
        stop: no reload starts and a version being staged is abandoned, while the replies
        still being finished are written by the live version (which `stop` then keeps)."""
        self._closed = True
        if self._staging is not None:
            self._staging.cancel()

    async def stop(self) -> None:
        """Stop the job. A version being staged is abandoned (`_stage_unless_stopped`):
        the stop waits for the engine's step in progress at most (a load cannot be cut
        short on the engine thread), not for the whole reload, which took minutes on a
        loaded machine and went live in a worker already stopping."""
        self.begin_stop()
        # Take the locks first: shutting the scheduler down cancels a running job, and a
        # switch cut anywhere but in staging would leave the bookkeeping out of step with
        # the engine. The switch in progress ends soon: abandoned, or its one last step.
        async with self._choosing, self._lock:
            if self._scheduler is not None:
                self._scheduler.stop()
                self._scheduler = None

    async def check(self) -> ReloadResult | None:
        """The scheduled job: switch to the newest complete version not tried yet (or
        worth trying again) that passes its checks."""
        if self._closed:
            return None
        try:
            async with self._choosing:
                return None if self._closed else await self._check_held()
        except StopAbandoned:
            return None
        except asyncio.CancelledError:
            # Cancelled waiting for the lock by `stop` shutting the scheduler down: the
            # worker is stopping, which is no failure of the job (APScheduler logged it
            # as one, with a traceback).
            if self._closed:
                return None
            raise

    async def _check_held(self) -> ReloadResult | None:
        try:
            names = await asyncio.to_thread(reload_candidates, self.adapters_dir)
            # Another character's versions in the same folder are passed over: her own
            # newest is what this worker serves (at start-up too).
            names = await asyncio.to_thread(self._not_anothers, names)
            await asyncio.to_thread(self._log_bare_folders)
        except OSError as exc:
            self._say_unlistable(exc)
            return None
        if self._unlistable.logged_before(UNLISTABLE):  # healed: a new failure is said at once
            self._unlistable = RepeatedFailures(REPEAT_SECONDS, time.monotonic)
            log.info("The adapters folder %s can be read again.", self.adapters_dir)
        names = await self._not_rolled_back(names)
        result = await self._take_newest(names) if names else None
        await asyncio.to_thread(self._log_hidden_by_name, names)
        return result

    def _say_unlistable(self, exc: OSError) -> None:
        """The adapters folder cannot be listed: said at the first look (at start as an
        ERROR: she may come up without her trained version), then at most every
        REPEAT_SECONDS while it lasts."""
        unsaid = self._unlistable.due(UNLISTABLE)
        if unsaid is None:
            return
        level = logging.ERROR if self._scheduler is None else logging.WARNING
        since = f" It happened {unsaid} more times since it was last logged." if unsaid else ""
        log.log(
            level,
            "%s%s While it lasts, this is logged at most every %g minutes.",
            unlistable_sentence(self.adapters_dir, exc, self.live),
            since,
            REPEAT_SECONDS / 60,
        )

    async def _take_newest(self, names: list[str]) -> ReloadResult | None:
        """The job's step: the newest of `names` newer than the live one that is worth
        trying goes live; refused, the next one down (at start-up, rather than the bare
        base model). One acted on before is passed over, not stopped at: a version named
        before a refused one, shipped after it, is still taken."""
        floor = max(self.live, self.pinned_past, key=version_order)
        result = None
        only_untried = False
        for name in reversed(names):
            if version_order(name) <= version_order(floor):
                break
            if only_untried and name in self.tried:
                continue
            if not await asyncio.to_thread(self._worth_trying, name):
                continue
            result = await self._switch(name, "reload")
            if result.ok or result.reason_code == "engine_unavailable":
                break
            # Refused for a reason not its own (a full disk): older ones that were tried
            # would fail alike; it alone is tried again at each look.
            only_untried = only_untried or name in self.retried
        return result

    def _worth_trying(self, name: str) -> bool:
        """Whether the job tries `name`: never tried, refused for a reason not its own,
        or refused and its folder changed since (caught half-way through a copy, a link
        replaced by a copy, an eval.json rewritten)."""
        if name not in self.tried or name in self.retried:
            return True
        refused = self.refused_files.get(name)
        if refused is None:
            return False
        if files_stamp(self.adapters_dir / name) == refused:
            self._settled(name)
            return False
        if name not in self._changing:
            self._changing.add(name)
            log.info("refused adapter version %s changed on disk; trying it again", name)
        return True

    def _settled(self, name: str) -> None:
        """A refused version whose files stopped changing: its last refusal, held back
        while they changed, is said now."""
        self._changing.discard(name)
        message = self._unsaid.pop(name, None)
        if message is not None and self._refusals_said.get(name) != message:
            self._refusals_said[name] = message
            log.warning("adapter reload refused: %s", message)

    async def reload(self, version: str = "") -> ReloadResult:
        """Switch to `version` (one rolled back from too), or to the newest complete one
        the job would take, saying which newer one it passed over; refused ones are
        retried."""
        if self.engine is None:
            return self._unsupported("reload")
        try:
            async with self._choosing:
                return await self._reload_held(version)
        except StopAbandoned:
            return self._stopping("reload")

    async def _reload_held(self, version: str) -> ReloadResult:
        if not version:
            names = await asyncio.to_thread(complete_versions, self.adapters_dir)
            names = await asyncio.to_thread(self._not_anothers, names)
            # As the job: a version rolled back from is taken again only by name. One
            # made for another base is passed over (and said so), as another character's:
            # no reload makes it fit.
            usable = await self._not_rolled_back(names)
            usable = await asyncio.to_thread(self._on_this_base, usable)
            if not names:
                bare = await asyncio.to_thread(bare_peft_folders, self.adapters_dir)
                hint = bare_folders_hint(self.adapters_dir, bare, self.config_file) if bare else ""
                return self._record(
                    ReloadResult(
                        ok=False,
                        message=f"No complete adapter version in {self.adapters_dir}"
                        + (f": {hint}." if hint else "."),
                        adapter_version=self.live,
                        code="no_version",
                        folder=str(self.adapters_dir),
                        reason=f"{hint[0].upper()}{hint[1:]}." if hint else "",
                        reason_code="bare_folders" if bare else "",
                        reason_details=bare_folders_details(bare),
                    ),
                    "reload",
                    "",
                )
            # Every one rolled back from: the live one stays, saying which it passed over.
            version = usable[-1] if usable else self.live
            skipped = await asyncio.to_thread(self._newer_passed_over, version)
            return await self._switch(version, "reload", skipped)
        return await self._switch(version, "reload")

    async def rollback(self) -> ReloadResult:
        """Go back to the newest usable version older than the live one (else the base
        model). The version left stays on disk but the job will not pick it again."""
        if self.engine is None:
            return self._unsupported("rollback")
        try:
            async with self._choosing:
                return await self._rollback_held()
        except StopAbandoned:
            return self._stopping("rollback")

    async def _rollback_held(self) -> ReloadResult:
        live = self.live
        if not live:
            return self._record(
                ReloadResult(
                    ok=False,
                    message=f"Already serving {BASE_LABEL}; nothing to roll back to.",
                    code="nothing_older",
                ),
                "rollback",
                "",
            )
        # The newest of them that loads: one found broken now (after a restart nothing
        # is known to be) is passed over, down to the base model.
        for target in await asyncio.to_thread(self._rollback_targets):
            result = await self._switch(target, "rollback")
            if result.ok:
                return result
        return await self._switch("", "rollback")

    def _rollback_targets(self) -> list[str]:
        """What a rollback goes back to, newest first: her own versions older than the
        live one, on this base, neither refused nor rolled back from (the base model after
        them). What stays loaded for a rollback is taken from them (`_unload_old`)."""
        live = version_order(self.live)
        older = [
            n
            for n in complete_versions(self.adapters_dir)
            if version_order(n) < live and n not in self.failed and n not in self.rolled_back
        ]
        return list(reversed(self._on_this_base(self._not_anothers(older))))

    async def _switch(
        self, version: str, kind: str, skipped: PassedOver | None = None
    ) -> ReloadResult:
        async with self._lock:
            try:
                return await self._switch_held(version, kind, skipped)
            finally:
                # `_record` clears it with `last`; a switch cancelled before that (a
                # dropped `/reload`) must not leave the status on the version before.
                self._switching_from = None

    async def _switch_held(
        self, version: str, kind: str, skipped: PassedOver | None = None
    ) -> ReloadResult:
        assert self.engine is not None
        engine = self.engine
        previous = self.live
        tried_before = version in self.tried
        stamp: FilesStamp | None = None
        if version:
            self.tried.add(version)
        if kind == "rollback" and previous:
            self.tried.add(previous)
        try:
            if version == previous:
                result = ReloadResult(
                    ok=True,
                    message=f"Already serving {_label(version)}.",
                    adapter_version=version,
                    code="already_serving",
                    version=version,
                )
                return self._record(telling_skip(result, skipped), kind, version)
            if (
                version in self.loaded
                and isinstance(engine, DroppingAdapterEngine)
                and not engine.holds(version)
            ):
                self.loaded.remove(version)  # staged afresh, from its folder
            if version and version not in self.loaded:
                # Taken before reading, and before the folder's own checks: files still
                # changing while it is tried, or a link replaced by a copy, make it differ
                # afterwards, so the job tries again.
                if version_order(version):
                    stamp = await asyncio.to_thread(files_stamp, self.adapters_dir / version)
                folder_or_next_step(self.adapters_dir, version)
                await self._stage_unless_stopped(engine, version)
            self._go_on_unless_stopped()
            self._switching_from = previous
            await engine.activate(version)
        except StopAbandoned:
            # Not the version's failure: tried afresh by the next worker.
            if not tried_before:
                self.tried.discard(version)
            log.info(
                "adapter %s: the worker is stopping, so %s does not go live; %s stays.",
                kind,
                _label(version),
                _label(self.live),
            )
            raise
        except Exception as exc:
            if isinstance(exc, EngineUnavailable):
                # The server, not the version: not held as refused, so the job's
                # next look tries it again once vLLM is back.
                if not tried_before:
                    self.tried.discard(version)
                reason = f"{exc}; it is tried again at the next look."
                return self._record(self._refused(version, reason, exc), kind, version)
            if isinstance(exc, AdapterConflict):
                # Another loaded version is at fault, not this one: not held as refused
                # (a worker started afresh, or an admin reload, tries it again).
                return self._record(self._refused(version, str(exc), exc), kind, version)
            if isinstance(exc, AdapterError):
                reason = str(exc)
            else:
                log.exception("loading adapter version %s failed", version)
                reason = f"Version {version} could not be loaded ({type(exc).__name__}: {exc})."
            self.failed.add(version)
            if isinstance(exc, AdapterError) and exc.retried:
                self.retried.add(version)
            elif stamp is not None:
                folder = self.adapters_dir / version
                self.refused_files[version] = await asyncio.to_thread(
                    with_own_conversion, stamp, folder
                )
            return self._record(self._refused(version, reason, exc), kind, version)
        self.failed.discard(version)
        self.retried.discard(version)
        self.refused_files.pop(version, None)
        self.served.append(version)
        await self._note_rolled_back(previous if kind == "rollback" else "", version)
        await self._unload_old(engine)
        rollback = kind == "rollback"
        verb = "Rolled back to" if rollback else "Now serving"
        result = ReloadResult(
            ok=True,
            message=f"{verb} {_label(version)} (was {_label(previous)}).",
            adapter_version=version,
            code="rolled_back" if rollback else "switched",
            version=version,
            previous=previous,
        )
        return self._record(telling_skip(result, skipped), kind, version)

    async def _note_rolled_back(self, left: str, live: str) -> None:
        """Record `left` as rolled back from, and `live` (asked for by name, or by an
        admin's /reload) as no longer so."""
        before = set(self.rolled_back)
        if left:
            self.rolled_back.add(left)
        self.rolled_back.discard(live)
        if self.rolled_back == before:
            return
        try:
            await asyncio.to_thread(record_rolled_back, self.adapters_dir, set(self.rolled_back))
        except OSError as exc:
            log.warning(
                "the rollback holds until this worker stops: %s cannot be written in %s (%s)",
                ROLLED_BACK_FILE,
                self.adapters_dir,
                exc.strerror or exc,
            )

    def _go_on_unless_stopped(self) -> None:
        """Raise StopAbandoned once the worker began to stop: nothing more goes live."""
        if self._closed:
            raise StopAbandoned

    async def _stage_unless_stopped(self, engine: AdapterEngine, version: str) -> None:
        """`_stage` in a task of its own, which `stop` cancels wherever it waits (for a
        file check, the engine's turn, the smoke reply): what it loaded is released, and
        StopAbandoned raised. A caller cancelled itself (a dropped `/reload`) still gets
        its CancelledError, once the staging is cleaned up."""
        self._go_on_unless_stopped()
        staging = asyncio.create_task(self._stage(engine, version), name="atri-adapter-staging")
        self._staging = staging
        try:
            await staging
        except asyncio.CancelledError:
            caller = asyncio.current_task()
            if staging.cancelled() and self._closed and not (caller and caller.cancelling()):
                raise StopAbandoned from None
            raise
        finally:
            self._staging = None
        if self._closed:  # staged as the stop began, before it could cancel the staging
            await self._unload(engine, version)
            raise StopAbandoned

    async def _stage(self, engine: AdapterEngine, version: str) -> None:
        """Validate and load `version` beside the live adapter, then smoke-test it."""
        info = await asyncio.to_thread(read_version, self.adapters_dir, version, self.config_file)
        self._check_character(info)
        self._check_base(engine, info.name, info.manifest)
        await asyncio.to_thread(self._check_ooc, info)
        try:
            await engine.load_adapter(info.path, version)
        except AdapterError as exc:
            raise naming_version(exc, version, info.path) from exc.__cause__
        except asyncio.CancelledError:
            # Stopped while loading: the engine thread finishes a load it began (it
            # cannot be cut short), and the unload queued behind it frees it again.
            await self._release(engine, version)
            raise
        self.loaded.append(version)
        # Versions trained before manifests recorded a prompt were trained with the card.
        self.prompts[version] = info.manifest.system_prompt or self.card_prompt
        try:
            # The smoke test runs with the version's own prompt, which also computes the
            # prefix-cache states of that prompt before the version goes live.
            text = await engine.smoke_test(
                version, self.smoke_messages(version), self.settings.smoke_max_new_tokens
            )
            # Judged without its reasoning, as a user gets it: the engines drop that of a
            # prompt that opened `<think>` (without_reasoning), the service a `<think>`
            # block the model wrote itself; a reply that is all reasoning is no reply.
            if not reasoning_removed(text).strip():
                raise VersionRefused(
                    f"Version {version}: the smoke generation returned no text"
                    f"{' besides its reasoning' if text.strip() else ''}.",
                    "smoke_empty",
                )
        except BaseException:
            await self._release(engine, version)
            raise

    async def _release(self, engine: AdapterEngine, version: str) -> None:
        """Unload a version whose staging failed or was abandoned, to the end even if the
        stop cancels the staging meanwhile (else it stayed loaded and listed)."""
        release = asyncio.ensure_future(self._unload(engine, version))
        try:
            await asyncio.shield(release)
        except asyncio.CancelledError:
            await release
            raise

    def _log_bare_folders(self) -> None:
        """Say once for each bare peft folder (no manifest.json), and each version under a
        name no version has, that the job passes it over, and what to do: each was skipped
        without a word."""
        bare = [n for n in bare_peft_folders(self.adapters_dir) if n not in self._bare_logged]
        if bare:
            self._bare_logged.update(bare)
            log.warning("%s.", bare_folders_hint(self.adapters_dir, bare, self.config_file))
        misnamed = {
            name: version
            for name, version in misnamed_versions(self.adapters_dir).items()
            if name not in self._bare_logged
        }
        if misnamed:
            self._bare_logged.update(misnamed)
            log.warning("%s", misnamed_hint(self.adapters_dir, misnamed))

    def _check_character(self, info: AdapterVersion) -> None:
        """A version trained as another character is hers, not this worker's: it would
        answer this worker's users as her, under her prompt."""
        theirs = trained_as(info.manifest.model_dump())
        ours = self.character
        if theirs is None or ours is None or not is_anothers(theirs, ours):
            return
        raise anothers_refusal(info.name, theirs, ours)

    def _newer_passed_over(self, target: str) -> PassedOver | None:
        """The newest version newer than `target` that an admin's reload passes over, and
        why: another character's, or one the file checks refuse (a pickle). The job only
        logged the first, and said nothing of the second, and the admin was told
        "Already serving"."""
        newer = [
            n
            for n in reload_candidates(self.adapters_dir)
            if version_order(n) > version_order(target)
        ]
        if not newer:
            return None
        name = newer[-1]
        if name in self.rolled_back:
            return PassedOver(name, rolled_back_refusal(name))
        theirs = recorded_character(self.adapters_dir / name)
        if (
            theirs is not None
            and self.character is not None
            and is_anothers(theirs, self.character)
        ):
            return PassedOver(name, anothers_refusal(name, theirs, self.character))
        made_for_another_base = self._base_refusal(name)
        if made_for_another_base is not None:
            return PassedOver(name, made_for_another_base)
        try:
            read_version(self.adapters_dir, name, self.config_file)
        except AdapterError as exc:
            return PassedOver(name, exc)
        return None

    async def _not_rolled_back(self, names: list[str]) -> list[str]:
        """`names` less the versions rolled back from, as recorded now (the record may
        have been written by a worker before this one)."""
        self.rolled_back |= await asyncio.to_thread(rolled_back_versions, self.adapters_dir)
        return [n for n in names if n not in self.rolled_back]

    def _log_hidden_by_name(self, names: list[str]) -> None:
        """Say once for each version made after the live one (its manifest's created_at)
        but named before it that no worker takes it, and what to do: a version named
        ahead of the clock by hand (a renamed folder, `adopt --version`) hid every later
        one without a word."""
        live = self.live
        live_made = self._made_at(live) if version_order(live) else None
        if live_made is None:
            return
        older = [
            n
            for n in names
            if version_order(n) < version_order(live) and n not in self._hidden_said
        ]
        if not older:
            return
        # The versions its name continued were there before it (a clock stepped back).
        after = recorded_named_after(self.adapters_dir / live)
        created = {n: self._made_at(n) for n in older}
        for name, made in hidden_by_name(created, live, live_made, after):
            self._hidden_said.add(name)
            log.warning("%s", hidden_by_name_hint(name, made, live, live_made, "the live "))

    def _made_at(self, name: str) -> dt.datetime | None:
        """When version `name` was made, by its manifest (read once: a version's folder
        is renamed, not rewritten, to fix its name)."""
        if name not in self._made:
            self._made[name] = recorded_creation(self.adapters_dir / name)
        return self._made[name]

    def _not_anothers(self, names: list[str]) -> list[str]:
        """`names` less the versions trained as another character (each passed over is
        logged once: they belong in her own [model] adapters_dir)."""
        if self.character is None:
            return names
        kept = []
        for name in names:
            if name in self._trained_as:  # a complete version never changes whose it is
                theirs = self._trained_as[name]
            else:
                theirs = self._trained_as[name] = recorded_character(self.adapters_dir / name)
                if theirs is not None and is_anothers(theirs, self.character):
                    log.warning(
                        "adapter version %s was trained as %s, not %s: passed over (give "
                        "each character its own [model] adapters_dir)",
                        name,
                        theirs.name,
                        self.character.name,
                    )
            if not is_anothers(theirs, self.character):
                kept.append(name)
        return kept

    def _on_this_base(self, names: list[str]) -> list[str]:
        """`names` less the versions made for another base than the loaded one: what an
        admin's reload and a rollback choose from. (The job tries such a version once,
        recording why it is refused, then passes it over.)"""
        return [n for n in names if self._base_refusal(n) is None]

    def _base_refusal(self, name: str) -> VersionRefused | None:
        """Why version `name` was made for another base (its base model, config or chat
        template), from its manifest alone, which a reload does not change; None when it
        fits, or when its manifest cannot be read (staging it says what is wrong)."""
        if self.engine is None:
            return None
        try:
            manifest = AdapterManifest.model_validate(read_manifest(self.adapters_dir / name))
        except (AdapterError, OSError, ValidationError):
            return None
        try:
            self._check_base(self.engine, name, manifest)
        except VersionRefused as exc:
            return exc
        return None

    def _check_base(self, engine: AdapterEngine, name: str, m: AdapterManifest) -> None:
        if not same_base(m.base_model, engine.base_id, self.root, m.base_config_hash):
            raise VersionRefused(
                f"Version {name} was trained on {m.base_model!r}, but this worker runs "
                f"{engine.base_id!r}.",
                "other_base",
                trained_on=m.base_model,
                running=engine.base_id,
            )
        try:
            check_config_hash(f"Version {name}", m.base_model, m.base_config_hash, engine)
        except AdapterError as exc:
            raise VersionRefused(
                str(exc), "other_config", recorded=m.base_config_hash, loaded=engine.config_hash
            ) from None
        try:
            check_trained_template(f"Version {name}", m.chat_template, chat_template_of(engine))
        except AdapterError as exc:
            raise VersionRefused(str(exc), "other_template") from None

    def _check_ooc(self, info: AdapterVersion) -> None:
        """A version evaluated worse than the live one by more than the margin, and by
        more than its evaluation's sampling noise, is refused; so is one not evaluated
        yet when `[reload] require_eval` asks for an evaluation."""
        if info.ooc_rate is None:
            if self.settings.require_eval:
                has = "an eval.json without its out-of-character rate"
                if not (info.path / EVAL_JSON).is_file():
                    has = "no eval.json yet"
                evaluate = suggested_command(self.config_file, "eval", info.path)
                raise VersionRefused(
                    f"Version {info.name} has {has}, and [reload] require_eval is on: run "
                    f"`{evaluate}`; the job tries it again once that is written.",
                    "eval_missing",
                    path=str(info.path),
                )
            return
        against, reference = self._ooc_reference(info)
        if reference.ooc_rate is None:
            return
        label = (
            f"{'live ' if against == self.live else ''}version {against}" if against else BASE_LABEL
        )
        margin = self.settings.max_ooc_rate_increase
        noise = ooc_rate_noise(
            info.ooc_rate, info.evaluation.probes, reference.ooc_rate, reference.probes
        )
        if info.ooc_rate > reference.ooc_rate + margin + noise + 1e-9:
            beyond = f" and beyond the {noise:.1%} its probes cannot tell apart" if noise else ""
            raise VersionRefused(
                f"Version {info.name} breaks character in {info.ooc_rate:.1%} of its evaluation "
                f"replies, {label} in {reference.ooc_rate:.1%}; more than the allowed "
                f"{margin:.1%} worse{beyond}.",
                "ooc_worse",
                rate=f"{info.ooc_rate:.1%}",
                against=against,
                against_rate=f"{reference.ooc_rate:.1%}",
                margin=f"{margin:.1%}",
            )

    def _ooc_reference(self, info: AdapterVersion) -> tuple[str, EvalFigures]:
        """The version a new one's OOC rate is set beside ("" = the base model) and its
        figures: the live one's; with none live (a worker starting), the newest older
        version that evaluates and is not refused, so a version refused beside the live
        one is not served at the next start for being set beside the bare base; the
        base's rate from the new version's own evaluation where there is none (or the
        live one's evaluation cannot be read, which is said, not passed in silence)."""
        base = EvalFigures(info.base_ooc_rate, None, info.evaluation.probes)
        if self.live:
            try:
                live = eval_figures(version_folder(self.adapters_dir, self.live), self.config_file)
            except AdapterError as exc:
                log.warning(
                    "the live version's evaluation cannot be used (%s): %s is set "
                    "beside the base model's rate instead",
                    exc,
                    info.name,
                )
                return "", base
            if not same_yardstick(live, info.evaluation):
                log.warning(
                    "versions %s and %s were evaluated with different probe sets or "
                    "[eval] max_new_tokens, so their rates are not comparable: %s is set "
                    "beside the base model's rate in its own evaluation",
                    self.live,
                    info.name,
                    info.name,
                )
                return "", base
            return self.live, live
        for older in reversed(complete_versions(self.adapters_dir)):
            if version_order(older) >= version_order(info.name):
                continue
            if older in self.failed or older in self.rolled_back:
                continue
            try:
                figures = eval_figures(version_folder(self.adapters_dir, older), self.config_file)
            except AdapterError:
                continue
            if figures.ooc_rate is not None and same_yardstick(figures, info.evaluation):
                return older, figures
        return "", base

    async def _unload_old(self, engine: AdapterEngine) -> None:
        """Keep the live adapter and, of the versions a rollback goes back to first, the
        `keep_previous` newest where loaded; free the rest. What is kept is what `atri
        adapters list` marks `rollback` (it reads them from /status): a version kept for
        having been served just before, but older or newer than the one a rollback takes,
        was marked and not gone back to. A version just rolled back from stays too: the
        list marks it `rolled back`, and a reload naming it again is instant."""
        kept = self.settings.keep_previous
        targets = await asyncio.to_thread(self._rollback_targets)
        left = [n for n in self.served[-1 - kept : -1] if n in self.rolled_back] if kept else []
        keep = {self.live, *targets[:kept], *left}
        for name in [n for n in self.loaded if n not in keep]:
            await self._unload(engine, name)

    async def _unload(self, engine: AdapterEngine, name: str) -> None:
        try:
            await engine.unload_adapter(name)
        except Exception:
            log.exception("unloading adapter version %s failed", name)
            return
        if name in self.loaded:
            self.loaded.remove(name)
        if name != self.live:
            self.prompts.pop(name, None)

    def _refused(self, version: str, reason: str, exc: BaseException) -> ReloadResult:
        live = self.live
        reason_code, details = reason_code_of(exc)
        return ReloadResult(
            ok=False,
            message=f"{reason} Still serving {_label(live)}.",
            adapter_version=live,
            code="refused",
            version=version,
            reason=reason,
            reason_code=reason_code,
            reason_details=details,
        )

    def _stopping(self, kind: str) -> ReloadResult:
        """An admin's reload or rollback abandoned because the worker began to stop."""
        return ReloadResult(
            ok=False,
            message=f"The worker is stopping: the {kind} was abandoned. Still serving "
            f"{_label(self.live)}.",
            adapter_version=self.live,
        )

    def _unsupported(self, kind: str) -> ReloadResult:
        result = ReloadResult(
            ok=False,
            message=f"The {self.engine_name} engine has no adapters; nothing to {kind}.",
            code="no_adapters",
            engine=self.engine_name,
        )
        return self._record(result, kind, "")

    def _record(self, result: ReloadResult, kind: str, version: str) -> ReloadResult:
        self._switching_from = None  # with `last`, in one step of the loop
        self.last = {
            "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "kind": kind,
            "ok": result.ok,
            "version": version,
            "message": result.message,
            # For a bot's /status to word it as an answer is worded (`bot.lines`).
            **result.model_dump(
                include={
                    "code",
                    "adapter_version",
                    "previous",
                    "reason",
                    "engine",
                    "folder",
                    "reason_code",
                    "reason_details",
                    "skipped",
                }
            ),
        }
        if result.ok:
            self._refusals_said.clear()
            self._changing.discard(version)
            self._unsaid.pop(version, None)
            log.info("adapter %s: %s", kind, result.message)
        elif version in self._changing:
            self._hold_back(version, result.message)
        elif self._refusals_said.get(version) == result.message:
            # The same refusal at each look (a folder that cannot be written, vLLM
            # away): said once, not 2,900 times a day.
            log.debug("adapter %s refused again: %s", kind, result.message)
        else:
            self._refusals_said[version] = result.message
            log.warning("adapter %s refused: %s", kind, result.message)
        if self.on_result is not None:
            self.on_result(result, self.last)
        return result

    def _hold_back(self, version: str, message: str) -> None:
        """A refusal of a version whose files changed since its last one: most likely a
        copy on its way in, refused at each look with another byte count. Said once; the
        last refusal is said once its files stop changing (`_settled`)."""
        if version in self._unsaid:
            log.debug("adapter reload refused again while its files change: %s", message)
        else:
            log.warning(
                "adapter reload refused again: %s Its files are still changing: still being "
                "copied? It is tried again when they change.",
                message,
            )
        self._unsaid[version] = message


@dataclass(frozen=True)
class PassedOver:
    """A newer version a reload passed over, and what refuses it."""

    name: str
    refusal: AdapterError


def anothers_refusal(name: str, theirs: CharacterId, ours: CharacterId) -> VersionRefused:
    """Version `name` is `theirs`'s, not the character this worker serves."""
    return VersionRefused(
        f"Version {name} was trained as {theirs.name}, but this worker serves "
        f"{ours.name}: give each character its own [model] adapters_dir (set one in "
        f"{theirs.name}'s config and move her versions there).",
        "other_character",
        trained_as=theirs.name,
        serves=ours.name,
    )


def rolled_back_refusal(name: str) -> VersionRefused:
    """Why a reload without a version passes over `name`: an admin rolled back from it."""
    return VersionRefused(
        f"Version {name} was rolled back from by an admin: only a reload naming it serves "
        f'it again (POST /reload with {{"version": "{name}"}}).',
        "rolled_back",
    )


def telling_skip(result: ReloadResult, skipped: PassedOver | None) -> ReloadResult:
    """`result` also saying which newer version was passed over and why (in `skipped`,
    `reason` and `reason_code`, and at the end of its sentence)."""
    if skipped is None:
        return result
    reason = str(skipped.refusal)
    code, details = reason_code_of(skipped.refusal)
    return result.model_copy(
        update={
            "message": f"{result.message} The newer version {skipped.name} was passed "
            f"over: {reason}",
            "skipped": skipped.name,
            "reason": reason,
            "reason_code": code,
            "reason_details": details,
        }
    )


def naming_version(exc: AdapterError, version: str, folder: Path) -> AdapterError:
    """An engine's refusal as a sentence that says which version it is about, as every
    other refusal does: the layer-shape check's "The adapter changes …" said none. One
    that names it already (by name, or by its folder) is kept as it is; the same class,
    so a conflict or an unwritten file is still told apart."""
    reason = str(exc)
    if reason.startswith(f"Version {version}") or str(folder) in reason:
        return exc
    return type(exc)(f"Version {version}: {reason}")


def bare_folders_details(names: list[str]) -> dict[str, str]:
    """A "bare_folders" reason's details: the first three names, and how many there are."""
    return {"folders": ", ".join(names[:3]), "count": str(len(names))} if names else {}


def _label(version: str) -> str:
    return f"adapter version {version}" if version else BASE_LABEL


def files_stamp(folder: Path) -> FilesStamp:
    """The version folder's own entry (a link, or the folder that replaced it) and the
    name, size and modification time of each file in it (they are flat), or () if it
    cannot be read (gone): what changes as its files are copied in or rewritten, or as
    the folder is replaced or comes back."""
    try:
        own = folder.lstat()
        found = sorted(p for p in folder.iterdir() if p.is_file())
        files = tuple((p.name, (st := p.stat()).st_size, st.st_mtime_ns) for p in found)
    except OSError:
        return ()
    return (("", own.st_mode, own.st_ino), *files)


# What the worker itself writes into a version folder while trying it: the llamacpp
# engine converts its peft files to GGUF there once (`gguf_lora.ensure_gguf_adapter`).
OWN_CONVERSION_FILES = frozenset({ADAPTER_GGUF, GGUF_RECORD})


def with_own_conversion(stamp: FilesStamp, folder: Path) -> FilesStamp:
    """`stamp`, taken before a try, with the GGUF conversion the try wrote into `folder`
    as it is now: else the version refused after converting differed from its stamp at
    once, and the job tried it a second time, logging "still being copied?". A change to
    any other file since the stamp is kept a change."""
    now = {entry[0]: entry for entry in files_stamp(folder)[1:]}
    before = [entry for entry in stamp if entry[0] not in OWN_CONVERSION_FILES]
    written = [now[name] for name in sorted(OWN_CONVERSION_FILES) if name in now]
    return (*before[:1], *sorted(before[1:] + written)) if stamp else stamp


def folder_or_next_step(adapters_dir: Path, name: str) -> Path:
    """`version_folder`, whose refusal of the folder itself (a link to elsewhere, gone)
    also says what to do."""
    try:
        return version_folder(adapters_dir, name)
    except AdapterError as exc:
        step = FOLDER_NEXT_STEPS.get(exc.short)
        if step is None:
            raise
        raise AdapterError(f"{exc} {step.format(name=name)}", short=exc.short) from None


def check_adapters_folder(adapters_dir: Path) -> None:
    """Before a worker loads its model: `[model] adapters_dir` naming a file stops it with
    one sentence, as it stops `atri train` and `atri eval`; the job would only ever report
    that it found no version there."""
    if adapters_dir.exists() and not adapters_dir.is_dir():
        raise ConfigError(
            f"{adapters_dir} is a file, not a folder: [model] adapters_dir must name the "
            "folder `atri train` writes versions into."
        )


def unlistable_sentence(adapters_dir: Path, exc: OSError, live: str) -> str:
    """Why the reload job cannot see the versions in `adapters_dir`, what to do, and what
    she is served by meanwhile (`live`: the version live, "" for the base model)."""
    if exc.errno in (errno.EACCES, errno.EPERM):
        fix = "the user ATRI runs as may not read it: `chmod u+rx` it, or make that user its owner"
    else:
        fix = "check the folder and the disk it is on"
    served = f"version {live}" if live else BASE_LABEL
    return (
        f"The adapters folder {adapters_dir} ([model] adapters_dir) cannot be listed "
        f"({exc.strerror or exc}): {fix}; she is served by {served} meanwhile, and takes "
        "the newest version there once it can be read."
    )


def pinned_at_start(engine: object, live: str) -> bool:
    """Whether the adapter live as the job starts is `[model] adapter` (an engine serves
    one before the job only for that key), not vLLM's start-up LoRA (--lora-modules),
    which the newest version replaces as before."""
    loras = getattr(engine, "loras", None)
    lora = loras.get(live) if isinstance(loras, dict) else None
    return bool(live) and not getattr(lora, "static", False)


def newest_version_in(adapters_dir: Path) -> str:
    """The newest version the job would consider now ("" for none, or an unreadable
    folder: the job says so at its first look)."""
    try:
        names = reload_candidates(adapters_dir)
    except OSError:
        return ""
    return names[-1] if names else ""


def reload_candidates(adapters_dir: Path) -> list[str]:
    """What the job considers, oldest first: complete versions, and those saved only as a
    pickle, so that a new one of these is reported refused (with why), not skipped."""
    names = complete_versions(adapters_dir) + pickled_versions(adapters_dir)
    return sorted(names, key=version_order)
