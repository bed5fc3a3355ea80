"""Session 75: a model that decodes greedily (`[generation] do_sample = false`) writes the
same reply again when asked again, so a reply flagged out of character was generated
three times (`[worker] ooc_max_retries = 2`) for the same answer: three times the GPU
time for one message. With sampling off a reply is generated once; with it on, the
retries stay. Through the `openai` engine against a fake vLLM replica (a server that
cannot be reached from here), which says the message back: here one she would never say.
"""

from __future__ import annotations

import pytest

from atri.config import Settings
from model.protocol import ChatRequest
from model.service import ChatService
from tests.model.engines.test_openai import FakeVllm, readme_settings, replicas


@pytest.mark.parametrize(("do_sample", "generations"), [(True, 3), (False, 1)])
async def test_a_greedy_model_is_not_asked_again_for_the_same_reply(
    settings: Settings, do_sample: bool, generations: int
) -> None:
    fake = FakeVllm()
    async with replicas(fake) as urls:
        settings = readme_settings(settings, urls)
        settings.model.openai_model = "atri-base"
        settings.worker.ooc_max_retries = 2
        settings.generation.do_sample = do_sample
        async with await ChatService.open(settings) as service:
            said = "我是人工智能"  # an AI's words, not hers ([ooc])
            reply = await service.chat(ChatRequest(platform="test", user_id="u1", text=said))
            assert reply.status == "ok"
            assert reply.text == f"[atri-base] {said}"  # the last one, flagged or not
            assert service.ooc_regenerations == generations - 1
    assert len(fake.chats) == generations
