"""/v1 as NextChat, SillyTavern and Chatbox drove it in session 73: NextChat's injected
prompt naming the model, the log line saying what became of a client's system text, a
hosted web front end's private-network preflight, and the worker's own lines as HTTP
errors rather than her replies."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from atri import cli
from atri.config import Secrets, Settings
from model.character.persona import CannedLines
from model.engines.echo import EchoEngine
from model.server.app import bind_socket, create_app, serving
from model.server.openai_api import Speakers, client_notes_heading
from model.service import ChatService
from tests.held_echo import RecordingEcho
from tests.model.server.conftest import ADMIN_TOKEN

WHO = {"role": "user", "content": "Who are you?"}
# NextChat's "Inject System Prompts" (on by default), with the model named as the README says.
NEXTCHAT = (
    "\nYou are ChatGPT, a large language model trained by OpenAI.\nKnowledge cutoff: 2021-09"
    "\nCurrent model: atri\nCurrent time: Mon Dec 07 2026 14:12:00 GMT+0000"
    "\nLatex inline: \\(x^2\\) \nLatex block: $$e=mc^2$$\n\n"
)
CARD = "You are ATRI, a robot girl who lives with Natsuki by the sea."
CHATBOX = "You are a helpful assistant."


class Stuck(EchoEngine):
    """Echo that never answers: every request waits out its deadline (busy)."""

    async def generate(self, batch, gen, limits=None):  # type: ignore[no-untyped-def]
        await asyncio.Event().wait()


class Failing(EchoEngine):
    """An engine that fails: the service answers with her error line."""

    async def generate(self, batch, gen, limits=None):  # type: ignore[no-untyped-def]
        raise RuntimeError("the GPU fell off")


MODEL_NAME_LINES = (
    "Current model: atri",
    "Model: ATRI",
    "model name：亚托莉",
    "Knowledge cutoff: 2021-09\nCURRENT MODEL:  Atri\nCurrent time: now",
    "当前模型：atri",
)
NAMING_HER = (
    "You are ATRI.",
    f"{CARD}\nModel: atri",  # a card naming her keeps doing so
    "Supermodel: ATRI",  # not a model's name
    # Sentences that say "model:" are no statement of the model's name (review s73).
    "Roleplay as ATRI. Never say you are an AI language model: stay in character.",
    "你是亚托莉，不要说自己是语言模型：你就是你。",
    "Model: ATRI is the robot girl you play",
)


def test_a_line_stating_the_models_name_does_not_name_her() -> None:
    speakers = Speakers("亚托莉", ("ATRI", "Atri"), user="Master", language="en")
    assert [text for text in MODEL_NAME_LINES if speakers.names_her(text)] == []
    assert [text for text in NAMING_HER if not speakers.names_her(text)] == []


async def test_nextchats_injected_prompt_follows_her_persona_and_a_card_replaces_it(
    echo_settings: Settings, secrets: Secrets
) -> None:
    """Its `Current model: atri` line named her: "You are ChatGPT…" replaced her card."""
    engine = RecordingEcho()
    async with (
        await ChatService.open(echo_settings, engine=engine) as service,
        serving(create_app(service, secrets), bind_socket("127.0.0.1", 0)) as url,
        httpx.AsyncClient(base_url=f"{url}/v1", timeout=10) as http,
    ):
        assert service.persona.aliases and "atri" in [a.lower() for a in service.persona.aliases]
        for system in (NEXTCHAT, CARD):
            body = {"model": "atri", "messages": [{"role": "system", "content": system}, WHO]}
            answer = await http.post("/chat/completions", json=body)
            assert answer.status_code == 200
        own = service.system_prompt
        heading = client_notes_heading(service.persona.main_language)
    nextchat, card = (prompt[0]["content"] for prompt in engine.prompts)
    assert nextchat.startswith(own) and f"{heading}\n" in nextchat and "ChatGPT" in nextchat
    assert card == CARD


@pytest.fixture
def logger_levels() -> Iterator[None]:
    """The levels `atri`'s `main` sets, put back after the test."""
    names = [*cli.TOLD_LOGGERS, *cli.PER_RUN_LOGGERS, "transformers", "httpx", "peft"]
    levels = {name: logging.getLogger(name).level for name in names}
    yield
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


