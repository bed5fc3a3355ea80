"""The worker over HTTP: its own routes for bots, Prometheus metrics, and the OpenAI API.

Who may call what:
- `/health`, `/status`, `/metrics` are open: they carry no conversation text, and
  probes and Prometheus scrapers rarely hold tokens. `/status` names no folder of this
  machine without the token (a reload's message, the loaded versions, the base model's
  path: by its folder's name).
- `/chat`, `/reset`, `/purge`, `/reload`, `/rollback` (and `/auth`, which only checks
  the token: the bots' start-up probe) need `Authorization: Bearer $ATRI_ADMIN_TOKEN`. `/chat` names any platform and user, so an open `/chat` would let
  anyone speak as anyone into their remembered conversation; only bots hold the token
  (they need it anyway for their users' reset commands). Without ATRI_ADMIN_TOKEN set
  on the worker, these routes refuse everything.
- `/v1/...` (the OpenAI-compatible API, model/openai_api.py) is open unless
  `[worker] openai_api_requires_token`: it never reads stored memory, and open, each
  client address is rate-limited as one more user.
Slow clients cannot hold connections: see slow_clients.py.
"""

from __future__ import annotations

import asyncio
import logging
import math
import signal
import socket
import sqlite3
import sys
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, field_validator
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from atri.config import Secrets, Settings, WorkerSettings
from atri.interrupt import note_stop_signal
from atri.listening import LOOPBACK, bind_listening_socket, is_loopback
from model.adapters.versions import is_version_name
from model.memory import database_error
from model.metrics import PROMETHEUS_CONTENT_TYPE
from model.protocol import (
    CHARACTER_HEADER,
    MEMORY_UNAVAILABLE,
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
    character_tag,
    protocol_mismatch,
)
from model.server.accept_log import quiet_accept_failures
from model.server.auth import Unauthorized, check_token
from model.server.openai_api import (
    CLIENT_GONE,
    OpenAIError,
    openai_router,
    under_v1,
    unknown_path,
    unless_the_client_leaves,
)
from model.server.slow_clients import (
    BODY_TIMEOUT_SECONDS,
    ConnectionLimits,
    guarded_protocol,
    raise_open_file_limit,
)
from model.service import ChatService
from model.worker_lock import one_worker_per_database

if TYPE_CHECKING:
    from types import FrameType

    import uvicorn

    from model.character.persona import Persona

log = logging.getLogger(__name__)

# The largest request body read: a long conversation with a 100 KB message fits well
# within it; anything larger is refused (413) before it is parsed.
MAX_BODY_BYTES = 2 * 1024 * 1024
# Earlier messages a bot may send along on /chat (the OpenAI API has its own cap).
MAX_CONTEXT_MESSAGES = 2000
# A stop waits for the replies being written up to [worker] request_timeout_seconds and
# this (a reply made at its deadline is still sent); then their connections are cut.
STOP_MARGIN_SECONDS = 5.0
# After that cut, how long uvicorn waits for what still runs before it cancels it.
STOP_CANCEL_AFTER_SECONDS = 2.0

# What FastAPI's "There was an error parsing the body" was, by its cause.
UNREADABLE_BODY: dict[type[BaseException] | type[None], str] = {
    UnicodeDecodeError: "Bad request: the body is not valid JSON (it is not UTF-8 text).",
    RecursionError: "Bad request: the body nests lists or objects too deeply to read.",
    # Python reads no integer longer than this (a guard against slow conversions).
    ValueError: (
        f"Bad request: the body holds an integer over {sys.get_int_max_str_digits()} digits long."
    ),
}

# Pydantic's messages that name one of our classes ("… or instance of StreamOptions")
# or a Python notion ("object to extract fields from"), in the JSON the client sent.
JSON_WORDING = {
    "model_type": "Input should be a JSON object",
    "model_attributes_type": "Input should be a JSON object",
    "dataclass_type": "Input should be a JSON object",
    "dataclass_exact_type": "Input should be a JSON object",
    "dict_type": "Input should be a JSON object",
    "mapping_type": "Input should be a JSON object",
    "named_tuple_type": "Input should be a JSON object or a list",
    "is_instance_of": "Input is not a value this field takes",
    "is_subclass_of": "Input is not a value this field takes",
}


class CountResult(BaseModel):
    count: int


