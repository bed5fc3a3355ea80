"""/v1 probed as SillyTavern, Open WebUI and OpenAI's own API reference call it: a client
that leaves before its reply, fields sent as null, a conversation that does not end with
the user's turn, empty messages, and OpenAI's error format at every /v1 address."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from typing import Any

import httpx
import pytest

from atri.config import GenerationSettings, Secrets, Settings
from model.character.prompt import ChatMessages
from model.engines.base import Generation, RowLimits
from model.engines.echo import EchoEngine
from model.server.app import bind_socket, create_app, serving
from model.service import ChatService

HI = {"role": "user", "content": "hi"}
ST_MAIN = "Write ATRI's next reply in a fictional chat between ATRI and Natsuki."


class SlowRows(EchoEngine):
    """An echo whose rows join a running batch (as llama.cpp's and vLLM's do) and end
    after `seconds`, unless given up: what became of each row is kept."""

    def __init__(self, seconds: float = 2.0) -> None:
        super().__init__()
        self.seconds = seconds
        self.rows: list[tuple[str, asyncio.Future[Generation]]] = []

    def generate_rows(
        self,
        batch: list[ChatMessages],
        gen: GenerationSettings,
        limits: Sequence[RowLimits] | None = None,
    ) -> list[asyncio.Future[Generation]]:
        loop = asyncio.get_running_loop()
        started = []
        for messages in batch:
            said = messages[-1]["content"]
            row: asyncio.Future[Generation] = loop.create_future()
            loop.call_later(self.seconds, _end, row, self.prefix + said)
            self.rows.append((said, row))
            started.append(row)
        return started


def _end(row: asyncio.Future[Generation], text: str) -> None:
    if not row.done():
        row.set_result(Generation(text=text, new_tokens=len(text)))


class GatedEcho(EchoEngine):
    """One batch at a time (as the local engine), each answered once the test lets it;
    the last message of every batch it was given is kept."""

    def __init__(self) -> None:
        super().__init__()
        self.said: list[str] = []
        self.entered = asyncio.Event()
        self.go = asyncio.Event()

    async def generate(self, batch, gen, limits=None):  # type: ignore[no-untyped-def]
        self.said += [messages[-1]["content"] for messages in batch]
        self.entered.set()
        await self.go.wait()
        return await super().generate(batch, gen, limits)


async def ask_and_leave(url: str, body: dict[str, Any], until: Any) -> None:
    """POST `body` on a raw connection and drop it (a stop button) once `until()` holds."""
    host, port = url.removeprefix("http://").rsplit(":", 1)
    raw = json.dumps(body).encode()
    _, writer = await asyncio.open_connection(host, int(port))
    writer.write(
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {len(raw)}\r\n\r\n".encode()
        + raw
    )
    await writer.drain()
    for _ in range(500):
        if until():
            break
        await asyncio.sleep(0.01)
    assert until(), "the request never reached the engine"
    writer.transport.abort()


async def test_a_client_that_leaves_stops_its_generation_unless_it_is_stored(
    echo_settings: Settings, secrets: Secrets, caplog: pytest.LogCaptureFixture
) -> None:
    """A stop button in SillyTavern or Open WebUI while she writes: without `user` nothing
    would be kept, so the row is given up (llama.cpp and vLLM stop decoding it); with
    `user` it is written and stored. Before, every row was decoded to its end."""
    engine = SlowRows()
    caplog.set_level(logging.INFO)
    async with (
        await ChatService.open(echo_settings, engine=engine) as service,
        serving(create_app(service, secrets), bind_socket("127.0.0.1", 0)) as url,
    ):
        for n, extra in enumerate([{}, {"stream": True}, {"user": "natsuki"}]):
            body = {"messages": [{"role": "user", "content": f"message {n}"}], **extra}
            await ask_and_leave(url, body, lambda n=n: len(engine.rows) > n)
        # The reply is stored a moment after its row ends: under load (CI) that moment
        # can pass the rows' end, so wait for the stored pair itself.
        for _ in range(1000):
            stored = await service.memory.history("openai:user:natsuki")
            if all(row.done() for _, row in engine.rows) and len(stored) >= 2:
                break
            await asyncio.sleep(0.01)
        async with httpx.AsyncClient(base_url=url, timeout=10) as http:
            after = await http.post("/v1/chat/completions", json={"messages": [HI]})
    gone = {said: row.cancelled() for said, row in engine.rows}
    assert gone == {"message 0": True, "message 1": True, "message 2": False, "hi": False}
    assert [m.content for m in stored] == ["message 2", engine.prefix + "message 2"]
    assert after.status_code == 200
    left = [r for r in caplog.records if "left before its reply" in r.getMessage()]
    assert len(left) == 2
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]


async def test_a_client_that_leaves_while_queued_never_reaches_the_engine(
    echo_settings: Settings, secrets: Secrets
) -> None:
    """One batch at a time (the local engine): a request waiting behind it whose client
    leaves is dropped from the queue, not generated once the batch ends."""
    echo_settings.worker.max_batch = 1
    engine = GatedEcho()
    async with (
        await ChatService.open(echo_settings, engine=engine) as service,
        serving(create_app(service, secrets), bind_socket("127.0.0.1", 0)) as url,
        httpx.AsyncClient(base_url=url, timeout=10) as http,
    ):
        first = asyncio.create_task(
            http.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": "a"}]})
        )
        await asyncio.wait_for(engine.entered.wait(), 10)
        queued = {"messages": [{"role": "user", "content": "b"}]}
        await ask_and_leave(url, queued, lambda: service.batcher.depth == 1)
        for _ in range(200):
            if service.batcher.depth == 0:
                break
            await asyncio.sleep(0.01)
        engine.go.set()
        answered = await first
        again = await http.post("/v1/chat/completions", json={"messages": [HI]})
    assert answered.status_code == again.status_code == 200
    assert engine.said == ["a", "hi"]


@pytest.mark.parametrize(
    "extra",
    [
        {"stream": None},
        {"stream": False, "stream_options": None},
        # Every nullable field null, as clients that write all their fields send it.
        {
            "stream": None,
            "stream_options": None,
            "max_tokens": None,
            "max_completion_tokens": None,
            "stop": None,
            "n": None,
            "user": None,
            "temperature": None,
            "seed": None,
            "logprobs": None,
            "top_logprobs": None,
            "response_format": None,
            "tools": None,
            "tool_choice": None,
            "modalities": None,
        },
    ],
)
async def test_fields_sent_as_null_are_absent(
    echo_worker: tuple[ChatService, str], extra: dict[str, Any]
) -> None:
    """OpenAI's spec allows null for these: `"stream": null` was refused as no boolean."""
    _, url = echo_worker
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        answer = await http.post("/v1/chat/completions", json={"messages": [HI], **extra})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/json"
    assert answer.json()["choices"][0]["message"]["content"] == EchoEngine.prefix + "hi"


