"""Start NoneBot (FastAPI driver, OneBot v11 adapter, the ATRI plugin) inside `atri serve`.

uvicorn serves NoneBot's ASGI app as one task in our event loop, beside the worker and
the Discord client; its lifespan runs NoneBot's start-up and shutdown hooks. The OneBot
implementation (NapCat, Lagrange.OneBot, LLOneBot, go-cqhttp) connects to
ws://host:port/onebot/v11/ws with the access token from ATRI_ONEBOT_ACCESS_TOKEN.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hmac
import itertools
import json
import logging
import re
import secrets as secrets_module
import socket
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from atri.config import Secrets, Settings
from atri.errors import ConfigError, UserError
from atri.listening import bind_listening_socket, is_loopback, start_listening
from bot.qq import set_worker
from bot.qq.config import Config
from model.character.persona import Persona, canned_lines, configured_persona
from model.protocol import (
    ChannelMode,
    ChannelRef,
    ChannelSetting,
    Character,
    ChatRequest,
    HistoryEntry,
    MessageRef,
    ReloadResult,
    Remembered,
    Reply,
    ReplyCut,
    ScopeRef,
    Worker,
    WorkerStatus,
)

log = logging.getLogger(__name__)

PLUGIN = "bot.qq.atri"
DRIVER = "~fastapi+~websockets"
WS_PATH = "/onebot/v11/ws"

# uvicorn pings the OneBot implementation this often, and closes a connection whose pong
# does not come within the timeout: a network blink without a close frame leaves a
# stale connection, and NoneBot refuses the account's reconnect while it is open
# (uvicorn's 20 + 20 s default kept the account deaf past `resend_within_seconds`).
# 10 s is far above any pause of this event loop (generation runs on the engine's own
# thread), so a slow but live link is not dropped; NapCat and Lagrange reconnect every
# 5-30 s, so the account is back within about 20 s.
WS_PING_INTERVAL_SECONDS = 10.0
WS_PING_TIMEOUT_SECONDS = 10.0
STALE_WITHIN_SECONDS = WS_PING_INTERVAL_SECONDS + WS_PING_TIMEOUT_SECONDS


def her_names(settings: Settings, card: Persona | None = None) -> set[str]:
    """Names that address her at the start of a group message: `[qq] nicknames`, or
    when it is empty the character card's (`card` when already read) name and aliases
    (in every language), each in Traditional characters too (`traditional_spellings`):
    a member in Taiwan or Hong Kong writes 亞托莉. Each is found in any width and case
    (ＡＴＲＩ, ｱﾄﾘ: `bot.qq.mentions.read_her_name`), so no width's spelling is listed."""
    if settings.qq.nicknames:
        return set(settings.qq.nicknames)
    persona = configured_persona(settings, card)
    return {
        spelling
        for name in (persona.name, *persona.aliases)
        for spelling in traditional_spellings(name)
    }


# A name with more Simplified characters than this gets only its whole-name spelling:
# every mix of a long name's characters is too many names to match.
MAX_MIXED_CHARACTERS = 4


def traditional_spellings(name: str) -> set[str]:
    """`name` and its spellings in Traditional characters, each character either way:
    OpenCC writes 亚托莉 as 亞託莉, where Taiwan writes 亞托莉 (托 is both). Only `name`
    where the `opencc` extra is not installed (`[all]` installs it)."""
    convert = _to_traditional()
    if convert is None or name.isascii():
        return {name}
    forms = [(char, convert(char)) for char in name]
    if sum(char != traditional for char, traditional in forms) > MAX_MIXED_CHARACTERS:
        return {name, convert(name)}
    return {"".join(chars) for chars in itertools.product(*(dict.fromkeys(f) for f in forms))}


@functools.cache
def _to_traditional() -> Callable[[str], str] | None:
    try:
        from opencc import OpenCC
    except ImportError:
        return None
    return OpenCC("s2t").convert  # type: ignore[no-any-return]


