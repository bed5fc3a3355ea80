"""Session 50 on what real OpenAI-compatible servers answer besides vLLM's usual words:
reasoning models' replies, llama.cpp's and SGLang's refusals, a gateway's 429, a reverse
proxy's HTML page. Each server is a small aiohttp fake answering as the cited server does."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web

from atri.config import GenerationSettings, Settings
from model.character.prompt import clean_reply
from model.engines.base import EngineUnavailable
from model.engines.openai import Lora, OpenAIEngine, RemoteEngineError
from model.protocol import ChatRequest
from model.service import ChatService

GEN = GenerationSettings(max_new_tokens=16)
Handler = Callable[[dict[str, Any]], Awaitable[web.StreamResponse]]
BASE_CARD = {
    "id": "atri-base",
    "object": "model",
    "owned_by": "vllm",
    "root": "Qwen/Qwen2.5-7B-Instruct",
    "parent": None,
    "max_model_len": 4096,
}


def chat_ok(text: Any, finish: str = "stop", **message: Any) -> dict[str, Any]:
    """vLLM's (and llama.cpp's) chat completion with one choice."""
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": "atri-base",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text, **message},
                "finish_reason": finish,
            }
        ],
        "usage": {"completion_tokens": 3},
    }


@contextlib.asynccontextmanager
async def server(routes: dict[str, Handler]) -> AsyncIterator[tuple[str, list[str]]]:
    """A fake OpenAI-compatible server under /v1: POST `routes` by path, /models listing
    the base; yields its URL and the paths POSTed to, in order."""
    posted: list[str] = []

    async def models(request: web.Request) -> web.StreamResponse:
        return web.json_response({"object": "list", "data": [BASE_CARD]})

    def route(path: str, handler: Handler) -> Callable[[web.Request], Awaitable[Any]]:
        async def answer(request: web.Request) -> web.StreamResponse:
            posted.append(path)
            return await handler(await request.json())

        return answer

    app = web.Application()
    app.router.add_get("/v1/models", models)
    for path, handler in routes.items():
        app.router.add_post("/v1" + path, route(path, handler))
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}/v1", posted
    finally:
        await runner.cleanup()


def remote(settings: Settings, url: str) -> Settings:
    settings.model.engine = "openai"
    settings.model.openai_base_url = url
    settings.model.openai_model = "atri-base"
    settings.model.base = str(settings.root / "no-such-base")  # no local tokenizer
    return settings


def say(text: str) -> ChatRequest:
    return ChatRequest(platform="test", user_id="u", text=text)


# v01: DeepSeek-R1 (and its distills), QwQ and Qwen3-Thinking-2507 templates open <think>
# in the prompt; served without a reasoning parser, the reply starts inside it
# (vllm-project/vllm#13125, ggml-org/llama.cpp#11861, sgl-project/sglang#3668).
R1_REPLY = "Okay, the user greets me. As ATRI I should be cheerful.\n</think>\n\nHello there!"


@pytest.mark.parametrize(
    ("reply", "kept"),
    [
        (R1_REPLY, "Hello there!"),
        ("a\n</think>\nb </think>\n\nc", "c"),
        ("<think>plan</think>\n\nHi!", "Hi!"),
        ("<think>still thinking", ""),
        ("plain reply", "plain reply"),
    ],
)
def test_a_reply_that_begins_inside_a_think_block_keeps_what_follows_it(
    reply: str, kept: str
) -> None:
    assert clean_reply(reply) == kept


async def test_a_reasoning_model_without_a_parser_does_not_send_its_reasoning(
    settings: Settings,
) -> None:
    """Nor keep it in memory: the next chat's prompt holds her reply without it."""
    prompts: list[str] = []

    async def chat(body: dict[str, Any]) -> web.StreamResponse:
        prompts.append(str(body["messages"]))
        return web.json_response(chat_ok(R1_REPLY))

    async with (
        server({"/chat/completions": chat}) as (url, _),
        await ChatService.open(remote(settings, url)) as service,
    ):
        reply = await service.chat(say("hi"))
        await service.chat(say("again"))
    assert (reply.status, reply.text) == ("ok", "Hello there!")
    assert "Hello there!" in prompts[-1] and "As ATRI" not in prompts[-1]


async def open_engine(settings: Settings, url: str) -> OpenAIEngine:
    return await OpenAIEngine.open(remote(settings, url))


PERSONA = {"role": "system", "content": "You are ATRI."}


# v02: a prompt over the context, in other servers' words: llama.cpp's server
# (tools/server, exceed_context_size_error), vLLM's engine-level check, SGLang's.
def vllm_error(message: str, code: int = 400) -> web.Response:
    body = {"object": "error", "message": message, "type": "BadRequestError", "code": code}
    return web.json_response(body, status=code)