async def test_a_stream_with_a_null_include_usage_has_no_usage_chunk(
    echo_worker: tuple[ChatService, str],
) -> None:
    _, url = echo_worker
    body = {"messages": [HI], "stream": True, "stream_options": {"include_usage": None}}
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        answer = await http.post("/v1/chat/completions", json=body)
    assert answer.status_code == 200
    assert '"usage"' not in answer.text and answer.text.endswith("data: [DONE]\n\n")


CONTINUE_NUDGE = (
    "[Continue the following message. Do not include ANY parts of the original message. "
    "Use capitalization and punctuation as if your reply is a part of the original "
    "message: I am fine and]"
)
IMPERSONATE = (
    "[Write your next reply from the point of view of Natsuki, using the chat history so "
    "far as a guideline for the writing style of Natsuki. Don't write as ATRI or system.]"
)
TOOL_CALL = {
    "role": "assistant",
    "content": None,
    "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}],
}


@pytest.mark.parametrize(
    ("last", "said"),
    [
        # An empty reply of hers last: nothing to go on with (with text, it is continued).
        ([{"role": "assistant", "content": ""}], "her unfinished reply after one"),
        # SillyTavern's Continue without prefill (the default), and Impersonate: a system
        # instruction after her reply. Both were told "SillyTavern's Continue" alone.
        ([{"role": "assistant", "content": "I am fine and"}, {"role": "system", "content": CONTINUE_NUDGE}], "Continue prefill"),
        ([{"role": "assistant", "content": "Hi!"}, {"role": "system", "content": IMPERSONATE}], "Impersonate"),
        # A tool's result: she was told to continue "her own message".
        ([TOOL_CALL, {"role": "tool", "tool_call_id": "c1", "content": "42"}], "calls no tools"),
    ],
)  # fmt: skip
async def test_a_conversation_not_ending_with_the_user_is_refused_saying_what_came_last(
    echo_worker: tuple[ChatService, str], last: list[dict[str, Any]], said: str
) -> None:
    service, url = echo_worker
    messages = [{"role": "system", "content": ST_MAIN}, HI, *last]
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        answer = await http.post("/v1/chat/completions", json={"messages": messages})
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["param"] == "messages" and error["type"] == "invalid_request_error"
    assert said in error["message"] and "user" in error["message"]
    assert service.engine.stats.generate_calls == 0