class PurgeResult(CountResult):
    """`count`: messages and room lines deleted together; `room_lines`: how many of
    them were room lines; `not_deleted_from`: one sentence naming the copies upgrades of
    an older database kept, which still hold what was stored before ("" when none)."""

    room_lines: int
    not_deleted_from: str = ""


class ReloadAsked(BaseModel):
    """`POST /reload`'s optional body: the version to serve, by name (one rolled back
    from too); without it, or with "", the newest the reload job would take."""

    version: str = ""

    @field_validator("version")
    @classmethod
    def _a_version_name(cls, value: str) -> str:
        if value and not is_version_name(value):
            raise ValueError("not an adapter version name (YYYYMMDD-HHMMSS, maybe with -N)")
        return value


def error_body(path: str, message: str, kind: str) -> dict[str, Any]:
    """OpenAI's error format under /v1 (OpenAI clients show it), `{"detail": …}` elsewhere."""
    if under_v1(path):
        return OpenAIError.body(message, kind)
    return {"detail": message}


def _where(error: Any) -> tuple[str | int, ...]:
    """The keys and list positions of a pydantic error's place in the body."""
    # A union reports each member that failed under its own tag in `loc`
    # ("list[ContentPart]", "function-before[clean_text(), str]"): not a place in the body.
    return tuple(p for p in error["loc"] if p != "body" and "[" not in str(p))


def _json_path(where: tuple[str | int, ...]) -> str:
    """A place as the client reads it in the JSON it sent: `messages[2].content[0].type`."""
    path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in where)
    return path.removeprefix(".") or "body"


def _said(error: Any) -> str:
    """What was wrong, in words about JSON: never a class of ours."""
    if error["type"] in JSON_WORDING:
        return JSON_WORDING[error["type"]]
    # "List should have at most 4 items after validation, not 10": the client sent 10.
    return str(error["msg"]).replace(" after validation", "")


def _problems(errors: Sequence[Any]) -> dict[tuple[str | int, ...], list[str]]:
    """Each place in the body that was wrong, and what was wrong there."""
    found: dict[tuple[str | int, ...], list[str]] = {}
    # A union's member of the right type that said what is wrong ("at most 4 items")
    # speaks for the place; the other members' "Input should be a valid string" is noise.
    said_more = {_where(e) for e in errors if not e["type"].endswith("_type")}
    for e in errors:
        if e["type"].endswith("_type") and _where(e) in said_more:
            continue
        # The members of a union that failed at one place: their complaints are joined.
        said = found.setdefault(_where(e), [])
        if _said(e) not in said:
            said.append(_said(e))
    # A value that got inside one member ("content" as a list, with a bad part) is told
    # what is wrong inside, not also that it is no string.
    # Each place's proper prefixes collected once: comparing every pair of places took a
    # body of 10,000 bad messages (30 KB) 18 s on the event loop, every request waiting.
    outer = {w[:end] for w in found for end in range(len(w))}
    return {w: said for w, said in found.items() if w not in outer}


# The places a 400 names; the rest are counted ("messages": [1, 1, …] has one a message).
PROBLEMS_NAMED = 5


def validation_problems(errors: Sequence[Any]) -> str:
    """Pydantic's errors as one sentence: where in the body, and what was wrong there."""
    if any(e["type"] == "json_invalid" for e in errors):
        return "the body is not valid JSON"
    problems = list(_problems(errors).items())
    said = "; ".join(f"{_json_path(w)}: {_either(s)}" for w, s in problems[:PROBLEMS_NAMED])
    if len(problems) > PROBLEMS_NAMED:
        said += f"; and {len(problems) - PROBLEMS_NAMED} more places"
    return said


def problem_param(errors: Sequence[Any]) -> str | None:
    """OpenAI's `param` for the first place `validation_problems` names ("messages.0.content");
    None for the body as a whole, or a body that is no JSON (its `loc` is a position)."""
    if any(e["type"] == "json_invalid" for e in errors):
        return None
    first = next(iter(_problems(errors)), ())
    return ".".join(str(p) for p in first) or None


def _either(messages: list[str]) -> str:
    """'Input should be a valid string' and '… a valid list' become '… string or a valid list'."""
    first, *others = messages
    lead = "Input should be "
    if first.startswith(lead) and all(m.startswith(lead) for m in others):
        return " or ".join([first, *(m.removeprefix(lead) for m in others)])
    return "; ".join(messages)


