"""Engine "openai" against real servers on loopback: the project's own /v1 in a second
process (`atri worker`, echo engine) and a fake of exactly vLLM's two LoRA routes."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from atri.config import ConfigError, Settings
from model.adapters.reload import AdapterEngine
from model.character.prompt import ChatMessages
from model.engines import create_engine
from model.engines.base import RowLimits
from model.engines.echo import EchoEngine
from model.engines.openai import OpenAIEngine, RemoteEngineError, approx_tokens
from model.protocol import ChatRequest
from model.server.app import bind_socket, serving
from model.service import ChatService
from tests.model.chat_templates import GLM4, template_tokenizer
from tests.model.conftest import V1, V2, V3, MakeVersion
from tests.tiny_model import CHATML_TEMPLATE, TRAINING_TEXT, build_tokenizer


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def remote_worker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`atri worker` with the echo engine in a second process; yields its /v1 URL."""
    folder = tmp_path_factory.mktemp("remote-worker")
    config = folder / "config.toml"
    config.write_text(
        '[model]\nengine = "echo"\n[memory]\npath = "remote.sqlite3"\n'
        "[worker]\nrate_limit_per_minute = 0\n",
        encoding="utf-8",
    )
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from atri.cli import app; app()",
            "--config",
            str(config),
            "worker",
            "--port",
            str(port),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"atri worker did not start: {process.communicate()[0]}")
        time.sleep(0.1)
    try:
        yield f"{url}/v1"
    finally:
        # SIGTERM: the worker shuts down uvicorn, closes the service and exits cleanly.
        process.send_signal(signal.SIGTERM)
        output = process.communicate(timeout=30)[0]
        assert process.returncode == 0, output
        assert (folder / "remote.sqlite3").is_file()


def openai_settings(settings: Settings, base_url: str) -> Settings:
    settings.model.engine = "openai"
    settings.model.openai_base_url = base_url
    settings.model.openai_model = "atri"
    return settings


async def test_engine_generates_a_batch_through_a_remote_v1(
    remote_worker: str, settings: Settings
) -> None:
    engine = await create_engine(openai_settings(settings, remote_worker))
    try:
        assert isinstance(engine, OpenAIEngine)
        assert engine.base_id == "echo"
        batch = [
            [{"role": "system", "content": "persona"}, {"role": "user", "content": f"hi {i}"}]
            for i in range(3)
        ]
        results = await engine.generate(batch, settings.generation)
        assert [r.text for r in results] == [f"{EchoEngine.prefix}hi {i}" for i in range(3)]
        assert all(r.new_tokens > 0 for r in results)
        assert engine.stats.generate_calls == 1
        assert list(engine.stats.batch_sizes) == [3]
        # ATRI's own /v1 is asked for by the name its card gives.
        assert engine.base_name == "atri"
    finally:
        await engine.close()


async def test_a_worker_on_the_openai_engine_chats_and_remembers(
    remote_worker: str, settings: Settings
) -> None:
    async with await ChatService.open(openai_settings(settings, remote_worker)) as service:
        request = ChatRequest(platform="test", user_id="u1", text="are you there?")
        reply = await service.chat(request)
        assert reply.status == "ok"
        assert reply.text == EchoEngine.prefix + "are you there?"
        assert [m.role for m in await service.memory.history(reply.scope)] == [
            "user",
            "assistant",
        ]
        status = await service.status()
        assert status.engine == "openai"


async def test_an_unreachable_server_is_one_sentence(settings: Settings) -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    with pytest.raises(
        ConfigError,
        match=r"Cannot reach the OpenAI-compatible server .* fix \[model\] openai_base_url",
    ):
        await create_engine(openai_settings(settings, url))


QWEN = "Qwen/Qwen2.5-7B-Instruct"