async def test_earlier_messages_without_text_are_not_shown_her(
    echo_settings: Settings, secrets: Secrets
) -> None:
    """SillyTavern keeps empty messages, and an assistant's tool call has no content: she
    was shown them as empty turns of the chat."""
    prompts: list[ChatMessages] = []

    class Recording(EchoEngine):
        async def generate(self, batch, gen, limits=None):  # type: ignore[no-untyped-def]
            prompts.extend(batch)
            return await super().generate(batch, gen, limits)

    messages = [
        {"role": "system", "content": ST_MAIN},
        {"role": "assistant", "content": "Good morning!", "name": "ATRI"},
        {"role": "user", "content": "hi", "name": "Natsuki"},
        {"role": "assistant", "content": "", "name": "ATRI"},
        {"role": "user", "content": [{"type": "text", "text": " "}], "name": "Natsuki"},
        TOOL_CALL,
        {"role": "tool", "tool_call_id": "c1", "content": "42"},
        {"role": "user", "content": "how are you?", "name": "Natsuki"},
    ]
    async with (
        await ChatService.open(echo_settings, engine=Recording()) as service,
        serving(create_app(service, secrets), bind_socket("127.0.0.1", 0)) as url,
        httpx.AsyncClient(base_url=url, timeout=10) as http,
    ):
        answer = await http.post("/v1/chat/completions", json={"messages": messages})
    assert answer.status_code == 200
    chat = [(m["role"], m["content"]) for m in prompts[0][1:]]
    assert chat == [("assistant", "Good morning!"), ("user", "hi"), ("user", "how are you?")]


@pytest.mark.parametrize(
    ("extra", "param", "said"),
    [
        # SillyTavern's Custom source sends these while a user setting is on.
        ({"n": 2}, "n", "Multiple swipes per generation"),
        ({"logprobs": True, "top_logprobs": 5}, "logprobs", "Request token probabilities"),
        # A list over OpenAI's 4: told what is wrong with it, not also that it is no string.
        ({"stop": ["a", "b", "c", "d", "e"]}, "stop", "at most 4 items"),
    ],
)
async def test_what_sillytavern_settings_send_is_refused_naming_the_setting(
    echo_worker: tuple[ChatService, str], extra: dict[str, Any], param: str, said: str
) -> None:
    _, url = echo_worker
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        answer = await http.post("/v1/chat/completions", json={"messages": [HI], **extra})
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["param"] == param and said in error["message"]
    assert "valid string" not in error["message"]


