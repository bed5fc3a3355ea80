"""The openai engine as an admin running vLLM on another machine meets it: vLLM restarted
under the worker, started without runtime LoRA updating, seeing the adapters folder at
another path, refusing a prompt over its max_model_len, and many rows queueing at once.
The vLLM is the fake of test_openai.py, which answers as vLLM's serving_models.py and
serving_chat do."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from fastapi.responses import JSONResponse

from atri.config import ConfigError, Settings
from model.engines import create_engine
from model.engines.openai import OpenAIEngine, approx_tokens
from model.protocol import ChatRequest
from model.service import ChatService
from tests.model.conftest import V1, V2, MakeVersion
from tests.model.engines.test_openai import QWEN, FakeVllm, readme_settings, replicas
from tests.tiny_model import CHATML_TEMPLATE, TRAINING_TEXT, build_tokenizer


def say(text: str, user: str = "u") -> ChatRequest:
    return ChatRequest(platform="test", user_id=user, text=text)


async def test_one_vllm_restarted_under_the_worker_serves_the_live_version_again(
    reload_settings: Settings, make_version: MakeVersion, caplog: pytest.LogCaptureFixture
) -> None:
    """One replica, version V2 loaded at runtime. vLLM goes away (users get her error
    line meanwhile) and comes back without V2: the first message after that gets
    "The model `V2` does not exist", loads V2 again and is answered by V2; so is every
    later one, without waiting for a quiet spell the traffic never leaves."""
    caplog.set_level("INFO", logger="model.engines.openai")
    static = make_version(V1, base_model=QWEN)
    fake = FakeVllm(static)
    async with replicas(fake) as urls:
        settings = readme_settings(reload_settings, urls)
        async with await ChatService.open(settings) as service:
            make_version(V2, base_model=QWEN)
            assert (await service.reloader.check()).ok  # type: ignore[union-attr]
            fake.down = True  # restarting
            for i in range(3):
                reply = await service.chat(say(f"anyone {i}?"))
                assert reply.status == "error"
            fake.restart(static)
            fake.down = False
            for i in range(3):
                reply = await service.chat(say(f"back {i}"))
                assert (reply.status, reply.text) == ("ok", f"[{V2}] back {i}")
            assert [c for c in fake.calls if c[0] == "load"][-1] == ("load", V2)
            assert fake.loras[V2] == str(settings.path(settings.model.adapters_dir) / V2)
            engine = service.engine
            assert isinstance(engine, OpenAIEngine)
            assert engine.replicas[0].down_since is None
    assert "is back in the rotation" in caplog.text


async def test_a_vllm_that_answers_again_takes_a_reload_at_once(
    reload_settings: Settings, make_version: MakeVersion
) -> None:
    """vLLM serving the base model was away for a message; it answers the next one, and
    a new version trained just then goes live, rather than "No replica could load" until
    a quiet spell of 15 s the users never leave."""
    fake = FakeVllm()
    async with replicas(fake) as urls:
        settings = readme_settings(reload_settings, urls)
        settings.model.openai_model = "atri-base"
        async with await ChatService.open(settings) as service:
            fake.down = True
            assert (await service.chat(say("hello?"))).status == "error"
            fake.down = False
            assert (await service.chat(say("hi"))).text == "[atri-base] hi"
            make_version(V2, base_model=QWEN)
            result = await service.reloader.check()
            assert result is not None and result.ok, result
            assert (await service.chat(say("and now"))).text == f"[{V2}] and now"


async def test_a_vllm_without_runtime_lora_updating_is_one_sentence(
    reload_settings: Settings, make_version: MakeVersion, caplog: pytest.LogCaptureFixture
) -> None:
    """Started without VLLM_ALLOW_RUNTIME_LORA_UPDATING, vLLM has no LoRA routes (404):
    the reload says what to set, keeps serving, and logs no traceback; so does
    `[model] adapter` at start."""
    fake = FakeVllm()
    fake.runtime_lora = False
    async with replicas(fake) as urls:
        settings = readme_settings(reload_settings, urls)
        settings.model.openai_model = "atri-base"
        async with await ChatService.open(settings) as service:
            make_version(V2, base_model=QWEN)
            result = await service.reloader.check()
            assert result is not None and not result.ok
            assert "has no runtime LoRA API" in result.message
            assert "VLLM_ALLOW_RUNTIME_LORA_UPDATING=True" in result.message
            assert result.message.endswith("Still serving the base model.")
            assert (await service.chat(say("hi"))).text == "[atri-base] hi"
        assert not [r for r in caplog.records if r.exc_info]
        settings.model.adapter = str(settings.path(settings.model.adapters_dir) / V2)
        with pytest.raises(ConfigError, match="VLLM_ALLOW_RUNTIME_LORA_UPDATING=True"):
            await create_engine(settings)


async def test_an_adapters_folder_vllm_cannot_see_is_one_sentence(
    reload_settings: Settings, make_version: MakeVersion, caplog: pytest.LogCaptureFixture
) -> None:
    """vLLM on another machine without the shared folder: "No adapter found" is said as
    what to do about [model] adapters_dir, without a traceback."""
    fake = FakeVllm()
    fake.sees_files = False
    async with replicas(fake) as urls:
        settings = readme_settings(reload_settings, urls)
        settings.model.openai_model = "atri-base"
        async with await ChatService.open(settings) as service:
            make_version(V2, base_model=QWEN)
            result = await service.reloader.check()
            assert result is not None and not result.ok
            assert "finds no adapter in" in result.message
            assert "[model] adapters_dir must be at that same path on the vLLM host" in (
                result.message
            )
        assert not [r for r in caplog.records if r.exc_info]


async def test_vllm_is_sent_the_adapters_folder_as_configured_not_where_a_link_leads(
    reload_settings: Settings, make_version: MakeVersion, adapters_dir: Path, tmp_path: Path
) -> None:
    """`[model] adapters_dir = "/srv/atri/adapters"`, a link on the worker's machine to
    where the share is mounted there: vLLM, on its own machine, sees the share at the
    configured path, so that is the path it gets; a restarted worker also finds what it
    left there as its own."""
    make_version(V1, base_model=QWEN)
    link = tmp_path / "srv-atri-adapters"
    link.symlink_to(adapters_dir, target_is_directory=True)
    fake = FakeVllm()
    async with replicas(fake) as urls:
        settings = readme_settings(reload_settings, urls)
        settings.model.openai_model = "atri-base"
        settings.model.adapters_dir = str(link)
        async with await ChatService.open(settings) as service:
            assert (await service.reloader.check()).ok  # type: ignore[union-attr]
        assert fake.loras == {V1: str(link / V1)}


async def test_a_prompt_over_max_model_len_is_one_log_sentence_and_her_error_line(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """`[model] context_window` larger than vLLM's --max-model-len: vLLM answers 400.
    The user gets her error line, the log one sentence saying what to change (no
    traceback), and the chat is not sent again in another shape (it is too long in any)."""
    fake = FakeVllm(max_model_len=64)
    async with replicas(fake) as urls:
        settings = readme_settings(settings, urls)
        settings.model.openai_model = "atri-base"
        settings.model.context_window = 4096
        settings.generation.max_new_tokens = 40
        async with await ChatService.open(settings) as service:
            reply = await service.chat(say("word " * 60))
            assert (reply.status, reply.text) == ("error", service.lines.error)
            assert (await service.chat(say("short"))).text == "[atri-base] short"
    assert len(fake.chats) == 2
    errors = [r for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1 and not errors[0].exc_info
    assert "maximum context length is 64 tokens" in errors[0].getMessage()
    assert "lower [model] context_window" in errors[0].getMessage()


async def test_history_budgets_count_with_the_base_tokenizer_vllm_uses(
    settings: Settings,
) -> None:
    """The base's tokenizer is on this machine (read for the reply stop): messages are
    counted with it, as vLLM counts them, not estimated at four characters a token."""
    folder = settings.root / "qwen"
    tokenizer = build_tokenizer(TRAINING_TEXT, 512, CHATML_TEMPLATE)
    tokenizer.save_pretrained(folder)
    async with replicas(FakeVllm(root=str(folder))) as urls:
        settings = readme_settings(settings, urls)
        settings.model.openai_model = "atri-base"
        engine = await create_engine(settings)
        try:
            text = "Zyxw qvkj 9f8e7d <b>bold</b> ~~~ ATRI!"
            exact = len(tokenizer.encode(text, add_special_tokens=False))
            assert exact != approx_tokens(text)
            assert engine.count_tokens(text) == exact
        finally:
            await engine.close()


async def test_every_row_reaches_vllm_at_once_past_a_hundred(settings: Settings) -> None:
    """vLLM queues what it cannot run yet itself; the worker must not hold rows back in a
    connection pool of 100 (httpx's default), where they wait unseen by vLLM."""
    fake = FakeVllm()
    release = asyncio.Event()
    rows = [[{"role": "user", "content": f"row {i}"}] for i in range(120)]
    for row in rows:
        fake.holds[row[0]["content"]] = release
    async with replicas(fake) as urls:
        settings = readme_settings(settings, urls)
        settings.model.openai_model = "atri-base"
        engine = await create_engine(settings)
        try:
            task = asyncio.create_task(engine.generate(rows, settings.generation))
            try:
                async with asyncio.timeout(20):
                    while len(fake.chats) < len(rows):
                        await asyncio.sleep(0.05)
            finally:
                release.set()
            assert len(await task) == len(rows)
        finally:
            release.set()
            await engine.close()


@pytest.mark.parametrize("answer", ["no /v1", "api key"])
async def test_a_vllm_that_refuses_the_model_list_at_start_is_one_sentence(
    settings: Settings, answer: str
) -> None:
    """`openai_base_url` without /v1 (vLLM's 404), or vLLM run with --api-key and no
    ATRI_OPENAI_API_KEY (401): one sentence with the server's answer, not httpx's
    two-line text with a link to MDN."""
    fake = FakeVllm()
    if answer == "api key":

        @fake.app.middleware("http")
        async def key(request: Any, call_next: Any) -> Any:
            return JSONResponse({"error": "Unauthorized"}, 401)

    async with replicas(fake) as urls:
        settings = readme_settings(settings, urls)
        settings.model.openai_model = "atri-base"
        if answer == "no /v1":
            settings.model.openai_base_url = urls[0].removesuffix("/v1")
        with pytest.raises(ConfigError) as caught:
            await create_engine(settings)
    message = str(caught.value)
    assert "\n" not in message and "mozilla" not in message
    if answer == "no /v1":
        assert "answered HTTP 404" in message and "does the URL end in /v1?" in message
    else:
        assert 'answered HTTP 401: {"error":"Unauthorized"}' in message
        assert "ATRI_OPENAI_API_KEY" in message


async def test_a_version_that_came_while_vllm_was_down_goes_live_once_it_is_back(
    reload_settings: Settings, make_version: MakeVersion
) -> None:
    """A new version is published while the only vLLM is restarting: the job's look is
    refused, but not for good (the version is fine); at the next look, with vLLM back
    and no chat in between to bring it into the rotation, the version goes live."""
    fake = FakeVllm()
    async with replicas(fake) as urls:
        settings = readme_settings(reload_settings, urls)
        settings.model.openai_model = "atri-base"
        async with await ChatService.open(settings) as service:
            fake.down = True
            assert (await service.chat(say("hello?"))).status == "error"
            make_version(V2, base_model=QWEN)
            result = await service.reloader.check()
            assert result is not None and not result.ok
            assert "it is tried again at the next look" in result.message
            fake.down = False
            result = await service.reloader.check()
            assert result is not None and result.ok, result
            assert (await service.chat(say("hi"))).text == f"[{V2}] hi"
