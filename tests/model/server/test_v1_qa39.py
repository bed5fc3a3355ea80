"""/v1/chat/completions as real OpenAI clients call it: a worker whose own character
prompt cannot fit answers a server error, not her error line as a reply; each field
those clients send is honoured or refused with OpenAI's 400 naming it."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import httpx
import openai
import pytest
from openai import AsyncOpenAI

from atri.config import Secrets, Settings
from model.engines.echo import EchoEngine
from model.protocol import ChatRequest
from model.server.app import bind_socket, create_app, serving
from model.service import ChatService
from tests.model.server.conftest import ADMIN_TOKEN

HI = [{"role": "user", "content": "hi"}]


def client(url: str) -> AsyncOpenAI:
    return AsyncOpenAI(base_url=f"{url}/v1", api_key="anything", max_retries=0)


async def test_a_card_too_long_for_the_window_is_a_500_on_v1_and_her_error_line_for_bots(
    echo_settings: Settings, secrets: Secrets
) -> None:
    """The worker's own card leaves no room: no request can be answered, which is the
    operator's to fix. An OpenAI client showed `error_reply` as her reply (HTTP 200)."""
    engine = EchoEngine()
    engine.context_window = 64  # the card alone is over a thousand tokens
    async with (
        await ChatService.open(echo_settings, engine=engine) as service,
        serving(create_app(service, secrets), bind_socket("127.0.0.1", 0)) as url,
        httpx.AsyncClient(base_url=url, timeout=10) as http,
    ):
        answers = [
            await http.post("/v1/chat/completions", json={"messages": HI, "stream": stream})
            for stream in (False, True)
        ]
        async with client(url) as api:
            with pytest.raises(openai.InternalServerError) as raised:
                await api.chat.completions.create(model="atri", messages=HI)  # type: ignore[arg-type]
        bot = ChatRequest(platform="discord", user_id="7", text="hi").model_dump()
        token = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        chat = await http.post("/chat", json=bot, headers=token)
        error_line = service.lines.error
    plain, streamed = answers
    assert plain.status_code == streamed.status_code == 500
    assert streamed.json() == plain.json()  # the stream had not started: the same answer
    error = plain.json()["error"]
    assert error["type"] == "server_error"
    assert error["code"] == "character_prompt_too_long"
    assert "character prompt" in error["message"] and "64-token" in error["message"]
    assert error_line not in plain.text
    assert plain.headers["X-ATRI-Status"] == "error"
    assert "character prompt" in raised.value.message
    # Bots keep her error line, and the wire form of a Reply is as it was.
    assert chat.status_code == 200
    assert chat.json()["status"] == "error" and chat.json()["text"] == error_line
    assert "error_detail" not in chat.json()


async def test_an_openai_client_does_not_retry_a_card_too_long_for_the_window(
    echo_settings: Settings, secrets: Secrets, caplog: pytest.LogCaptureFixture
) -> None:
    """The SDK retries a 500 twice by default: one request was three of them, three
    error lines in the worker's log and three times the wait, for a setting that no
    retry cures. `x-should-retry: false` tells OpenAI's SDKs not to."""
    engine = EchoEngine()
    engine.context_window = 64
    async with (
        await ChatService.open(echo_settings, engine=engine) as service,
        serving(create_app(service, secrets), bind_socket("127.0.0.1", 0)) as url,
        AsyncOpenAI(base_url=f"{url}/v1", api_key="anything", max_retries=2) as api,
    ):
        caplog.clear()
        with pytest.raises(openai.InternalServerError) as raised:
            await api.chat.completions.create(model="atri", messages=HI)  # type: ignore[arg-type]
    assert raised.value.response.headers["x-should-retry"] == "false"
    said = [r for r in caplog.records if "character prompt" in r.getMessage()]
    assert len(said) == 1