class FakeVllm:
    """One vLLM replica as `vllm serve QWEN --served-model-name atri-base --enable-lora
    --lora-modules atri=<static>` answers (vllm/entrypoints/openai/serving_models.py):
    a base card with root and max_model_len, LoRA cards with root = the adapter folder and
    parent = the base's name; a 400 on a duplicate load, a 404 for an unknown model or
    LoRA; plain text on a LoRA route's success. Chats answer "[model] last message"; a
    chat whose words (a word is a token here) and max_tokens pass max_model_len gets
    vLLM's 400."""

    def __init__(
        self, static: Path | None = None, root: str = QWEN, max_model_len: int = 32768
    ) -> None:
        self.root = root
        self.max_model_len = max_model_len
        self.loras: dict[str, str] = {"atri": str(static)} if static else {}
        self.calls: list[tuple[str, str]] = []
        self.down = False  # answer every route with a 503
        # False: started without VLLM_ALLOW_RUNTIME_LORA_UPDATING, so the LoRA routes do
        # not exist (FastAPI's own 404).
        self.runtime_lora = True
        # False: on another machine that lacks the worker's adapters folder.
        self.sees_files = True
        # A Gemma-like chat template: no system role, user and assistant alternate.
        self.strict_template = False
        self.refuse_chats = ""  # answer every chat with this 400
        self.raw_message = ""  # answer every chat with this JSON as its message's content
        self.chats: list[list[dict[str, str]]] = []  # the messages of each chat
        self.bodies: list[dict[str, Any]] = []  # each chat request's whole body
        # The tokenizer whose chat template it serves (as with --chat-template); None:
        # no /tokenize route, as a server that is not vLLM.
        self.tokenizer: Any = None
        self.tokenized: list[dict[str, Any]] = []  # each /tokenize request's body
        # A chat whose last message is a key here is answered once its event is set:
        # a long generation, which vLLM runs beside the chats that come after it.
        self.holds: dict[str, asyncio.Event] = {}
        # A refusal (strict_template) for a chat ending in the key waits for the event.
        self.held_refusals: dict[str, asyncio.Event] = {}
        self.app = self._app()

    def restart(self, static: Path | None = None) -> None:
        """A vLLM restart: runtime LoRAs are gone, the start-up one is back."""
        self.loras = {"atri": str(static)} if static else {}

    @staticmethod
    def error(message: str, kind: str, code: int) -> JSONResponse:
        body = {"object": "error", "message": message, "type": kind, "param": None, "code": code}
        return JSONResponse(body, code)

    def _app(self) -> FastAPI:
        app = FastAPI()

        @app.middleware("http")
        async def outage(request: Any, call_next: Any) -> Any:
            if self.down:
                return PlainTextResponse("Service Unavailable", 503)
            return await call_next(request)

        @app.get("/v1/models")
        async def models() -> dict[str, Any]:
            base = {
                "id": "atri-base",
                "object": "model",
                "owned_by": "vllm",
                "root": self.root,
                "parent": None,
                "max_model_len": self.max_model_len,
            }
            loras = [
                {
                    "id": name,
                    "object": "model",
                    "owned_by": "vllm",
                    "root": path,
                    "parent": "atri-base",
                    "max_model_len": None,
                }
                for name, path in self.loras.items()
            ]
            return {"object": "list", "data": [base, *loras]}

        @app.middleware("http")
        async def no_runtime_lora(request: Any, call_next: Any) -> Any:
            if not self.runtime_lora and request.url.path.endswith("_lora_adapter"):
                return JSONResponse({"detail": "Not Found"}, 404)
            return await call_next(request)

        @app.post("/v1/load_lora_adapter")
        async def load(body: dict[str, Any]) -> Any:
            self.calls.append(("load", body["lora_name"]))
            name, path = body["lora_name"], body["lora_path"]
            if name in self.loras:
                return self.error(
                    f"The lora adapter '{name}' has already been loaded.", "InvalidUserInput", 400
                )
            if not self.sees_files or not Path(path).is_dir():
                return self.error(
                    f"Loading lora {name} failed: No adapter found for {path}", "NotFoundError", 404
                )
            self.loras[name] = path
            return PlainTextResponse(f"Success: LoRA adapter '{name}' added successfully.")

        @app.post("/v1/unload_lora_adapter")
        async def unload(body: dict[str, Any]) -> Any:
            self.calls.append(("unload", body["lora_name"]))
            name = body["lora_name"]
            if self.loras.pop(name, None) is None:
                return self.error(
                    f"The lora adapter '{name}' cannot be found.", "NotFoundError", 404
                )
            return PlainTextResponse(f"Success: LoRA adapter '{name}' removed successfully.")

        @app.post("/tokenize")  # beside /v1, as vLLM routes it
        async def tokenize(body: dict[str, Any]) -> Any:
            if self.tokenizer is None:
                return PlainTextResponse("Not Found", 404)
            self.tokenized.append(body)
            text = self.tokenizer.apply_chat_template(
                body["messages"],
                tokenize=False,
                add_generation_prompt=body.get("add_generation_prompt", True),
            )
            ids = self.tokenizer.encode(text, add_special_tokens=body.get("add_special_tokens"))
            return {"count": len(ids), "max_model_len": self.max_model_len, "tokens": ids}

        @app.post("/v1/chat/completions")
        async def chat(body: dict[str, Any]) -> Any:
            model = body["model"]
            self.calls.append(("chat", model))
            if model != "atri-base" and model not in self.loras:
                return self.error(f"The model `{model}` does not exist.", "NotFoundError", 404)
            messages = body["messages"]
            self.chats.append(messages)
            self.bodies.append(body)
            if self.refuse_chats:
                return self.error(self.refuse_chats, "BadRequestError", 400)
            prompt = sum(len(m["content"].split()) for m in messages)
            if prompt + body["max_tokens"] > self.max_model_len:
                return self.error(
                    f"This model's maximum context length is {self.max_model_len} tokens. "
                    f"However, you requested {prompt + body['max_tokens']} tokens ({prompt} in "
                    f"the messages, {body['max_tokens']} in the completion). Please reduce the "
                    "length of the messages or completion.",
                    "BadRequestError",
                    400,
                )
            roles = [m["role"] for m in messages]
            if self.strict_template and (
                "system" in roles or any(a == b for a, b in itertools.pairwise(roles))
            ):  # what vLLM answers when apply_chat_template raises
                if (held := self.held_refusals.get(messages[-1]["content"])) is not None:
                    await held.wait()
                return self.error("System role not supported", "BadRequestError", 400)
            if (hold := self.holds.get(messages[-1]["content"])) is not None:
                await hold.wait()
            if self.raw_message:  # JSON as a broken server could write it
                raw = '{"choices": [{"message": {"content": ' + self.raw_message + "}}]}"
                return Response(raw, media_type="application/json")
            text = f"[{model}] {messages[-1]['content']}"
            # A word is a token here: a reply longer than `max_tokens` is cut, as vLLM does.
            words = text.split(" ")
            finish = "length" if len(words) > body["max_tokens"] else "stop"
            text = " ".join(words[: body["max_tokens"]])
            message = {"role": "assistant", "content": text}
            return {
                "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                "usage": {"completion_tokens": 3},
            }

        return app


