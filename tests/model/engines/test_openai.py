"""Engine "openai" against real servers on loopback: the project's own /v1 in a second
process (`atri worker`, echo engine) and a fake of exactly vLLM's two LoRA routes."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.responses import JSONResponse, PlainTextResponse

from atri.config import ConfigError, Settings
from model.adapters.reload import AdapterEngine
from model.engines import create_engine
from model.engines.echo import EchoEngine
from model.engines.openai import OpenAIEngine, RemoteEngineError, approx_tokens
from model.protocol import ChatRequest
from model.server.app import bind_socket, serving
from model.service import ChatService


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
        # The reload job's smoke test asks for a version by name; /v1 echoes it back.
        smoke = await engine.smoke_test("atri", batch[0], 8)
        assert smoke == f"{EchoEngine.prefix}hi 0"
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


def fake_vllm_lora_routes(calls: list[tuple[str, dict[str, Any]]]) -> FastAPI:
    """vLLM's runtime LoRA API as vLLM answers it (plain text on success, a JSON error
    otherwise), plus the /v1/models the engine reads at start-up."""
    app = FastAPI()
    loaded: set[str] = set()

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        return {"data": [{"id": "atri", "root": "/models/qwen", "max_model_len": 8192}]}

    @app.post("/v1/load_lora_adapter")
    async def load(body: dict[str, Any]) -> Any:
        calls.append(("load", body))
        if not Path(body["lora_path"]).is_dir():
            return JSONResponse({"object": "error", "message": "No adapter found"}, 400)
        loaded.add(body["lora_name"])
        return PlainTextResponse(f"Success: LoRA adapter '{body['lora_name']}' added successfully.")

    @app.post("/v1/unload_lora_adapter")
    async def unload(body: dict[str, Any]) -> Any:
        calls.append(("unload", body))
        if body["lora_name"] not in loaded:
            return JSONResponse({"object": "error", "message": "not found"}, 404)
        loaded.discard(body["lora_name"])
        return PlainTextResponse(
            f"Success: LoRA adapter '{body['lora_name']}' removed successfully."
        )

    return app


async def test_adapter_versions_are_registered_with_vllm(
    settings: Settings, tmp_path: Path
) -> None:
    calls: list[tuple[str, dict[str, Any]]] = []
    v1, v2 = tmp_path / "v1", tmp_path / "v2"
    v1.mkdir()
    v2.mkdir()
    async with serving(fake_vllm_lora_routes(calls), bind_socket("127.0.0.1", 0)) as url:
        engine = await OpenAIEngine.open(openai_settings(settings, f"{url}/v1"))
        try:
            assert engine.base_id == "/models/qwen"
            assert engine.context_window == 8192
            await engine.load_adapter(v1, "v1")
            await engine.activate("v1")
            assert engine.adapter_version == "v1"
            await engine.unload_adapter("v1")  # live: kept
            await engine.load_adapter(v2, "v2")
            await engine.activate("v2")
            await engine.unload_adapter("v1")
            assert calls == [
                ("load", {"lora_name": "v1", "lora_path": str(v1)}),
                ("load", {"lora_name": "v2", "lora_path": str(v2)}),
                ("unload", {"lora_name": "v1"}),
            ]
            with pytest.raises(RemoteEngineError, match=r"HTTP 400.*No adapter found"):
                await engine.load_adapter(tmp_path / "missing", "v3")
            with pytest.raises(RemoteEngineError, match="not loaded"):
                await engine.activate("v3")
            assert engine.adapter_version == "v2"
            assert isinstance(engine, AdapterEngine)  # what the reload job drives
        finally:
            await engine.close()


def test_token_estimate_counts_cjk_per_character() -> None:
    assert approx_tokens("亚托莉") == 3
    assert approx_tokens("hello world!") == 3
    assert approx_tokens("") == 0
