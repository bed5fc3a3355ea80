"""`HttpWorker`: the `Worker` interface over HTTP, for bots pointed at `[worker] url`.

The worker decides everything about a conversation (its scope, its prompt, what is
stored); this client only carries requests and answers.

Bots cannot tell it from the in-process ChatService. A chat that cannot reach the worker
still gets an answer in ATRI's voice (`[worker] error_reply`, status "error"); reload
and rollback report failure as a ReloadResult; reset, purge and status raise
WorkerUnreachable with one sentence, which the bot's command layer shows.

aiohttp rather than httpx: under 200 concurrent users httpx's connection pool, not the
worker, was the bottleneck (see bench/relay.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar
from urllib.parse import quote

import aiohttp

from atri.config import Secrets, Settings, WorkerSettings
from atri.errors import UserError
from bot.lines import use_character
from model.character.persona import DEFAULT_LINES, Persona, reply_lines
from model.protocol import (
    CHARACTER_HEADER,
    MEMORY_UNAVAILABLE,
    NO_TOKEN_SET,
    PROTOCOL_HEADER,
    PROTOCOL_VERSION,
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
    protocol_mismatch,
)
from model.tasks import stop_task

log = logging.getLogger(__name__)
T = TypeVar("T")

# Beyond the worker's own request timeout (after which it answers "busy" itself, and
# stores a reply made in time within its database's 5 s busy timeout).
TIMEOUT_MARGIN_SECONDS = 10.0
CONNECT_TIMEOUT_SECONDS = 5.0
# Routes the worker answers at once, whatever it is generating (they wait for no model
# and no conversation): one not answered within this is a hung worker, not a busy one.
# `atri serve`'s console waited request_timeout_seconds + 10 s (130 s) in silence.
QUICK_TIMEOUT_SECONDS = 20.0
QUICK_ROUTES = frozenset({"/status", "/auth", "/character"})
# Open connections to the worker; more requests wait for a free one (inside the timeout).
# One worker serialises on its engine and SQLite, so more sockets only add overhead. At
# most the worker's per-address cap (model/server/slow_clients.py MAX_PER_ADDRESS, 64):
# a bot on another machine than its worker got 503 for each connection past it.
MAX_CONNECTIONS = 64
# `atri worker` (uvicorn) closes a connection idle for 5 s. A client that reuses it at
# that moment sends its request into a closing socket and gets a reset; dropping idle
# connections first on our side avoids that race.
KEEPALIVE_SECONDS = 4.0
# How long after a failed /character, asked because an answer named a character not
# learned yet, the bot waits before asking again: a worker that answers chats but not
# /character (a proxy in front of it refusing the route) was asked on every message.
CHARACTER_RETRY_SECONDS = 60.0
# What a request sent on a connection the worker was closing as idle fails with: the
# worker never read that request, so sending it once more is safe. Connect errors and
# timeouts are excluded (ClientConnectorError is a ClientOSError): no point retrying.
STALE_CONNECTION = (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError)
NOT_STALE = (aiohttp.ClientConnectorError,)


class WorkerUnreachable(UserError):
    """The worker did not answer properly; str() is the sentence to show."""


class WorkerDown(WorkerUnreachable):
    """Nothing answered at the worker's address (connection refused or reset, timeout);
    `why` names the error."""

    def __init__(self, url: str, why: str) -> None:
        super().__init__(
            f"Cannot reach the worker at {url} ({why}); is `atri worker` running there?"
        )
        self.url = url
        self.why = why


class WorkerHung(WorkerUnreachable):
    """The worker took the request (its address answers) but sent no answer in time:
    still loading its model (it listens from its start), far behind (a reload's smoke
    test on a slow machine), or hung; not "is it running?", which it is."""

    def __init__(self, url: str, path: str, waited: float) -> None:
        super().__init__(
            f"The worker at {url} took the request for {path} but did not answer it "
            f"within {waited:g} s; it may still be loading its model (a worker listens from "
            "its start and answers once loaded), at work on it (a reload), or hung: see its "
            "log before restarting `atri worker`."
        )


class TokenRefused(WorkerUnreachable):
    """The worker refused the bot's ATRI_ADMIN_TOKEN (or its lack of one), or has none set
    itself and so refuses everyone; str() says which and what to change."""


class OtherRelease(WorkerUnreachable):
    """The worker speaks another version of the bots' protocol: nothing it answers is
    used, since either side may misread the other (model/protocol.py, PROTOCOL_VERSION)."""


@contextlib.asynccontextmanager
async def telling_worker(what: str, logger: logging.Logger) -> AsyncIterator[None]:
    """Around a platform's notice passed on to the worker (a message edited, deleted or
    recalled, a reply cut short, a member gone), which nobody waits on: a failure is a
    line of `logger`'s completing "could not `what`", never the handler's error. The
    worker's database failing it logged itself; a worker not reached is one warning, as
    what it keeps stays as it was (a phone number edited out); anything else is a bug."""
    try:
        yield
    except MemoryUnavailable:
        pass  # the worker logged its database failing, once a while
    except WorkerUnreachable as exc:
        logger.warning("could not %s: %s", what, exc)
    except Exception:
        logger.exception("could not %s", what)


class HttpWorker:
    def __init__(
        self, settings: WorkerSettings, secrets: Secrets, error_reply: str | None = None
    ) -> None:
        """`error_reply`: what a chat gets when the worker cannot answer (the character's
        own line, see persona.canned_lines); `[worker] error_reply` when not given."""
        self.settings = settings
        self.error_reply = settings.error_reply if error_reply is None else error_reply
        self.url = settings.url.rstrip("/")
        self._headers = {PROTOCOL_HEADER: str(PROTOCOL_VERSION)}
        self.has_token = secrets.admin_token is not None
        if secrets.admin_token is not None:
            token = secrets.admin_token.get_secret_value()
            self._headers["Authorization"] = f"Bearer {token}"
        self._timeout = aiohttp.ClientTimeout(
            total=settings.request_timeout_seconds + TIMEOUT_MARGIN_SECONDS,
            sock_connect=CONNECT_TIMEOUT_SECONDS,
        )
        self._quick_timeout = aiohttp.ClientTimeout(
            total=min(QUICK_TIMEOUT_SECONDS, self._timeout.total or QUICK_TIMEOUT_SECONDS),
            sock_connect=CONNECT_TIMEOUT_SECONDS,
        )
        # Made on first use: aiohttp binds a session to the running loop, and the QQ
        # plugin builds its HttpWorker at import time, before any loop runs.
        self._session: aiohttp.ClientSession | None = None
        # Told the worker's character (`speak_as_the_worker`) whenever it is learned: at
        # start, and again when the worker's ATRI-Character header first appears or
        # changes (it came up after the bot, or came back as another character or in
        # another language). None: nobody listens, nothing is asked.
        self.on_character: Callable[[Character], None] | None = None
        self._character_tag: str | None = None  # the worker's, when last learned
        self._learning: asyncio.Task[None] | None = None
        self._learn_again_at = 0.0  # monotonic; see CHARACTER_RETRY_SECONDS

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                limit=MAX_CONNECTIONS, keepalive_timeout=KEEPALIVE_SECONDS
            )
            self._session = aiohttp.ClientSession(
                headers=self._headers,
                timeout=self._timeout,
                connector=connector,
                raise_for_status=False,
            )
        return self._session

    async def aclose(self) -> None:
        await stop_task(self._learning)
        self._learning = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> HttpWorker:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def _call(self, method: str, path: str, body: Any = None, retry: bool = True) -> Any:
        """One request; sent twice only when a stale keep-alive connection dropped it."""
        try:
            try:
                return await self._request(method, path, body)
            except NOT_STALE:
                raise
            except STALE_CONNECTION as exc:
                if not retry:
                    raise
                log.info("%s %s: connection dropped (%s); sending it again", method, path, exc)
                return await self._request(method, path, body)
        except aiohttp.ClientError as exc:  # a connect timeout too (ServerTimeoutError)
            raise WorkerDown(self.url, type(exc).__name__) from None
        except TimeoutError:  # the whole request's deadline: connected, never answered
            raise WorkerHung(self.url, path, self._deadline(path).total or 0.0) from None

    def _deadline(self, path: str) -> aiohttp.ClientTimeout:
        return self._quick_timeout if path in QUICK_ROUTES else self._timeout

    async def _request(self, method: str, path: str, body: Any) -> Any:
        # The full URL, not base_url: aiohttp refuses an empty or relative base_url when
        # the session is made, whereas a bad `[worker] url` should fail like a dead one.
        url = self.url + path
        timeout = self._deadline(path)
        async with self._client().request(method, url, json=body, timeout=timeout) as response:
            if response.status == 401:
                raise TokenRefused(self._token_refused(await _code_of(response)))
            theirs = response.headers.get(PROTOCOL_HEADER)
            problem = protocol_mismatch(theirs, f"The worker at {self.url}", "this bot")
            # A proxy's error page carries no header: that is the worker being away
            # (said below), not an older release.
            if problem and (theirs is not None or response.status < 400):
                raise OtherRelease(self._other_release(problem, theirs is None))
            if response.status == 503 and (await _code_of(response)) == MEMORY_UNAVAILABLE:
                # The worker's database failed (logged there): said as in-process.
                raise MemoryUnavailable(await _detail_of(response))
            if response.status >= 400:
                text = await response.text(errors="replace")
                raise WorkerUnreachable(
                    f"The worker at {self.url} answered {path} with HTTP "
                    f"{response.status}: {text[:200]}"
                )
            try:
                found = await response.json(content_type=None)
            except ValueError:  # not JSON: another program answers at this address
                raise WorkerUnreachable(self._not_the_worker(path)) from None
            self._saw_character(path, response.headers.get(CHARACTER_HEADER))
            return found

    def _saw_character(self, path: str, tag: str | None) -> None:
        """A worker whose character the bot has not learned yet answered: it is asked
        who she is (/character) beside the request, once, not on every message."""
        if not tag or tag == self._character_tag or time.monotonic() < self._learn_again_at:
            return
        self._character_tag = tag
        # /character's own answer is being learned by its caller.
        if path == "/character" or self.on_character is None:
            return
        if self._learning is None or self._learning.done():
            self._learning = asyncio.create_task(self._learn_character())

    async def _learn_character(self) -> None:
        while True:
            tag = self._character_tag
            try:
                await self.character()  # tells on_character
            except WorkerUnreachable:
                # Asked again when it next answers, after a while: it did answer.
                self._learn_again_at = time.monotonic() + CHARACTER_RETRY_SECONDS
                return
            except Exception as exc:  # a background task: nobody else would hear of it
                log.warning("could not learn the worker's character: %s", exc, exc_info=exc)
                self._character_tag = None
                self._learn_again_at = time.monotonic() + CHARACTER_RETRY_SECONDS
                return
            if self._character_tag == tag:  # no other character answered meanwhile
                return

    def _other_release(self, problem: str, silent: bool) -> str:
        if not silent:
            return problem
        # No header on a good answer: an ATRI worker from before it, or another program.
        return (
            f"{problem} If no `atri worker` runs there, is [worker] url the address "
            "`atri worker` printed?"
        )

    def _token_refused(self, code: str) -> str:
        """What to change when the worker answered 401 (`code`: the worker's reason)."""
        meanwhile = "every chat gets her error line and every admin command fails"
        if code == NO_TOKEN_SET:
            return (
                f"The worker at {self.url} has no ATRI_ADMIN_TOKEN set, so it refuses "
                f"the bots: {meanwhile} until `atri worker` is started with the bots' "
                "ATRI_ADMIN_TOKEN (set the same value on both sides)."
            )
        if not self.has_token:
            return (
                f"This bot has no ATRI_ADMIN_TOKEN set and the worker at {self.url} "
                f"requires one: {meanwhile} until the bots' environment holds the "
                "worker's ATRI_ADMIN_TOKEN."
            )
        return (
            f"The worker at {self.url} refused this bot's ATRI_ADMIN_TOKEN: {meanwhile} "
            "until the bots have the same ATRI_ADMIN_TOKEN as the worker."
        )

    async def check_release(self) -> None:
        """At start-up: a worker of another release stops the bots with one sentence
        (`OtherRelease`); one not answering yet is only logged, since the bots answer
        with her error line until it does. A token the worker refuses (or a missing
        one) is logged as an error now, not first found by an admin's command."""
        try:
            await self._call("GET", "/status")
            await self._call("GET", "/auth")
        except OtherRelease:
            raise
        except TokenRefused as exc:
            log.error("%s", exc)
        except WorkerUnreachable as exc:
            log.warning(
                "%s Until it answers, chats get the error line; groups and server channels "
                "stay silent until their modes are read from it.",
                exc,
            )

    def _not_the_worker(self, path: str) -> str:
        return (
            f"The server at {self.url} answered {path} with something other than the ATRI "
            "worker's answer; is [worker] url the address `atri worker` printed?"
        )

    async def _read(self, method: str, path: str, read: Callable[[Any], T], body: Any = None) -> T:
        """One call whose answer `read` turns into its type; an answer of another shape
        (some other JSON service at that address) is one sentence, not a KeyError."""
        found = await self._call(method, path, body)
        try:
            return read(found)
        except (ValueError, TypeError, KeyError, AttributeError):
            raise WorkerUnreachable(self._not_the_worker(path)) from None

    async def chat(self, request: ChatRequest) -> Reply:
        try:
            return Reply.model_validate(await self._call("POST", "/chat", request.model_dump()))
        except (WorkerUnreachable, ValueError) as exc:
            log.error("chat failed: %s", exc)
            return Reply(text=self.error_reply, status="error")

    async def history(self, scope: ScopeRef) -> list[HistoryEntry]:
        return await self._read("POST", "/history", _history, scope.model_dump())

    async def remembered(self, scope: ScopeRef) -> Remembered:
        return await self._read("POST", "/memory", Remembered.model_validate, scope.model_dump())

    async def character(self) -> Character:
        try:
            found = await self._read("GET", "/character", Character.model_validate)
        except WorkerUnreachable:
            # Not learned (an answer to /status may have said who answers meanwhile):
            # the next answer of the worker asks again.
            self._character_tag = None
            raise
        if self.on_character is not None:
            self.on_character(found)
        return found

    async def reset(self, scope: ScopeRef) -> int:
        return await self._read("POST", "/reset", _count, scope.model_dump())

    async def purge(self, scope: ScopeRef) -> int:
        return await self._read("POST", "/purge", _count, scope.model_dump())

    async def cut_reply(self, cut: ReplyCut) -> int:
        return await self._read("POST", "/cut-reply", _count, cut.model_dump())

    async def forget_message(self, ref: MessageRef) -> int:
        return await self._read("POST", "/forget-message", _count, ref.model_dump())

    async def forget_channel(self, ref: ChannelRef) -> int:
        return await self._read("POST", "/forget-channel", _count, ref.model_dump())

    async def status(self) -> WorkerStatus:
        return await self._read("GET", "/status", WorkerStatus.model_validate)

    async def reload(self, version: str = "") -> ReloadResult:
        # Resent safely: a second switch to the same version finds it already serving.
        return await self._reload(
            "/reload", retry=True, body={"version": version} if version else None
        )

    async def rollback(self) -> ReloadResult:
        # Not resent: should the first one have run after all, a second would step back
        # twice. A failed rollback is one the admin can simply repeat.
        return await self._reload("/rollback", retry=False)

    async def channel_modes(self, platform: str) -> dict[str, ChannelMode]:
        return await self._read("GET", f"/channels/{quote(platform, safe='')}", _modes)

    async def set_channel_mode(self, setting: ChannelSetting) -> None:
        await self._call("POST", "/channels", setting.model_dump())

    async def _reload(self, path: str, retry: bool, body: Any = None) -> ReloadResult:
        try:
            found = await self._call("POST", path, body, retry=retry)
            return ReloadResult.model_validate(found)
        except WorkerUnreachable as exc:
            said = str(exc)
        except ValueError:
            said = self._not_the_worker(path)
        # Its answer may be posted where a whole QQ group reads it: the worker's address
        # (a LAN host, a tunnel) goes to the log, the answer names the setting.
        log.warning("%s", said)
        said = said.replace(self.url, "[worker] url")
        return ReloadResult(ok=False, message=said, code="unreachable", reason=said)


async def _detail_of(response: aiohttp.ClientResponse) -> str:
    """The worker's sentence (`detail` in its error body)."""
    found = await response.json(content_type=None)
    detail = found.get("detail") if isinstance(found, dict) else None
    return str(detail or f"The worker's memory is unavailable (HTTP {response.status}).")


async def _code_of(response: aiohttp.ClientResponse) -> str:
    """The worker's reason for a 401 (`code` in its body); "" from anything else."""
    try:
        found = await response.json(content_type=None)
    except (ValueError, aiohttp.ClientError):
        return ""
    code = found.get("code") if isinstance(found, dict) else None
    return code if isinstance(code, str) else ""


def _count(found: Any) -> int:
    return int(found["count"])


def _history(found: Any) -> list[HistoryEntry]:
    return [HistoryEntry.model_validate(entry) for entry in found]


def _modes(found: Any) -> dict[str, ChannelMode]:
    return {str(k): v for k, v in found.items() if v in ("off", "mention", "all")}


async def speak_as_the_worker(remote: HttpWorker, settings: Settings, card: Persona) -> None:
    """Her error line in the language the worker answers in, from `card` in that language
    (the generic line with the worker's own name for a character `card` is not): the
    worker's own `[model]` and `[persona]` choose it, not the bot's. A line of the bot's
    own (`settings.worker.error_reply` set) stays. The bots' own lines (`bot.lines`:
    usage, reset answers, the notes put into her prompt) follow the worker's character
    too, in a language they are written in. Asked now, and again whenever another
    character answers (`HttpWorker.on_character`): a worker not up yet is learned when
    it first answers, one restarted in another language when it next does."""

    def learn(character: Character) -> None:
        use_character(character.name, character.language)
        line = error_line_for(character, settings, card)
        if line is not None:
            remote.error_reply = line

    remote.on_character = learn
    with contextlib.suppress(WorkerUnreachable):
        await remote.character()


def error_line_for(character: Character, settings: Settings, card: Persona) -> str | None:
    """Her error line as `character` says it (see `speak_as_the_worker`); None for a
    character in a language no line is written in."""
    language = character.language
    if language in card.languages and card.in_language(language).name == character.name:
        persona = card.in_language(language)
    elif language in DEFAULT_LINES and character.name:
        persona = Persona(name=character.name, language=language)
    else:
        return None
    return reply_lines(persona, settings).error