TOO_LONG_ANSWERS = {
    "llama.cpp": lambda: web.json_response(
        {
            "error": {
                "code": 400,
                "message": "request (4476 tokens) exceeds the available context size (4096 "
                "tokens), try increasing it",
                "type": "exceed_context_size_error",
                "n_prompt_tokens": 4476,
                "n_ctx": 4096,
            }
        },
        status=400,
    ),
    "vllm engine": lambda: vllm_error(
        "The decoder prompt (length 4476) is longer than the maximum model length of 4096. "
        "Make sure that `max_model_len` is no smaller than the number of text tokens."
    ),
    "vllm v1": lambda: vllm_error(
        "Prompt length of 4476 is longer than the maximum model length of 4096."
    ),
    "sglang": lambda: vllm_error(
        "Input length (4476 tokens) exceeds the maximum allowed length (4096 tokens). Use a "
        "shorter input or enable --allow-auto-truncate."
    ),
}


@pytest.mark.parametrize("server_name", list(TOO_LONG_ANSWERS))
async def test_a_prompt_too_long_in_any_servers_words_never_switches_to_the_strict_shape(
    settings: Settings, server_name: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The long chat is refused in the strict shape too (no retry), said as too long;
    a later short chat keeps its system role."""
    sent: list[list[str]] = []

    async def chat(body: dict[str, Any]) -> web.StreamResponse:
        sent.append([m["role"] for m in body["messages"]])
        if "long" in body["messages"][-1]["content"]:
            return TOO_LONG_ANSWERS[server_name]()
        return web.json_response(chat_ok("ok"))

    async with server({"/chat/completions": chat}) as (url, _):
        engine = await open_engine(settings, url)
        try:
            with pytest.raises(RemoteEngineError, match="lower \\[model\\] context_window"):
                await engine.generate([[PERSONA, {"role": "user", "content": "long"}]], GEN)
            await engine.generate([[PERSONA, {"role": "user", "content": "hi"}]], GEN)
        finally:
            await engine.close()
    assert sent == [["system", "user"], ["system", "user"]]
    assert not engine.strict_template
    assert "refused a chat with a system prompt" not in caplog.text


async def test_a_400_that_names_no_template_is_not_retried_in_the_strict_shape(
    settings: Settings,
) -> None:
    """A refusal about something else (a sampling value) is said as is."""
    sent: list[list[str]] = []

    async def chat(body: dict[str, Any]) -> web.StreamResponse:
        sent.append([m["role"] for m in body["messages"]])
        return vllm_error("top_k must be -1 (disable), or at least 1, got 0.")

    async with server({"/chat/completions": chat}) as (url, _):
        engine = await open_engine(settings, url)
        try:
            with pytest.raises(RemoteEngineError, match="top_k"):
                await engine.generate([[PERSONA, {"role": "user", "content": "hi"}]], GEN)
        finally:
            await engine.close()
    assert sent == [["system", "user"]] and not engine.strict_template


# v03: a template refusing the system role is a 500 on llama.cpp's server (--jinja;
# containers/ramalama#2425) and on SGLang (sgl-project/sglang#892, #1342).
TEMPLATE_500S = {
    "llama.cpp": lambda: web.json_response(
        {
            "error": {
                "code": 500,
                "message": "\n------------\nWhile executing CallExpression at line 1, column 1 "
                "in source:\n{{ raise_exception('System role not supported') }}\nError: Jinja "
                "Exception: System role not supported",
                "type": "server_error",
            }
        },
        status=500,
    ),
    "sglang": lambda: vllm_error("jinja2.exceptions.TemplateError: System role not supported", 500),
}


@pytest.mark.parametrize("server_name", list(TEMPLATE_500S))
async def test_a_5xx_naming_the_template_is_its_refusal_not_a_dead_replica(
    settings: Settings, server_name: str
) -> None:
    async def chat(body: dict[str, Any]) -> web.StreamResponse:
        if any(m["role"] == "system" for m in body["messages"]):
            return TEMPLATE_500S[server_name]()
        return web.json_response(chat_ok("Hello!"))

    async with server({"/chat/completions": chat}) as (url, _):
        engine = await open_engine(settings, url)
        try:
            out = await engine.generate([[PERSONA, {"role": "user", "content": "hi"}]], GEN)
        finally:
            await engine.close()
    assert out[0].text == "Hello!"
    assert engine.strict_template and engine.replicas[0].down_since is None


# v04: a thinking model behind vLLM's reasoning parser (Qwen3, thinking on by default)
# that spends max_tokens reasoning answers content null, the reasoning beside it
# (`reasoning_content`; `reasoning` from vLLM 0.10), finish_reason "length" (vLLM docs,
# features/reasoning_outputs).
@pytest.mark.parametrize("field", ["reasoning_content", "reasoning"])
async def test_a_reply_budget_spent_reasoning_is_said_once_not_regenerated(
    settings: Settings, field: str, caplog: pytest.LogCaptureFixture
) -> None:
    async def chat(body: dict[str, Any]) -> web.StreamResponse:
        return web.json_response(chat_ok(None, "length", **{field: "Okay, the user says hi…"}))

    async with (
        server({"/chat/completions": chat}) as (url, posted),
        await ChatService.open(remote(settings, url)) as service,
    ):
        reply = await service.chat(say("hi"))
    assert reply.status == "error" and posted == ["/chat/completions"]
    assert "regenerating" not in caplog.text
    assert "reasoning" in caplog.text and "max_new_tokens" in caplog.text


async def test_a_reasoning_models_reply_beside_its_reasoning_is_her_reply(
    settings: Settings,
) -> None:
    async def chat(body: dict[str, Any]) -> web.StreamResponse:
        return web.json_response(chat_ok("Hello!", reasoning_content="The user says hi."))

    async with server({"/chat/completions": chat}) as (url, _):
        engine = await open_engine(settings, url)
        try:
            out = await engine.generate([[PERSONA, {"role": "user", "content": "hi"}]], GEN)
        finally:
            await engine.close()
    assert out[0].text == "Hello!"


# v05: a gateway in front of vLLM answers a passing 429 (OpenAI's error shape, "Rate
# limit exceeded"); a restarting server 503. The reload job tries such a version again
# at its next look only when the refusal is an EngineUnavailable.
async def rate_limited(body: dict[str, Any]) -> web.StreamResponse:
    error = {"message": "Rate limit exceeded", "type": "rate_limit_exceeded", "code": 429}
    return web.json_response({"error": error}, status=429)


async def unavailable(body: dict[str, Any]) -> web.StreamResponse:
    return web.Response(text="Service Unavailable", status=503)


@pytest.mark.parametrize("answer", [rate_limited, unavailable], ids=["429", "503"])
async def test_a_busy_server_refuses_a_load_and_a_smoke_test_for_now(
    settings: Settings, answer: Handler
) -> None:
    routes = {"/load_lora_adapter": answer, "/chat/completions": answer}
    folder = settings.root / "adapters" / "20250101-000002"
    folder.mkdir(parents=True)
    async with server(routes) as (url, _):
        engine = await open_engine(settings, url)
        try:
            with pytest.raises(EngineUnavailable):
                await engine.load_adapter(folder, folder.name)
            engine.loras[folder.name] = Lora(folder.name, str(folder))
            for replica in engine.replicas:
                replica.down_since = None
            with pytest.raises(EngineUnavailable):
                await engine.smoke_test(folder.name, [{"role": "user", "content": "hi"}], 16)
        finally:
            await engine.close()


# v06: a reverse proxy's HTML error page (nginx's default 502 body).
NGINX_502 = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad "
    "Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)


@pytest.mark.parametrize(
    ("page", "said"),
    [
        (NGINX_502, "502 Bad Gateway"),
        ("<!DOCTYPE html>\n<html><body><p>down\n</p></body></html>", "an HTML page (HTTP 502)"),
    ],
)
async def test_a_proxys_html_error_page_is_one_line_naming_its_title(
    settings: Settings, page: str, said: str
) -> None:
    async def chat(body: dict[str, Any]) -> web.StreamResponse:
        return web.Response(text=page, status=502, content_type="text/html")

    async with server({"/chat/completions": chat}) as (url, _):
        engine = await open_engine(settings, url)
        try:
            with pytest.raises(RemoteEngineError) as refused:
                await engine.generate([[{"role": "user", "content": "hi"}]], GEN)
        finally:
            await engine.close()
    reason = str(refused.value)
    assert "\n" not in reason and "<" not in reason and said in reason


async def test_a_plain_text_error_is_folded_to_one_line(settings: Settings) -> None:
    async def chat(body: dict[str, Any]) -> web.StreamResponse:
        return web.Response(text="bad\r\n  request\n", status=400)

    async with server({"/chat/completions": chat}) as (url, _):
        engine = await open_engine(settings, url)
        try:
            with pytest.raises(RemoteEngineError, match=r"HTTP 400: bad request$"):
                await engine.generate([[{"role": "user", "content": "hi"}]], GEN)
        finally:
            await engine.close()


# Minors: a 200 carrying vLLM's error object, and a reply vLLM aborted.
async def test_a_200_carrying_an_error_says_the_servers_message(settings: Settings) -> None:
    async def chat(body: dict[str, Any]) -> web.StreamResponse:
        error = {"object": "error", "message": "Engine loop has died", "type": "InternalError"}
        return web.json_response(error)

    async with server({"/chat/completions": chat}) as (url, _):
        engine = await open_engine(settings, url)
        try:
            with pytest.raises(RemoteEngineError, match="Engine loop has died"):
                await engine.generate([[{"role": "user", "content": "hi"}]], GEN)
        finally:
            await engine.close()


async def test_a_reply_the_server_aborted_is_not_taken_as_whole(settings: Settings) -> None:
    async def chat(body: dict[str, Any]) -> web.StreamResponse:
        return web.json_response(chat_ok("Hel", "abort"))

    async with server({"/chat/completions": chat}) as (url, _):
        engine = await open_engine(settings, url)
        try:
            with pytest.raises(RemoteEngineError, match="aborted"):
                await engine.generate([[{"role": "user", "content": "hi"}]], GEN)
        finally:
            await engine.close()
