"""The OpenAI-compatible /v1 API, spoken to by the official `openai` client."""

from __future__ import annotations

import asyncio
import json

import httpx
import openai
import pytest
from openai import AsyncOpenAI
from openai.types.chat import ChatCompletionMessageParam

from atri.config import Secrets, Settings
from model.engines.echo import EchoEngine
from model.protocol import ChatRequest
from model.server.app import bind_socket, create_app, serving
from model.service import ChatService
from tests.model.server.conftest import ADMIN_TOKEN

CONVERSATION: list[ChatCompletionMessageParam] = [
    {"role": "user", "content": "hello"},
    {"role": "assistant", "content": "hi, I am ATRI"},
    {"role": "user", "content": "what can you do?"},
]


def client(url: str, key: str = "anything") -> AsyncOpenAI:
    return AsyncOpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0)


async def test_chat_completion_with_the_official_client(
    echo_worker: tuple[ChatService, str],
) -> None:
    service, url = echo_worker
    async with client(url) as api:
        done = await api.chat.completions.create(model="atri", messages=CONVERSATION)
    assert done.choices[0].message.content == EchoEngine.prefix + "what can you do?"
    assert done.choices[0].finish_reason == "stop"
    assert done.model == "atri"
    assert done.system_fingerprint == "base"
    assert done.usage is not None and done.usage.completion_tokens > 0
    # Without a `user` field nothing is remembered.
    assert await service.memory.scopes() == []


async def test_streaming_sends_the_same_reply_in_chunks(
    echo_worker: tuple[ChatService, str],
) -> None:
    _, url = echo_worker
    async with client(url) as api:
        stream = await api.chat.completions.create(
            model="atri",
            messages=CONVERSATION,
            stream=True,
            stream_options={"include_usage": True},
        )
        chunks = [chunk async for chunk in stream]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == EchoEngine.prefix + "what can you do?"
    content_chunks = [c for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(content_chunks) > 1
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].usage is not None