class BodyLimit:
    """Refuse a request body over `max_bytes` with 413 and a sentence, reading no more of
    it than that (whether or not the client sent a Content-Length); one that has not
    arrived whole within `timeout` seconds gets 408 and the connection is closed."""

    def __init__(self, app: ASGIApp, max_bytes: int, timeout: float) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.timeout = timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"0")
        too_big = declared.isdigit() and int(declared) > self.max_bytes
        chunks: list[bytes] = []
        size = 0
        more = not too_big
        other: Message | None = None  # a message that is not body (the client left)
        try:
            async with asyncio.timeout(self.timeout):
                while more:
                    message = await receive()
                    if message["type"] != "http.request":
                        other = message
                        break
                    chunk = message.get("body", b"")
                    size += len(chunk)
                    if size > self.max_bytes:
                        too_big = True
                        break
                    chunks.append(chunk)
                    more = message.get("more_body", False)
        except TimeoutError:
            text = (
                f"The request body did not arrive within {self.timeout:g} seconds; send it again."
            )
            body = error_body(scope["path"], text, "request_timeout")
            # Closed: the rest of that body may still come, and is not a next request.
            response = JSONResponse(body, status_code=408, headers={"Connection": "close"})
            await response(scope, receive, send)
            return
        if other is not None:  # handed on outside the deadline, which is the body's only
            await self.app(scope, _replay([other], receive), send)
            return
        if too_big:
            text = (
                f"The request body is larger than {self.max_bytes // 1024} KB; "
                "send a shorter message or fewer earlier messages."
            )
            body = error_body(scope["path"], text, "request_too_large")
            await JSONResponse(body, status_code=413)(scope, receive, send)
            return
        whole: Message = {"type": "http.request", "body": b"".join(chunks), "more_body": False}
        await self.app(scope, _replay([whole], receive), send)


# The names this machine's own clients reach a loopback-bound worker by.


class LoopbackHostOnly:
    """On a worker listening on this machine only, refuse (421) a request whose Host header
    names another host: a web page whose name was made to point at 127.0.0.1 (DNS
    rebinding) is the same origin to the browser, which then lets it talk to her and read
    what the worker answers; only a page's own name is in its Host header."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or _named_here(dict(scope["headers"]).get(b"host", b"")):
            await self.app(scope, receive, send)
            return
        text = (
            "This worker listens on this machine only and answers requests addressed to "
            "localhost or 127.0.0.1; a page under another name is refused."
        )
        body = error_body(scope["path"], text, "misdirected_request")
        await JSONResponse(body, status_code=421)(scope, receive, send)


def _named_here(host: bytes) -> bool:
    """Whether a Host header names this machine (`localhost:8765`, `[::1]:8765`, any
    `*.localhost`, which resolves here only); none at all (HTTP/1.0) passes."""
    if not host:
        return True
    name = host.decode("latin-1").strip().lower()
    name = name[1 : name.find("]")] if name.startswith("[") else name.rsplit(":", 1)[0]
    return name in LOOPBACK or name.endswith(".localhost")


class ProtocolHeader:
    """Every answer says which version of the bots' protocol this worker speaks, so a bot
    of another release can tell (bot/relay.py) before it misreads one, and who answers
    (`character`, protocol.CHARACTER_HEADER), so a bot learns her error line again when
    that changes or first answers."""

    def __init__(self, app: ASGIApp, character: str = "") -> None:
        self.app = app
        self.headers = [(PROTOCOL_HEADER.lower().encode(), str(PROTOCOL_VERSION).encode())]
        if character:
            self.headers.append((CHARACTER_HEADER.lower().encode(), character.encode()))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def stamped(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *self.headers]
            await send(message)

        await self.app(scope, receive, stamped)


class OtherProtocol(Exception):
    """A bot of another release: its requests are refused (409) with this sentence."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def check_protocol(request: Request) -> None:
    """Refuse a bot whose `ATRI-Protocol` differs from ours. A request without the header
    passes: curl, a user's own script, and bots from before the header (which cannot be
    told apart from those)."""
    theirs = request.headers.get(PROTOCOL_HEADER)
    if theirs is not None and (problem := protocol_mismatch(theirs, "The bot", "this worker")):
        raise OtherProtocol(problem)