def nonebot_options(
    settings: Settings, secrets: Secrets, card: Persona | None = None
) -> dict[str, Any]:
    """NoneBot's global config, from `[qq]`; the plugin reads its `atri_*` keys."""
    qq = settings.qq
    token = secrets.onebot_access_token
    access_token = token.get_secret_value() if token else None
    # NoneBot also takes OneBot events by HTTP POST (/onebot/v11/, /onebot/v11/http),
    # checking only a signature made with this secret, never the access token: with none
    # set, anyone reaching the port could post an owner's "/atri reset". ATRI speaks
    # reverse WebSocket only, so the secret is one nobody knows (every POST is refused, 401).
    secret = secrets_module.token_hex(32)
    # No host/port: uvicorn listens on our socket, and NoneBot would reject "localhost".
    return {
        "driver": DRIVER,
        # NoneBot dumps its whole config, the access token too, at DEBUG level.
        "log_level": "INFO",
        # The OneBot adapter reads its settings by their `onebot_v11_` names first, and by
        # the plain ones from the environment and a .env before what it is given: an
        # empty `ONEBOT_ACCESS_TOKEN=` there let every client in, ATRI's token set or not
        # (and `ONEBOT_SECRET` opened the POST door). Each is given under both names;
        # ATRI connects no forward WebSocket. Without ATRI's token, NoneBot's own
        # `ONEBOT_ACCESS_TOKEN` is still the token, as it was (NoneBot's guides name it).
        **(
            {"onebot_access_token": access_token, "onebot_v11_access_token": access_token}
            if access_token is not None
            else {}
        ),
        "onebot_secret": secret,
        "onebot_v11_secret": secret,
        "onebot_v11_ws_urls": set(),
        "superusers": set(qq.superusers),
        "nickname": her_names(settings, card),
        # ／: the slash a Chinese or Japanese input method types (／atri reset).
        "command_start": {"/", "\uff0f"},
        "command_sep": {"."},
        # Every `[qq]` key the plugin has (`atri_` + its name), so a new key cannot be
        # read from config.toml and then silently left out here.
        **{
            f"atri_{key}": value
            for key, value in qq.model_dump().items()
            if f"atri_{key}" in Config.model_fields
        },
        "atri_error_reply": canned_lines(settings, card).error,
        "atri_command_name": settings.bot.command_name,
    }


# NoneBot's lines in a file or a journal, headed as ATRI's own are (`atri/cli.py`
# `_log_handler`): NoneBot's format had no year nor UTC offset, so its lines could not be
# put in time order beside ATRI's.
PLAIN_LOG_FORMAT = "{time:YYYY-MM-DD HH:mm:ssZZ} {level: <8} nonebot | {message}"


def quiet_message_events(sink: TextIO | None = None) -> None:
    """Swap NoneBot's log handler for one that drops the line it writes for every event
    (at SUCCESS level, with the whole message text): ATRI's logs hold no conversation
    text below WARNING. NoneBot's other lines, and any warning, go to `sink`, by default
    standard error, where ATRI logs (NoneBot's own handler wrote to standard output, so
    `2>err.log` split its warnings, the OneBot token refused among them, from ATRI's);
    in NoneBot's colours on a terminal, elsewhere dated as ATRI's lines are."""
    from nonebot import log as nonebot_log

    target = sys.stderr if sink is None else sink
    on_terminal = sink is None and sys.stderr.isatty()
    with contextlib.suppress(ValueError):  # already removed: ours replaces it anyway
        nonebot_log.logger.remove(nonebot_log.logger_id)
    nonebot_log.logger_id = nonebot_log.logger.add(
        target,
        level=0,
        diagnose=False,
        filter=_shown,
        format=nonebot_log.default_format if on_terminal else PLAIN_LOG_FORMAT,
    )


def _shown(record: Any) -> bool:
    """Whether NoneBot's line is written (`_without_message_events`); its secrets hidden."""
    record["message"] = without_secrets(record["message"])
    return _without_message_events(record)


def _without_message_events(record: Any) -> bool:
    from nonebot.log import default_filter

    # NoneBot renames records after their top package ("nonebot"), or a plugin's id.
    where = (record["name"].split(".")[0], record["module"], record["function"])
    if where == ("nonebot", "message", "handle_event") and record["level"].no < logging.WARNING:
        return False
    # Said once, with its cause, by `guard_onebot_link` instead of at every retry.
    if where[0] == "nonebot" and "There's already a bot " in record["message"]:
        return False
    return bool(default_filter(record))


