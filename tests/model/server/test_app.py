"""The worker's own HTTP routes and HttpWorker, served by uvicorn on loopback."""

from __future__ import annotations

import asyncio
import io
import re
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

import httpx
import pytest
from pydantic import SecretStr
from rich.console import Console

from atri.config import Secrets, Settings, WorkerSettings
from atri.errors import ConfigError
from bot.relay import HttpWorker, OtherRelease, WorkerUnreachable
from bot.serve import serve
from model.engines.echo import EchoEngine
from model.protocol import (
    PROTOCOL_HEADER,
    PROTOCOL_VERSION,
    ChannelSetting,
    ChatRequest,
    MessageRef,
    ReplyCut,
    ScopeRef,
    Worker,
)
from model.server.app import MAX_BODY_BYTES, bind_socket, create_app, serving
from model.service import ChatService
from tests.model.server.conftest import ADMIN_TOKEN

ADMIN_ROUTES = [
    ("/chat", {"platform": "test", "user_id": "u1", "text": "hi"}),
    ("/reset", {"platform": "test", "user_id": "u1"}),
    ("/purge", {"platform": "test", "user_id": "u1"}),
    ("/reload", None),
    ("/rollback", None),
    ("/channels", {"platform": "test", "channel_id": "c1", "mode": "off"}),
    ("/cut-reply", {"platform": "test", "user_id": "u1", "request_id": "m1", "sent": "a"}),
    ("/forget-message", {"platform": "test", "user_id": "u1", "request_id": "m1"}),
]


def client_settings(settings: Settings, url: str) -> WorkerSettings:
    copy = settings.worker.model_copy(deep=True)
    copy.url = url
    return copy


@pytest.mark.parametrize(("path", "body"), ADMIN_ROUTES)
async def test_admin_routes_refuse_without_the_token(
    echo_worker: tuple[ChatService, str], path: str, body: object
) -> None:
    service, url = echo_worker
    async with httpx.AsyncClient(base_url=url) as client:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": ADMIN_TOKEN}):
            response = await client.post(path, json=body, headers=headers)
            assert response.status_code == 401
            assert response.headers["www-authenticate"] == "Bearer"
            assert "ATRI_ADMIN_TOKEN" in response.json()["detail"]
        good = await client.post(
            path, json=body, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
        )
        assert good.status_code == 200
    assert service.engine.stats.generate_calls == (1 if path == "/chat" else 0)


async def test_without_a_configured_token_admin_routes_refuse_everything(
    echo_settings: Settings,
) -> None:
    async with (
        await ChatService.open(echo_settings) as service,
        serving(create_app(service, Secrets()), bind_socket("127.0.0.1", 0)) as url,
        httpx.AsyncClient(base_url=url) as client,
    ):
        for path, body in ADMIN_ROUTES:
            for token in ("x", "None", ADMIN_TOKEN):
                response = await client.post(
                    path, json=body, headers={"Authorization": f"Bearer {token}"}
                )
                assert response.status_code == 401, path
        assert (await client.get("/health")).json() == {"ok": True}


async def test_open_routes_answer_without_a_token(echo_worker: tuple[ChatService, str]) -> None:
    _, url = echo_worker
    async with httpx.AsyncClient(base_url=url) as client:
        assert (await client.get("/health")).json() == {"ok": True}
        # Uptime monitors often probe with HEAD: the same answer without its body.
        assert (await client.head("/health")).status_code == 200
        status = (await client.get("/status")).json()
        assert status["engine"] == "echo"
        assert status["queue_depth"] == 0
        metrics = await client.get("/metrics")
        assert metrics.headers["content-type"].startswith("text/plain")
        for name in (
            "atri_requests_total",
            "atri_request_latency_seconds",
            "atri_batch_size",
            "atri_generated_tokens_total",
            "atri_tokens_per_second",
            "atri_ooc_regenerations_total",
            "atri_reloads_total",
            "atri_queue_depth",
        ):
            assert name in metrics.text