def _replay(first: list[Message], receive: Receive) -> Receive:
    async def replayed() -> Message:
        return first.pop(0) if first else await receive()

    return replayed


def create_app(
    service: ChatService, secrets: Secrets, body_timeout: float = BODY_TIMEOUT_SECONDS
) -> FastAPI:
    """The HTTP face of an open ChatService; whoever opened the service closes it."""
    # No redirect to the path without its trailing slash: an empty 307 (its Location from
    # the client's Host header) that OpenAI clients show as no error at all; such a path
    # gets a 404 that says to drop the slash (`unknown_path`).
    app = FastAPI(title="ATRI worker", docs_url=None, redoc_url=None, redirect_slashes=False)
    # Read by `_server`: whose X-Forwarded-For names the client; how long a stop waits;
    # what stops the moment a stop begins (the reload job: during the wait for the replies
    # in flight it switched to a new version, "Now serving" in a worker stopping).
    app.state.trusted_proxies = list(service.settings.worker.trusted_proxies)
    app.state.request_timeout_seconds = service.settings.worker.request_timeout_seconds
    app.state.on_stop_begun = service.reloader.begin_stop

    app.add_middleware(BodyLimit, max_bytes=MAX_BODY_BYTES, timeout=body_timeout)
    if is_loopback(service.settings.worker.host):
        app.add_middleware(LoopbackHostOnly)
    # Added last: outermost, so even 413 and 408 say it.
    tag = character_tag(service.persona.name, service.persona.main_language)
    app.add_middleware(ProtocolHeader, character=tag)
    if origins := service.settings.worker.cors_origins:
        # Outermost: a browser's preflight (OPTIONS, no token) is answered here, and
        # every answer, errors included, carries the header that lets the page read it.
        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_methods=["GET", "POST", "OPTIONS"],
            # The openai SDK adds x-stainless-* headers; any a client sends is fine.
            allow_headers=["*"],
            # Chromium asks before a public (https) page calls a private address: a hosted
            # NextChat or Chatbox pointed at a worker on this machine or the LAN.
            allow_private_network=True,
            expose_headers=["X-ATRI-Status", "Retry-After"],
        )

    # async: FastAPI runs a plain `def` dependency in its thread pool, a hand-off on every
    # bot message (~17% of the worker's own time per /chat, measured) for a header check.
    async def admin(request: Request) -> None:
        check_token(secrets, request)
        check_protocol(request)

    admin_only = [Depends(admin)]

    @app.exception_handler(Unauthorized)
    async def unauthorized(request: Request, exc: Unauthorized) -> JSONResponse:
        body = error_body(request.url.path, exc.message, "invalid_api_key")
        if not under_v1(request.url.path):
            body["code"] = exc.code  # the bots tell a worker without a token from a wrong one
        return JSONResponse(body, status_code=401, headers={"WWW-Authenticate": "Bearer"})

    @app.exception_handler(OtherProtocol)
    async def other_protocol(request: Request, exc: OtherProtocol) -> JSONResponse:
        return JSONResponse({"detail": exc.message}, status_code=409)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        if exc.status_code < 400:
            return Response(status_code=exc.status_code, headers=exc.headers)
        if exc.status_code == 404 and under_v1(request.url.path):
            # No such route: OpenAI's 404, saying which routes are served.
            unknown = unknown_path(request.url.path)
            body = OpenAIError.body(unknown.message, unknown.kind, unknown.code)
            return JSONResponse(body, status_code=404)
        if exc.status_code == 405 and under_v1(request.url.path) and exc.headers:
            # "Method Not Allowed" says neither which method was sent nor which is taken.
            taken = exc.headers.get("Allow", "")
            detail = f"{request.method} {request.url.path} is not served; it takes {taken}."
            body = OpenAIError.body(detail, "invalid_request_error", "method_not_allowed")
            return JSONResponse(body, status_code=405, headers=exc.headers)
        detail = UNREADABLE_BODY.get(type(exc.__cause__), str(exc.detail))
        body = error_body(request.url.path, detail, "invalid_request_error")
        return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        message = f"Bad request: {validation_problems(exc.errors())}."
        whole_body = any(tuple(e["loc"]) == ("body",) for e in exc.errors())
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if whole_body and not (kind == "application/json" or kind.endswith("+json")):
            # FastAPI reads JSON only when told it is JSON (`curl -d` says it is a form).
            message = (
                "Bad request: send a JSON body, with the header 'Content-Type: application/json'."
            )
        if under_v1(request.url.path):
            param = problem_param(exc.errors())
            body = OpenAIError.body(message, "invalid_request_error", param=param)
            return JSONResponse(body, 400)
        return JSONResponse({"detail": message}, status_code=422)

    @app.exception_handler(sqlite3.Error)
    async def database_failed(request: Request, exc: sqlite3.Error) -> JSONResponse:
        """The memory database failed under a route (a chat handles its own): one log
        sentence per kind every few minutes, as for chats, and 503 with the sentence."""
        service.database_failures.report(exc, None, f"{request.url.path} was refused.")
        message = str(database_error(service.memory.path, exc, running=True))
        return JSONResponse(error_body(request.url.path, message, "server_error"), 503)

    @app.exception_handler(MemoryUnavailable)
    async def memory_unavailable(request: Request, exc: MemoryUnavailable) -> JSONResponse:
        """The same, from a route the service guards itself (a reset, a purge, …): it
        logged the failure; 503 with the sentence, and a `code` the bots read."""
        body = error_body(request.url.path, str(exc), "server_error")
        if not under_v1(request.url.path):
            body["code"] = MEMORY_UNAVAILABLE
        return JSONResponse(body, 503)

    @app.exception_handler(OpenAIError)
    async def openai_error(request: Request, exc: OpenAIError) -> JSONResponse:
        body = OpenAIError.body(exc.message, exc.kind, exc.code, exc.param)
        return JSONResponse(body, status_code=exc.status, headers=exc.headers)

    @app.api_route("/health", methods=["GET", "HEAD"])  # uptime monitors often use HEAD
    async def health() -> dict[str, bool]:
        return {"ok": True}

    @app.get("/status")
    async def status(request: Request) -> WorkerStatus:
        current = await service.status()
        try:
            check_token(secrets, request)
        except Unauthorized:
            # Open to probes, but reload messages and a base model read from a folder
            # name folders on this machine: only an admin sees those.
            for said in ("message", "reason", "folder", "reason_details"):
                current.last_reload.pop(said, None)
            current.details.pop("loaded_adapters", None)
            current.base_model = current.base_model_name()
        return current

    @app.get("/auth", dependencies=admin_only)
    async def auth() -> dict[str, bool]:
        """Nothing but the token check: a bot starting up learns whether its token is
        taken before any chat or admin command needs it."""
        return {"ok": True}

    @app.get("/metrics")
    async def metrics() -> Response:
        return Response(service.metrics.render(), media_type=PROMETHEUS_CONTENT_TYPE)

    @app.post("/chat", dependencies=admin_only)
    async def chat(request: ChatRequest, http: Request) -> Reply:
        if request.context is not None and len(request.context) > MAX_CONTEXT_MESSAGES:
            message = (
                f"The request has {len(request.context)} earlier messages; at most "
                f"{MAX_CONTEXT_MESSAGES} are accepted."
            )
            return JSONResponse({"detail": message}, status_code=413)  # type: ignore[return-value]
        # A bot that hung up no longer wants the reply (QQ dropping its chats at stop, its
        # own deadline passed): Starlette would run this to its end and store an exchange
        # nobody was shown, so the chat is cancelled and nothing of it stored.
        reply = await unless_the_client_leaves(service.chat(request), http)
        if reply is None:
            return Response(status_code=CLIENT_GONE)  # type: ignore[return-value]
        return reply

    @app.post("/history", dependencies=admin_only)
    async def history(scope: ScopeRef) -> list[HistoryEntry]:
        return await service.history(scope)

    @app.post("/memory", dependencies=admin_only)
    async def remembered(scope: ScopeRef) -> Remembered:
        return await service.remembered(scope)

    @app.get("/character")
    async def character() -> Character:
        return await service.character()

    @app.post("/reset", dependencies=admin_only)
    async def reset(scope: ScopeRef) -> CountResult:
        return CountResult(count=await service.reset(scope))

    @app.post("/purge", dependencies=admin_only)
    async def purge(scope: ScopeRef) -> PurgeResult:
        messages, lines = await service.purge_counts(scope)
        leftovers = service.purge_leftovers()  # what an admin's HTTP client shows, and the log
        if leftovers:
            log.warning("memory: purged, but not everywhere. %s", leftovers)
        return PurgeResult(count=messages + lines, room_lines=lines, not_deleted_from=leftovers)

    @app.post("/cut-reply", dependencies=admin_only)
    async def cut_reply(cut: ReplyCut) -> CountResult:
        return CountResult(count=await service.cut_reply(cut))

    @app.post("/forget-message", dependencies=admin_only)
    async def forget_message(ref: MessageRef) -> CountResult:
        return CountResult(count=await service.forget_message(ref))

    @app.post("/forget-channel", dependencies=admin_only)
    async def forget_channel(ref: ChannelRef) -> CountResult:
        return CountResult(count=await service.forget_channel(ref))

    @app.post("/reload", dependencies=admin_only)
    async def reload(asked: ReloadAsked | None = None) -> ReloadResult:
        return await service.reload(asked.version if asked is not None else "")

    @app.post("/rollback", dependencies=admin_only)
    async def rollback() -> ReloadResult:
        return await service.rollback()

    @app.get("/channels/{platform}", dependencies=admin_only)
    async def channel_modes(platform: str) -> dict[str, ChannelMode]:
        return await service.channel_modes(platform)

    @app.post("/channels", dependencies=admin_only)
    async def set_channel_mode(setting: ChannelSetting) -> dict[str, bool]:
        await service.set_channel_mode(setting)
        return {"ok": True}

    app.include_router(openai_router(service, secrets))
    return app


