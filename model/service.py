"""The in-process worker: character + memory + batched engine behind the `Worker` interface.

Every conversation path comes here: the bots and the console through `chat`, the OpenAI
API through the same `chat` with the client's own context. One method applies the rate
limit, the per-conversation lock, the deadline, the context fitting, the out-of-character
guard and the shielded memory write, so no path can drift from the others.
`atri serve` and `atri chat` use this directly; `atri worker` puts it behind HTTP.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from atri.config import Settings
from model import room as room_module
from model.adapters.reload import Reloader, check_adapters_folder
from model.adapters.validation import adapter_setting_error, check_adapter_folder
from model.adapters.versions import AdapterError, CharacterId, recorded_prompt
from model.admission import TOKEN_COUNT_CACHE_BYTES, RateLimiter, ScopeLocks, TokenCounts
from model.batching import Batcher, Overloaded
from model.channels import ChannelModes
from model.character.card_formats import fill_names
from model.character.ooc import OOCDetector
from model.character.persona import (
    FRAMINGS,
    Persona,
    configured_persona,
    default_user_name,
    reply_lines,
)
from model.character.prompt import (
    LORE_HEADINGS,
    ROOM_HEADINGS,
    SUMMARY_HEADINGS,
    CharacterNote,
    ChatMessages,
    FittedPrompt,
    Lore,
    PastTurn,
    PromptTooLong,
    Recalled,
    ReplySoFarTooLong,
    Room,
    Turn,
    Window,
    check_room,
    clean_continuation,
    clean_reply,
    fit_prompt,
    little_room,
    load_name_tables,
    one_line_name,
    said_lately,
)
from model.engines import create_engine
from model.engines.base import (
    Engine,
    EngineRequestFailed,
    Generation,
    RowLimits,
    chat_template_of,
)
from model.engines.chat_template import user_turn_markers
from model.grouping import Touch
from model.memory import (
    Conversation,
    FailureLog,
    Memory,
    channel_prefix,
    database_error,
    purge_leftovers,
    scope_key,
)
from model.memory.database import Doing
from model.memory.import_marker import unfinished_imports
from model.metrics import AdapterInfo, SummaryCounts, TokenTotals, WorkerMetrics
from model.protocol import (
    PERSONAL_SCOPE,
    SHARED_SCOPE,
    ChannelMode,
    ChannelRef,
    ChannelSetting,
    Character,
    ChatRequest,
    HistoryEntry,
    MemoryUnavailable,
    MessageRef,
    ReloadResult,
    Remembered,
    Reply,
    ReplyCut,
    ScopeRef,
    WorkerStatus,
    visible_text,
)
from model.room import Edit, PendingEdits, RoomBounds, SpeakUp, platform_time, recently_forgotten
from model.summaries import Summarizer
from model.tasks import stop_task

log = logging.getLogger(__name__)
# `[memory] delete_after_days`' lines, told without --verbose (`atri.cli.TOLD_LOGGERS`):
# an operator who turns retention on sees that it runs and what it deleted.
retention_log = logging.getLogger(f"{__name__}.retention")


def _any_scope(platform: str) -> str:
    """What `_recalled` notes a message under when the scope it is in is unknown (no
    scope key ends with '*')."""
    return f"{platform}:*"


def edit_of(request: ChatRequest, text: str) -> Edit:
    """The request's `text` as an edit: dated by the platform's edit time where it told
    one that can be true (`platform_time`), else now and in arrival order
    (`Edit.on_arrival`); at 0 for a message as it was sent."""
    if not (request.edited or request.edited_at):
        return Edit(text)
    at = platform_time(request.edited_at, time.time())
    return Edit(text, at, on_arrival=at != request.edited_at)


def stored_text(request: ChatRequest, fitted: FittedPrompt) -> str:
    """The message as her conversation keeps it: its `text`, which names whose message
    it quotes without the words the prompt held for this reply (`with_quote`); of a
    message too long for the prompt, only as much of its end as the prompt kept."""
    text = visible_text(request.text)
    if not fitted.message_cut:
        return text
    return text[max(0, len(text) - len(fitted.text)) :]


def ending_as_written(reply: str, written: str) -> str:
    """`reply`, cleaned from `written` (the reply to a request with stop strings), ending
    with the white space `written` ends with: OpenAI's reply is the text up to the stop
    string exactly ("Hi there \n\n" before "User:"), which a front end joins to what it
    writes next. The engines cut at the stop string as they generate, so whether one
    came is not known here: the end of any such reply is kept, as OpenAI's is. A reply
    of nothing stays nothing. Memory stores the reply without it (`_store_exchange`)."""
    if not reply.strip():
        return reply
    return reply.rstrip() + written[len(written.rstrip()) :]


# Generations per message when a reload lands between building the prompt and the batch.
PROMPT_SWITCH_ATTEMPTS = 2
# An edit noted for a message not stored yet is kept this long past the request
# deadline: the exchange of a message that arrived just after its edit is stored by then.
EDIT_GRACE_SECONDS = 30.0
# A platform delivers a message again within minutes (a OneBot implementation after a
# reconnect, a Discord resume): a message whose id she answered longer ago than this is
# a new one, since not every platform's ids stay unique for ever (a OneBot
# implementation's 32-bit ids, its database wiped).
COPY_WITHIN_SECONDS = 24 * 3600.0
# A request whose deadline passed is logged with a hint (`_hint_at_a_missed_deadline`);
# it names the window when the prompt filled more than 1/LONG_PROMPT_SHARE of it: the
# window bounds the prompt, so lowering it helps prompts that fill much of it (a fixed
# count would mean a second's reading on a GPU and minutes on a small CPU).
LONG_PROMPT_SHARE = 4
# A window this small is not the hint's to lower: every prompt fills a quarter of it.
SMALL_WINDOW_TOKENS = 1024
# The hint names [generation] max_new_tokens when the reply may take this share of the
# prompt's tokens or more: a token generated costs several times one read, so such a
# reply, not the prompt, is most of the wait.
LONG_REPLY_SHARE = 0.25
# At most this often (seconds): a client retrying such a conversation would flood the log.
LONG_PROMPT_TOLD_EVERY_S = 600.0
# Engines that say it themselves, from where the reading stopped and its rate (llamacpp).
ENGINES_TELLING_UNREAD_PROMPTS = frozenset({"llamacpp"})
# `[memory] delete_after_days`' first sweep, this long after the start (or at the room
# sweep, if that comes sooner): an operator restarting to try the setting sees it work
# within a minute, not after the sweeps' ten.
FIRST_RETENTION_SWEEP_SECONDS = 30.0


def check_adapter_setting(settings: Settings) -> None:
    """`[model] adapter` must name a usable peft folder here; with the openai engine the
    folder is the vLLM host's, which that server checks when it loads it."""
    value = settings.model.adapter
    if not value or settings.model.engine == "openai":
        return
    try:
        check_adapter_folder(settings.path(value))
    except AdapterError as exc:
        raise adapter_setting_error(
            settings,
            exc,
            "point it at a peft adapter folder (adapter_config.json and "
            'adapter_model.safetensors) or set it to ""',
        ) from None
    if settings.model.engine == "echo":
        log.warning("[model] adapter is not used: the echo engine loads no model")


def listed_channel(request: ChatRequest | ScopeRef, channels: Collection[str]) -> str:
    """The request's channel or, in a thread, its parent, if `channels` names it; else ""."""
    parent = request.parent_channel_id if isinstance(request, ChatRequest) else ""
    return next((c for c in (request.channel_id, parent) if c and c in channels), "")


class MemoryFailed(Exception):
    """The memory database failed while a message was answered: reading its
    conversation, or storing the exchange (`doing`)."""

    def __init__(self, doing: Doing, error: sqlite3.Error) -> None:
        super().__init__(str(error))
        self.doing = doing
        self.error = error


@contextlib.contextmanager
def memory_step(doing: Doing) -> Iterator[None]:
    """Mark a database error inside as `MemoryFailed` while `doing` (read or write)."""
    try:
        yield
    except sqlite3.Error as exc:
        raise MemoryFailed(doing, exc) from exc


@dataclass(frozen=True)
class SoFar:
    """A conversation before its new message, as the prompt and the memory write need it."""

    earlier: Sequence[PastTurn]
    recalled: Recalled | None = None  # the stored summary, leading the history
    window_full: bool = False  # the read stopped at max_history_messages, none summarized
    newest_read: int | None = None  # the newest stored message her reply is made from
    reset_mark: int | None = None  # the newest reset recorded when memory was read
    history_cap: int | None = None  # max_history_tokens for stored memory; none for clients
    # How many edits the worker had noted when the message arrived: one of those is older
    # than the message as it came (an edit that then made it for her), not a change to it.
    edits_seen: int = 0


@dataclass(frozen=True)
class ChannelOwned:
    """The conversations kept for one channel alone (`ChatService._owned_by_channel`):
    the one its members share, keyed as the channel (`shared`: `[memory] scope =
    "channel"`), or its members' own, keyed under `members` ("user_in_channel"); neither
    under "user", where a person's conversation is theirs in every place. Its room lines
    are its own under every scope."""

    shared: str = ""
    members: str = ""


