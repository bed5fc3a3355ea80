"""What a review of the worker's HTTP API as a hostile client found, each reproduced
first against a real uvicorn on loopback: a small body of many bad items held the event
loop, headers had no size limit, and a few answers were not what the README says."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from model.server.openai_api import MAX_CONTENT_PARTS, MAX_MESSAGES, SHOWN_CHARS
from model.server.slow_clients import MAX_HEAD_BYTES
from model.service import ChatService

CHAT = "/v1/chat/completions"


async def test_a_small_body_of_many_bad_items_is_refused_quickly(
    echo_worker: tuple[ChatService, str],
) -> None:
    # Before: {"messages": [1] * 10_000} (30 KB) took 18 s on the event loop, /health
    # waiting as long, and its 400 listed every item (579 KB).
    _, url = echo_worker
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        started = time.monotonic()
        many = await client.post(CHAT, json={"messages": [1] * 10 * MAX_MESSAGES})
        parts = [{"role": "user", "content": [1] * (MAX_CONTENT_PARTS + 1)}]
        many_parts = await client.post(CHAT, json={"messages": parts})
        under_cap = await client.post(CHAT, json={"messages": [1] * (MAX_MESSAGES - 1)})
        took = time.monotonic() - started
    assert many.status_code == 413 and str(MAX_MESSAGES) in many.json()["error"]["message"]
    assert many_parts.status_code == 413
    assert f"{MAX_CONTENT_PARTS + 1} content parts" in many_parts.json()["error"]["message"]
    assert under_cap.status_code == 400
    said = under_cap.json()["error"]["message"]
    assert said.startswith("Bad request: messages[0]: Input should be")
    assert said.endswith(f"and {MAX_MESSAGES - 1 - 5} more places.")
    assert len(under_cap.content) < 2000
    assert took < 10  # pairwise comparison of 1,999 places took seconds alone


async def test_headers_over_the_limit_get_431_and_the_connection_closes(
    echo_worker: tuple[ChatService, str],
) -> None:
    # Before: a 100 MB header was read whole (httptools has no cap) and answered 200.
    _, url = echo_worker
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(b"GET /health HTTP/1.1\r\nHost: localhost\r\nX-Big: ")
    try:
        for _ in range(2 * MAX_HEAD_BYTES // 8192 + 1):
            writer.write(b"a" * 8192)
            await writer.drain()
    except ConnectionError:
        pass  # closed while it was still writing: what was answered is still read
    answer = await asyncio.wait_for(reader.read(), timeout=10)
    writer.close()
    assert answer.startswith(b"HTTP/1.1 431 ")
    assert b"headers are too large" in answer
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        big_but_fine = {"X-Fine": "b" * (MAX_HEAD_BYTES // 2)}
        assert (await client.get("/health", headers=big_but_fine)).status_code == 200


@pytest.mark.parametrize("content", ["\u200b\u200b", "\u00ad\u2060\ufeff"])
async def test_a_message_of_invisible_characters_is_as_empty_as_a_blank_one(
    echo_worker: tuple[ChatService, str], content: str
) -> None:
    # Before: answered 200 with the worker's "what did you want to tell me?" line, marked
    # as her reply (X-ATRI-Status: ok).
    _, url = echo_worker
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        answer = await client.post(CHAT, json={"messages": [{"role": "user", "content": content}]})
    assert answer.status_code == 400
    assert answer.json()["error"]["message"] == "The last message must be a non-empty user message."


async def test_a_tool_result_right_after_the_users_message_is_refused(
    echo_worker: tuple[ChatService, str],
) -> None:
    # Before: the tool message was dropped and the user's message answered.
    _, url = echo_worker
    messages = [
        {"role": "user", "content": "hi"},
        {"role": "tool", "content": "result", "tool_call_id": "1"},
    ]
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        answer = await client.post(CHAT, json={"messages": messages})
    assert answer.status_code == 400
    assert answer.json()["error"]["message"].startswith("The last message is a tool's result")


async def test_head_models_a_slash_at_the_end_and_a_long_model_id(
    echo_worker: tuple[ChatService, str],
) -> None:
    _, url = echo_worker
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        head = await client.head("/v1/models")  # before: 405
        listed = await client.get("/v1/models")
        head_one = await client.head(f"/v1/models/{listed.json()['data'][0]['id']}")
        # Before: an empty 307 whose Location came from the Host header.
        slash = await client.post(
            f"{CHAT}/", json={"messages": [{"role": "user", "content": "hi"}]}
        )
        # Before: a 60 KB 404 repeating the id whole.
        long_id = await client.get("/v1/models/" + "a" * 60_000)
    assert head.status_code == 200 and head.content == b""
    assert head_one.status_code == 200
    assert slash.status_code == 404
    assert slash.json()["error"]["message"] == (
        f"No route {CHAT}/: drop the slash at its end ({CHAT})."
    )
    assert long_id.status_code == 404 and len(long_id.content) < SHOWN_CHARS + 500
    assert long_id.json()["error"]["code"] == "model_not_found"