def bind_socket(host: str, port: int) -> socket.socket:
    """Listen before the model loads, so a busy port (a second `atri worker` on it too) is
    one clear error at once and port 0 picks a free one. Out of descriptors, asyncio
    tries one accept a second on it, not a backlog's worth in a spin
    (atri/accept_pause.py)."""
    return bind_listening_socket(host, port, "worker", flags=True)


def _server(app: FastAPI, limits: ConnectionLimits) -> uvicorn.Server:
    """uvicorn for the worker: the head deadline and connection cap of slow_clients.py; no
    WebSocket (no route uses one, and none may change protocol under that deadline)."""
    import uvicorn

    # Set by `create_app`; a bare ASGI app (a test's) trusts none and has the default timeout.
    state = getattr(app, "state", None)
    trusted = getattr(state, "trusted_proxies", [])
    default_timeout = WorkerSettings.model_fields["request_timeout_seconds"].default
    stop_grace = getattr(state, "request_timeout_seconds", default_timeout) + STOP_MARGIN_SECONDS
    on_stop_begun = getattr(state, "on_stop_begun", None)
    # A trusted proxy carries many clients, each limited by its X-Forwarded-For address:
    # counted as one address, 64 of them at once got 503.
    http = guarded_protocol(replace(limits, trusted_proxies=tuple(trusted)))
    # log_config=None: uvicorn's records ("Invalid HTTP request received.") go through
    # atri's handler, each line headed by its date like the rest; uvicorn's own config
    # printed them bare. No access log (one line a request; it was off at "warning").
    config = uvicorn.Config(
        app,
        log_level="warning",
        log_config=None,
        access_log=False,
        lifespan="off",
        http=http,
        ws="none",
        # uvicorn trusted 127.0.0.1's X-Forwarded-For by default: through a TCP tunnel
        # (frp, ssh -R) every client arrived from there and named its own address.
        proxy_headers=bool(trusted),
        forwarded_allow_ips=trusted or None,
        # Without it uvicorn waited for ever on a client reading none of its reply. Our own
        # cut (`Server.shutdown`) comes first; this cancels what still runs after it.
        timeout_graceful_shutdown=math.ceil(stop_grace + STOP_CANCEL_AFTER_SECONDS),
    )
    return _saying_it_stops(stop_grace, on_stop_begun)(config)


