"""A Continue on the openai engine: what vLLM is sent for a chat that ends with her
unfinished reply (her reply last, rendered after the generation prompt: vLLM's
`continue_final_message`), also once the server's template takes only the strict shape."""

from __future__ import annotations

from atri.config import Settings
from model.character.prompt import ChatMessages
from model.engines import create_engine
from tests.model.engines.test_openai import QWEN, FakeVllm, bodies_sent, readme_settings, replicas

ASKED: ChatMessages = [
    {"role": "system", "content": "You are ATRI."},
    {"role": "user", "content": "how are you?"},
]
CONTINUED: ChatMessages = [*ASKED, {"role": "assistant", "content": "I am fine, and "}]


async def test_her_unfinished_reply_is_sent_last_to_be_continued(settings: Settings) -> None:
    bodies = await bodies_sent(settings, QWEN, [CONTINUED, ASKED])
    by_end = {body["messages"][-1]["role"]: body for body in bodies}
    continued, asked = by_end["assistant"], by_end["user"]
    assert continued["messages"] == CONTINUED  # verbatim, its trailing space kept
    assert continued["continue_final_message"] is True
    assert continued["add_generation_prompt"] is False
    # A chat ending with the user's turn is sent as it always was.
    assert asked["messages"] == ASKED
    assert "continue_final_message" not in asked and "add_generation_prompt" not in asked


async def test_a_strict_template_still_gets_her_reply_last(settings: Settings) -> None:
    """Gemma-like: no system role. The retry in the strict shape keeps her reply last."""
    fake = FakeVllm()
    fake.strict_template = True
    async with replicas(fake) as urls:
        settings = readme_settings(settings, urls)
        settings.model.openai_model = "atri-base"
        engine = await create_engine(settings)
        try:
            (got,) = await engine.generate([CONTINUED], settings.generation)
        finally:
            await engine.close()
    refused, sent = fake.bodies
    assert refused["continue_final_message"] is sent["continue_final_message"] is True
    assert [m["role"] for m in sent["messages"]] == ["user", "assistant"]
    assert sent["messages"][-1]["content"] == "I am fine, and "
    assert sent["messages"][0]["content"] == "You are ATRI.\n\nhow are you?"
    assert got.text == "[atri-base] I am fine, and "