class GatedEcho(EchoEngine):
    """Echo that answers only once the test lets it."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = asyncio.Event()
        self.go = asyncio.Event()

    async def generate(self, batch, gen, limits=None):  # type: ignore[no-untyped-def]
        self.entered.set()
        await self.go.wait()
        return await super().generate(batch, gen, limits)


async def test_a_stream_whose_client_leaves_before_the_reply_still_stores_it(
    echo_settings: Settings, secrets: Secrets
) -> None:
    """As a plain request's is: a stop button or a proxy's read timeout loses no exchange."""
    engine = GatedEcho()
    async with (
        await ChatService.open(echo_settings, engine=engine) as service,
        serving(create_app(service, secrets), bind_socket("127.0.0.1", 0)) as url,
    ):
        body = {"messages": [{"role": "user", "content": "hello"}], "user": "u1", "stream": True}
        async with httpx.AsyncClient(base_url=url, timeout=10) as http:
            # The headers wait for the reply: the client leaves while it is being written.
            asking = asyncio.create_task(http.post("/v1/chat/completions", json=body))
            await asyncio.wait_for(engine.entered.wait(), 10)
            asking.cancel()
            with pytest.raises(asyncio.CancelledError):
                await asking
        await asyncio.sleep(0.3)  # the worker sees the connection close
        engine.go.set()
        for _ in range(100):
            stored = await service.memory.history("openai:user:u1")
            if stored:
                break
            await asyncio.sleep(0.02)
        assert [m.content for m in stored] == ["hello", EchoEngine.prefix + "hello"]


class LiveVersionEcho(GatedEcho):
    """Gated echo serving an adapter version, as an engine does once a reload went live."""

    version = "20250101-000001"

    @property
    def adapter_version(self) -> str:
        return self.version

    async def generate(self, batch, gen, limits=None):  # type: ignore[no-untyped-def]
        done = await super().generate(batch, gen, limits)
        for generation in done:
            generation.adapter_version = self.version
        return done


def streamed_text(answer: httpx.Response) -> tuple[str, set[str]]:
    """The content of an SSE answer, and the fingerprints its chunks carry."""
    text, fingerprints = "", set()
    for line in answer.text.splitlines():
        if line.startswith("data: {"):
            chunk = json.loads(line.removeprefix("data: "))
            fingerprints.add(chunk.get("system_fingerprint"))
            text += "".join(c["delta"].get("content", "") for c in chunk["choices"])
    return text, fingerprints - {None}


async def test_a_busy_line_is_a_503_streamed_or_not(
    echo_settings: Settings, secrets: Secrets
) -> None:
    """A busy line is no model reply: a streamed one is OpenAI's 503 as a plain one is,
    although "busy" is decided only when the deadline passes; the reply after it names the
    adapter version that is live."""
    echo_settings.worker.request_timeout_seconds = 0.5
    engine = LiveVersionEcho()
    hi = [{"role": "user", "content": "hi"}]
    async with (
        await ChatService.open(echo_settings, engine=engine) as service,
        serving(create_app(service, secrets), bind_socket("127.0.0.1", 0)) as url,
        httpx.AsyncClient(base_url=f"{url}/v1", timeout=10) as http,
    ):
        streamed = await http.post("/chat/completions", json={"messages": hi, "stream": True})
        plain = await http.post("/chat/completions", json={"messages": hi})
        engine.go.set()
        answered = await http.post("/chat/completions", json={"messages": hi, "stream": True})
        busy = service.lines.busy
    for refused in (streamed, plain):
        assert refused.status_code == 503
        assert refused.headers["X-ATRI-Status"] == "busy"
        assert refused.headers["content-type"] == "application/json"
        assert refused.json()["error"]["type"] == "server_error"
        assert busy not in refused.text
    assert answered.headers["X-ATRI-Status"] == "ok"
    assert streamed_text(answered) == (EchoEngine.prefix + "hi", {engine.version})


async def test_a_refused_stream_is_openais_400_as_a_plain_request_is(
    echo_settings: Settings, secrets: Secrets
) -> None:
    """The client's own system prompt too long for the context window: refused with a
    sentence, which an OpenAI client shows as an error, streamed or not."""
    engine = EchoEngine()
    engine.context_window = 64
    echo_settings.generation.max_new_tokens = 16
    messages = [{"role": "system", "content": "x" * 200}, {"role": "user", "content": "hi"}]
    async with (
        await ChatService.open(echo_settings, engine=engine) as service,
        serving(create_app(service, secrets), bind_socket("127.0.0.1", 0)) as url,
        httpx.AsyncClient(base_url=f"{url}/v1", timeout=10) as http,
    ):
        answers = [
            await http.post("/chat/completions", json={"messages": messages, "stream": stream})
            for stream in (False, True)
        ]
        assert await service.memory.scopes() == []
    plain, streamed = answers
    assert plain.status_code == streamed.status_code == 400
    assert streamed.json() == plain.json()
    assert streamed.json()["error"]["type"] == "invalid_request_error"


async def test_models_lists_the_live_adapter(echo_worker: tuple[ChatService, str]) -> None:
    _, url = echo_worker
    async with client(url) as api:
        models = [m async for m in api.models.list()]
    assert [m.id for m in models] == ["atri"]
    assert models[0].model_extra is not None
    assert models[0].model_extra["root"] == "echo"


async def test_models_retrieve_answers_the_listed_model(
    echo_worker: tuple[ChatService, str],
) -> None:
    _, url = echo_worker
    async with client(url) as api:
        listed = [m async for m in api.models.list()]
        retrieved = await api.models.retrieve("atri")
    assert retrieved.id == "atri" and retrieved.object == "model"
    assert retrieved.owned_by == listed[0].owned_by
    assert retrieved.model_extra is not None and retrieved.model_extra["root"] == "echo"


async def test_user_field_stores_the_exchange_in_the_openai_scope(
    echo_worker: tuple[ChatService, str],
) -> None:
    service, url = echo_worker
    async with client(url) as api:
        await api.chat.completions.create(
            model="atri",
            messages=CONVERSATION,
            user="tavern-1",
        )
    stored = await service.memory.history("openai:user:tavern-1")
    assert [(m.role, m.content) for m in stored] == [
        ("user", "what can you do?"),
        ("assistant", EchoEngine.prefix + "what can you do?"),
    ]


async def test_bad_conversations_get_an_openai_error(
    echo_worker: tuple[ChatService, str],
) -> None:
    _, url = echo_worker
    async with client(url) as api:
        with pytest.raises(openai.BadRequestError, match="non-empty user message"):
            await api.chat.completions.create(
                model="atri",
                messages=[{"role": "system", "content": "be nice"}],
            )
        with pytest.raises(openai.BadRequestError, match="messages"):
            await api.chat.completions.create(model="atri", messages=[])


async def test_the_api_can_require_the_token(echo_settings: Settings) -> None:
    echo_settings.worker.openai_api_requires_token = True
    secrets = Secrets.from_env({"ATRI_ADMIN_TOKEN": ADMIN_TOKEN})
    async with (
        await ChatService.open(echo_settings) as service,
        serving(create_app(service, secrets), bind_socket("127.0.0.1", 0)) as url,
    ):
        async with client(url, "wrong") as api:
            with pytest.raises(openai.AuthenticationError):
                await api.chat.completions.create(model="atri", messages=CONVERSATION)
        async with client(url, ADMIN_TOKEN) as api:
            done = await api.chat.completions.create(model="atri", messages=CONVERSATION)
            assert done.choices[0].message.content


class RecordingEngine(EchoEngine):
    """Echo, slowly, and remember every prompt and when each batch ran."""

    def __init__(self, delay: float = 0.05) -> None:
        super().__init__()
        self.delay = delay
        self.prompts: list[list[dict[str, str]]] = []
        self.batches: list[list[str]] = []

    async def generate(self, batch, gen):  # type: ignore[no-untyped-def]
        self.prompts += batch
        self.batches.append([m[-1]["content"] for m in batch])
        await asyncio.sleep(self.delay)
        return await super().generate(batch, gen)


async def test_the_character_prompt_leads_unless_the_client_sends_one_for_her(
    echo_settings: Settings, secrets: Secrets
) -> None:
    engine = RecordingEngine(delay=0)
    async with (
        await ChatService.open(echo_settings, engine) as service,
        serving(create_app(service, secrets), bind_socket("127.0.0.1", 0)) as url,
        client(url) as api,
    ):
        await api.chat.completions.create(model="atri", messages=CONVERSATION)
        own: list[ChatCompletionMessageParam] = [
            {"role": "system", "content": "You are ATRI, a pirate."},
            {"role": "user", "content": [{"type": "text", "text": "ahoy"}]},
        ]
        await api.chat.completions.create(model="atri", messages=own)
    persona, pirate = engine.prompts
    assert persona[0] == {"role": "system", "content": service.system_prompt}
    assert persona[1:] == CONVERSATION
    assert pirate == [
        {"role": "system", "content": "You are ATRI, a pirate."},
        {"role": "user", "content": "ahoy"},
    ]


async def test_concurrent_requests_of_one_user_are_answered_in_order_and_stored_whole(
    echo_settings: Settings, secrets: Secrets
) -> None:
    """The drift this guards against: /v1 once kept its own copy of the chat path, without
    the per-conversation lock and the shielded write that bot chats take."""
    engine = RecordingEngine()
    async with (
        await ChatService.open(echo_settings, engine) as service,
        serving(create_app(service, secrets), bind_socket("127.0.0.1", 0)) as url,
        client(url) as api,
    ):

        async def ask(text: str) -> None:
            await api.chat.completions.create(
                model="atri", messages=[{"role": "user", "content": text}], user="u"
            )

        # A bot chat of the same conversation (platform "openai", user "u") takes the
        # same lock as the two API requests.
        bot = service.chat(ChatRequest(platform="openai", user_id="u", text="three"))
        await asyncio.gather(ask("one"), ask("two"), bot)
        stored = await service.memory.history("openai:user:u")
    # One at a time: never two messages of one conversation in a batch.
    assert all(len(batch) == 1 for batch in engine.batches)
    assert len(stored) == 6
    for question, answer in zip(stored[::2], stored[1::2], strict=True):
        assert question.role == "user" and answer.role == "assistant"
        assert answer.content == EchoEngine.prefix + question.content
    assert sorted(m.content for m in stored[::2]) == ["one", "three", "two"]
    assert [m.content for m in stored[::2]] == [b[0] for b in engine.batches]


async def test_anonymous_requests_are_batched_together(
    echo_settings: Settings, secrets: Secrets
) -> None:
    engine = RecordingEngine()
    async with (
        await ChatService.open(echo_settings, engine) as service,
        serving(create_app(service, secrets), bind_socket("127.0.0.1", 0)) as url,
        client(url) as api,
    ):
        await asyncio.gather(
            *(
                api.chat.completions.create(
                    model="atri", messages=[{"role": "user", "content": f"m{i}"}]
                )
                for i in range(4)
            )
        )
        assert await service.memory.scopes() == []
    assert max(len(batch) for batch in engine.batches) > 1


@pytest.mark.parametrize("requires_token", [False, True])
async def test_an_open_api_limits_each_client_address_whatever_user_it_names(
    echo_settings: Settings, requires_token: bool
) -> None:
    """Without the token anyone may name any `user` (or none), so the limit that a flood
    from one client cannot dodge is its address; token holders are trusted like bots."""
    echo_settings.worker.rate_limit_per_minute = 2
    echo_settings.worker.openai_api_requires_token = requires_token
    echo_settings.worker.trusted_proxies = ["127.0.0.1"]
    secrets = Secrets.from_env({"ATRI_ADMIN_TOKEN": ADMIN_TOKEN})
    hi = [{"role": "user", "content": "hi"}]
    key = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    async with (
        await ChatService.open(echo_settings) as service,
        serving(create_app(service, secrets), bind_socket("127.0.0.1", 0)) as url,
        httpx.AsyncClient(base_url=f"{url}/v1", headers=key) as http,
    ):

        async def status(body: dict[str, object], **headers: str) -> str:
            answer = await http.post("/chat/completions", json=body, headers=headers)
            told = answer.headers["X-ATRI-Status"]
            assert answer.status_code == (429 if told == "rate_limited" else 200)
            return told

        told = [await status({"messages": hi, "user": f"u{i}"}) for i in range(2)]
        told.append(await status({"messages": hi}))  # anonymous: no user limit applies
        streamed = await http.post("/chat/completions", json={"messages": hi, "stream": True})
        # A proxy on this machine ([worker] trusted_proxies) passes on each client's
        # own address.
        proxied = await status({"messages": hi}, **{"X-Forwarded-For": "203.0.113.7"})
    if requires_token:
        assert told == ["ok", "ok", "ok"]
        assert EchoEngine.prefix in streamed.text
        assert streamed.headers["X-ATRI-Status"] == "ok"
    else:
        assert told == ["ok", "ok", "rate_limited"]
        assert streamed.status_code == 429 and EchoEngine.prefix not in streamed.text
        assert streamed.headers["X-ATRI-Status"] == "rate_limited"
        assert proxied == "ok"


async def test_max_tokens_caps_the_reply_and_says_length(
    echo_worker: tuple[ChatService, str],
) -> None:
    """The echo engine counts a character as a token, so a cap cuts characters."""
    _, url = echo_worker
    whole = EchoEngine.prefix + "what can you do?"
    async with client(url) as api:
        capped = await api.chat.completions.create(
            model="atri", messages=CONVERSATION, max_tokens=9
        )
        newer = await api.chat.completions.create(
            model="atri", messages=CONVERSATION, max_completion_tokens=13, max_tokens=40
        )
        roomy = await api.chat.completions.create(
            model="atri", messages=CONVERSATION, max_tokens=len(whole) + 5, n=1
        )
        stream = await api.chat.completions.create(
            model="atri", messages=CONVERSATION, max_tokens=9, stream=True
        )
        chunks = [chunk async for chunk in stream]
    assert capped.choices[0].message.content == whole[:9]
    assert capped.choices[0].finish_reason == "length"
    # Usage counts the tokens generated, never more than the cap (it re-counted the
    # decoded text, which a cut multi-byte character or a trimmed reply changes).
    assert capped.usage is not None and capped.usage.completion_tokens == 9
    # Both given: the smaller applies.
    assert newer.choices[0].message.content == whole[:13]
    assert roomy.choices[0].message.content == whole
    assert roomy.choices[0].finish_reason == "stop"
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == whole[:9]
    assert chunks[-1].choices[0].finish_reason == "length"


async def test_stop_cuts_the_reply_before_the_first_stop_string_and_stores_that(
    echo_worker: tuple[ChatService, str],
) -> None:
    service, url = echo_worker
    async with client(url) as api:
        one = await api.chat.completions.create(
            model="atri", messages=CONVERSATION, stop="do", user="tavern-2"
        )
        listed = await api.chat.completions.create(
            model="atri", messages=CONVERSATION, stop=["you", "can", "\nUser:"]
        )
        absent = await api.chat.completions.create(
            model="atri", messages=CONVERSATION, stop=["\nUser:"]
        )
    assert one.choices[0].message.content == EchoEngine.prefix + "what can you "
    assert one.choices[0].finish_reason == "stop"
    # The earliest of the strings wins, not the first listed.
    assert listed.choices[0].message.content == EchoEngine.prefix + "what "
    assert absent.choices[0].message.content == EchoEngine.prefix + "what can you do?"
    stored = await service.memory.history("openai:user:tavern-2")
    assert stored[-1].content == EchoEngine.prefix + "what can you"  # without the space


async def test_a_reply_cut_to_nothing_by_stop_goes_through_the_guard(
    echo_settings: Settings, secrets: Secrets
) -> None:
    """The guard sees the cut reply: cut to nothing, it is regenerated, then replaced."""
    echo_settings.worker.ooc_max_retries = 1
    async with (
        await ChatService.open(echo_settings, engine=EchoEngine()) as service,
        serving(create_app(service, secrets), bind_socket("127.0.0.1", 0)) as url,
        client(url) as api,
    ):
        done = await api.chat.completions.create(
            model="atri", messages=CONVERSATION, stop=EchoEngine.prefix[:2]
        )
        assert service.ooc_regenerations == 1
    assert done.choices[0].message.content == "……"


class LimitRecordingEcho(EchoEngine):
    """Echo that remembers each batch's rows with their limits."""

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[list[tuple[str, int]]] = []

    async def generate(self, batch, gen, limits=None):  # type: ignore[no-untyped-def]
        await asyncio.sleep(0.05)
        caps = [limit.max_new_tokens for limit in limits] if limits else [0] * len(batch)
        self.batches.append([(m[-1]["content"], cap) for m, cap in zip(batch, caps, strict=True)])
        return await super().generate(batch, gen, limits)