@contextlib.asynccontextmanager
async def replicas(*fakes: FakeVllm) -> AsyncIterator[list[str]]:
    """Each fake on its own loopback port; yields their /v1 base URLs."""
    async with contextlib.AsyncExitStack() as stack:
        urls = [
            await stack.enter_async_context(serving(f.app, bind_socket("127.0.0.1", 0)))
            for f in fakes
        ]
        yield [f"{u}/v1" for u in urls]


def readme_settings(settings: Settings, urls: list[str]) -> Settings:
    """The README's vLLM section: [model] base, engine, openai_base_url, openai_model."""
    settings.model.base = QWEN
    settings.model.engine = "openai"
    settings.model.openai_base_url = urls[0] if len(urls) == 1 else urls
    settings.model.openai_model = "atri"
    return settings


def chats(fake: FakeVllm) -> list[str]:
    return [model for kind, model in fake.calls if kind == "chat"]


async def test_the_readme_setup_takes_a_new_version_live(
    reload_settings: Settings, make_version: MakeVersion
) -> None:
    static = make_version(V1, base_model=QWEN)
    fake = FakeVllm(static)
    async with replicas(fake) as urls:
        settings = readme_settings(reload_settings, urls)
        async with await ChatService.open(settings) as service:
            engine = service.engine
            assert isinstance(engine, OpenAIEngine)
            assert isinstance(engine, AdapterEngine)  # what the reload job drives
            # The base comes through the LoRA card's parent, its window from the base card.
            assert (engine.base_id, engine.base_name) == (QWEN, "atri-base")
            assert engine.context_window == 32768
            # Status tells the truth: vLLM's start-up LoRA is version V1, asked for as "atri".
            assert engine.adapter_version == V1
            reply = await service.chat(ChatRequest(platform="test", user_id="u", text="hi"))
            assert reply.text == "[atri] hi"
            assert reply.adapter_version == V1

            make_version(V2, base_model=QWEN)
            result = await service.reloader.check()
            assert result is not None and result.ok, result
            assert result.message == f"Now serving adapter version {V2} (was adapter version {V1})."
            reply = await service.chat(ChatRequest(platform="test", user_id="u", text="again"))
            assert (reply.text, reply.adapter_version) == (f"[{V2}] again", V2)
            assert fake.loras[V2] == str(settings.path(settings.model.adapters_dir) / V2)
            # vLLM's own start-up LoRA stays: other clients may ask for "atri".
            assert "atri" in fake.loras
            rolled = await service.reloader.rollback()
            assert rolled.ok, rolled
            reply = await service.chat(ChatRequest(platform="test", user_id="u", text="back"))
            assert reply.text == "[atri] back"


async def test_a_restarted_worker_picks_up_where_it_was(
    reload_settings: Settings, make_version: MakeVersion
) -> None:
    static = make_version(V1, base_model=QWEN)
    make_version(V2, base_model=QWEN)
    fake = FakeVllm(static)
    async with replicas(fake) as urls:
        settings = readme_settings(reload_settings, urls)
        async with await ChatService.open(settings) as service:
            assert (await service.reloader.check()).ok  # type: ignore[union-attr]
        fake.calls.clear()
        # The worker restarts; vLLM keeps V2. Reading the model list, the new worker
        # knows V2 is held and does not load it again.
        async with await ChatService.open(settings) as service:
            result = await service.reloader.check()
            assert result is not None and result.ok, result
            assert service.engine.adapter_version == V2
            assert [c for c in fake.calls if c[0] == "load"] == []
            make_version(V3, base_model=QWEN)
            # Someone else registers V3 between our look and our load: vLLM answers 400
            # "has already been loaded", and the same path counts as loaded.
            fake.loras[V3] = str(settings.path(settings.model.adapters_dir) / V3)
            result = await service.reloader.check()
            assert result is not None and result.ok, result
            assert ("load", V3) in fake.calls
            reply = await service.chat(ChatRequest(platform="test", user_id="u", text="hi"))
            assert reply.text == f"[{V3}] hi"