@dataclass
class InFlight:
    """What one request's generation holds while it runs, for the deadline's log line:
    its fitted prompt's tokens, 0 while no generation is waited for."""

    prompt_tokens: int = 0


class ChatService:
    def __init__(
        self, settings: Settings, engine: Engine, memory: Memory, persona: Persona
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.memory = memory
        self.persona = persona  # in the language ATRI speaks (see configured_persona)
        # `[ooc] language = "auto"` checks replies against the language she speaks.
        self.ooc = OOCDetector.for_character(settings.ooc, persona.main_language)
        self.lines = reply_lines(persona, settings)
        self.user_name = default_user_name(persona, settings)
        # Every message re-counts its conversation's history (and /v1 clients resend
        # whole chats), so counts of recent texts are kept.
        self.count_tokens = TokenCounts(engine.count_tokens, TOKEN_COUNT_CACHE_BYTES)
        # The card is the same for every user (see Persona.system_prompt), so built once.
        self.card_prompt = persona.system_prompt()
        for note in persona.unused:
            log.warning("Character card: %s.", note)
        self.metrics = WorkerMetrics(settings.worker.request_timeout_seconds)
        self.batcher = self._new_batcher()
        self.metrics.watch_queue(lambda: self.batcher.depth)
        self.metrics.watch_rows_in_flight(lambda: self.batcher.rows_in_flight)
        self.metrics.watch_engine(
            lambda: TokenTotals(engine.stats.generated_tokens, engine.stats.prompt_tokens)
        )
        w = settings.worker
        self.rate_limiter = RateLimiter(w.rate_limit_per_minute)
        # Open-API callers by network address (see `chat`), apart from the user ids.
        self.client_limiter = RateLimiter(w.rate_limit_per_minute)
        # Requests being answered (queued, generating, waiting their conversation's turn,
        # or on their way to the queue), and of them those with no conversation.
        self._in_progress = 0
        self._anonymous_in_progress = 0
        # Places: no more conversations (and anonymous requests) than the queue and one
        # batch hold, so a flood is told "busy" on arrival (`_no_place_for`).
        self._capacity = w.queue_size + w.max_batch
        self.started = time.monotonic()
        self.ooc_regenerations = 0
        self.last_reload: dict[str, object] = {}
        self.reloader = self._new_reloader()
        self.metrics.watch_adapter(
            lambda: AdapterInfo(self.reloader.shown, engine.name, engine.base_id)
        )
        # Messages of one conversation are answered in order, so history stays coherent.
        self._scope_locks = ScopeLocks()
        # Platform messages deleted or recalled, as (scope, request id), the newest
        # FORGOTTEN_KEPT (as the room keeps them): a recall can reach the worker before
        # the message it takes back, or while that waits its turn or is answered, when
        # it finds no exchange to archive. Such a message is not answered; one recalled
        # once she is answering it is archived as soon as her exchange is stored.
        self._recalled = recently_forgotten()
        # Platform messages being answered, as (scope, request id, sender, words): a copy
        # of one that arrives meanwhile (a OneBot implementation delivering its events
        # again after a reconnect, a Discord resume replaying one) is not answered twice
        # (`_first_copy`). Sender and words are part of it: ids are reused (a counter
        # started again, ids per chat), and another message under an id is answered.
        self._answering: set[tuple[str, str, str, str]] = set()
        # Edits of messages whose exchange or room line may not be stored yet: the
        # exchange stored later takes the new text (`_store_exchange`), so does the line.
        self._pending_edits = PendingEdits(w.request_timeout_seconds + EDIT_GRACE_SECONDS)
        # In the memory's database file: opened at start (`_open_channel_modes`), else
        # on first use.
        self._channel_modes: ChannelModes | None = None
        self._channel_modes_lock = asyncio.Lock()
        # A damaged file or a full disk fails every message: each kind is logged once
        # every few minutes, as one sentence.
        self.database_failures = FailureLog(memory.path, log)
        memory.failures = self.database_failures  # told when a write works again
        r = settings.room
        self.room_bounds = RoomBounds(r.max_lines_per_channel, r.max_age_hours * 3600, r.max_chars)
        self.room_heading = ROOM_HEADINGS.get(persona.main_language, ROOM_HEADINGS["zh"])
        self.speak_up = self._new_speak_up()
        self.summary_heading = SUMMARY_HEADINGS.get(persona.main_language, SUMMARY_HEADINGS["zh"])
        self.lore_heading = LORE_HEADINGS.get(persona.main_language, LORE_HEADINGS["zh"])
        # The card's character's note: told in the chat under her card (`_note_under`),
        # never in the system prompt, which stays the same cached text.
        self.character_note = persona.note_in_chat()
        # After a speaker's name in room lines and shared conversations: "Aya: hi" in an
        # English prompt, as her card's example lines write it, not "Aya：hi".
        self.speaker_colon = FRAMINGS.get(persona.main_language, FRAMINGS["en"]).colon
        self.summarizer = self._new_summarizer() if settings.memory.summaries else None
        if (summarizer := self.summarizer) is not None:
            # Exported only with summaries on, as /status shows them: absent, they tell
            # Grafana "off"; zeros would pass for a summarizer that never failed.
            self.metrics.watch_summaries(
                lambda: SummaryCounts(
                    summarizer.written,
                    summarizer.overdue,
                    summarizer.compactions,
                    summarizer.not_summaries,
                    summarizer.failed,
                )
            )
        self._room_sweeper: asyncio.Task[None] | None = None
        self._long_prompt_told_at = -LONG_PROMPT_TOLD_EVERY_S

    def _new_batcher(self) -> Batcher:
        """One queue in front of the engine, so messages arriving together share a batch."""
        w = self.settings.worker
        return Batcher(
            self.engine,
            self.settings.generation,
            w.max_batch,
            w.batch_window_ms / 1000,
            w.queue_size,
            observer=self.metrics,
        )

    def _new_reloader(self) -> Reloader:
        """The adapter switcher, told the prompt the configured adapter was trained with
        and whom it serves (it refuses versions trained as another character)."""
        settings = self.settings
        start_adapter = settings.model.adapter
        return Reloader(
            settings.reload,
            settings.path(settings.model.adapters_dir),
            settings.root,
            self.engine,
            self.card_prompt,
            self.persona.smoke_prompt(settings.reload.smoke_prompt),
            on_result=self._on_reload,
            live_prompt=recorded_prompt(settings.path(start_adapter)) if start_adapter else None,
            character=CharacterId.of(self.persona.name, self.persona.aliases),
            config_file=settings.config_file,
        )

    def _new_speak_up(self) -> SpeakUp:
        """Her wish to answer unasked, woken by her name, her aliases and the set words."""
        r = self.settings.room
        return SpeakUp(
            r.speak_up_channels,
            r.speak_up_probability,
            [self.persona.name, *self.persona.aliases, *r.speak_up_words],
            r.speak_up_cooldown_seconds,
            r.speak_up_max_per_hour,
        )

    def _new_summarizer(self) -> Summarizer | None:
        """Folds old exchanges into a summary, greedily, between replies (or after max_wait).
        None, with a warning, where `summary_max_tokens` leaves no room for a summary
        request in the context window: replies need no summary, and every fold would ask
        the model to summarise nothing."""
        m = self.settings.memory
        summarizer = Summarizer(
            self.memory,
            self.batcher,
            self.settings.generation.model_copy(
                update={"max_new_tokens": m.summary_max_tokens, "do_sample": False}
            ),
            self.persona.summary_instruction(),
            self.persona.name,
            self.persona.main_language,
            self.count_tokens,
            self.engine.context_window,
            m.summary_fold_exchanges,
            busy=lambda: self._in_progress > 0 or self.batcher.depth > 0,
            max_wait_seconds=m.summary_max_wait_seconds,
            failures=self.database_failures,
            # An answer that runs on into a turn it wrote for the person is cut there,
            # as a reply is: the fake turn is no summary of what was said.
            turn_markers=user_turn_markers(chat_template_of(self.engine)),
            # What her prompt shows, to fold on at once while a scope is still behind.
            history_tokens=m.max_history_tokens,
            history_messages=m.max_history_messages,
        )
        if problem := summarizer.leaves_no_room():
            log.warning("%s Summaries are off until then.", problem)
            return None
        return summarizer

    @property
    def system_prompt(self) -> str:
        """The live version's prompt: the one it was trained with; the card with no adapter."""
        return self.reloader.prompt_for(self.engine.adapter_version)

    def _note_under(self, prompt: str, client_prompt: str = "") -> CharacterNote | None:
        """The character's note told with a message whose system prompt is `prompt`: under
        her card (no adapter live, or a version trained with no prompt), as the card's
        other sections are. A version trained with its short prompt learned her without
        the card (README, "Two prompts, one rule") and gets none of it; nor does a
        client's own system prompt (`client_prompt`)."""
        if client_prompt or prompt != self.card_prompt:
            return None
        return self.character_note

    @classmethod
    async def open(
        cls,
        settings: Settings,
        engine: Engine | None = None,
        card: Persona | None = None,
        log_no_room: bool = True,
        scratch_memory: bool = False,
    ) -> ChatService:
        """Check the config's paths, open memory, then load the engine (unless given one):
        a mistake in a path is one sentence before the model starts loading. `card`: the
        configured character card when the caller has read it already. `log_no_room`:
        log `prompt_leaves_no_room` (a caller that refuses to start on it says it).
        `scratch_memory`: `[memory] path` is a scratch database made for this run (`atri
        eval --recall`), whose making is no news to log."""
        if engine is None:
            check_adapter_setting(settings)
        if settings.reload.enabled:
            check_adapters_folder(settings.path(settings.model.adapters_dir))
        persona = configured_persona(settings, card)
        load_name_tables()
        memory = await Memory.open(
            settings.path(settings.memory.path), expect_new=scratch_memory, answers_when_full=True
        )
        for killed in unfinished_imports(memory.path):  # it holds part of that file
            log.warning("%s", killed.sentence())
        try:
            engine = engine or await create_engine(settings, persona)
        except BaseException:
            await memory.close()
            raise
        service = cls(settings, engine, memory, persona)
        if memory.full_at_open is not None:  # as a write failing later says it: once
            service.database_failures.report(
                memory.full_at_open, "write", "Replies are given but not remembered meanwhile."
            )
        service.batcher.start()
        if service.summarizer is not None:
            service.summarizer.start()
        service._room_sweeper = asyncio.create_task(service._sweep_rooms(), name="atri-room-sweep")
        try:
            await service._open_channel_modes()
            await service.reloader.start()
        except BaseException:
            await service.close()
            raise
        if log_no_room and (problem := service.prompt_leaves_no_room()):
            log.error("%s Until then every chat gets her error line.", problem)
        if tight := little_room(*service._live_prompt()):
            log.warning("%s", tight)
        return service

    def prompt_leaves_no_room(self) -> str | None:
        """Why the live prompt (the card, or the version's training prompt) leaves no
        room in the context window, so that every chat will get her error line (and /v1
        a 500) until the setting is changed; None when it fits. Said at start, not
        first at someone's first chat."""
        try:
            check_room(*self._live_prompt())
        except PromptTooLong as exc:
            return exc.of_the_character()
        return None

    def _live_prompt(
        self,
    ) -> tuple[str, Callable[[str], int], Window, CharacterNote | None]:
        """The live prompt, its counter, window and note, as the start-up checks take them:
        counted as a chat's is, `{{user}}` and all (her reply fills it in, not her prompt)."""
        note = self._note_under(self.system_prompt)
        window = Window(self.engine.context_window, self.settings.generation.max_new_tokens)
        return self.system_prompt, self.engine.count_tokens, window, note

    async def close(self) -> None:
        """Stop every part in order, each even when one before it failed: memory last,
        so the exchanges still waiting for their group commit are written whatever else
        went wrong. The first failure is raised once all are stopped."""
        steps: list[Callable[[], Awaitable[None]]] = [self._stop_sweeping_rooms]
        if self._channel_modes is not None:
            steps.append(self._channel_modes.close)
        steps.append(self.reloader.stop)
        if self.summarizer is not None:
            steps.append(self.summarizer.stop)
        steps += [self.batcher.stop, self.engine.close, self.memory.close]
        failure: BaseException | None = None
        for step in steps:
            try:
                await step()
            except Exception as exc:
                failure = failure or exc
        if failure is not None:
            raise failure

    async def _sweep_rooms(self) -> None:
        """Room lines past `[room] max_age_hours` (or past `max_lines_per_channel` in
        their room) are deleted every SWEEP_INTERVAL_SECONDS, also where no room is heard
        any more (a write sweeps only when some room is heard): a line is not kept much
        longer than the bounds say. So are messages past `[memory] delete_after_days`,
        first soon after the start."""
        if days := self.settings.memory.delete_after_days:
            first = min(FIRST_RETENTION_SWEEP_SECONDS, room_module.SWEEP_INTERVAL_SECONDS)
            retention_log.info(
                "memory: retention is on: messages older than %g days are deleted every %g"
                " minutes, the first time in %g seconds",
                days,
                room_module.SWEEP_INTERVAL_SECONDS / 60,
                first,
            )
            await asyncio.sleep(first)
            await self._delete_old_memory(first=True)
        while True:
            await asyncio.sleep(room_module.SWEEP_INTERVAL_SECONDS)
            try:
                await self.memory.room.sweep(self.room_bounds)
            except sqlite3.Error as exc:
                await self.memory.rollback()
                self._write_failed(exc, "retention", "Old room lines are kept meanwhile.")
            await self._delete_old_memory()

    async def _delete_old_memory(self, first: bool = False) -> None:
        """The sweep's part for `[memory] delete_after_days` (0: nothing is deleted): one
        line when it deleted something, and after the `first` sweep in any case."""
        days = self.settings.memory.delete_after_days
        if not days:
            return
        try:
            deleted = await self.memory.delete_older(time.time() - days * 86400)
        except sqlite3.Error as exc:
            await self.memory.rollback()
            self._write_failed(exc, "retention", "Old messages are kept meanwhile.")
            return
        if not deleted:
            if first:
                retention_log.info("memory: nothing older than %g days to delete", days)
            return
        await self._settle_deletions()  # the text out of the file and its -wal
        leftovers = self.purge_leftovers()  # an upgrade's copy still holds them
        retention_log.info(
            "memory: deleted %d messages and %d archived summaries older than %g days"
            " ([memory] delete_after_days)%s",
            deleted.messages,
            deleted.summaries,
            days,
            f". {leftovers}" if leftovers else "",
        )

    async def _stop_sweeping_rooms(self) -> None:
        await stop_task(self._room_sweeper)
        self._room_sweeper = None

    async def __aenter__(self) -> ChatService:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def scope_for(
        self, platform: str, user_id: str, channel_id: str = "", guild_id: str = ""
    ) -> str:
        """The memory key of a message: decided here, from this worker's config."""
        return scope_key(self.settings.memory.scope, platform, user_id, channel_id, guild_id)

    def _scope_of(self, ref: ScopeRef | ChatRequest) -> str:
        return self.scope_for(ref.platform, ref.user_id, ref.channel_id, ref.guild_id)

    async def chat(self, request: ChatRequest, *, client: str = "", notes: str = "") -> Reply:
        """Answer one message. An anonymous request (no user id) is neither stored nor
        rate-limited by user; one that brings its own context does not read stored memory.
        `client`: the network address of a caller without a token (the open OpenAI API),
        rate-limited as one more user, since such a caller names any user id it likes.
        `notes`: a client's system text that is no persona for her (the OpenAI API),
        written after her own prompt."""
        started = time.monotonic()
        api = "chat" if request.context is None else "openai"
        try:
            reply = await self._dispatch(request, client, notes)
        except asyncio.CancelledError:
            # Its caller left before the reply (a /v1 client's stop button), or the worker
            # is stopping: no reply to observe, but the request is counted all the same.
            self.metrics.observe_cancelled(api)
            raise
        if reply.status != "ok":
            # A line of the worker's own (busy, error, …), which no adapter wrote: it names
            # the version live as it was said (the OpenAI API's system_fingerprint), not
            # the base model while a version is live.
            reply.adapter_version = self.engine.adapter_version
        reply.latency_ms = (time.monotonic() - started) * 1000
        self.metrics.observe_reply(reply, api=api)
        return reply

    async def _dispatch(self, request: ChatRequest, client: str, notes: str) -> Reply:
        """`chat`'s reply, before the version live and its latency are written in."""
        scope = self._scope_of(request) if request.user_id else ""
        # As stored: a quoted message's words are read for one reply (`text_for_reply`).
        text = visible_text(request.text)  # "" for nothing to read, blank or invisible
        if request.edited:
            return await self._edited(request, text, scope)
        if not request.addressed and request.channel_id:
            return await self._hear_or_speak_up(request, text, scope)
        if not text:
            return Reply(text=self.lines.empty, scope=scope)
        async with self._first_copy(scope, request) as first:
            # A copy costs no place and none of the sender's minute.
            if not first:
                return self._copy_not_answered(scope, request)
            return await self._admit_and_answer(request, text, scope, client, notes)

    async def _admit_and_answer(
        self, request: ChatRequest, text: str, scope: str, client: str, notes: str
    ) -> Reply:
        """A message for her answered, unless its sender (or caller) is over the rate
        limit or there is no place for it now."""
        user = f"{request.platform}:{request.user_id}" if request.user_id else ""
        if client and not self.client_limiter.allow(client):
            return Reply(text=self.lines.busy, scope=scope, status="rate_limited")
        if user and not self.rate_limiter.allow(user):
            if client:
                self.client_limiter.give_back(client)
            return Reply(text=self.lines.busy, scope=scope, status="rate_limited")
        if self._no_place_for(scope):
            # Said now, before any work (not after a history read). Never answered, it
            # does not count against the sender's minute.
            if client:
                self.client_limiter.give_back(client)
            if user:
                self.rate_limiter.give_back(user)
            return Reply(text=self.lines.busy, scope=scope, status="busy")
        answering = self._answer_in_order(scope, request, request.text_for_reply(), notes)
        return await self._counted(answering, scope)

    @contextlib.asynccontextmanager
    async def _first_copy(self, scope: str, request: ChatRequest) -> AsyncIterator[bool]:
        """Whether the request is the first copy of its platform message to be answered:
        no copy is being answered (this one counts as being answered until the block
        ends) and no exchange of it was stored within COPY_WITHIN_SECONDS, even one
        archived since (a reset, a recall or a cut reply does not make it new), by the
        same person saying the same. A request with no message id (the console) is always
        first, as is a /v1 client's: sent again, its conversation is a regenerate, answered
        again and stored once (`_regenerated`). A copy told "busy" or "rate_limited" stored
        nothing: sent again, it is answered."""
        # Who said what under the id, too: a platform reusing its ids (a counter started
        # again, ids per chat) names a new message by one said by another or otherwise.
        text = visible_text(request.text)
        key = (scope, request.request_id, request.user_id, text)
        if not (scope and request.request_id) or request.context is not None:
            yield True
            return
        if key in self._answering:
            yield False
            return
        self._answering.add(key)  # before any await: a copy arriving now finds it
        try:
            try:
                since = time.time() - COPY_WITHIN_SECONDS
                stored = await self.memory.holds_request(
                    scope, request.request_id, request.user_id, text, since
                )
            except sqlite3.Error:
                stored = False  # answered: the answer's own read says the database failed
            yield not stored
        finally:
            self._answering.discard(key)

    def _copy_not_answered(self, scope: str, request: ChatRequest) -> Reply:
        """The reply to a copy of a message she is answering or has answered: nothing
        to post (status "recalled", which every adapter posts nothing for), nothing
        stored."""
        log.info(
            "%s message %s came again (the platform delivered it twice); answered once",
            request.platform,
            request.request_id,
        )
        return Reply(text="", scope=scope, status="recalled")

    def _no_place_for(self, scope: str) -> bool:
        """Whether a message of `scope` ("" for none) must be told "busy" on arrival. A
        place is a conversation, not a message: those waiting behind their conversation's
        earlier one take no batch row, and counted as places, four members flooding her
        in private chats had everyone else told "busy" while four rows generated. (Their
        own flood waits its turn, within the deadline and the per-minute limit: a private
        chat keeps every reply its limit allows.)"""
        if scope and self._scope_locks.pending(scope):  # it holds a place already
            return False
        places = len(self._scope_locks) + self._anonymous_in_progress
        return places >= self._capacity or self.batcher.full

    async def _counted(self, answering: Awaitable[Reply], scope: str) -> Reply:
        """`answering`, counted in progress (and anonymous, for no `scope`) while it runs."""
        self._in_progress += 1
        self._anonymous_in_progress += not scope
        try:
            return await answering
        finally:
            self._in_progress -= 1
            self._anonymous_in_progress -= not scope

    def _room_of(self, request: ChatRequest | ScopeRef) -> str:
        """The room a group message belongs to; "" where room context is off."""
        if not request.channel_id or listed_channel(request, self.settings.room.off_channels):
            return ""
        return channel_prefix(request.platform, request.channel_id, request.guild_id)

    async def _hear_or_speak_up(self, request: ChatRequest, text: str, scope: str) -> Reply:
        """A heard message; where `[room] speak_up_channels` lists the channel she may
        answer it unasked (an ordinary reply), else it is kept as a room line. She
        stays silent rather than say she is busy or failed: nobody asked her. Where the
        bot cannot post (`may_speak_up` false) it is a room line, and the speak-up's
        cooldown and hourly cap are left for when she can. A message the platform
        delivers twice is one or the other: a copy of one she spoke up to is no room
        line besides her exchange (also in her cooldown, when no speak-up would come),
        and one kept as a room line is not spoken up to when its copy comes."""
        room = self._room_of(request)
        channel = listed_channel(request, self.speak_up.channels)
        if not (room and channel and text and request.user_id and request.may_speak_up):
            return await self._hear(request, text, scope)
        async with self._first_copy(scope, request) as first:
            if not first:  # she spoke up to it already: no room line of it besides
                return self._copy_not_answered(scope, request)
            read = request.text_for_reply()
            if (
                self._no_place_for(scope)
                or await self._kept_as_line(room, request, text)
                or not self.speak_up.wants_to(channel, read)
            ):
                return await self._hear(request, text, scope)
            reply = await self._counted(self._answer_in_order(scope, request, read), scope)
        return reply if reply.status == "ok" else await self._hear(request, text, scope)

    async def _kept_as_line(self, room: str, request: ChatRequest, text: str) -> bool:
        """Whether the message (`text`) is kept as a room line of `room` already (heard within
        COPY_WITHIN_SECONDS): its copy is heard again (one line), not spoken up to. A
        failing database says no: the line's own write logs the failure."""
        since = time.time() - COPY_WITHIN_SECONDS
        try:
            return await self.memory.room.holds_line(
                room, request.user_id, request.request_id, text, since, self.room_bounds.max_chars
            )
        except sqlite3.Error:
            return False

    async def _edited(self, request: ChatRequest, text: str, scope: str) -> Reply:
        """A message edited after she heard or answered it: its room line and its copy
        in her conversation say the new text (a phone number edited out reaches no later
        prompt, and is gone from the database). Nothing is answered and nothing added:
        a message never kept stays unkept. Two edits of a message can arrive either way
        round (over the relay, each its own request): the newer by `edit_of` is kept,
        and an older one arriving after it changes nothing; one the platform told no
        time of is newer than any before it."""
        edit = edit_of(request, text)
        # Noted before any await: an exchange or line stored from now on finds it, one
        # stored before is changed below (unless it holds a newer edit).
        if not self._pending_edits.note(scope, request.request_id, request.user_id, edit):
            return Reply(text="", scope=scope, status="heard")
        room = self._room_of(request)
        user_id, request_id = request.user_id, request.request_id
        # No platform time: the stores date it now or later (their `edited_at` None).
        at = None if edit.on_arrival else edit.at
        changed = 0
        try:
            if room and text and user_id:
                changed += await asyncio.shield(
                    self.memory.room.reword(room, user_id, request_id, text, self.room_bounds, at)
                )
            if scope and text:
                changed += await asyncio.shield(
                    self.memory.reword_message(scope, user_id, request_id, text, at)
                )
        except sqlite3.Error as exc:  # a log line, once a while, as for a line she overheard
            await self.memory.rollback()
            self._write_failed(exc, "edit", "An edited message keeps its old text.")
        if changed:  # an edit of a message never kept writes nothing to settle
            await asyncio.shield(self._settle_deletions())  # the old text out of the file
        return Reply(text="", scope=scope, status="heard")

    async def _hear(self, request: ChatRequest, text: str, scope: str) -> Reply:
        """A message said in the room, not to her: kept as a room line, never answered.
        One edited before it got here is kept as its new text."""
        room = self._room_of(request)
        said = self._newest_text(scope, request, text)
        lines = self.memory.room
        try:
            if room and said.text and request.user_id:
                await asyncio.shield(
                    lines.add(
                        room,
                        request.platform,
                        request.user_id,
                        request.display_name,
                        said.text,
                        self.room_bounds,
                        request.sent_at,
                        request.request_id,
                        said.at,
                        # A copy the platform delivers again is no second line.
                        copies_since=time.time() - COPY_WITHIN_SECONDS,
                    )
                )
        except sqlite3.Error as exc:  # nobody asked her anything: a log line, once a while
            self._write_failed(exc, "room_line", "Lines she overheard are not kept.")
        return Reply(text="", scope=scope, status="heard")

    def _newest_text(self, scope: str, request: ChatRequest, text: str, after: int = 0) -> Edit:
        """The request's `text`, or a newer edit of its message noted meanwhile (and
        after the first `after` edits, `PendingEdits.newest`)."""
        own = edit_of(request, text)
        noted = self._pending_edits.newest(scope, request.request_id, request.user_id, after)
        return noted if noted is not None and noted.at > own.at else own

    async def _answer_in_order(
        self, scope: str, request: ChatRequest, text: str, notes: str = ""
    ) -> Reply:
        """Answer after the conversation's earlier messages; the deadline counts from
        arrival, so the wait for those is part of it."""
        edits_seen = self._pending_edits.noted
        in_order = self._scope_locks.hold(scope) if scope else contextlib.nullcontext()
        in_flight = InFlight()
        try:
            async with asyncio.timeout(self.settings.worker.request_timeout_seconds) as deadline:
                async with in_order:
                    if self._was_recalled(scope, request):
                        # Taken back before she began: no reply to post, nothing stored.
                        log.info("a message recalled before it was answered is not answered")
                        return Reply(text="", scope=scope, status="recalled")
                    edited = self._newest_text(scope, request, request.text)
                    if edited.text != request.text:
                        # Edited while it waited its turn (a typo fixed): answered as
                        # edited, so what she remembers is what she answered.
                        request = request.model_copy(update={"text": edited.text, "with_quote": ""})
                        text = request.text_for_reply()
                        edits_seen = self._pending_edits.noted
                    return await self._answer(
                        scope, request, text, deadline, edits_seen, notes, in_flight
                    )
        except (TimeoutError, Overloaded) as exc:
            # A TimeoutError's text is empty (the object itself is truthy): say what it was.
            why = str(exc) or f"no answer within {self.settings.worker.request_timeout_seconds:g} s"
            log.warning("busy reply for %s: %s", scope or "an anonymous client", why)
            if isinstance(exc, TimeoutError):
                self._hint_at_a_missed_deadline(in_flight.prompt_tokens)
            return Reply(text=self.lines.busy, scope=scope, status="busy")
        except PromptTooLong as exc:
            if request.system_prompt or notes or isinstance(exc, ReplySoFarTooLong):
                # The client's own text: tell the client.
                return Reply(text=str(exc), scope=scope, status="refused")
            # The worker's own card: a setting to fix, said in the log; bots say her
            # error line, the OpenAI API answers the sentence as a server error.
            why = exc.of_the_character()
            log.error("%s", why)
            return Reply(text=self.lines.error, scope=scope, status="error", error_detail=why)
        except (MemoryFailed, sqlite3.Error) as exc:
            # One sentence per kind of failure every few minutes, not a traceback per
            # message: a damaged file or a full disk fails every one.
            failed = exc if isinstance(exc, MemoryFailed) else MemoryFailed(None, exc)
            self.database_failures.report(
                failed.error, failed.doing, "Chats get her error line meanwhile."
            )
            return Reply(text=self.lines.error, scope=scope, status="error")
        except EngineRequestFailed as exc:
            # The server said why (vLLM's 400 for a prompt over its max_model_len): its
            # sentence, not a traceback of the worker's own code, once per message.
            log.error("chat failed for %s: %s", scope or "an anonymous client", exc)
            return Reply(text=self.lines.error, scope=scope, status="error")
        except Exception:
            log.exception("chat failed for %s", scope or "an anonymous client")
            return Reply(text=self.lines.error, scope=scope, status="error")

    def _hint_at_a_missed_deadline(self, prompt_tokens: int) -> None:
        """Say (at most every LONG_PROMPT_TOLD_EVERY_S) which settings would let a request
        be answered whose deadline passed: every retry of such a conversation would cost
        the whole deadline again, and a first user on a small or busy machine saw only
        her busy line and "no answer within 120 s". A long prompt (over a quarter of the
        window) names the window, unless it is small already (and llamacpp, whose reading
        stops at the deadline, says it itself with the rate it measured); the reply's cap
        is named where it is long beside the prompt, or the prompt was short (writing the
        reply was the wait)."""
        window = self.engine.context_window
        max_new = self.settings.generation.max_new_tokens
        now = time.monotonic()
        long_prompt = prompt_tokens * LONG_PROMPT_SHARE > window
        if (
            long_prompt and self.engine.name in ENGINES_TELLING_UNREAD_PROMPTS
        ) or now - self._long_prompt_told_at < LONG_PROMPT_TOLD_EVERY_S:
            return
        self._long_prompt_told_at = now
        fixes = []
        if long_prompt and window > SMALL_WINDOW_TOKENS:
            fixes.append(f"lower [model] context_window (now {window}; prompts are fitted to it)")
        if not long_prompt or max_new >= prompt_tokens * LONG_REPLY_SHARE:
            fixes.append(
                f"lower [generation] max_new_tokens (now {max_new}; writing the reply is "
                "slower than reading the prompt)"
            )
        log.warning(
            "A %s-token prompt was not answered within [worker] request_timeout_seconds = %g "
            "on this machine: %s.",
            f"{prompt_tokens:,}",
            self.settings.worker.request_timeout_seconds,
            " or ".join(filter(None, [", ".join(fixes), "raise request_timeout_seconds"])),
        )

    async def _answer(
        self,
        scope: str,
        request: ChatRequest,
        text: str,
        deadline: asyncio.Timeout,
        edits_seen: int = 0,
        notes: str = "",
        in_flight: InFlight | None = None,
    ) -> Reply:
        """One message answered: its conversation, fitted and generated, then remembered.
        The `deadline` covers the answer, not the memory write after it (see below);
        `edits_seen`: `SoFar.edits_seen`; `in_flight` is kept up to date while generating."""
        name = self._their_name(request)
        with memory_step("read"):
            so_far = replace(await self._conversation_so_far(scope, request), edits_seen=edits_seen)
            room = await self._room_context(request)
        lore = await self._called_up_lore(request, so_far, room, text)
        limits = RowLimits(request.max_new_tokens or 0, tuple(request.stop))
        # Room for this reply's own cap only: a client asking for a short reply keeps
        # more of its conversation (the engines keep each batch within the window).
        reply_room = limits.cap(self.settings.generation.max_new_tokens)
        window = Window(self.engine.context_window, reply_room, so_far.history_cap)
        fitted, generation, retries = await self._fit_and_generate(
            request, text, so_far, room, window, name, limits, notes, lore, in_flight
        )
        # What she remembers must be what the user was told: a Continue stores nothing
        # (her reply was stored when she first made it, and the client keeps the whole of
        # it), nor does a reply the client's stop string left empty (nothing was said).
        if scope and not request.reply_so_far and generation.text:
            # Past the deadline already (a cancellation swallowed on the way): "busy",
            # nothing stored. Else the write (a group commit, milliseconds; at worst the
            # busy timeout, within the relay's margin) is let finish past the deadline and
            # the reply given: a "busy" while the shielded write went on stored a reply
            # nobody saw, and her next prompt held it.
            if deadline.expired():
                raise TimeoutError
            deadline.reschedule(None)
            try:
                said = stored_text(request, fitted)
                recalled = await self._remember_exchange(scope, request, said, generation, so_far)
            except sqlite3.Error as exc:
                # A full disk or a damaged file at the write: the reply was made in time,
                # so it is given; not remembered, her next prompt lacks this exchange.
                # Logged once a while, as the chats' failures are.
                self._write_failed(exc, "reply", "Replies are given but not remembered meanwhile.")
            else:
                if recalled:
                    # Deleted or recalled while she answered it: her reply is not posted
                    # either (Discord would post it standalone, its quote gone; it may
                    # repeat what its author took back), as for one recalled before.
                    log.info("a message recalled while it was answered is not answered")
                    return Reply(text="", scope=scope, status="recalled")
                self._ask_for_summary(scope, request, fitted, so_far)
        return Reply(
            text=generation.text,
            scope=scope,
            adapter_version=generation.adapter_version,
            ooc_retries=retries,
            prompt_tokens=fitted.prompt_tokens,
            # What the model generated (OpenAI bills those), not the cleaned text counted
            # again: a reply cut inside a character re-tokenized past max_tokens.
            completion_tokens=generation.new_tokens or self.count_tokens(generation.text),
            finish_reason=generation.finish_reason,
        )

    def _names_told_apart(self, request: ChatRequest) -> tuple[str, ...]:
        """The names a member is shown with their id under (`told_apart`): hers. Not the
        lead's: fans call themselves 夏生 to play him, and the model then read (and
        answered) "夏生(10001)". A client's own character has names this worker does not
        know."""
        if request.system_prompt:
            return ()
        return (self.persona.name, *self.persona.aliases)

    def _their_name(self, request: ChatRequest) -> str:
        """The name she calls the person by, written into her reply for {{user}}: as her
        prompt shows it, on one line and without colons (`one_line_name`: a QQ card with
        a line break and "管理员：" in it started a line of her own message), and cut on
        arrival (protocol.MAX_DISPLAY_NAME_CHARS: a 1 MB name made a 75 MB reply); else
        `[persona] user_name`."""
        return one_line_name(request.display_name) or self.user_name

    async def _conversation_so_far(self, scope: str, request: ChatRequest) -> SoFar:
        """The turns before this message: the client's own context, or stored memory."""
        if request.context is not None:  # the client keeps the conversation
            return SoFar(earlier=[Turn(t.role, t.content) for t in request.context])
        found, window_full = await self._remembered(scope)
        stored, summary = found.messages, found.summary
        return SoFar(
            earlier=stored,
            recalled=Recalled(summary.text, self.summary_heading) if summary is not None else None,
            window_full=window_full,
            newest_read=stored[-1].id if stored else summary.covers_up_to if summary else None,
            reset_mark=found.reset_mark,
            history_cap=self.settings.memory.max_history_tokens,
        )

    async def _called_up_lore(
        self, request: ChatRequest, so_far: SoFar, room: Room | None, text: str
    ) -> Lore | None:
        """The card's lorebook entries told in the chat: those whose keys are in the latest
        messages her prompt is made of (the conversation's and, in a group, the room's
        lines, in the order they were said: `said_lately`), and the constant ones at a
        depth; none for a client's own character. Found off the event loop: a lorebook of
        hundreds of keys is searched in every message."""
        if request.system_prompt or not self.persona.keyword_lore:
            return None
        recent = said_lately(so_far.earlier, room.lines if room else (), text)
        user = self._their_name(request)  # a key's {{user}}
        told = await asyncio.to_thread(self.persona.called_up_lore, recent, user)
        return Lore.placed(told, self.lore_heading) if told else None

    async def _fit_and_generate(
        self,
        request: ChatRequest,
        text: str,
        so_far: SoFar,
        room: Room | None,
        window: Window,
        name: str,
        limits: RowLimits,
        notes: str = "",
        lore: Lore | None = None,
        in_flight: InFlight | None = None,
    ) -> tuple[FittedPrompt, Generation, int]:
        """The prompt fitted and answered, again if an adapter went live meanwhile;
        `notes` follow her own prompt (`chat`), `lore` leads the new message, and the
        character's note is told at its depth under her card (`_note_under`).
        `in_flight` holds the prompt's tokens while it is generated from."""
        in_flight = in_flight or InFlight()
        shared = self.settings.memory.scope == "channel" and bool(request.channel_id)
        for attempt in range(1, PROMPT_SWITCH_ATTEMPTS + 1):
            # The prompt is the live version's; a reload between building it and the
            # batch would pair it with another adapter, so such a reply is made again.
            version = self.engine.adapter_version
            # Off the event loop: counting a long conversation's tokens takes a while,
            # and every other route (/health included) must keep answering meanwhile.
            prompt = request.system_prompt or self.reloader.prompt_for(version)
            fitted = await asyncio.to_thread(
                fit_prompt,  # by keyword: several of its parameters are strings
                system_prompt=f"{prompt}\n\n{notes}" if notes else prompt,
                earlier=so_far.earlier,
                text=text,
                count=self.count_tokens,
                window=window,
                display_name=name,
                shared_scope=shared,
                room_context=room,
                user_id=request.user_id,
                recalled=so_far.recalled,
                her_names=self._names_told_apart(request),
                colon=self.speaker_colon,
                lore=lore,
                note=self._note_under(prompt, request.system_prompt),
                so_far=request.reply_so_far,
            )
            in_flight.prompt_tokens = fitted.prompt_tokens
            # The last attempt is generated whichever version is live by then.
            last = request.system_prompt or attempt == PROMPT_SWITCH_ATTEMPTS
            built_for = None if last else version
            generation, retries = await self._generate_in_character(
                fitted.messages, name, limits, request.reply_so_far, fitted.speakers, built_for
            )
            in_flight.prompt_tokens = 0
            if request.system_prompt or generation.adapter_version == version:
                break
            if attempt == PROMPT_SWITCH_ATTEMPTS:
                log.warning(
                    "adapter %s went live during the batch again; this reply keeps the"
                    " prompt of %s",
                    generation.adapter_version or "(none)",
                    version or "the base model",
                )
            else:
                log.info(
                    "adapter %s went live during the batch; answering again with its prompt",
                    generation.adapter_version or "(none)",
                )
        return fitted, generation, retries

    async def _remember_exchange(
        self, scope: str, request: ChatRequest, said: str, generation: Generation, so_far: SoFar
    ) -> bool:
        """The message and her reply stored together, whatever happens to the caller;
        True when the message was recalled meanwhile (the exchange is archived then)."""
        # Shielded: the deadline no longer runs here (`_answer`), but a caller cancelled
        # otherwise (a bot shutting down) must not cut the write short: the exchange is
        # stored whole (in the next group commit) or not at all.
        return await asyncio.shield(self._store_exchange(scope, request, said, generation, so_far))

    async def _store_exchange(
        self, scope: str, request: ChatRequest, said: str, generation: Generation, so_far: SoFar
    ) -> bool:
        # Without the white space a client's stop string left at its end (`ending_as_written`).
        reply = generation.text.rstrip()
        if await self._regenerated(scope, request, said, reply):
            return False
        await self.memory.append_many(
            scope,
            [
                ("user", request.user_id, request.display_name, said, ""),
                ("assistant", "", self.persona.name, reply, generation.adapter_version),
            ],
            request.request_id,
            # A reset meanwhile: not stored in the next context (nor in the first, when
            # nothing was stored before it).
            so_far.newest_read,
            so_far.reset_mark,
        )
        # Its message was edited while she answered it (or while this was written): the
        # stored copy takes the new text, as the edit would have done had it been stored.
        # An edited message keeps its edit time, so an older edit arriving later changes
        # nothing. Recalled: archived now, as the recall would have done.
        edit = self._newest_text(scope, request, said, after=so_far.edits_seen)
        try:
            if edit.at and await self.memory.reword_message(
                scope, request.user_id, request.request_id, edit.text, edit.at
            ):
                await self._settle_deletions()
            if self._was_recalled(scope, request):
                await self.memory.archive_request(scope, request.request_id)
                return True
        except sqlite3.Error:
            await self.memory.rollback()  # append_many undoes its own
            raise
        return False

    async def _regenerated(self, scope: str, request: ChatRequest, said: str, reply: str) -> bool:
        """Whether `reply` took the place of her stored reply to the same message: a client
        that keeps its own conversation (/v1) sends it again to regenerate her answer
        (SillyTavern's swipe), under the same id (`exchange_id`); within COPY_WITHIN_SECONDS,
        as a platform's copy, the question is then stored once, with the answer kept last."""
        if request.context is None or not request.request_id:
            return False
        since = time.time() - COPY_WITHIN_SECONDS
        if not await self.memory.holds_request(
            scope, request.request_id, request.user_id, said, since
        ):
            return False
        # Its live exchange only: one reset or purged since is no longer hers to change.
        return await self.memory.cut_reply(scope, request.request_id, reply) > 0

    def _ask_for_summary(
        self, scope: str, request: ChatRequest, fitted: FittedPrompt, so_far: SoFar
    ) -> None:
        """A summary asked for once the stored conversation no longer fits whole."""
        # A client that sends its own context (the OpenAI API) keeps its own memory.
        stored_context = request.context is None
        if self.summarizer and stored_context and (fitted.dropped_turns or so_far.window_full):
            self.summarizer.request(scope)

    async def _room_context(self, request: ChatRequest) -> Room | None:
        """The room's latest lines, for a client that does not keep its own context."""
        room = self._room_of(request) if request.context is None else ""
        if not room:
            return None
        r = self.settings.room
        lines = await self.memory.room.recent(room, r.max_prompt_lines, r.max_age_hours * 3600)
        return Room(lines, r.history_share, self.room_heading) if lines else None

    async def _stored_context(self, scope: str) -> list[Any]:
        if not scope:
            return []
        return await self.memory.history(scope, self.settings.memory.max_history_messages)

    async def _remembered(self, scope: str) -> tuple[Conversation, bool]:
        """The scope's summary and the live messages it does not cover (with the reset
        mark of that read), and whether the read stopped at `max_history_messages` with
        none of them covered (older ones may be neither shown nor summarized yet)."""
        if not scope:
            return Conversation([], None), False
        limit = self.settings.memory.max_history_messages
        found = await self.memory.conversation(scope, limit, self.summarizer is not None)
        if self.summarizer is None:
            return found, False
        covered = found.summary.covers_up_to if found.summary else 0
        after = [m for m in found.messages if m.id > covered]
        capped = len(found.messages) >= limit - 1
        return replace(found, messages=after), capped and len(after) == len(found.messages)

    async def _generate_in_character(
        self,
        messages: ChatMessages,
        user_name: str,
        limits: RowLimits,
        so_far: str = "",
        speakers: Sequence[str] = (),
        version: str | None = None,
    ) -> tuple[Generation, int]:
        """Generate, regenerating up to `ooc_max_retries` times while the reply breaks
        character or comes out empty; the last attempt is used if none passes. A reply
        is cut at its first stop string (`limits`) before that check, whatever the
        engine did, so the guard and memory see what the client gets.

        The system prompt and the training data say `{{user}}`, so a trained model
        writes it where she addresses the person: their name goes in here.

        `so_far`: her unfinished reply, which `messages` end with (a Continue): the
        generation is its rest (`clean_continuation`), and an empty rest is an answer
        (she had finished), not a failure.

        `speakers`: the labels her prompt named people by (`FittedPrompt.speakers`); a
        line of the reply that starts with one of them, the person's name or the lead's
        is a line the model wrote for them, cut there (`clean_reply`).

        `version`: the adapter version the prompt was built for; a batch formed once
        another is live answers it ungenerated (`Batcher.submit`), returned as it is for
        the caller to build the prompt again."""
        # The echo engine's reply is the prompt itself, its speakers' lines included.
        echo = self.engine.name == "echo"
        others = () if echo else (*speakers, user_name, self.user_name, self.persona.user_name)
        her_names = (self.persona.name, *self.persona.aliases)
        attempts = self._attempts()
        generation = Generation(text="", new_tokens=0)
        for attempt in range(attempts):
            generation = await self.batcher.submit(messages, limits, version)
            if version is not None and generation.adapter_version != version:
                return generation, attempt  # another version went live: a new prompt
            generation.text, cut = limits.cut(generation.text)
            written = generation.text
            if cut:
                generation.finish_reason = "stop"
            markers = user_turn_markers(chat_template_of(self.engine))
            cleaned = (
                clean_continuation(generation.text, so_far, markers, others, her_names)
                if so_far
                else clean_reply(
                    generation.text, self.persona.name, self.persona.aliases, markers, others
                )
            )
            filled = fill_names(cleaned, self.persona.name, user_name)
            # A Continue's rest keeps its leading blank (" is Ember." after "My name"):
            # the client appends it to what it has.
            generation.text = filled if so_far else filled.strip()
            if limits.stop:
                generation.text = ending_as_written(generation.text, written)
            if not cleaned.strip() and (so_far or cut):
                # She had finished (a Continue), or the client's own stop string came
                # first: an empty answer, as OpenAI gives it, not a failure to retry.
                generation.text = ""
                return generation, attempt
            # Judged without the person's name, which she did not choose: a member
            # called "Shitposter" or "ChatGPT", or named in another script, made every
            # reply to them out of character, regenerated for nothing.
            verdict = self.ooc.check(self.persona.fill(cleaned, ""))
            if generation.text and not verdict.flagged:
                return generation, attempt
            if attempt + 1 < attempts:
                self.ooc_regenerations += 1
                self.metrics.ooc_regenerations.inc()
                # The reasons quote the reply, so they are conversation text: DEBUG only.
                log.info("regenerating an out-of-character reply")
                log.debug("out of character: %s", ", ".join(verdict.reasons) or "empty")
        if not generation.text:
            generation.text = "……"
        return generation, attempts - 1

    def _attempts(self) -> int:
        """How many times a reply may be generated: once more per `ooc_max_retries` where
        sampling can make the next one differ; once where it cannot (a model decoding
        greedily, `do_sample = false`, writes the same reply again: a message flagged
        out of character cost three generations for one answer). The echo engine, which
        stands in for a model in tests of the guard, keeps its retries."""
        retries = self.settings.worker.ooc_max_retries
        samples = self.settings.generation.do_sample or self.engine.name == "echo"
        return retries + 1 if samples else 1

    def _ref_key(self, scope: ScopeRef) -> str:
        """The memory key a ScopeRef names: without a user id, the whole channel's (a
        conversation under `[memory] scope = "channel"`, none under the others)."""
        return self._scope_of(scope) if scope.user_id or scope.channel_id else ""

    def _write_failed(self, exc: sqlite3.Error, what: str, outcome: str) -> None:
        """A write the chat goes on without (`what`: the metric's label): logged once a
        while as chats' failures are, and counted for /metrics."""
        self.database_failures.report(exc, "write", outcome)
        self.metrics.observe_write_failure(what)

    @contextlib.asynccontextmanager
    async def _refused_if_memory_fails(self, what: str, doing: Doing = None) -> AsyncIterator[None]:
        """A database error under a command (`what`: "A reset", …): what it left
        uncommitted is undone, it is logged as chats' are (one sentence per kind every
        few minutes) and raised as `MemoryUnavailable` with that sentence; the bots
        answer that memory is unavailable now, with no traceback. `doing`: "read" for a
        command that only reads."""
        try:
            yield
        except sqlite3.Error as exc:
            await self.memory.rollback()
            self.database_failures.report(exc, doing, f"{what} was refused.")
            if doing != "read":
                self.metrics.observe_write_failure("command")
            raise MemoryUnavailable(
                str(database_error(self.memory.path, exc, doing, running=True))
            ) from None

    async def history(self, scope: ScopeRef) -> list[HistoryEntry]:
        async with self._refused_if_memory_fails("A read of a conversation's history", "read"):
            stored = await self._stored_context(self._ref_key(scope))
        return [
            HistoryEntry(
                role=m.role, content=m.content, display_name=m.display_name, user_id=m.user_id
            )
            for m in stored
        ]

    async def remembered(self, scope: ScopeRef) -> Remembered:
        """The summary and the turns after it that the model still sees. A person asking
        in private with no conversation of their own, whose words are in conversations
        channels share, gets how many of those hold them (`shared_conversations`)."""
        async with self._refused_if_memory_fails("A look at what she remembers", "read"):
            key = self._ref_key(scope)
            found, _ = await self._remembered(key)
            if not (found.summary or found.messages) and scope.user_id and not scope.channel_id:
                shared = await self.memory.shared_conversations_of(key)
                if shared:
                    return Remembered(shared_conversations=len(shared))
        summary, turns = found.summary, found.messages
        return Remembered(
            summary=summary.text if summary else "",
            summary_adapter_version=summary.adapter_version if summary else "",
            turns=[
                HistoryEntry(
                    role="user" if m.role == "user" else "assistant",
                    content=m.content,
                    display_name=m.display_name,
                    user_id=m.user_id,
                )
                for m in turns
            ],
        )

    async def character(self) -> Character:
        return Character(
            name=self.persona.name,
            greeting=self.persona.greeting,
            greetings=self.persona.greetings,
            user_name=self.user_name,
            language=self.persona.main_language,
        )

    async def reset(self, scope: ScopeRef) -> int:
        async with self._refused_if_memory_fails("A reset"):
            return await self._reset(scope)

    async def _reset(self, scope: ScopeRef) -> int:
        """A channel's reset also ends its room context; a member's reset in a channel
        hides their own room lines there (`_reset_member_here`). A person's with no
        channel (a DM, `POST /reset` with a user id alone) reaches what `atri memory
        reset` of their key does (`Memory.reset_with_room`)."""
        if scope.channel_id:
            prefix = channel_prefix(scope.platform, scope.channel_id, scope.guild_id)
            if not scope.user_id:
                return await self._reset_channel(prefix)
            return await self._reset_member_here(scope, prefix)
        if not scope.user_id:
            return 0
        if scope.here_only:
            # Their conversation is theirs everywhere (their DMs, other servers): not for
            # the admin of one place.
            return PERSONAL_SCOPE
        # Their key on the platform (`qq:user:42`), as `atri memory reset` of it and a
        # purge reach it: their lines in every room, their conversation there, and their
        # own conversations in each channel (`[memory] scope = "user_in_channel"`, or kept
        # from when it was).
        key = self._scope_of(scope)
        messages, lines = await self.memory.reset_with_room(key)
        if not messages and await self.memory.shared_conversations_of(key):
            # No conversation of their own: their words are in ones channels share, which
            # this does not end ("0 messages" read as done, as in the CLI).
            return SHARED_SCOPE
        return messages + lines

    async def _reset_channel(self, prefix: str) -> int:
        """The whole channel's: its room lines and the conversations it owns."""
        owned = self._owned_by_channel(prefix)
        async with self.memory.changing_conversations(prefix):
            archived = await self.memory.room.archive_room(prefix)
            if owned.shared:
                archived += await self.memory.reset(owned.shared)
            if owned.members:
                archived += await self.memory.reset_prefix(owned.members)
            return archived

    async def _reset_member_here(self, scope: ScopeRef, prefix: str) -> int:
        """A member's reset in a channel (their own, an admin's of them, their leaving a
        QQ group): their room lines there go, and nobody else's, under every `[memory]
        scope` (lines are kept by person and room). Their conversation goes too, unless
        it is the channel's shared one (SHARED_SCOPE) or, for an admin of this place
        alone (`here_only`), one they have in every place (PERSONAL_SCOPE)."""
        room = self.memory.room
        owned = self._owned_by_channel(prefix)
        if owned.shared or (scope.here_only and not owned.members):
            await room.archive_user(scope.platform, scope.user_id, prefix)
            return SHARED_SCOPE if owned.shared else PERSONAL_SCOPE
        key = self._scope_of(scope)
        async with self.memory.changing(Touch(scopes=frozenset([key]))):  # one reset
            heard = await room.archive_user(scope.platform, scope.user_id, prefix)
            return heard + await self.memory.reset(key)

    def _owned_by_channel(self, prefix: str) -> ChannelOwned:
        """What a reset or purge of the channel `prefix` reaches beyond its room lines,
        under `[memory] scope`; the one place that says so."""
        kind = self.settings.memory.scope
        if kind == "channel":
            return ChannelOwned(shared=prefix)
        if kind == "user_in_channel":
            return ChannelOwned(members=f"{prefix}:")
        return ChannelOwned()

    async def purge(self, scope: ScopeRef) -> int:
        """Messages and room lines deleted, together (`purge_counts` tells them apart)."""
        messages, lines = await self.purge_counts(scope)
        return messages + lines

    async def purge_counts(self, scope: ScopeRef) -> tuple[int, int]:
        async with self._refused_if_memory_fails("A purge"):
            counts = await self._purge(scope)
        await self._settle_deletions()
        return counts

    def purge_leftovers(self) -> str:
        """What no purge reaches, in one sentence ("" when nothing): the copies upgrades
        of an older ATRI's database kept (`atri memory purge` and `POST /purge` say it)."""
        return purge_leftovers(self.memory.path)

    async def _settle_deletions(self) -> None:
        """What a purge or an edit deleted leaves the database file now, not at SQLite's
        next automatic checkpoint (`Memory.settle_deletions`); the deletion itself is done
        already, so a failure here is a log line."""
        try:
            await self.memory.settle_deletions()
        except sqlite3.Error as exc:
            log.warning("memory: deleted text stays in the file until a checkpoint (%s)", exc)

    async def _purge(self, scope: ScopeRef) -> tuple[int, int]:
        """A user's purge takes their room lines in every channel along; a channel's, its
        room lines and the conversations it owns (as `reset` ends them).
        (messages, room lines) deleted."""
        prefix = (
            channel_prefix(scope.platform, scope.channel_id, scope.guild_id)
            if scope.channel_id
            else ""
        )
        if not scope.user_id:  # the whole channel
            return await self._purge_channel(prefix) if prefix else (0, 0)
        shared = self._owned_by_channel(prefix).shared if prefix else ""
        if shared:
            # The channel's conversation is everyone's there; only this person's
            # exchanges go (purging its key deleted the others' too), and their lines in
            # every channel.
            return await self.memory.purge_member(shared, scope.user_id)
        # Their own key: `Memory.purge` takes their room lines too.
        return await self.memory.purge(self._scope_of(scope))

    async def _purge_channel(self, prefix: str) -> tuple[int, int]:
        """Its room lines and the conversations it owns: one transaction
        (`Memory.changing`)."""
        owned = self._owned_by_channel(prefix)
        async with self.memory.changing_conversations(prefix):
            at = await self.memory.purge_time()  # before its room lines go
            heard = await self.memory.room.delete_room(prefix)
            if owned.shared:
                messages, lines = await self.memory.purge(owned.shared, at)
                return messages, heard + lines
            if owned.members:
                return await self.memory.purge_prefix(owned.members, at), heard
            await self.memory.record_purge(prefix, at)  # a restore leaves its lines out
            return 0, heard

    async def cut_reply(self, cut: ReplyCut) -> int:
        if not cut.user_id:
            return 0
        async with self._refused_if_memory_fails("Keeping only what was sent of a reply"):
            return await self.memory.cut_reply(
                self._scope_of(cut), cut.request_id, cut.sent, keep_message=cut.keep_message
            )

    async def forget_message(self, ref: MessageRef) -> int:
        async with self._refused_if_memory_fails("Forgetting a deleted message"):
            return await self._forget_message(ref)

    async def _forget_message(self, ref: MessageRef) -> int:
        """Its exchange is archived, and its room line goes too (also where room context
        was turned off since), so what someone recalled at once, a phone number posted
        by mistake, reaches no later prompt. Without a user id (a Discord delete of a
        message no longer cached) the exchange is found by its message id in whichever
        of the platform's scopes holds it."""
        count = 0
        scopes: list[str] = []
        if ref.request_id and not ref.line_only:
            if ref.user_id:
                scopes = [self._scope_of(ref)]
            else:
                scopes = await self.memory.scopes_holding(ref.platform, ref.request_id)
                self._recalled.note((_any_scope(ref.platform), ref.request_id), "")
            for scope in scopes:
                # Its exchange may not be stored yet, or asked for yet.
                self._recalled.note((scope, ref.request_id), "")
                count += await self.memory.archive_request(scope, ref.request_id)
        room = ""
        if ref.channel_id:
            room = channel_prefix(ref.platform, ref.channel_id, ref.guild_id)
            count += await self.memory.room.archive_message(room, ref.user_id, ref.request_id)
        # Her replies to others that repeated it (a member asking what was said).
        return count + await self.memory.archive_repeats(
            ref.platform, ref.request_id, ref.user_id, scopes, room
        )

    async def forget_channel(self, ref: ChannelRef) -> int:
        async with self._refused_if_memory_fails("Forgetting a deleted channel"):
            return await self._forget_channel(ref)

    async def _forget_channel(self, ref: ChannelRef) -> int:
        """Its messages go as deleted ones do (`_forget_message`), since the platform
        sends no delete of each: its room lines and conversations, and the exchanges of
        the messages the bot knows were said there; one of those she has not begun
        answering is not answered."""
        for request_id in ref.request_ids:
            self._recalled.note((_any_scope(ref.platform), request_id), "")
        channels = list(dict.fromkeys([ref.channel_id, *ref.thread_ids]))
        return await self.memory.archive_channels(
            ref.platform, ref.guild_id, channels, ref.request_ids
        )

    def _was_recalled(self, scope: str, request: ChatRequest) -> bool:
        """Whether the message was deleted or recalled, in its scope or (by a delete that
        did not say whose it was) in any of its platform's."""
        rid = request.request_id
        return bool(rid) and (
            (scope, rid) in self._recalled or (_any_scope(request.platform), rid) in self._recalled
        )

    def _base_folder(self) -> Path | None:
        """The folder on this machine the base model was read from, as the engine read
        it (`[model] base`, or vLLM's model path: relative to the config's folder too);
        None for a hub id."""
        base = self.engine.base_id.strip()
        folder = self.settings.path(base) if base else None
        return folder if folder is not None and folder.is_dir() else None

    async def status(self) -> WorkerStatus:
        stats = self.engine.stats
        folder = self._base_folder()
        return WorkerStatus(
            engine=self.engine.name,
            # Absolute: a relative path says nothing of where on the machine it is.
            base_model=str(folder) if folder else self.engine.base_id,
            base_is_folder=folder is not None,
            adapter_version=self.reloader.shown,
            queue_depth=self.batcher.depth,
            uptime_seconds=time.monotonic() - self.started,
            last_reload=dict(self.last_reload),
            details={
                "generate_calls": stats.generate_calls,
                "generated_rows": stats.generated_rows,
                "generated_tokens": stats.generated_tokens,
                "prompt_tokens": stats.prompt_tokens,
                "prefix_cache_reused_tokens": stats.prefix_reused_tokens,
                "rows_in_flight": self.batcher.rows_in_flight,
                "joined_rows": stats.joined_rows,
                "early_kv_frees": stats.early_unparks,
                "tokens_per_second": round(self.metrics.throughput.rate(), 1),
                "ooc_regenerations": self.ooc_regenerations,
                "memory_scope": self.settings.memory.scope,
                "reload_job": self.reloader.running,
                "loaded_adapters": list(self.reloader.loaded),
                **self._summary_counts(),
            },
        )

    def _summary_counts(self) -> dict[str, int]:
        """The summarizer's counts since start: a summary rewrite refused drops its oldest
        facts, which an operator sees here rather than only in `atri eval --recall`."""
        if self.summarizer is None:
            return {}
        return {
            "summaries_written": self.summarizer.written,
            "summary_compactions": self.summarizer.compactions,
            "summary_answers_not_taken": self.summarizer.not_summaries,
            "summaries_overdue": self.summarizer.overdue,
            "summary_failures": self.summarizer.failed,
        }

    async def reload(self, version: str = "") -> ReloadResult:
        """Switch to adapter `version`, or to the newest complete one in the adapters folder."""
        return await self.reloader.reload(version)

    async def rollback(self) -> ReloadResult:
        """Go back to the adapter version before the live one (or to the base model)."""
        return await self.reloader.rollback()

    async def _channels(self) -> ChannelModes:
        async with self._channel_modes_lock:
            if self._channel_modes is None and self.memory.alone:
                # Held alone (a full disk at start), the file lets no second connection
                # in: one would wait out the busy timeout and fail, and the bots would
                # answer the groups an admin turned off.
                self._channel_modes = ChannelModes.through(self.memory)
            elif self._channel_modes is None:
                path = self.settings.path(self.settings.memory.path)
                self._channel_modes = await ChannelModes.open(path)
            return self._channel_modes

    async def _open_channel_modes(self) -> None:
        """Open the channel modes' connection at start, holding every file it needs: left
        to the first read of a mode, it failed when a burst of connections had taken every
        descriptor (a low `ulimit -n`), and the bots took every channel for "mention" till
        their next refresh. A file that cannot be used now (damaged, locked, a full disk)
        does not stop the start: the first use tries again and says why, as before. One
        the memory holds alone is used through the memory's connection (`_channels`)."""
        with contextlib.suppress(sqlite3.Error):
            await self._channels()

    async def channel_modes(self, platform: str) -> dict[str, ChannelMode]:
        async with self._refused_if_memory_fails("A read of channel modes", "read"):
            return await (await self._channels()).modes(platform)

    async def set_channel_mode(self, setting: ChannelSetting) -> None:
        async with self._refused_if_memory_fails("A channel mode change"):
            modes = await self._channels()
            await modes.set(setting.platform, setting.channel_id, setting.mode)

    def _on_reload(self, result: ReloadResult, record: dict[str, object]) -> None:
        self.last_reload = dict(record)
        self.metrics.observe_reload(result, kind=str(record.get("kind", "reload")))