async def test_a_clients_own_system_prompt_too_long_stays_a_400(
    echo_settings: Settings, secrets: Secrets
) -> None:
    """Its own prompt is the client's to shorten: refused (400), not a server error."""
    engine = EchoEngine()
    engine.context_window = 64
    echo_settings.generation.max_new_tokens = 16
    messages = [{"role": "system", "content": "x" * 200}, *HI]
    async with (
        await ChatService.open(echo_settings, engine=engine) as service,
        serving(create_app(service, secrets), bind_socket("127.0.0.1", 0)) as url,
        httpx.AsyncClient(base_url=url, timeout=10) as http,
    ):
        answer = await http.post("/v1/chat/completions", json={"messages": messages})
    assert answer.status_code == 400
    assert "shorten the system prompt" in answer.json()["error"]["message"]


TOOL = {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}


@pytest.mark.parametrize(
    ("field", "extra"),
    [
        # What she cannot do must not come back as prose, as if it were done.
        ("tool_choice", {"tools": [TOOL], "tool_choice": "required"}),
        ("tool_choice", {"tools": [TOOL], "tool_choice": {"type": "function", "function": {"name": "lookup"}}}),
        ("function_call", {"functions": [TOOL["function"]], "function_call": {"name": "lookup"}}),
        ("response_format", {"response_format": {"type": "json_object"}}),
        ("response_format", {"response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {}}}}),
        ("logprobs", {"logprobs": True}),
        ("top_logprobs", {"top_logprobs": 3}),
        ("modalities", {"modalities": ["text", "audio"], "audio": {"voice": "alloy", "format": "wav"}}),
        ("messages.0.content.1", {"messages": [{"role": "user", "content": [{"type": "text", "text": "what is this?"}, {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]}]}),
        ("messages.0.content.0", {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}]}]}),
        ("messages.0.content.1", {"messages": [{"role": "user", "content": [{"type": "text", "text": "hear"}, {"type": "input_audio", "input_audio": {"data": "AA", "format": "wav"}}]}]}),
        ("n", {"n": 2}),
        ("messages", {"messages": []}),
        ("logprobs", {"logprobs": "yes"}),
    ],
)  # fmt: skip
async def test_what_she_cannot_do_is_openais_400_naming_the_field(
    echo_worker: tuple[ChatService, str], field: str, extra: dict[str, Any]
) -> None:
    service, url = echo_worker
    body = {"messages": HI, **extra}
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        for stream in (False, True):
            response = await http.post("/v1/chat/completions", json={**body, "stream": stream})
            assert response.status_code == 400
            error = response.json()["error"]
            assert error["type"] == "invalid_request_error"
            assert error["param"] == field
            # The sentence names the place as the JSON path the client sent.
            path = re.sub(r"\.(\d+)", r"[\1]", field)
            assert error["message"].startswith(path) or f" {path}:" in error["message"]
    assert service.engine.stats.generate_calls == 0  # refused before any work


@pytest.mark.parametrize(
    "extra",
    [
        # Accepted: a reply in text is what OpenAI gives for these too.
        {"tools": [TOOL]},
        {"tools": [TOOL], "tool_choice": "auto"},
        {"tools": [TOOL], "tool_choice": "none"},
        {"response_format": {"type": "text"}},
        {"logprobs": False},
        {"top_logprobs": 0},
        {"modalities": ["text"]},
        # Sampling hints, as temperature is: [generation] decides.
        {"seed": 42},
        {"parallel_tool_calls": False},
    ],
)
async def test_what_a_text_reply_answers_is_accepted(
    echo_worker: tuple[ChatService, str], extra: dict[str, Any]
) -> None:
    _, url = echo_worker
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        response = await http.post("/v1/chat/completions", json={"messages": HI, **extra})
    assert response.status_code == 200
    assert response.json()["choices"][0]["message"]["content"] == EchoEngine.prefix + "hi"