async def test_a_name_held_for_another_folder_is_refused_in_one_sentence(
    reload_settings: Settings, make_version: MakeVersion, tmp_path: Path
) -> None:
    make_version(V1, base_model=QWEN)
    fake = FakeVllm()
    fake.loras[V1] = str(tmp_path / "elsewhere")
    async with replicas(fake) as urls:
        settings = readme_settings(reload_settings, urls)
        settings.model.openai_model = "atri-base"
        async with await ChatService.open(settings) as service:
            assert service.engine.adapter_version == ""
            result = await service.reloader.check()
            assert result is not None and not result.ok
            assert f"already holds a LoRA named '{V1}'" in result.message
            assert result.message.endswith("Still serving the base model.")


async def test_model_adapter_is_registered_at_start(
    reload_settings: Settings, make_version: MakeVersion
) -> None:
    folder = make_version(V2, base_model=QWEN)
    fake = FakeVllm()
    async with replicas(fake) as urls:
        settings = readme_settings(reload_settings, urls)
        settings.model.openai_model = "atri-base"
        settings.model.adapter = str(folder)
        engine = await create_engine(settings)
        try:
            assert engine.adapter_version == V2
            assert fake.loras == {V2: str(folder)}
            [result] = await engine.generate(
                [[{"role": "user", "content": "x"}]], settings.generation
            )
            assert (result.text, result.adapter_version) == (f"[{V2}] x", V2)
        finally:
            await engine.close()
        settings.model.adapter = str(folder.parent / "missing")
        with pytest.raises(ConfigError, match=r"could not load \[model\] adapter .*missing"):
            await create_engine(settings)


async def test_an_unknown_model_name_is_one_sentence(settings: Settings) -> None:
    async with replicas(FakeVllm()) as urls:
        settings = readme_settings(settings, urls)
        settings.model.openai_model = "atri"
        with pytest.raises(
            ConfigError, match=r"serves no model named 'atri' \(it serves atri-base\)"
        ):
            await create_engine(settings)


async def test_two_replicas_both_serve_the_new_version(
    reload_settings: Settings, make_version: MakeVersion, monkeypatch: pytest.MonkeyPatch
) -> None:
    static = make_version(V1, base_model=QWEN)
    one, two = FakeVllm(static), FakeVllm(static)
    async with replicas(one, two) as urls:
        settings = readme_settings(reload_settings, urls)
        async with await ChatService.open(settings) as service:
            engine = service.engine
            assert isinstance(engine, OpenAIEngine)
            make_version(V2, base_model=QWEN)
            result = await service.reloader.check()
            assert result is not None and result.ok, result
            assert V2 in one.loras and V2 in two.loras
            # The smoke test asked each replica for the new version before the switch.
            assert ("chat", V2) in one.calls and ("chat", V2) in two.calls
            one.calls.clear()
            two.calls.clear()
            batch = [[{"role": "user", "content": f"m{i}"}] for i in range(6)]
            results = await engine.generate(batch, settings.generation)
            assert [r.text for r in results] == [f"[{V2}] m{i}" for i in range(6)]
            assert chats(one) == [V2] * 3 and chats(two) == [V2] * 3

            # Replica two restarts: its runtime LoRAs are gone. Its 404 makes the worker
            # load every registered version on it again; no user sees an error.
            two.restart(static)
            results = await engine.generate(batch, settings.generation)
            assert [r.text for r in results] == [f"[{V2}] m{i}" for i in range(6)]
            assert two.loras[V2] == one.loras[V2]
            assert engine.replicas[1].down_since is None

            # Replica two stops answering (503) and restarts: out of the rotation, its
            # rows go to replica one; no user sees an error.
            two.down = True
            one.calls.clear()
            results = await engine.generate(batch, settings.generation)
            assert [r.text for r in results] == [f"[{V2}] m{i}" for i in range(6)]
            assert chats(one) == [V2] * 6
            assert engine.replicas[1].down_since is not None
            two.restart(static)
            two.down = False

            # A new version while two is out: registered on one only; two gets every
            # registered version again before it rejoins.
            make_version(V3, base_model=QWEN)
            result = await service.reloader.check()
            assert result is not None and result.ok, result
            assert V3 not in two.loras
            monkeypatch.setattr("model.engines.openai.REPLICA_RETRY_SECONDS", 0.0)
            await engine.generate(batch[:1], settings.generation)
            await asyncio.gather(*list(engine._revivals.values()))
            assert engine.replicas[1].down_since is None
            assert V3 in two.loras and "atri" in two.loras
            two.calls.clear()
            await engine.generate(batch, settings.generation)
            assert chats(two) == [V3] * 3

            # A replica that does not answer at all (503) leaves too, and comes back.
            one.down = True
            results = await engine.generate(batch, settings.generation)
            assert [r.text for r in results] == [f"[{V3}] m{i}" for i in range(6)]
            assert engine.replicas[0].down_since is not None
            one.down = False
            assert await engine.revive(engine.replicas[0])
            two.down = True
            one.down = True
            with pytest.raises(RemoteEngineError, match="No replica can serve"):
                await engine.generate(batch[:1], settings.generation)
            one.down = two.down = False


async def test_replicas_with_different_bases_are_refused(settings: Settings) -> None:
    async with replicas(FakeVllm(), FakeVllm(root="Qwen/Qwen2.5-14B-Instruct")) as urls:
        settings = readme_settings(settings, urls)
        settings.model.openai_model = "atri-base"
        with pytest.raises(ConfigError, match="serve different base models"):
            await create_engine(settings)