async def test_every_v1_address_answers_in_openais_error_format(
    echo_worker: tuple[ChatService, str],
) -> None:
    """`/v1` itself answered FastAPI's {"detail": "Not Found"}; a GET of the chat route a
    bare "Method Not Allowed"; a body that is no JSON named param "1" (a position)."""
    _, url = echo_worker
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        root = await http.get("/v1")
        got = await http.get("/v1/chat/completions")
        broken = await http.post(
            "/v1/chat/completions",
            content=b'{"messages": [',
            headers={"Content-Type": "application/json"},
        )
    assert root.status_code == 404
    assert "POST /v1/chat/completions" in root.json()["error"]["message"]
    assert got.status_code == 405
    assert got.json()["error"]["message"] == (
        "GET /v1/chat/completions is not served; it takes POST."
    )
    assert got.json()["error"]["code"] == "method_not_allowed"
    assert broken.status_code == 400
    assert broken.json()["error"]["param"] is None
    assert "not valid JSON" in broken.json()["error"]["message"]


async def test_sillytavern_and_open_webui_bodies_stream_in_openais_framing(
    echo_worker: tuple[ChatService, str],
) -> None:
    """What each sends, as its source builds it: every event one `data: {…}` line and a
    blank line, the finish reason on the last choice chunk, usage only when asked for,
    then `data: [DONE]`."""
    _, url = echo_worker
    sillytavern = {
        "messages": [
            {"role": "system", "content": ST_MAIN},
            {"role": "system", "content": "[Start a new Chat]"},
            {"role": "user", "content": "hi", "name": "Natsuki"},
            {"role": "system", "content": "[Author's note: it rains]"},
        ],
        "model": "atri",
        "temperature": 1,
        "frequency_penalty": 0,
        "presence_penalty": 0,
        "top_p": 1,
        "top_k": 0,
        "max_tokens": 300,
        "stream": True,
        "logit_bias": {},
        "stop": ["\nNatsuki:"],
        "seed": 7,
        "n": 1,
        "user_name": "Natsuki",
        "char_name": "ATRI",
        "chat_completion_source": "custom",
    }
    open_webui = {
        "model": "atri",
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "hi", "cache_control": {"type": "ephemeral"}}]}
        ],
        "stream": True,
        "stream_options": {"include_usage": True},
    }  # fmt: skip
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        answers = [
            await http.post("/v1/chat/completions", json=body) for body in (sillytavern, open_webui)
        ]
    for answer, usage in zip(answers, (False, True), strict=True):
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/event-stream")
        events = answer.text.split("\n\n")
        assert events[-2:] == ["data: [DONE]", ""]
        chunks = [json.loads(e.removeprefix("data: ")) for e in events[:-2]]
        assert all(e.startswith("data: {") and "\n" not in e for e in events[:-2])
        with_choices = [c for c in chunks if c["choices"]]
        assert [c["choices"][0]["finish_reason"] for c in with_choices][-1] == "stop"
        assert all(c["choices"][0]["finish_reason"] is None for c in with_choices[:-1])
        text = "".join(c["choices"][0]["delta"].get("content", "") for c in with_choices)
        assert text == EchoEngine.prefix + "hi"
        assert ("usage" in chunks[-1] and chunks[-1]["choices"] == []) is usage


async def test_a_model_name_the_client_defaults_to_is_answered_and_echoed(
    echo_worker: tuple[ChatService, str],
) -> None:
    """A client that sends its own default model name (`gpt-4o`) is answered by her, as
    the README says, and gets that name back, as OpenAI's answers carry the one asked."""
    _, url = echo_worker
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        answer = await http.post("/v1/chat/completions", json={"model": "gpt-4o", "messages": [HI]})
    assert answer.status_code == 200, answer.text
    assert answer.json()["model"] == "gpt-4o"
    assert answer.json()["choices"][0]["message"]["content"] == EchoEngine.prefix + "hi"
