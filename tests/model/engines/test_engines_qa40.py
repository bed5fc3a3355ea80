"""QA round 40 on the engines as a user with their own model and their own vLLM meets
them: a restarted vLLM after an admin deleted a kept version's folder, a base whose chat
template refuses ATRI's chats. The vLLM is the fake of test_openai.py (vLLM's own routes
and answers); the local engine runs the real tiny model."""

from __future__ import annotations

import shutil

import pytest

from atri.config import Settings
from model.engines.openai import OpenAIEngine
from model.protocol import ChatRequest
from model.service import ChatService
from tests.model.conftest import V1, V2, MakeVersion
from tests.model.engines.test_openai import QWEN, FakeVllm, readme_settings, replicas


def say(text: str) -> ChatRequest:
    return ChatRequest(platform="test", user_id="u", text=text)


async def test_a_restarted_vllm_comes_back_without_a_kept_version_deleted_by_hand(
    reload_settings: Settings, make_version: MakeVersion, caplog: pytest.LogCaptureFixture
) -> None:
    """V2 live, V1 kept for a rollback; an admin deletes V1's folder to free disk, then
    vLLM restarts. The replica came back only if every registered version loaded again,
    so it stayed out for good and every user got her error line. The live version is
    enough: V1 is said once and dropped, and a rollback goes to the base model."""
    caplog.set_level("INFO", logger="model.engines.openai")
    fake = FakeVllm()
    async with replicas(fake) as urls:
        settings = readme_settings(reload_settings, urls)
        settings.model.openai_model = "atri-base"
        async with await ChatService.open(settings) as service:
            engine = service.engine
            assert isinstance(engine, OpenAIEngine)
            assert service.reloader is not None
            v1 = make_version(V1, base_model=QWEN)
            assert (await service.reloader.check()).ok  # type: ignore[union-attr]
            make_version(V2, base_model=QWEN)
            assert (await service.reloader.check()).ok  # type: ignore[union-attr]
            assert set(engine.loras) == {V1, V2}  # V1 kept (keep_previous = 1)

            shutil.rmtree(v1)
            fake.restart()
            for i in range(3):
                reply = await service.chat(say(f"back {i}"))
                assert (reply.status, reply.text) == ("ok", f"[{V2}] back {i}")
            assert engine.replicas[0].down_since is None
            assert V1 not in engine.loras and V1 not in fake.loras
            dropped = [r for r in caplog.records if V1 in r.getMessage()]
            assert len(dropped) == 1 and dropped[0].levelname == "WARNING"
            assert not [r for r in caplog.records if r.exc_info]

            rolled = await service.reloader.rollback()
            assert rolled.ok, rolled
            assert (await service.chat(say("base"))).text == "[atri-base] base"