async def test_one_replica_down_at_start_joins_later(settings: Settings) -> None:
    one, two = FakeVllm(), FakeVllm()
    two.down = True
    async with replicas(one, two) as urls:
        settings = readme_settings(settings, urls)
        settings.model.openai_model = "atri-base"
        engine = await create_engine(settings)
        try:
            assert isinstance(engine, OpenAIEngine)
            assert engine.replicas[1].down_since is not None
            two.down = False
            assert await engine.revive(engine.replicas[1])
            batch = [[{"role": "user", "content": f"m{i}"}] for i in range(4)]
            await engine.generate(batch, settings.generation)
            assert chats(one) == chats(two) == ["atri-base"] * 2
        finally:
            await engine.close()


def test_token_estimate_counts_cjk_per_character() -> None:
    assert approx_tokens("亚托莉") == 3
    assert approx_tokens("hello world!") == 3
    assert approx_tokens("") == 0


async def test_a_restarted_worker_unloads_only_the_versions_it_left_behind(
    reload_settings: Settings, make_version: MakeVersion, tmp_path: Path
) -> None:
    static = make_version(V1, base_model=QWEN)
    make_version(V2, base_model=QWEN)
    make_version(V3, base_model=QWEN)
    fake = FakeVllm(static)
    async with replicas(fake) as urls:
        settings = readme_settings(reload_settings, urls)
        adapters_dir = settings.path(settings.model.adapters_dir)
        # What an earlier run left on vLLM: V2 (its previous version) and V3 (live then,
        # and the newest on disk now); beside them a version-named LoRA of someone else's
        # folder, and vLLM's start-up "atri" (V1's folder, asked for by the user).
        fake.loras[V2] = str(adapters_dir / V2)
        fake.loras[V3] = str(adapters_dir / V3)
        fake.loras["20240101-000000"] = str(tmp_path / "someone-elses")
        settings.reload.enabled = True
        settings.reload.interval_seconds = 3600  # the job's first look only
        async with await ChatService.open(settings) as service:
            assert service.engine.adapter_version == V3
            assert [c for c in fake.calls if c[0] != "chat"] == [("unload", V2)]
            assert set(fake.loras) == {"atri", V3, "20240101-000000"}
            reply = await service.chat(ChatRequest(platform="test", user_id="u", text="hi"))
            assert reply.text == f"[{V3}] hi"


