"""Session 50 on what real OpenAI-compatible servers answer besides vLLM's usual words:
reasoning models' replies, llama.cpp's and SGLang's refusals, a gateway's 429, a reverse
proxy's HTML page. Each server is a small aiohttp fake answering as the cited server does."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web

from atri.config import Settings
from model.character.prompt import clean_reply
from model.engines.openai import OpenAIEngine
from model.protocol import ChatRequest
from model.service import ChatService

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

    async with server({"/chat/completions": chat}) as (url, _):
        async with await ChatService.open(remote(settings, url)) as service:
            reply = await service.chat(say("hi"))
            await service.chat(say("again"))
    assert (reply.status, reply.text) == ("ok", "Hello there!")
    assert "Hello there!" in prompts[-1] and "As ATRI" not in prompts[-1]
