"""`stream_options` on /v1 as OpenAI's API takes it: only beside `stream: true` (otherwise
OpenAI's 400 naming it), an object whose `include_usage` is a boolean, and with
`include_usage: true` a last chunk that carries the usage, `"usage": null` on the others."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from model.engines.echo import EchoEngine
from model.server.openai_api import STREAM_OPTIONS_WITHOUT_STREAM
from model.service import ChatService

HI = {"role": "user", "content": "hi"}


@pytest.mark.parametrize("stream", [{}, {"stream": False}, {"stream": None}])
@pytest.mark.parametrize("options", [{"include_usage": True}, {"include_usage": None}, {}])
async def test_stream_options_without_a_stream_is_openais_400_before_any_work(
    echo_worker: tuple[ChatService, str], stream: dict[str, Any], options: dict[str, Any]
) -> None:
    service, url = echo_worker
    body = {"messages": [HI], "user": "u1", "stream_options": options, **stream}
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        answer = await http.post("/v1/chat/completions", json=body)
    assert answer.status_code == 400
    assert answer.json() == {
        "error": {
            "message": STREAM_OPTIONS_WITHOUT_STREAM,
            "type": "invalid_request_error",
            "param": "stream_options",
            "code": "invalid_request_error",
        }
    }
    # Refused, not answered: with `user` an answered exchange would be stored.
    assert await service.memory.scopes() == []


@pytest.mark.parametrize(
    ("options", "param", "problem"),
    [
        ("yes", "stream_options", "Input should be a JSON object"),
        (True, "stream_options", "Input should be a JSON object"),
        ([{"include_usage": True}], "stream_options", "Input should be a JSON object"),
        ({"include_usage": 1}, "stream_options.include_usage", "Input should be a valid boolean"),
        (
            {"include_usage": "true"},
            "stream_options.include_usage",
            "Input should be a valid boolean",
        ),
    ],
)
async def test_stream_options_of_the_wrong_type_are_a_400_naming_the_field(
    echo_worker: tuple[ChatService, str], options: Any, param: str, problem: str
) -> None:
    _, url = echo_worker
    body = {"messages": [HI], "stream": True, "stream_options": options}
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        answer = await http.post("/v1/chat/completions", json=body)
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["param"] == param and error["type"] == "invalid_request_error"
    assert error["message"].startswith(f"Bad request: {param}: {problem}")


def _chunks(text: str) -> list[dict[str, Any]]:
    events = text.split("\n\n")
    assert events[-2:] == ["data: [DONE]", ""]
    return [json.loads(e.removeprefix("data: ")) for e in events[:-2]]


async def test_include_usage_ends_the_stream_with_the_plain_answers_usage(
    echo_worker: tuple[ChatService, str],
) -> None:
    _, url = echo_worker
    asked = {"messages": [HI]}
    usage = {"stream": True, "stream_options": {"include_usage": True}}
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        plain = await http.post("/v1/chat/completions", json=asked)
        streamed = await http.post("/v1/chat/completions", json={**asked, **usage})
        without = await http.post(
            "/v1/chat/completions",
            json={**asked, "stream": True, "stream_options": {"include_usage": False}},
        )
    assert plain.status_code == streamed.status_code == without.status_code == 200
    *replies, last = _chunks(streamed.text)
    assert last["choices"] == [] and last["usage"] == plain.json()["usage"]
    assert last["usage"]["completion_tokens"] > 0
    assert last["usage"]["total_tokens"] == (
        last["usage"]["prompt_tokens"] + last["usage"]["completion_tokens"]
    )
    assert all(c["choices"] and c["usage"] is None for c in replies)
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in replies)
    assert text == EchoEngine.prefix + "hi"
    # Not asked for: no usage chunk, and no `usage` key on the chunks.
    assert all("usage" not in c and c["choices"] for c in _chunks(without.text))