async def test_open_status_hides_reload_messages_from_strangers(
    echo_worker: tuple[ChatService, str],
) -> None:
    service, url = echo_worker
    await service.reload()  # the echo engine refuses, with a message
    async with httpx.AsyncClient(base_url=url) as client:
        open_view = (await client.get("/status")).json()
        admin_view = (
            await client.get("/status", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
        ).json()
    assert open_view["last_reload"]["ok"] is False
    assert not {"message", "reason", "folder"} & open_view["last_reload"].keys()
    assert open_view["last_reload"]["code"] == "no_adapters"
    assert "loaded_adapters" not in open_view["details"]
    assert "echo engine has no adapters" in admin_view["last_reload"]["message"]


async def test_bad_requests_are_rejected_with_one_sentence(
    echo_worker: tuple[ChatService, str],
) -> None:
    _, url = echo_worker
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    async with httpx.AsyncClient(base_url=url, headers=headers) as client:
        missing = await client.post("/chat", json={"platform": "test"})
        assert missing.status_code == 422
        assert missing.json()["detail"].startswith("Bad request: user_id: Field required")
        garbage = await client.post("/chat", content=b"{not json", headers=headers)
        assert garbage.status_code == 422


async def test_http_worker_is_a_faithful_worker(
    echo_worker: tuple[ChatService, str], echo_settings: Settings, secrets: Secrets
) -> None:
    service, url = echo_worker
    async with HttpWorker(client_settings(echo_settings, url), secrets) as remote:
        assert isinstance(remote, Worker)
        request = ChatRequest(platform="test", user_id="u1", text="hello", display_name="Kai")
        reply = await remote.chat(request)
        assert reply.status == "ok"
        assert reply.text == EchoEngine.prefix + "hello"
        assert reply.scope == "test:user:u1"
        await remote.chat(request.model_copy(update={"text": "again"}))
        assert len(await service.memory.history(reply.scope)) == 4
        first = (await service.memory.all_messages(reply.scope))[1]
        assert await service.memory.add_summary(reply.scope, "- Kai said hello", first.id, "v9")
        remembered = await remote.remembered(ScopeRef(platform="test", user_id="u1"))
        assert remembered == await service.remembered(ScopeRef(platform="test", user_id="u1"))
        assert remembered.summary == "- Kai said hello"
        assert remembered.summary_adapter_version == "v9"
        assert [t.content for t in remembered.turns] == ["again", EchoEngine.prefix + "again"]
        status = await remote.status()
        assert status.engine == "echo"
        assert status.details["generate_calls"] == 2
        assert status.details["early_kv_frees"] == 0  # an engine that parks no KV cells
        assert await remote.reset(ScopeRef(platform="test", user_id="u1")) == 4
        assert await service.memory.history(reply.scope) == []
        assert await remote.purge(ScopeRef(platform="test", user_id="u1")) == 4
        assert await service.memory.all_messages(reply.scope) == []
        heard = request.model_copy(update={"channel_id": "c1", "addressed": False})
        assert (await remote.chat(heard)).status == "heard"
        assert len(await service.memory.room.all_lines("test:chan:c1")) == 1
        local_reload = await service.reload()
        assert await remote.reload() == local_reload
        assert await remote.rollback() == await service.rollback()
        await remote.set_channel_mode(ChannelSetting(platform="qq", channel_id="300", mode="all"))
        assert await remote.channel_modes("qq") == {"300": "all"}
        assert await service.channel_modes("qq") == {"300": "all"}
        assert await remote.channel_modes("discord") == {}


async def test_a_cut_reply_and_a_deleted_message_change_only_their_exchange(
    echo_worker: tuple[ChatService, str], echo_settings: Settings, secrets: Secrets
) -> None:
    service, url = echo_worker
    async with HttpWorker(client_settings(echo_settings, url), secrets) as remote:
        for n in range(3):
            request = ChatRequest(platform="qq", user_id="u1", text=f"第{n}条", request_id=f"m{n}")
            await remote.chat(request)
        scope = "qq:user:u1"
        ref = MessageRef(platform="qq", user_id="u1", request_id="m1")
        assert await remote.cut_reply(ReplyCut(**ref.model_dump(), sent="亚托莉")) == 1
        assert await remote.forget_message(ref.model_copy(update={"request_id": "m2"})) == 2
        assert await remote.cut_reply(ReplyCut(**ref.model_dump(), sent="")) == 2
        assert await remote.forget_message(ref) == 0  # archived already
        stored = await service.memory.all_messages(scope)
        assert [(m.content, m.archived) for m in stored] == [
            ("第0条", False),
            (EchoEngine.prefix + "第0条", False),
            ("第1条", True),
            ("亚托莉", True),
            ("第2条", True),
            (EchoEngine.prefix + "第2条", True),
        ]
        # Someone else's message with the same id is not theirs to change.
        other = MessageRef(platform="qq", user_id="u2", request_id="m0")
        assert await remote.forget_message(other) == 0
        assert len(await service.memory.history(scope)) == 2


async def test_http_worker_answers_in_voice_when_the_worker_is_away(
    echo_settings: Settings, secrets: Secrets
) -> None:
    sock = bind_socket("127.0.0.1", 0)
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    settings = client_settings(echo_settings, f"http://127.0.0.1:{port}")
    async with HttpWorker(settings, secrets) as remote:
        reply = await remote.chat(ChatRequest(platform="test", user_id="u1", text="hi"))
        assert reply.status == "error"
        assert reply.text == settings.error_reply
        with pytest.raises(WorkerUnreachable, match="Cannot reach the worker"):
            await remote.reset(ScopeRef(platform="test", user_id="u1"))
        result = await remote.reload()
        assert not result.ok
        assert "Cannot reach" in result.message


async def test_http_worker_with_the_wrong_token_says_so(
    echo_worker: tuple[ChatService, str], echo_settings: Settings
) -> None:
    _, url = echo_worker
    wrong = Secrets(admin_token=SecretStr("not-it"))
    async with HttpWorker(client_settings(echo_settings, url), wrong) as remote:
        reply = await remote.chat(ChatRequest(platform="test", user_id="u1", text="hi"))
        assert reply.status == "error"
        with pytest.raises(WorkerUnreachable, match="same ATRI_ADMIN_TOKEN"):
            await remote.purge(ScopeRef(platform="test", user_id="u1"))


@asynccontextmanager
async def dropping_first_request(worker_url: str) -> AsyncIterator[str]:
    """A link to the worker that reads the first request and hangs up unanswered, as a
    worker closing an idle keep-alive connection does; later connections pass through."""
    host, port = worker_url.removeprefix("http://").rsplit(":", 1)
    connections = 0

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with suppress(ConnectionError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()

    async def link(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        if connections == 1:
            await reader.read(65536)
            writer.close()
            return
        up_reader, up_writer = await asyncio.open_connection(host, int(port))
        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    server = await asyncio.start_server(link, "127.0.0.1", 0)
    async with server:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"


async def test_http_worker_resends_a_request_its_connection_dropped(
    echo_worker: tuple[ChatService, str], echo_settings: Settings, secrets: Secrets
) -> None:
    service, url = echo_worker
    async with (
        dropping_first_request(url) as flaky,
        HttpWorker(client_settings(echo_settings, flaky), secrets) as remote,
    ):
        reply = await remote.chat(ChatRequest(platform="test", user_id="u1", text="hi"))
        assert reply.status == "ok"
        assert len(await service.memory.history(reply.scope)) == 2  # sent once, stored once
    async with (
        dropping_first_request(url) as flaky,
        HttpWorker(client_settings(echo_settings, flaky), secrets) as remote,
    ):
        result = await remote.rollback()  # a second rollback would step back twice
        assert not result.ok
        assert "Cannot reach" in result.message


@asynccontextmanager
async def another_program(
    body: bytes, content_type: str, protocol: str | None = None
) -> AsyncIterator[str]:
    """Some other web server answering every request with 200 and `body`, as on a port
    that `[worker] url` names by mistake; with `protocol`, a worker of some release
    saying it speaks that version."""
    said = b"" if protocol is None else f"{PROTOCOL_HEADER}: {protocol}\r\n".encode()

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with suppress(ConnectionError, asyncio.IncompleteReadError):
            while head := await reader.readuntil(b"\r\n\r\n"):
                sent = re.search(rb"(?i)content-length: *(\d+)", head)
                await reader.readexactly(int(sent.group(1)) if sent else 0)
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: "
                    + content_type.encode()
                    + b"\r\n"
                    + said
                    + b"Content-Length: "
                    + str(len(body)).encode()
                    + b"\r\n\r\n"
                    + body
                )
                await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    async with server:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"


@pytest.mark.parametrize(
    ("body", "content_type"),
    [(b"<html>It works!</html>", "text/html"), (b'{"hello": "world"}', "application/json")],
)
async def test_http_worker_pointed_at_another_program_says_so(
    echo_settings: Settings, secrets: Secrets, body: bytes, content_type: str
) -> None:
    async with (
        another_program(body, content_type) as url,
        HttpWorker(client_settings(echo_settings, url), secrets) as remote,
    ):
        scope = ScopeRef(platform="test", user_id="u1")
        reply = await remote.chat(ChatRequest(platform="test", user_id="u1", text="hi"))
        assert reply.status == "error"
        calls = [
            remote.reset(scope),
            remote.purge(scope),
            remote.history(scope),
            remote.status(),
            remote.character(),
        ]
        if content_type == "text/html":  # a JSON object reads as no channel modes set
            calls.append(remote.channel_modes("test"))
        for call in calls:
            with pytest.raises(WorkerUnreachable, match=r"is \[worker\] url the address"):
                await call
        result = await remote.reload()
        assert not result.ok and "is [worker] url the address" in result.message


async def test_every_answer_names_its_protocol_and_a_bot_of_another_release_is_refused(
    echo_worker: tuple[ChatService, str],
) -> None:
    service, url = echo_worker
    token = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    hi = {"platform": "test", "user_id": "u1", "text": "hi"}
    async with httpx.AsyncClient(base_url=url) as client:
        answers = [
            await client.get("/health"),
            await client.get("/v1/models"),
            await client.post("/chat", json=hi),  # 401: no token
            await client.post("/chat", content=b"x" * (MAX_BODY_BYTES + 1), headers=token),
        ]
        assert [a.status_code for a in answers] == [200, 200, 401, 413]
        for answer in answers:
            assert answer.headers[PROTOCOL_HEADER] == str(PROTOCOL_VERSION)
        newer = {**token, PROTOCOL_HEADER: str(PROTOCOL_VERSION + 1)}
        refused = await client.post("/chat", json=hi, headers=newer)
        assert refused.status_code == 409
        assert refused.json()["detail"] == (
            f"The bot speaks ATRI protocol '{PROTOCOL_VERSION + 1}', this worker protocol "
            f"{PROTOCOL_VERSION}: run the same ATRI release for `atri worker` and the bots, "
            "and restart the older one."
        )
        assert service.engine.stats.generate_calls == 0  # nothing was done for it
        # Ours, or none (curl, a user's own script): answered.
        same = {**token, PROTOCOL_HEADER: str(PROTOCOL_VERSION)}
        assert (await client.post("/chat", json=hi, headers=same)).status_code == 200
        assert (await client.post("/chat", json=hi, headers=token)).status_code == 200
    assert service.engine.stats.generate_calls == 2


# Every answer a bot reads, valid as each of them: only the header can make it refuse.
ANY_ANSWER = b'{"text": "hi", "count": 1, "engine": "echo", "base_model": "m"}'


@pytest.mark.parametrize("protocol", [None, str(PROTOCOL_VERSION + 1)])
async def test_a_bot_uses_nothing_from_a_worker_of_another_release(
    echo_settings: Settings, secrets: Secrets, protocol: str | None
) -> None:
    async with (
        another_program(ANY_ANSWER, "application/json", str(PROTOCOL_VERSION)) as same,
        HttpWorker(client_settings(echo_settings, same), secrets) as remote,
    ):  # the same answers from a worker of this release are read
        assert (await remote.chat(ChatRequest(platform="t", user_id="u", text="x"))).text == "hi"
        assert await remote.reset(ScopeRef(platform="t", user_id="u")) == 1
        await remote.check_release()
    async with (
        another_program(ANY_ANSWER, "application/json", protocol) as other,
        HttpWorker(client_settings(echo_settings, other), secrets) as remote,
    ):
        reply = await remote.chat(ChatRequest(platform="t", user_id="u", text="x"))
        assert (reply.status, reply.text) == ("error", remote.error_reply)
        said = "none \\(a release older than it\\)" if protocol is None else f"'{protocol}'"
        sentence = (
            rf"speaks ATRI protocol {said}, this bot protocol {PROTOCOL_VERSION}: run the same"
        )
        for call in (remote.reset(ScopeRef(platform="t", user_id="u")), remote.status()):
            with pytest.raises(OtherRelease, match=sentence):
                await call
        assert not (await remote.reload()).ok
        with pytest.raises(OtherRelease, match=sentence):
            await remote.check_release()
        # `atri serve` with such a worker stops at once with that sentence, before its
        # bots connect anywhere.
        settings = echo_settings.model_copy(
            update={"worker": client_settings(echo_settings, other)}
        )
        bots = secrets.model_copy(update={"discord_token": SecretStr("not-used")})
        with pytest.raises(OtherRelease, match=sentence):
            await asyncio.wait_for(serve(settings, bots, Console(file=io.StringIO())), 10)


async def test_a_bot_starts_while_its_worker_is_away(
    echo_settings: Settings, secrets: Secrets, caplog: pytest.LogCaptureFixture
) -> None:
    sock = bind_socket("127.0.0.1", 0)
    port = sock.getsockname()[1]
    sock.close()
    settings = client_settings(echo_settings, f"http://127.0.0.1:{port}")
    async with HttpWorker(settings, secrets) as remote:
        await remote.check_release()  # logged, not raised: chats get the error line meanwhile
    assert "Cannot reach the worker" in caplog.text


def test_a_worker_that_cannot_listen_says_which_setting_to_change() -> None:
    taken = bind_socket("127.0.0.1", 0)
    taken.listen()
    try:
        with pytest.raises(ConfigError, match="another program is using that port"):
            bind_socket("127.0.0.1", taken.getsockname()[1])
    finally:
        taken.close()
    # Not the port's fault: the sentence names the host, and no traceback for a NUL.
    for host in ["192.0.2.1", "localhost:8765", "a\x00b"]:
        with pytest.raises(
            ConfigError, match=r"it is not an address of this machine; set \[worker\] host"
        ):
            bind_socket(host, 0)


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _ipv6_loopback(), reason="this machine has no IPv6 loopback")
def test_a_bracketed_ipv6_host_as_the_listening_line_writes_it_is_read() -> None:
    bind_socket("[::1]", 0).close()