# The value of an `access_token` (a OneBot implementation may put the token in its URL,
# `?access_token=…`, and uvicorn logs each request line with it at INFO, shown by `-v`;
# a setting's `onebot_access_token='…'`) or of an `Authorization` header, wherever a log
# line has one: a user pastes the log into an issue. Every value, not only the token set:
# a refused one is often the right one mistyped. "Authorization Header is invalid" stays.
SECRET_IN_LOG = re.compile(
    r"""(?P<key>(?:access_token|authorization)(?:['"]? ?[:=]|['"],) ?(?:b?['"])?"""
    r"""(?:(?:bearer|token|basic) +)?)[^\s&#'"`,;)\]}]+""",
    re.IGNORECASE,
)


def without_secrets(text: str) -> str:
    """`text` with each `SECRET_IN_LOG` value shown as `…`."""
    if not _may_hold_secret(text):
        return text  # most lines: no regex run over them
    return SECRET_IN_LOG.sub(r"\g<key>…", text)


def _may_hold_secret(text: str) -> bool:
    """Whether `text` names a key `SECRET_IN_LOG` looks for, in whichever case."""
    folded = text.casefold()
    return "access_token" in folded or "authorization" in folded


class SecretsHidden(logging.Filter):
    """Hides the secrets in each record a handler writes (`without_secrets`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        hidden = without_secrets(message)
        if hidden != message:
            record.msg, record.args = hidden, None
        return True


SECRETS_HIDDEN = SecretsHidden()


def hide_secrets_in_logs() -> None:
    """Every record ATRI's log handlers (`atri/cli.py` `main`) write from now on, its
    secrets hidden: uvicorn's, websockets' and httpx's debug lines, any library's, as
    they reach the handler. Cheap for the lines that name no secret's key (nearly all):
    no regex runs over them (`without_secrets`)."""
    for handler in logging.getLogger().handlers:
        handler.addFilter(SECRETS_HIDDEN)  # once: a handler keeps one of each filter


class DroppedAtStop:
    """The worker as the QQ plugin reaches it under `atri serve`: when QQ stops, the
    chats still being answered end at once (`drop_all`), their generation with them.
    uvicorn closes the OneBot connections first (1012), so none of those replies could
    be sent, yet NoneBot waits for its handlers: the stop waited for each generation,
    up to `[worker] request_timeout_seconds`, past systemd's 90 s and docker's 10 s. A
    dropped chat stores no exchange; in a group, with `room_context` on, its message
    stays a room line, as one whose reply was given up unsent
    (`ReplySender._given_up`): a restart still knows what was said there. One already
    answered is sent as far as the stop lets it, and memory keeps what went out."""

    def __init__(self, worker: Worker, room_context: bool = False) -> None:
        self._worker = worker
        self._room_context = room_context
        self._chats: dict[asyncio.Task[Reply], str] = {}  # each chat's request id
        # Request ids of chats under way whose message was recalled: no room line then.
        self._recalled: set[str] = set()
        self._stopped = False

    async def chat(self, request: ChatRequest) -> Reply:
        if self._stopped:
            if request.addressed:
                return await self._dropped(request)
            # A line heard in a group, or the message of a reply given up unsent
            # (`ReplySender._given_up`): kept as a room line, never answered now.
            return await self._worker.chat(request.model_copy(update={"may_speak_up": False}))
        task = asyncio.ensure_future(self._worker.chat(request))
        self._chats[task] = request.request_id
        task.add_done_callback(lambda done: self._chats.pop(done, None))
        try:
            await asyncio.wait([task])
        except asyncio.CancelledError:  # its caller stopped: the chat goes with it
            task.cancel()
            raise
        finally:
            recalled = request.request_id in self._recalled
            self._recalled.discard(request.request_id)
        if task.cancelled():
            return await self._dropped(request, recalled)
        return task.result()

    async def _dropped(self, request: ChatRequest, recalled: bool = False) -> Reply:
        """An addressed chat dropped at the stop: its message kept as a room line where
        `room_context` keeps one (a group), unless it was `recalled` meanwhile."""
        if self._stopped and self._room_context and request.channel_id and not recalled:
            heard = request.model_copy(update={"addressed": False, "may_speak_up": False})
            try:
                await self._worker.chat(heard)
            except Exception as exc:
                log.debug("QQ room line from %s not kept: %s", request.user_id, exc)
        return dropped_reply()

    def drop_all(self) -> None:
        """QQ is stopping: every chat still being answered ends now, and any later one at
        once; said in one line when there were any."""
        self._stopped = True
        if self._chats:
            kept = (
                "their messages in groups stay room lines, nothing else of them is stored"
                if self._room_context
                else "nothing of them is stored"
            )
            log.info(
                "QQ stopping: %d reply(ies) still being written are dropped (the OneBot "
                "connection is closed); %s",
                len(self._chats),
                kept,
            )
        for task in self._chats:
            task.cancel()

    # Every other call goes to the worker as it is (spelled out, so that mypy checks this
    # against the Worker protocol and a new method cannot be missed).
    async def history(self, scope: ScopeRef) -> list[HistoryEntry]:
        return await self._worker.history(scope)

    async def remembered(self, scope: ScopeRef) -> Remembered:
        return await self._worker.remembered(scope)

    async def character(self) -> Character:
        return await self._worker.character()

    async def reset(self, scope: ScopeRef) -> int:
        return await self._worker.reset(scope)

    async def purge(self, scope: ScopeRef) -> int:
        return await self._worker.purge(scope)

    async def cut_reply(self, cut: ReplyCut) -> int:
        return await self._worker.cut_reply(cut)

    async def forget_message(self, ref: MessageRef) -> int:
        if ref.request_id in self._chats.values():
            self._recalled.add(ref.request_id)
        return await self._worker.forget_message(ref)

    async def forget_channel(self, ref: ChannelRef) -> int:
        return await self._worker.forget_channel(ref)

    async def status(self) -> WorkerStatus:
        return await self._worker.status()

    async def reload(self, version: str = "") -> ReloadResult:
        return await self._worker.reload(version)

    async def rollback(self) -> ReloadResult:
        return await self._worker.rollback()

    async def channel_modes(self, platform: str) -> dict[str, ChannelMode]:
        return await self._worker.channel_modes(platform)

    async def set_channel_mode(self, setting: ChannelSetting) -> None:
        await self._worker.set_channel_mode(setting)


def dropped_reply() -> Reply:
    """What the plugin gets for a dropped chat: empty text, nothing to post ("recalled":
    the status of a message whose reply is not wanted any more)."""
    return Reply(text="", status="recalled")


def start_nonebot(
    worker: Worker, settings: Settings, secrets: Secrets, card: Persona | None = None
) -> Any:
    """Initialise NoneBot once per process with the adapter and the plugin; its ASGI app."""
    import nonebot
    from nonebot.adapters.onebot.v11 import Adapter as OneBotV11Adapter

    set_worker(worker)  # before the plugin loads: it looks for a worker then
    try:
        nonebot.init(**nonebot_options(settings, secrets, card))
    except ValueError as exc:  # pydantic's ValidationError, NoneBot's SettingsError
        raise ConfigError(nonebot_settings_error(exc)) from exc
    quiet_message_events()
    driver = nonebot.get_driver()
    driver.register_adapter(OneBotV11Adapter)
    try:
        loaded = nonebot.load_plugin(PLUGIN)
    except RuntimeError:  # "Plugin already exists": an earlier try in this process failed
        loaded = None
    if loaded is None:
        # NoneBot keeps a plugin that failed to import registered: no retry in this
        # process can load it, so QQ stops rather than failing every few seconds.
        raise PluginNotLoaded(
            f"NoneBot could not load ATRI's QQ plugin ({PLUGIN}; the log above says why): "
            "fix that and start `atri serve` again."
        )
    app = driver.server_app  # type: ignore[attr-defined]
    return guard_onebot_link(app, nonebot.get_adapter(OneBotV11Adapter))


class PluginNotLoaded(UserError):
    """The plugin failed to load; only a new process can load it again."""


def guard_onebot_link(app: Any, adapter: Any) -> Any:
    """NoneBot's ASGI `app`, its OneBot WebSockets guarded: a frame that is not JSON, or
    an event NoneBot cannot read, is skipped with one warning (NoneBot logged two long
    tracebacks, and a frame that is not JSON ended its receive loop: the connection
    closed and the next event was lost); an account refused because its earlier
    connection is still open is told once, with why; a wrong access token is refused
    here (`_token_refusal`)."""
    told: dict[str, object] = {}  # account: the open connection its refusal was told for
    token = adapter.onebot_config.onebot_access_token

    async def guarded(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "websocket":
            await app(scope, receive, send)
            return
        refusal = _token_refusal(scope, token)
        if refusal is not None:
            from nonebot.adapters.onebot.v11.utils import log as onebot_log

            onebot_log("WARNING", refusal)  # NoneBot's own line, which README names
            await send({"type": "websocket.close", "code": 1008})  # before accept: 403
            return
        account = dict(scope.get("headers", ())).get(b"x-self-id", b"").decode("latin-1")
        open_before = adapter.connections.get(account) if account else None
        if open_before is not None and told.get(account) is not open_before:
            told[account] = open_before
            log.warning(
                "QQ: account %s connected again while its earlier connection is still open: "
                "the new one is refused until that one closes (a stale one, left by a "
                "network blink, is closed within %.0f s).",
                account,
                STALE_WITHIN_SECONDS,
            )
        await app(scope, _skipping_bad_frames(receive, account), send)

    return guarded


def _token_refusal(scope: dict[str, Any], token: str | None) -> str | None:
    """Why the connection is refused, NoneBot's words, when it lacks the access `token`
    (read as NoneBot reads it: `Authorization: Bearer …`); None when it has it or none is
    set. Compared in constant time: NoneBot's `!=` stops at the first differing character,
    so its time tells a guesser how much of a guess was right."""
    from nonebot.adapters.onebot.utils import get_auth_bearer

    if not token:
        return None
    header = dict(scope.get("headers", ())).get(b"authorization", b"").decode("latin-1")
    given = get_auth_bearer(header)
    if not given:
        return "Missing Authorization Header"
    if hmac.compare_digest(given.encode(), token.encode()):
        return None
    return "Authorization Header is invalid"


def _skipping_bad_frames(receive: Any, account: str) -> Any:
    async def receiving() -> Any:
        while True:
            message = await receive()
            if message["type"] != "websocket.receive" or _readable(message, account):
                return message

    return receiving


def _readable(message: dict[str, Any], account: str) -> bool:
    """Whether NoneBot can read the frame: JSON, and an event it can parse."""
    frame = message.get("text")
    if frame is None:
        frame = message.get("bytes")
    if frame is None:
        return True
    try:
        data = json.loads(frame)
    except ValueError:  # UnicodeDecodeError too
        log.warning("QQ: OneBot %s sent a frame that is not JSON; ignored.", account)
        return False
    if isinstance(data, dict) and "post_type" in data:
        exc = _unreadable(data)
        if exc is not None:
            errors = getattr(exc, "errors", None)
            first = errors()[0] if callable(errors) and errors() else {}
            where = ".".join(str(part) for part in first.get("loc", ()))
            log.warning(
                "QQ: OneBot %s sent an event ATRI cannot read (%s: %s); ignored.",
                account,
                where or "event",
                first.get("msg", str(exc) or "invalid"),
            )
            return False
    return True


def _unreadable(data: dict[str, Any]) -> ValueError | None:
    """Why NoneBot cannot read the event `data` (the error of its most specific model);
    None when it can. NoneBot tries its models from the most specific one down to the
    base Event: a message whose `message` is null, or whose `user_id` is no number, fell
    through to that base, and NoneBot's command parsing then raised on it, a ~50-line
    traceback for each. The base is accepted only for kinds NoneBot has no model of."""
    from nonebot.adapters.onebot.v11 import Adapter, Event
    from nonebot.compat import type_validate_python

    try:
        models = list(Adapter.get_event_model(data))
    except ValueError as exc:  # fields that name two kinds at once
        return exc
    first: ValueError | None = None
    for model in models or [Event]:
        try:
            type_validate_python(model, data)
        except ValueError as exc:  # pydantic's ValidationError
            first = first or exc
            continue
        return first if model is Event and len(models) > 1 else None
    return first


def nonebot_settings_error(exc: ValueError) -> str:
    """One sentence for NoneBot refusing its settings: besides what `[qq]` hands it, it
    reads the environment and a .env file in the working folder, where a slip
    (`SUPERUSERS=1,2`, `PORT=abc`) stopped QQ with a traceback, retried forever."""
    errors = getattr(exc, "errors", None)
    if callable(errors) and errors():
        first = errors()[0]
        where = ".".join(str(part) for part in first.get("loc", ()))
        said = f"{where}: {first.get('msg', '')}" if where else str(first.get("msg", ""))
    else:
        said = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return (
        f"NoneBot could not read its settings ({said}). Besides [qq] in config.toml it reads "
        f"the environment and a .env file in {Path.cwd()}: fix or remove the variable it "
        'names (a list there is JSON, e.g. SUPERUSERS=["12345"]).'
    )


def listen_socket(host: str, port: int) -> socket.socket:
    """Bound first, so a taken port is one sentence rather than uvicorn's sys.exit; not
    listening until NoneBot serves (`run_qq`): a OneBot implementation connecting while
    the model loads is refused and retries. Listening, its handshakes waited unanswered,
    and it gave them up; NoneBot then took one it had left as the account, and refused
    the live one while that stale one stayed open."""
    sock = bind_listening_socket(host, port, "qq", listening=False)
    sock.setblocking(False)
    return sock


async def run_qq(
    worker: Worker,
    settings: Settings,
    secrets: Secrets,
    card: Persona | None = None,
    sock: socket.socket | None = None,
) -> None:
    """Serve NoneBot until `atri serve` stops (Ctrl-C or SIGTERM cancels this: uvicorn
    then shuts down gracefully, NoneBot's shutdown hooks too). `sock`:
    the `listen_socket` of `[qq] host` and `port` where `atri serve` made it before the
    model loaded (it is closed here); None: one is made now."""
    from collections.abc import Iterator

    import uvicorn

    class ServerWithoutSignals(uvicorn.Server):
        """Leaves SIGINT and SIGTERM to `atri serve` (`run_async`), which cancels this:
        uvicorn took them while it served and re-raised SIGTERM once it had shut down,
        which killed the process before the service closed."""

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield

    qq = settings.qq
    hide_secrets_in_logs()
    sock = listen_socket(qq.host, qq.port) if sock is None else sock
    # Closed however this ends: a retry after NoneBot failed to start listens anew.
    with sock:
        chats = DroppedAtStop(worker, qq.room_context)
        app = start_nonebot(chats, settings, secrets, card)
        if secrets.onebot_access_token is None and not is_loopback(qq.host):
            log.warning(
                "QQ: no ATRI_ONEBOT_ACCESS_TOKEN, so anything that reaches %s:%s can act as "
                "the bot's OneBot implementation; set one.",
                qq.host,
                qq.port,
            )
        log.info(
            "QQ: waiting for the OneBot implementation at ws://%s:%s%s", qq.host, qq.port, WS_PATH
        )
        server = ServerWithoutSignals(
            uvicorn.Config(
                app,
                host=qq.host,
                port=qq.port,
                log_config=None,
                lifespan="on",
                ws_ping_interval=WS_PING_INTERVAL_SECONDS,
                ws_ping_timeout=WS_PING_TIMEOUT_SECONDS,
            )
        )
        start_listening(sock, "qq")
        serving = asyncio.ensure_future(server.serve(sockets=[sock]))
        try:
            await asyncio.shield(serving)
        except asyncio.CancelledError:
            # `atri serve` stopping: uvicorn closes its listening server itself before
            # the socket is closed (a cancelled serve left the loop watching a closed
            # descriptor, which the next socket given that number then lost its
            # connections to). Not force_exit: that skips NoneBot's shutdown, which ends
            # the plugin's sends and waits for its handlers (a second signal ends it).
            server.should_exit = True
            chats.drop_all()
            with contextlib.suppress(Exception):
                await serving
            raise