def _saying_it_stops(
    grace: float, on_stop_begun: Callable[[], None] | None = None
) -> type[uvicorn.Server]:
    """uvicorn's Server, saying at the first stop signal that it finishes the replies in
    flight before it ends, and ending those not taken within `grace` seconds.
    `on_stop_begun` runs as that wait begins, whatever set `should_exit`."""
    import uvicorn

    class Server(uvicorn.Server):
        async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
            if on_stop_begun is not None:
                on_stop_begun()
            loop = asyncio.get_running_loop()
            cut = loop.call_later(grace, self._cut_open_connections)
            try:
                await super().shutdown(sockets)
            finally:
                cut.cancel()

        def _cut_open_connections(self) -> None:
            """Abort the connections still open: each is a reply its client does not read
            (`close()` would wait to send it). Their tasks see the client gone and end, so
            uvicorn's own deadline seldom has anything left to cancel."""
            open_now = list(self.server_state.connections)
            if not open_now:
                return
            peers = (getattr(c, "client", None) for c in open_now)
            clients = sorted({str(peer[0]) for peer in peers if peer})
            log.warning(
                "Stopping: %d connection(s) still open after %g s are closed (%s).",
                len(open_now),
                grace,
                ", ".join(clients) or "?",
            )
            for connection in open_now:
                connection.transport.abort()

        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            # uvicorn waits for the replies in flight, saying so at INFO only: a worker
            # that seemed to ignore `kill` for a minute and a half.
            if not self.should_exit:
                note_stop_signal(sig)  # `atri worker` says which stopped it, once stopped
                log.warning(
                    "Stopping: the replies being written are finished first (up to "
                    "[worker] request_timeout_seconds); Ctrl-C or SIGTERM again stops at "
                    "once."
                )
            super().handle_exit(sig, frame)

    return Server