class Kept(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


async def test_what_became_of_the_system_text_is_logged_without_verbose(
    echo_settings: Settings,
    secrets: Secrets,
    caplog: pytest.LogCaptureFixture,
    logger_levels: None,
) -> None:
    """README: "The worker logs once per client address which of the two it did"; it was
    logged only under `atri -v`."""
    caplog.set_level(logging.WARNING)  # the root level `atri` without -v sets
    cli.main(config=None, verbose=False)
    kept = Kept()
    logger = logging.getLogger("model.server.openai_api")
    logger.addHandler(kept)
    try:
        async with (
            await ChatService.open(echo_settings) as service,
            serving(create_app(service, secrets), bind_socket("127.0.0.1", 0)) as url,
            httpx.AsyncClient(base_url=f"{url}/v1", timeout=10) as http,
        ):
            for system in (CARD, CARD, CHATBOX, CHATBOX):
                body = {"messages": [{"role": "system", "content": system}, WHO]}
                assert (await http.post("/chat/completions", json=body)).status_code == 200
            name = service.persona.name
    finally:
        logger.removeHandler(kept)
    assert kept.lines == [
        f"/v1 client 127.0.0.1: its system messages name {name}, so they replace her persona",
        f"/v1 client 127.0.0.1: its system messages do not name {name}, so they follow her "
        "persona as notes",
    ]


PREFLIGHT = {
    "Origin": "https://app.nextchat.dev",
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization,content-type",
    # Chromium's, from a public https page to a loopback or LAN address.
    "Access-Control-Request-Private-Network": "true",
}


async def test_a_hosted_front_end_may_call_a_worker_on_this_machine(
    echo_settings: Settings, secrets: Secrets
) -> None:
    """Its preflight asks for private-network access: refused with 400 "Disallowed CORS
    private-network" although its origin was listed; the browser then sends nothing."""
    echo_settings.worker.cors_origins = ["https://app.nextchat.dev"]
    echo_settings.worker.rate_limit_per_minute = 1
    async with (
        await ChatService.open(echo_settings) as service,
        serving(create_app(service, secrets), bind_socket("127.0.0.1", 0)) as url,
        httpx.AsyncClient(base_url=url, timeout=10) as http,
    ):
        allowed = await http.options("/v1/chat/completions", headers=PREFLIGHT)
        other = await http.options(
            "/v1/chat/completions", headers={**PREFLIGHT, "Origin": "https://evil.example"}
        )
        page = {"Origin": "https://app.nextchat.dev"}
        for _ in range(2):  # the second over the limit: its Retry-After is the page's to read
            answer = await http.post("/v1/chat/completions", json={"messages": [WHO]}, headers=page)
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-private-network"] == "true"
    assert allowed.headers["access-control-allow-origin"] == "https://app.nextchat.dev"
    assert other.status_code == 400 and "access-control-allow-origin" not in other.headers
    assert answer.status_code == 429
    exposed = answer.headers["access-control-expose-headers"].lower()
    assert "retry-after" in exposed and "x-atri-status" in exposed


def openai_error(answer: httpx.Response) -> dict[str, Any]:
    """The answer's error, checked to be in OpenAI's format and not her line as a reply."""
    assert answer.headers["content-type"] == "application/json"
    body = answer.json()
    assert list(body) == ["error"]
    assert set(body["error"]) == {"message", "type", "param", "code"}
    assert "choices" not in answer.text
    error: dict[str, Any] = body["error"]
    return error


async def test_rate_limited_is_a_429_with_retry_after_streamed_or_not(
    echo_settings: Settings, secrets: Secrets
) -> None:
    """It was a 200 whose content was her busy line: front ends kept it as her reply and
    the SDKs never retried. Bots' /chat still gets her line."""
    echo_settings.worker.rate_limit_per_minute = 1
    hi = [{"role": "user", "content": "hi"}]
    token = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    async with (
        await ChatService.open(echo_settings) as service,
        serving(create_app(service, secrets), bind_socket("127.0.0.1", 0)) as url,
        httpx.AsyncClient(base_url=url, timeout=10) as http,
    ):
        first = await http.post("/v1/chat/completions", json={"messages": hi})
        plain = await http.post("/v1/chat/completions", json={"messages": hi})
        streamed = await http.post("/v1/chat/completions", json={"messages": hi, "stream": True})
        bot = {"platform": "test", "user_id": "u1", "text": "hi"}
        chats = [(await http.post("/chat", json=bot, headers=token)).json() for _ in range(2)]
        busy = service.lines.busy
    assert first.status_code == 200 and first.headers["X-ATRI-Status"] == "ok"
    for refused in (plain, streamed):
        assert refused.status_code == 429
        assert refused.headers["X-ATRI-Status"] == "rate_limited"
        assert 0 < int(refused.headers["Retry-After"]) <= 60
        error = openai_error(refused)
        assert error["code"] == "rate_limit_exceeded" and error["param"] is None
        assert "rate_limit_per_minute" in error["message"] and busy not in error["message"]
    assert [(c["status"], c["text"]) for c in chats][1] == ("rate_limited", busy)


async def plain_and_streamed(
    settings: Settings, secrets: Secrets, engine: EchoEngine
) -> tuple[list[httpx.Response], CannedLines]:
    """A front end's first request, plain and streamed, and her lines (`service.lines`)."""
    async with (
        await ChatService.open(settings, engine=engine) as service,
        serving(create_app(service, secrets), bind_socket("127.0.0.1", 0)) as url,
        httpx.AsyncClient(base_url=f"{url}/v1", timeout=10) as http,
    ):
        answers = [
            await http.post("/chat/completions", json={"messages": [WHO], "stream": stream})
            for stream in (False, True)
        ]
        return answers, service.lines


async def test_busy_is_a_503_with_retry_after_streamed_or_not(
    echo_settings: Settings, secrets: Secrets
) -> None:
    echo_settings.worker.request_timeout_seconds = 0.3
    answers, lines = await plain_and_streamed(echo_settings, secrets, Stuck())
    for refused in answers:
        assert refused.status_code == 503
        assert refused.headers["X-ATRI-Status"] == "busy"
        assert int(refused.headers["Retry-After"]) > 0
        # A reply past the deadline would cost it again: the SDKs do not retry on their own.
        assert refused.headers["x-should-retry"] == "false"
        error = openai_error(refused)
        assert error["type"] == "server_error" and lines.busy not in error["message"]


async def test_her_error_line_is_a_500_the_sdks_may_retry(
    echo_settings: Settings, secrets: Secrets
) -> None:
    """Unlike a character prompt that does not fit (no retry cures it), a failure may pass."""
    answers, lines = await plain_and_streamed(echo_settings, secrets, Failing())
    for failed in answers:
        assert failed.status_code == 500
        assert failed.headers["X-ATRI-Status"] == "error"
        assert "x-should-retry" not in failed.headers
        error = openai_error(failed)
        assert error["type"] == "server_error" and lines.error not in error["message"]