async def test_a_server_whose_template_refuses_a_system_role_gets_the_chat_it_takes(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """vLLM serving Gemma answers 400 to a system message: the chat is sent once more with
    the system prompt in the first user message, and every later one in that shape."""
    fake = FakeVllm()
    fake.strict_template = True
    async with replicas(fake) as urls:
        settings = readme_settings(settings, urls)
        settings.model.openai_model = "atri-base"
        engine = await create_engine(settings)
        try:
            assert isinstance(engine, OpenAIEngine)
            first = [
                {"role": "system", "content": "You are ATRI."},
                {"role": "user", "content": "hi"},
            ]
            (reply,) = await engine.generate([first], settings.generation)
            assert reply.text == "[atri-base] You are ATRI.\n\nhi"
            assert "refused a chat with a system prompt" in caplog.text
            fake.chats.clear()
            group = [*first, {"role": "user", "content": "me too"}]
            (reply,) = await engine.generate([group], settings.generation)
            assert reply.text == "[atri-base] You are ATRI.\n\nhi\n\nme too"
            assert len(fake.chats) == 1  # sent in its shape at once, not refused first
        finally:
            await engine.close()
        # A refusal for another reason: tried once in the other shape, which fails too;
        # the server's own sentence is raised and nothing is learnt.
        fake.refuse_chats = "This model's maximum context length is 8 tokens."
        engine = await create_engine(settings)
        try:
            assert isinstance(engine, OpenAIEngine)
            with pytest.raises(RemoteEngineError, match="maximum context length"):
                await engine.generate([first], settings.generation)
            assert not engine.strict_template
        finally:
            await engine.close()


async def test_a_chat_refused_after_another_learnt_the_strict_shape_is_still_retried(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """Rows go out concurrently: one sent in the plain shape can be refused after another
    row has already been answered in the strict one. It is sent again strictly too."""
    fake = FakeVllm()
    fake.strict_template = True
    fake.held_refusals["late"] = release = asyncio.Event()
    async with replicas(fake) as urls:
        settings = readme_settings(settings, urls)
        settings.model.openai_model = "atri-base"
        engine = await create_engine(settings)
        try:
            system = {"role": "system", "content": "You are ATRI."}
            late = asyncio.create_task(
                engine.generate(
                    [[system, {"role": "user", "content": "late"}]], settings.generation
                )
            )
            while not any(chat[-1]["content"] == "late" for chat in fake.chats):
                await asyncio.sleep(0.01)  # sent plain; its refusal is held back
            (first,) = await engine.generate(
                [[system, {"role": "user", "content": "hi"}]], settings.generation
            )
            assert first.text == "[atri-base] You are ATRI.\n\nhi"
            release.set()
            (reply,) = await late
            assert reply.text == "[atri-base] You are ATRI.\n\nlate"
            assert caplog.text.count("refused a chat with a system prompt") == 1
        finally:
            release.set()
            await engine.close()


async def bodies_sent(
    settings: Settings,
    root: str,
    chats: list[ChatMessages],
    base: str = "",
    chat_template: str = "",
    limits: list[RowLimits] | None = None,
) -> list[dict[str, Any]]:
    """The chat requests the openai engine sends a vLLM whose base card's root is `root`,
    with `[model] base` and `[model] chat_template` as given."""
    fake = FakeVllm(root=root)
    async with replicas(fake) as urls:
        settings = readme_settings(settings, urls)
        if base:
            settings.model.base = base
        settings.model.openai_model = "atri-base"
        settings.model.chat_template = chat_template
        engine = await create_engine(settings)
        try:
            await engine.generate(chats, settings.generation, limits)
        finally:
            await engine.close()
    return fake.bodies


@pytest.mark.parametrize("where", ["vllm root", "model base"])
async def test_a_local_glm4_base_stops_on_the_next_role_marker_on_vllm(
    settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture, where: str
) -> None:
    """GLM-4's template writes no end-of-turn token: a reply ends at the next <|user|>,
    which training labels. vLLM served from a local folder: its tokenizer is read once,
    and every chat asks vLLM to stop on that token (by id: vLLM's text holds no special
    tokens) and on its text (for servers that keep them)."""
    folder = tmp_path / "glm-4-9b-chat"
    tokenizer = template_tokenizer(GLM4)
    tokenizer.save_pretrained(folder)
    user_id = tokenizer.convert_tokens_to_ids("<|user|>")
    caplog.set_level("INFO", logger="model.engines.served_template")
    chat = [{"role": "system", "content": "persona"}, {"role": "user", "content": "hi"}]
    bodies = await bodies_sent(
        settings,
        str(folder) if where == "vllm root" else "THUDM/glm-4-9b-chat",
        [chat, chat],
        base=str(folder) if where == "model base" else "",
    )
    assert len(bodies) == 2
    for body in bodies:
        assert body["stop_token_ids"] == [user_id]
        assert body["stop"] == ["<|user|>"]
    assert "writes no end-of-turn token" in caplog.text


@pytest.mark.parametrize("where", ["vllm root", "model base"])
async def test_a_local_chatml_base_sends_the_requests_it_sent_before(
    settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture, where: str
) -> None:
    """ChatML writes <|im_end|> after every reply and the server stops on it; the one
    stop asked for is the next turn's opener, a special token the server's text drops
    (session 76: a reply ran on into a turn it made up for the person); the same for a
    base that is no local folder (the README's hub id)."""
    folder = tmp_path / "qwen"
    tokenizer = build_tokenizer(TRAINING_TEXT, 512, CHATML_TEMPLATE)
    tokenizer.save_pretrained(folder)
    caplog.set_level("INFO", logger="model.engines.served_template")
    (body,) = await bodies_sent(
        settings,
        str(folder) if where == "vllm root" else QWEN,
        [[{"role": "user", "content": "hi"}]],
        base=str(folder) if where == "model base" else "",
    )
    assert body["stop_token_ids"] == [tokenizer.convert_tokens_to_ids("<|im_start|>")]
    assert body["stop"] == ["<|im_start|>"]
    assert caplog.text.count("WARNING") == 0
    assert "end-of-turn" not in caplog.text


# GLM-4's shape in ChatML's tokens: each turn opens with <|im_start|> and none ends one.
NO_END_OF_TURN = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


@pytest.mark.parametrize(
    ("tokenizer", "override", "stop"),
    [("chatml", NO_END_OF_TURN, "<|im_start|>"), ("glm4", CHATML_TEMPLATE, "<|im_start|>")],
)
async def test_the_reply_stop_follows_the_configured_chat_template(
    settings: Settings, tmp_path: Path, tokenizer: str, override: str, stop: str
) -> None:
    """`[model] chat_template` (vLLM then serves with `--chat-template`) is the template
    training labelled under, so the reply stop is read from it, not the folder's own: a
    template that writes no end-of-turn token over a ChatML folder stops on the next
    <|im_start|>; ChatML over GLM-4's folder stops on ChatML's opener too (a special token
    in GLM-4's tokenizer), not GLM-4's own."""
    folder = tmp_path / tokenizer
    local = (
        build_tokenizer(TRAINING_TEXT, 512, CHATML_TEMPLATE)
        if tokenizer == "chatml"
        else template_tokenizer(GLM4)
    )
    local.save_pretrained(folder)
    chat = [{"role": "user", "content": "hi"}]
    (body,) = await bodies_sent(settings, str(folder), [chat], chat_template=override)
    assert body["stop_token_ids"] == [local.convert_tokens_to_ids(stop)]
    assert body["stop"] == [stop]


GLM4_HUB_ID = "THUDM/glm-4-9b-chat"


def hub_cache(folder: Path, hub_id: str, tokenizer: Any) -> Path:
    """A Hugging Face hub cache holding `tokenizer` as `hub_id`, laid out as the hub
    client writes it: models--Org--Name/refs/main naming a snapshot folder."""
    revision = "0123456789abcdef0123456789abcdef01234567"
    repo = folder / f"models--{hub_id.replace('/', '--')}"
    tokenizer.save_pretrained(repo / "snapshots" / revision)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(revision, encoding="utf-8")
    return folder


@pytest.mark.parametrize("where", ["vllm root", "model base"])
async def test_a_glm4_hub_id_in_the_local_hf_cache_stops_on_the_next_role_marker(
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    where: str,
) -> None:
    """`[model] base` (or vLLM's root) is a hub id, as in the README: its tokenizer is
    read from the local Hugging Face cache, offline, and chats stop on GLM-4's <|user|>."""
    import huggingface_hub.constants

    tokenizer = template_tokenizer(GLM4)
    cache = hub_cache(tmp_path / "hf-hub", GLM4_HUB_ID, tokenizer)
    # HF_HUB_CACHE as the hub client read it at import.
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(cache))
    caplog.set_level("INFO", logger="model.engines.served_template")
    (body,) = await bodies_sent(
        settings,
        GLM4_HUB_ID if where == "vllm root" else QWEN,
        [[{"role": "user", "content": "hi"}]],
        base=GLM4_HUB_ID if where == "model base" else "",
    )
    assert body["stop_token_ids"] == [tokenizer.convert_tokens_to_ids("<|user|>")]
    assert body["stop"] == ["<|user|>"]
    assert "WARNING" not in caplog.text


async def test_a_base_on_no_local_disk_sends_no_stop_and_says_what_to_do(
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A hub id the local cache lacks is never downloaded: chats go as before (the
    server's end tokens stop them) and the log says once why and what to change."""
    import huggingface_hub.constants

    cache = hub_cache(tmp_path / "hf-hub", GLM4_HUB_ID, template_tokenizer(GLM4))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(cache))
    (body,) = await bodies_sent(settings, QWEN, [[{"role": "user", "content": "hi"}]])
    assert "stop_token_ids" not in body and "stop" not in body
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1
    assert f"nor the Hugging Face cache holds {QWEN!r})" in warnings[0]
    assert "set [model] base to a local copy of the model" in warnings[0]


async def test_a_relative_vllm_root_hangs_off_the_config_folder(
    settings: Settings, tmp_path: Path
) -> None:
    """`vllm serve models/glm-4-9b-chat` run beside config.toml: the card's relative root
    is read from the config file's folder, as `[model] base` and every other path."""
    tokenizer = template_tokenizer(GLM4)
    tokenizer.save_pretrained(settings.root / "models" / "glm-4-9b-chat")
    (body,) = await bodies_sent(
        settings, "models/glm-4-9b-chat", [[{"role": "user", "content": "hi"}]]
    )
    assert body["stop_token_ids"] == [tokenizer.convert_tokens_to_ids("<|user|>")]


async def start_on(fake: FakeVllm, settings: Settings, chat_template: str) -> None:
    """An openai engine starts against `fake` (its base card's root a ChatML tokenizer
    folder) with `[model] chat_template` as given, and one chat goes through."""
    fake.root = str(settings.root / "chatml")
    build_tokenizer(TRAINING_TEXT, 512, CHATML_TEMPLATE).save_pretrained(fake.root)
    async with replicas(fake) as urls:
        settings = readme_settings(settings, urls)
        settings.model.openai_model = "atri-base"
        settings.model.chat_template = chat_template
        engine = await create_engine(settings)
        try:
            (reply,) = await engine.generate(
                [[{"role": "user", "content": "hi"}]], settings.generation
            )
            assert reply.text == "[atri-base] hi"
        finally:
            await engine.close()


@pytest.mark.parametrize("served", ["folder's own", "chat_template"])
async def test_a_vllm_without_the_configured_chat_template_is_warned_of_once(
    settings: Settings, caplog: pytest.LogCaptureFixture, served: str
) -> None:
    """`[model] chat_template` is set and training used it, but vLLM serves the model's
    own (started without --chat-template): its /tokenize renders the start-up probe chat
    otherwise than the worker does, and one warning says what to do. Served with it, the
    same ids come back and nothing is said."""
    fake = FakeVllm()
    fake.tokenizer = build_tokenizer(TRAINING_TEXT, 512, CHATML_TEMPLATE)
    if served == "chat_template":
        fake.tokenizer.chat_template = NO_END_OF_TURN
    await start_on(fake, settings, NO_END_OF_TURN)
    assert len(fake.tokenized) == 1
    assert fake.tokenized[0]["model"] == "atri-base"
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    if served == "chat_template":
        assert warnings == []
    else:
        (warning,) = warnings
        assert "renders chats with another chat template than [model] chat_template" in warning
        assert "--chat-template" in warning


async def test_a_vllm_serving_another_template_than_the_base_folder_is_warned_of(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """No `[model] chat_template`: training used the folder's own template, and a vLLM
    started with some other --chat-template is named."""
    fake = FakeVllm()
    fake.tokenizer = build_tokenizer(TRAINING_TEXT, 512, NO_END_OF_TURN)
    await start_on(fake, settings, "")
    (warning,) = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert "than the base model's own" in warning and "without --chat-template" in warning


@pytest.mark.parametrize("answer", ["no route", "not JSON", "server error"])
async def test_a_server_that_renders_no_chat_serves_unchecked(
    settings: Settings, caplog: pytest.LogCaptureFixture, answer: str
) -> None:
    """A server without vLLM's /tokenize (another OpenAI-compatible server, an older
    vLLM) or one that fails it is not checked: no warning, and chats are served."""
    fake = FakeVllm()
    if answer != "no route":

        @fake.app.middleware("http")
        async def broken(request: Any, call_next: Any) -> Any:
            if request.url.path == "/tokenize":
                if answer == "not JSON":
                    return PlainTextResponse("ok")
                return PlainTextResponse("Internal Server Error", 500)
            return await call_next(request)

    caplog.set_level("INFO", logger="model.engines.served_template")
    await start_on(fake, settings, NO_END_OF_TURN)
    assert "WARNING" not in caplog.text
    assert "/tokenize rendered no chat" in caplog.text


async def test_each_row_asks_vllm_for_its_own_max_tokens_and_stop(
    settings: Settings, tmp_path: Path
) -> None:
    """A row's cap (the smaller of it and [generation]) and stop strings go in its own
    request, the stop strings beside the engine's own reply stop (GLM-4's <|user|>);
    vLLM's finish_reason "length" comes back as the generation's."""
    folder = tmp_path / "glm-4-9b-chat"
    template_tokenizer(GLM4).save_pretrained(folder)
    settings.generation.max_new_tokens = 40
    fake = FakeVllm(root=str(folder))
    async with replicas(fake) as urls:
        settings = readme_settings(settings, urls)
        settings.model.openai_model = "atri-base"
        engine = await create_engine(settings)
        try:
            rows = [[{"role": "user", "content": f"row {i} says one two three"}] for i in range(3)]
            limits = [
                RowLimits(max_new_tokens=3),
                RowLimits(max_new_tokens=400, stop=("\nUser:", "<|user|>")),
                RowLimits(),
            ]
            got = await engine.generate(rows, settings.generation, limits)
        finally:
            await engine.close()
    by_row = {body["messages"][-1]["content"][:5]: body for body in fake.bodies}
    assert by_row["row 0"]["max_tokens"] == 3
    assert by_row["row 0"]["stop"] == ["<|user|>"]
    assert by_row["row 1"]["max_tokens"] == 40
    assert by_row["row 1"]["stop"] == ["<|user|>", "\nUser:"]
    assert by_row["row 2"]["max_tokens"] == 40
    assert by_row["row 2"]["stop"] == ["<|user|>"]
    assert [g.finish_reason for g in got] == ["length", "stop", "stop"]
    assert got[0].text == "[atri-base] row 0"


async def test_a_broken_reply_from_the_server_is_cleaned_or_refused(settings: Settings) -> None:
    """A lone surrogate (JSON allows one) cannot be stored or sent: it becomes U+FFFD, as
    in what users send; a message content that is not text is one sentence, not a crash
    further on."""
    fake = FakeVllm()
    async with replicas(fake) as urls:
        settings = readme_settings(settings, urls)
        settings.model.openai_model = "atri-base"
        engine = await create_engine(settings)
        try:
            rows = [[{"role": "user", "content": "hi"}]]
            fake.raw_message = '"a \\ud800 b"'
            (got,) = await engine.generate(rows, settings.generation)
            assert got.text == "a \ufffd b"
            got.text.encode("utf-8")
            fake.raw_message = '[{"type": "text", "text": "hi"}]'
            with pytest.raises(RemoteEngineError, match="whose message is not text"):
                await engine.generate(rows, settings.generation)
        finally:
            await engine.close()


async def test_a_request_reaches_vllm_while_an_earlier_reply_is_still_generated(
    settings: Settings,
) -> None:
    """vLLM batches continuously: the worker sends a request at once, not after the
    replies in flight are done."""
    fake = FakeVllm()
    story = asyncio.Event()
    fake.holds["tell me a long story"] = story
    async with replicas(fake) as urls:
        settings = readme_settings(settings, urls)
        settings.model.openai_model = "atri-base"
        # The fake's replies look out of character: each would be asked for again.
        settings.worker.ooc_max_retries = 0
        async with await ChatService.open(settings) as service:
            try:
                first = asyncio.create_task(
                    service.chat(
                        ChatRequest(platform="test", user_id="u1", text="tell me a long story")
                    )
                )
                while not fake.chats:
                    await asyncio.sleep(0.01)
                second = service.chat(ChatRequest(platform="test", user_id="u2", text="hi"))
                assert (await asyncio.wait_for(second, 5)).text == "[atri-base] hi"
                assert not first.done()
                story.set()
                assert (await first).text == "[atri-base] tell me a long story"
            finally:
                story.set()  # else the fake would never let the server stop
    assert [c[-1]["content"] for c in fake.chats] == ["tell me a long story", "hi"]