async def serve_app(
    app: FastAPI,
    sock: socket.socket,
    on_ready: Callable[[str], Awaitable[None] | None] | None = None,
) -> None:
    """Serve `app` on a listening socket inside the running loop until SIGINT/SIGTERM.
    `on_ready(url)` runs once uvicorn accepts: a client that connected before (while the
    model loaded) has waited in the socket's backlog and is answered now."""
    raise_open_file_limit()  # before `_server` reads the connection cap from it
    quiet_accept_failures()  # should the descriptors run out all the same
    server = _server(app, ConnectionLimits())
    await warm_thread_pool()
    with _signals_end_quietly():
        task = asyncio.create_task(server.serve(sockets=[sock]), name="atri-http")
        while not server.started and not task.done():
            await asyncio.sleep(0.01)
        if server.started and on_ready is not None:
            host, port = sock.getsockname()[:2]
            host = f"[{host}]" if ":" in host else host  # an IPv6 address, as URLs write it
            result = on_ready(f"http://{host}:{port}")
            if result is not None:
                await result
        await task


async def warm_thread_pool() -> None:
    """Use anyio's thread pool once before serving. anyio imports its asyncio backend on
    the first use, which was the first burst of requests on a fresh worker: with every
    descriptor taken by their connections that import failed (EMFILE, then "KeyError:
    'asyncio'" for each later one), and each got a plain-text 500 with a traceback."""
    import anyio.to_thread

    await anyio.to_thread.run_sync(lambda: None)


@contextmanager
def _signals_end_quietly() -> Iterator[None]:
    """uvicorn re-raises the signal that stopped it once it has shut down; that would kill
    the process (SIGTERM) or cancel our task (SIGINT) before the service closes. Here the
    shutdown itself is the whole answer, so the re-raised signal is ignored."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    handled = (signal.SIGINT, signal.SIGTERM)
    previous = {sig: signal.signal(sig, lambda *_: None) for sig in handled}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@asynccontextmanager
async def serving(
    app: FastAPI, sock: socket.socket, limits: ConnectionLimits | None = None
) -> AsyncIterator[str]:
    """Serve `app` in a background task of this loop (tests, benchmarks); yields its URL."""
    server = _server(app, limits or ConnectionLimits())
    await warm_thread_pool()
    task = asyncio.create_task(server.serve(sockets=[sock]), name="atri-http")
    while not server.started:
        if task.done():
            await task  # raise what stopped it
        await asyncio.sleep(0.01)
    host, port = sock.getsockname()[:2]
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        await task


async def run_worker(
    settings: Settings,
    secrets: Secrets,
    on_ready: Callable[[str], Awaitable[None] | None] | None = None,
    card: Persona | None = None,
) -> None:
    """`atri worker`: open the service, serve HTTP until interrupted, close the service;
    `on_ready(url)` runs once it listens. `card`: the configured character card when the
    caller has read it already."""
    sock = bind_socket(settings.worker.host, settings.worker.port)
    try:
        with one_worker_per_database(settings):  # a second worker stops before its model loads
            service = await ChatService.open(settings, card=card)
            async with service:
                await serve_app(create_app(service, secrets), sock, on_ready)
    finally:
        sock.close()
