"""The llama.cpp engine end to end, as people run it: `atri worker` in its own process
on a real port (a bot's /chat, the OpenAI-compatible /v1, a new adapter version going
live without a restart) and `atri serve`'s console chat."""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from openai import AsyncOpenAI
from pydantic import SecretStr

from atri.config import Secrets, Settings
from bot.relay import HttpWorker
from model.adapters.gguf_lora import ADAPTER_GGUF
from model.engines.gguf_files import gguf_config_hash, gguf_path
from model.engines.loading import resolve_base
from model.protocol import ChatRequest
from tests.bot.test_console import ENV
from tests.model.adapters.make_versions import write_version

TOKEN = "llamacpp-test-token"
VERSION = "20250101-000001"


def write_config(folder: Path, settings: Settings, port: int = 0) -> Path:
    """An `atri` config for the llama.cpp engine with short replies and a fast reload job."""
    config = folder / "config.toml"
    config.write_text(
        f"""[model]
engine = "llamacpp"
adapters_dir = "adapters"
cache_dir = "{settings.model.cache_dir}"
[memory]
path = "chat.sqlite3"
[generation]
max_new_tokens = 12
[worker]
host = "127.0.0.1"
port = {port or 8000}
ooc_max_retries = 0
rate_limit_per_minute = 0
[reload]
interval_seconds = 1
""",
        encoding="utf-8",
    )
    return config


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=5).status_code == 200
    except httpx.TransportError:
        return False


@pytest.fixture
def worker_process(settings: Settings, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """`atri worker` on the llama.cpp engine: its URL and its adapters folder."""
    port = free_port()
    config = write_config(tmp_path, settings, port)
    log = (tmp_path / "worker.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "atri", "--config", str(config), "worker"],
        cwd=tmp_path,
        env={**ENV, "ATRI_ADMIN_TOKEN": TOKEN},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while not answers(f"{url}/health"):
            assert process.poll() is None, (tmp_path / "worker.log").read_text()
            assert time.monotonic() < deadline, "the worker did not start in 3 minutes"
            time.sleep(0.2)
        yield url, tmp_path / "adapters"
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
            log.close()


async def test_worker_answers_bots_and_v1_and_takes_a_new_version_live(
    worker_process: tuple[str, Path], settings: Settings
) -> None:
    url, adapters_dir = worker_process
    secrets = Secrets(admin_token=SecretStr(TOKEN))
    worker_settings = settings.worker.model_copy(update={"url": url})
    async with HttpWorker(worker_settings, secrets) as remote:
        status = await remote.status()
        assert status.engine == "llamacpp"
        assert status.adapter_version == ""
        reply = await remote.chat(ChatRequest(platform="discord", user_id="u1", text="Hi ATRI!"))
        assert reply.status == "ok", reply
        assert reply.text.strip()

        async with AsyncOpenAI(base_url=f"{url}/v1", api_key=TOKEN, max_retries=0) as api:
            done = await api.chat.completions.create(
                model="atri", messages=[{"role": "user", "content": "Do you like the sea?"}]
            )
        assert (done.choices[0].message.content or "").strip()
        assert done.usage is not None and done.usage.completion_tokens > 0

        # `atri train` publishes a version (peft files, renamed into place); the worker's
        # reload job converts it to a GGUF LoRA and switches to it, with no restart.
        write_version(
            adapters_dir,
            VERSION,
            Path(resolve_base(settings)),
            base_model=settings.model.base,
            config_hash=gguf_config_hash(gguf_path(settings)),
            scale=0.01,
            targets=["q_proj", "k_proj", "v_proj", "o_proj"],
        )
        deadline = time.monotonic() + 120
        while (status := await remote.status()).adapter_version != VERSION:
            assert time.monotonic() < deadline, status.last_reload
            await asyncio.sleep(0.5)
        assert (adapters_dir / VERSION / ADAPTER_GGUF).is_file()
        after = await remote.chat(ChatRequest(platform="qq", user_id="u2", text="Who are you?"))
        assert after.status == "ok", after
        assert after.adapter_version == VERSION


def test_serve_console_chats_on_the_llamacpp_engine(settings: Settings, tmp_path: Path) -> None:
    config = write_config(tmp_path, settings)
    env = {k: v for k, v in ENV.items() if not k.startswith(("DISCORD_", "QQ_", "ATRI_"))}
    result = subprocess.run(
        [sys.executable, "-m", "atri", "--config", str(config), "serve"],
        input="Hello ATRI!\n/quit\n",
        capture_output=True,
        text=True,
        timeout=180,
        cwd=tmp_path,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    assert "engine llamacpp" in result.stdout
    said = [part.split("\nBye!")[0].strip() for part in result.stdout.split("ATRI: ")[1:]]
    assert len(said) == 2, result.stdout  # the greeting, then the reply
    assert said[1]