async def test_an_assistants_refusal_part_is_its_text(
    echo_settings: Settings, secrets: Secrets
) -> None:
    """An assistant message may hold a `refusal` part (the SDK's own type): its words
    were dropped, leaving her an empty turn."""
    prompts: list[Any] = []

    class Recording(EchoEngine):
        async def generate(self, batch, gen, limits=None):  # type: ignore[no-untyped-def]
            prompts.extend(batch)
            return await super().generate(batch, gen, limits)

    messages = [
        {"role": "user", "content": "a"},
        {"role": "assistant", "content": [{"type": "refusal", "refusal": "I will not."}]},
        {"role": "user", "content": "b"},
    ]
    async with (
        await ChatService.open(echo_settings, engine=Recording()) as service,
        serving(create_app(service, secrets), bind_socket("127.0.0.1", 0)) as url,
        httpx.AsyncClient(base_url=url, timeout=10) as http,
    ):
        answer = await http.post("/v1/chat/completions", json={"messages": messages})
    assert answer.status_code == 200
    assert {"role": "assistant", "content": "I will not."} in prompts[0]


async def test_a_developer_message_leads_as_a_system_one_does(
    echo_settings: Settings, secrets: Secrets
) -> None:
    """Newer SDKs send `developer` for `system`; and the last user message's `name` is
    the person she answers ({{user}} in her reply), as a bot's display name is."""
    prompts: list[Any] = []

    class Recording(EchoEngine):
        async def generate(self, batch, gen, limits=None):  # type: ignore[no-untyped-def]
            prompts.extend(batch)
            return await super().generate(batch, gen, limits)

    messages = [
        {"role": "developer", "content": "You are Atri, a pirate."},
        {"role": "user", "content": "hi {{user}}", "name": "alice"},
    ]
    async with (
        await ChatService.open(echo_settings, engine=Recording()) as service,
        serving(create_app(service, secrets), bind_socket("127.0.0.1", 0)) as url,
        client(url) as api,
    ):
        done = await api.chat.completions.create(model="atri", messages=messages)  # type: ignore[arg-type]
        unnamed = await api.chat.completions.create(
            model="atri",
            messages=[{"role": "user", "content": "hi {{user}}"}],
        )
        default_name = service.user_name
    assert prompts[0][0] == {"role": "system", "content": "You are Atri, a pirate."}
    assert done.choices[0].message.content == EchoEngine.prefix + "hi alice"
    assert unnamed.choices[0].message.content == EchoEngine.prefix + f"hi {default_name}"


async def test_stop_as_string_or_list_and_max_completion_tokens_streamed_with_usage(
    echo_worker: tuple[ChatService, str],
) -> None:
    _, url = echo_worker
    whole = EchoEngine.prefix + "what can you do?"
    asked = [{"role": "user", "content": "what can you do?"}]
    async with client(url) as api:
        for stop in ("can", ["can"]):
            stream = await api.chat.completions.create(
                model="atri",
                messages=asked,  # type: ignore[arg-type]
                stop=stop,
                stream=True,
                stream_options={"include_usage": True},
            )
            chunks = [c async for c in stream]
            assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == (
                EchoEngine.prefix + "what "  # exactly the text before the stop string
            )
            assert chunks[-1].usage is not None and chunks[-1].choices == []
        capped = await api.chat.completions.create(
            model="atri",
            messages=asked,  # type: ignore[arg-type]
            max_completion_tokens=5,
        )
    assert capped.choices[0].message.content == whole[:5]
    assert capped.choices[0].finish_reason == "length"


async def test_a_client_leaving_mid_stream_leaves_the_worker_answering(
    echo_worker: tuple[ChatService, str],
) -> None:
    """A stream's reader that goes away after the first chunk: the exchange stays
    stored and the next client is answered. (This held before; it is kept here as one
    of the cases real clients bring.)"""
    service, url = echo_worker
    host, port = url.removeprefix("http://").split(":")
    for n in range(3):  # three conversations (the same one again would be a regenerate)
        said = [{"role": "user", "content": f"long {n} " * 1000}]
        body = json.dumps({"messages": said, "stream": True, "user": "u"}).encode()
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        await writer.drain()
        assert b"data: " in await asyncio.wait_for(reader.readuntil(b"data: "), 10)
        writer.transport.abort()  # gone, mid-stream
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        after = await http.post("/v1/chat/completions", json={"messages": HI})
    assert after.status_code == 200
    stored = await service.memory.history("openai:user:u")
    assert len(stored) == 6