async def test_requests_with_different_caps_share_a_batch_and_keep_their_own(
    echo_settings: Settings, secrets: Secrets
) -> None:
    engine = LimitRecordingEcho()
    async with (
        await ChatService.open(echo_settings, engine) as service,
        serving(create_app(service, secrets), bind_socket("127.0.0.1", 0)) as url,
        client(url) as api,
    ):
        replies = await asyncio.gather(
            *(
                api.chat.completions.create(
                    model="atri", messages=[{"role": "user", "content": "hello there"}], **cap
                )
                for cap in ({"max_tokens": 8}, {"max_tokens": 10}, {})
            )
        )
    assert [r.choices[0].message.content for r in replies] == [
        (EchoEngine.prefix + "hello there")[:8],
        (EchoEngine.prefix + "hello there")[:10],
        EchoEngine.prefix + "hello there",
    ]
    assert sorted(engine.batches[0]) == [
        ("hello there", 0),
        ("hello there", 8),
        ("hello there", 10),
    ]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("max_tokens", 0),
        ("max_tokens", -3),
        ("max_tokens", 2.5),
        ("max_tokens", "12"),
        ("max_tokens", True),
        ("max_completion_tokens", 0),
        ("stop", ""),
        ("stop", [""]),
        ("stop", ["a", "b", "c", "d", "e"]),
        ("stop", 5),
        # One reply is written per request: more choices are refused, not quietly fewer.
        ("n", 2),
        ("n", 0),
        ("n", "x"),
        ("n", True),
    ],
)
async def test_a_bad_max_tokens_or_stop_is_openais_400(
    echo_worker: tuple[ChatService, str], field: str, value: object
) -> None:
    _, url = echo_worker
    body = {"messages": [{"role": "user", "content": "hi"}], field: value}
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        response = await http.post("/v1/chat/completions", json=body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert field in error["message"]
