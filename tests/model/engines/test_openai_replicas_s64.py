"""Session 64, an operator's review of the openai engine's replicas: a replica that hangs
or refuses the key never left the rotation (half the users waited for their deadline); a
replica back with another base model or a shorter window rejoined unchecked; replicas of
different windows were fitted to the first one's; a 200 that is no JSON read as "a
completion without a message"."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.responses import PlainTextResponse

import model.engines.openai as openai_engine
from atri.config import GenerationSettings, Settings
from model.engines.openai import OpenAIEngine, RemoteEngineError
from model.service import ChatService
from tests.model.conftest import V1, MakeVersion
from tests.model.engines.test_openai import QWEN, FakeVllm, chats, readme_settings, replicas


class MisbehavingVllm(FakeVllm):
    """A replica that can hang on every chat, or refuse the API key (restarted with
    another --api-key), or answer a chat with a page that is not JSON."""

    def __init__(self, **kwargs: Any) -> None:
        self.hang = False
        self.refuse_key = False
        self.page = ""
        self.release = asyncio.Event()
        super().__init__(**kwargs)

    def _app(self) -> FastAPI:
        app = super()._app()

        @app.middleware("http")
        async def misbehave(request: Any, call_next: Any) -> Any:
            if request.url.path.endswith("/chat/completions"):
                if self.refuse_key:
                    return PlainTextResponse("Unauthorized", 401)
                if self.page:
                    return PlainTextResponse(self.page, 200)
                if self.hang:
                    await self.release.wait()
            return await call_next(request)

        return app


def base_settings(settings: Settings, urls: list[str]) -> Settings:
    """The README's vLLM setup, serving the base model (no start-up LoRA)."""
    readme_settings(settings, urls).model.openai_model = "atri-base"
    return settings


async def ask(engine: OpenAIEngine, text: str, deadline: float = 5.0) -> str:
    messages = [{"role": "user", "content": text}]
    (reply,) = await asyncio.wait_for(engine.generate([messages], GenerationSettings()), deadline)
    return reply.text


async def test_a_hung_replica_leaves_the_rotation_once_the_others_answer(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(openai_engine, "STALLED_AFTER_SECONDS", 0.2)
    well, hung = MisbehavingVllm(), MisbehavingVllm()
    hung.hang = True
    async with replicas(well, hung) as urls:
        engine = await OpenAIEngine.open(base_settings(settings, urls))
        try:
            asked = [asyncio.create_task(ask(engine, f"q{i}", 1.0)) for i in range(2)]
            done = await asyncio.gather(*asked, return_exceptions=True)
            assert sum(isinstance(d, str) for d in done) == 1  # the hung one's row timed out
            assert engine.replicas[1].down_since is not None
            assert "no answer in" in engine.replicas[1].reason
            for i in range(4):  # every later chat goes to the replica that answers
                assert await ask(engine, f"later {i}") == f"[atri-base] later {i}"
        finally:
            hung.release.set()
            await engine.close()


async def test_a_replica_refusing_the_key_leaves_the_rotation(settings: Settings) -> None:
    well, locked = MisbehavingVllm(), MisbehavingVllm()
    async with replicas(well, locked) as urls:
        engine = await OpenAIEngine.open(base_settings(settings, urls))
        try:
            locked.refuse_key = True
            for i in range(4):
                assert await ask(engine, f"q{i}") == f"[atri-base] q{i}"
            assert "answered HTTP 401" in engine.replicas[1].reason
            assert len(chats(well)) == 4
        finally:
            await engine.close()


async def test_a_replica_back_with_another_model_or_a_shorter_window_stays_out(
    settings: Settings,
) -> None:
    first, second = FakeVllm(), FakeVllm()
    async with replicas(first, second) as urls:
        engine = await OpenAIEngine.open(base_settings(settings, urls))
        try:
            replica = engine.replicas[1]
            second.root = "meta-llama/Meta-Llama-3-8B-Instruct"
            assert not await engine.revive(replica)
            assert "serves another base model" in replica.reason
            second.root, second.max_model_len = first.root, 512
            assert not await engine.revive(replica)
            assert "a window of 512 tokens, shorter than the 32768" in replica.reason
            second.max_model_len = first.max_model_len
            assert await engine.revive(replica)
        finally:
            await engine.close()


async def test_replicas_of_different_windows_are_fitted_to_the_shortest(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="model.engines.openai")
    async with replicas(FakeVllm(), FakeVllm(max_model_len=2048)) as urls:
        engine = await OpenAIEngine.open(base_settings(settings, urls))
        await engine.close()
    assert engine.context_window == 2048
    assert "prompts are fitted to the shortest, 2048 tokens" in caplog.text


async def test_a_completion_that_is_not_json_says_so(settings: Settings) -> None:
    fake = MisbehavingVllm()
    fake.page = "<html><title>502 Bad Gateway</title></html>"
    async with replicas(fake) as urls:
        engine = await OpenAIEngine.open(base_settings(settings, urls))
        try:
            with pytest.raises(RemoteEngineError, match="a completion that is not JSON"):
                await ask(engine, "hi")
        finally:
            await engine.close()


async def test_a_version_refused_for_the_servers_setup_goes_live_once_vllm_is_fixed(
    reload_settings: Settings, make_version: MakeVersion, caplog: pytest.LogCaptureFixture
) -> None:
    """Not the version's fault: the job tries it again at each look (saying the refusal
    once), and it goes live by itself once vLLM has its LoRA API, with no admin reload."""
    caplog.set_level(logging.WARNING, logger="model.adapters.reload")
    fake = FakeVllm()
    fake.runtime_lora = False
    async with replicas(fake) as urls:
        settings = base_settings(reload_settings, urls)
        async with await ChatService.open(settings) as service:
            make_version(V1, base_model=QWEN)
            refused = await service.reloader.check()
            assert refused is not None and not refused.ok
            assert "VLLM_ALLOW_RUNTIME_LORA_UPDATING=True" in refused.message
            assert "the reload job tries it again at each look" in refused.message
            again = await service.reloader.check()
            assert again is not None and not again.ok
            assert caplog.text.count("VLLM_ALLOW_RUNTIME_LORA_UPDATING") == 1
            fake.runtime_lora = True
            live = await service.reloader.check()
            assert live is not None and live.ok and live.version == V1
            assert await service.reloader.check() is None
