"""SillyTavern's Continue over /v1, as it sends it with "Continue prefill" on: her
unfinished reply last. The answer is only the rest of it (which SillyTavern appends),
streamed or not; nothing is stored; the prompt holds her reply and counts it."""

from __future__ import annotations

import json
from typing import Any

import httpx

from atri.config import Secrets, Settings
from model.character.prompt import TEMPLATE_OVERHEAD_TOKENS
from model.engines.echo import EchoEngine
from model.server.app import bind_socket, create_app, serving
from model.service import ChatService
from tests.held_echo import RecordingEcho

ST_MAIN = "Write ATRI's next reply in a fictional chat between ATRI and Natsuki."
SO_FAR = "I am fine, and the sea is"
CONTINUE = [
    {"role": "system", "content": ST_MAIN},
    {"role": "assistant", "content": "Good morning!"},
    {"role": "user", "content": "hi", "name": "Natsuki"},
    {"role": "assistant", "content": "Hello."},
    {"role": "user", "content": "how are you?", "name": "Natsuki"},
    {"role": "assistant", "content": SO_FAR},
]
ASKED = CONTINUE[:-1]
# What the echo writes for the user's turn she answers: the continuation.
REST = EchoEngine.prefix + "how are you?"


def streamed_text(answer: httpx.Response) -> tuple[str, str | None]:
    chunks = [json.loads(e.removeprefix("data: ")) for e in answer.text.split("\n\n")[:-2]]
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    return text, chunks[-1]["choices"][0]["finish_reason"]


async def post(url: str, body: dict[str, Any]) -> httpx.Response:
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        return await http.post("/v1/chat/completions", json=body)


async def test_a_continue_answers_only_the_rest_of_her_reply(
    echo_settings: Settings, secrets: Secrets
) -> None:
    engine = RecordingEcho()
    async with (
        await ChatService.open(echo_settings, engine=engine) as service,
        serving(create_app(service, secrets), bind_socket("127.0.0.1", 0)) as url,
    ):
        plain = await post(url, {"messages": CONTINUE})
        stream = await post(url, {"messages": CONTINUE, "stream": True})
        asked = await post(url, {"messages": ASKED})
    assert plain.status_code == stream.status_code == asked.status_code == 200
    choice = plain.json()["choices"][0]
    assert choice["message"]["content"] == REST and choice["finish_reason"] == "stop"
    assert streamed_text(stream) == (REST, "stop")
    # She was shown the conversation up to the user's turn, then her reply so far.
    continued, _, plain_chat = engine.prompts
    assert continued[:-1] == plain_chat
    assert continued[-1] == {"role": "assistant", "content": SO_FAR}
    assert [m["role"] for m in continued[1:]] == [
        "assistant",
        "user",
        "assistant",
        "user",
        "assistant",
    ]
    # Her reply so far is part of the prompt, and counted as such (the echo's token is a
    # character).
    added = plain.json()["usage"]["prompt_tokens"] - asked.json()["usage"]["prompt_tokens"]
    assert added == len(SO_FAR) + TEMPLATE_OVERHEAD_TOKENS


async def test_a_continue_is_capped_and_cut_as_a_reply_is(
    echo_worker: tuple[ChatService, str],
) -> None:
    _, url = echo_worker
    capped = await post(url, {"messages": CONTINUE, "max_tokens": 4})
    stopped = await post(url, {"messages": CONTINUE, "stop": ["are"], "stream": True})
    assert capped.json()["choices"][0]["message"]["content"] == REST[:4]
    assert capped.json()["choices"][0]["finish_reason"] == "length"
    assert streamed_text(stopped) == (REST[: REST.index("are")], "stop")


async def test_a_continue_with_a_user_stores_nothing(
    echo_worker: tuple[ChatService, str],
) -> None:
    """Her reply was stored when she first made it; the client keeps its whole text."""
    service, url = echo_worker
    plain = await post(url, {"messages": CONTINUE, "user": "natsuki"})
    stream = await post(url, {"messages": CONTINUE, "user": "natsuki", "stream": True})
    assert plain.json()["choices"][0]["message"]["content"] == REST
    assert streamed_text(stream) == (REST, "stop")
    assert await service.memory.history("openai:user:natsuki") == []
    # The same conversation asked, not continued, is stored as ever.
    assert (await post(url, {"messages": ASKED, "user": "natsuki"})).status_code == 200
    stored = await service.memory.history("openai:user:natsuki")
    assert [m.content for m in stored] == ["how are you?", REST]


async def test_a_reply_so_far_too_long_for_the_window_is_refused(
    echo_worker: tuple[ChatService, str],
) -> None:
    service, url = echo_worker
    huge = [*ASKED, {"role": "assistant", "content": "a" * service.engine.context_window}]
    answer = await post(url, {"messages": huge})
    assert answer.status_code == 400
    assert "Her unfinished reply takes" in answer.json()["error"]["message"]
    assert answer.json()["error"]["param"] == "messages"  # s69: was null
    assert service.engine.stats.generate_calls == 0
