"""A bot beside a separate worker learns her error line again when another worker
answers: one that came up after the bot, or came back in another language (real
worker app over real HTTP, the bots' real relay client)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Literal, TypeVar

from starlette.types import ASGIApp, Receive, Scope, Send

from atri.config import Secrets, Settings
from bot.relay import HttpWorker
from bot.serve import speak_as_the_worker
from model.character.persona import Persona, configured_card_path, load_persona, reply_lines
from model.protocol import ChatRequest
from model.server.app import bind_socket, create_app, serving
from model.service import ChatService
from tests.model.server.conftest import ADMIN_TOKEN

SECRETS = Secrets.from_env({"ATRI_ADMIN_TOKEN": ADMIN_TOKEN})
HI = ChatRequest(platform="discord", user_id="7", text="hi")


class CountPaths:
    """The worker's real app, counting the requests for each path."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.seen: dict[str, int] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.seen[scope["path"]] = self.seen.get(scope["path"], 0) + 1
        await self.app(scope, receive, send)


@asynccontextmanager
async def worker_at(
    settings: Settings, port: int, language: Literal["zh", "en"]
) -> AsyncIterator[CountPaths]:
    async with await ChatService.open(in_language(settings, language)) as service:
        app = CountPaths(create_app(service, SECRETS))
        async with serving(app, bind_socket("127.0.0.1", port)):  # type: ignore[arg-type]
            yield app


W = TypeVar("W")


@asynccontextmanager
async def relayed_worker(
    settings: Settings, wrap: Callable[[ASGIApp], W], bot: Settings, error_reply: str
) -> AsyncIterator[tuple[W, HttpWorker]]:
    """A worker on `settings`, its real app wrapped by `wrap`, served on a free port, and
    the bots' relay client to it (made from `bot`'s [worker], saying `error_reply`)."""
    async with await ChatService.open(settings) as service:
        app = wrap(create_app(service, SECRETS))
        async with serving(app, bind_socket("127.0.0.1", 0)) as url:  # type: ignore[arg-type]
            worker = bot.worker.model_copy(update={"url": url})
            async with HttpWorker(worker, SECRETS, error_reply=error_reply) as remote:
                yield app, remote


def in_language(settings: Settings, language: Literal["zh", "en"]) -> Settings:
    here = settings.model_copy(deep=True)
    here.persona.language = language
    return here


def bot_side(settings: Settings) -> tuple[Settings, Persona, str, str]:
    """The bot's settings (English by its own config), its card, and her error line in
    English and in Chinese."""
    card = load_persona(configured_card_path(settings))
    bot = settings.model_copy(deep=True)
    bot.persona.language = "en"
    english = reply_lines(card.in_language("en"), bot).error
    chinese = reply_lines(card.in_language("zh"), bot).error
    assert english != chinese
    return bot, card, english, chinese


def free_port() -> int:
    sock = bind_socket("127.0.0.1", 0)
    port = int(sock.getsockname()[1])
    sock.close()
    return port


async def says(remote: HttpWorker, line: str) -> bool:
    """Whether her error line becomes `line` within a few seconds."""
    for _ in range(200):
        if remote.error_reply == line:
            return True
        await asyncio.sleep(0.025)
    return False


async def test_a_worker_that_comes_up_after_the_bot_gives_it_her_line_in_its_language(
    echo_settings: Settings,
) -> None:
    """The bot asked the worker once, at start, when nothing answered: its own English
    line stayed beside the Chinese worker's replies until the bot was restarted."""
    bot, card, english, chinese = bot_side(echo_settings)
    port = free_port()
    worker = bot.worker.model_copy(update={"url": f"http://127.0.0.1:{port}"})
    async with HttpWorker(worker, SECRETS, error_reply=english) as remote:
        await speak_as_the_worker(remote, bot, card)  # nothing answers yet
        assert (await remote.chat(HI)).text == english
        async with worker_at(echo_settings, port, "zh") as app:
            assert (await remote.chat(HI)).status == "ok"
            assert await says(remote, chinese)
            for _ in range(3):
                assert (await remote.chat(HI)).status == "ok"
            assert app.seen.get("/character") == 1  # once, not once a message
        failed = await remote.chat(HI)
        assert (failed.status, failed.text) == ("error", chinese)


async def test_a_worker_back_in_another_language_is_learned_without_a_failure_between(
    echo_settings: Settings,
) -> None:
    """Restarted between two messages (no request failed meanwhile), now in Chinese:
    the bot's next error line was still English."""
    bot, card, english, chinese = bot_side(echo_settings)
    port = free_port()
    worker = bot.worker.model_copy(update={"url": f"http://127.0.0.1:{port}"})
    async with HttpWorker(worker, SECRETS, error_reply="mine") as remote:
        async with worker_at(echo_settings, port, "en"):
            await speak_as_the_worker(remote, bot, card)
            assert remote.error_reply == english
            assert (await remote.chat(HI)).status == "ok"
        async with worker_at(echo_settings, port, "zh") as app:
            assert (await remote.chat(HI)).status == "ok"
            assert await says(remote, chinese)
            assert app.seen.get("/character") == 1


class FailCharacterOnce(CountPaths):
    """The worker's real app, whose first /character answer is a 503."""

    def __init__(self, app: ASGIApp) -> None:
        super().__init__(app)
        self.failed = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/character" and not self.failed:
            self.failed = True
            await send({"type": "http.response.start", "status": 503, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        await super().__call__(scope, receive, send)


async def test_a_character_not_told_at_start_is_learned_from_the_next_answer(
    echo_settings: Settings,
) -> None:
    """The start-up probe (/status) answered, /character did not: the bot took the
    worker's character as learned and kept its own English line."""
    bot, card, english, chinese = bot_side(echo_settings)
    chinese_worker = in_language(echo_settings, "zh")
    async with relayed_worker(chinese_worker, FailCharacterOnce, bot, english) as (app, remote):
        await remote.check_release()
        await speak_as_the_worker(remote, bot, card)
        assert app.failed and remote.error_reply == english
        assert (await remote.chat(HI)).status == "ok"
        assert await says(remote, chinese)


class RefuseCharacter(CountPaths):
    """The worker's real app behind a proxy that refuses /character (403)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/character":
            self.seen["/character"] = self.seen.get("/character", 0) + 1
            await send({"type": "http.response.start", "status": 403, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        await super().__call__(scope, receive, send)


async def test_a_worker_that_never_tells_its_character_is_not_asked_on_every_message(
    echo_settings: Settings,
) -> None:
    """Every answer named a character not learned yet, and each started another
    /character: one extra request per chat message, for as long as the bot ran."""
    bot, _, english, _ = bot_side(echo_settings)
    async with relayed_worker(echo_settings, RefuseCharacter, bot, english) as (app, remote):
        remote.on_character = lambda character: None
        for _ in range(5):
            assert (await remote.chat(HI)).status == "ok"
            await asyncio.sleep(0.1)  # the background ask ends meanwhile
        assert app.seen.get("/character") == 1
        assert remote.error_reply == english
