"""The out-of-character guard judges what she wrote, not the asker's name put into it."""

from __future__ import annotations

import pytest

from atri.config import Settings
from model.engines.echo import EchoEngine
from model.protocol import ChatRequest
from model.service import ChatService


@pytest.mark.parametrize("name", ["Shitposter", "ChatGPT"])
async def test_a_reply_naming_the_asker_is_not_regenerated_for_their_name(
    echo_settings: Settings, name: str
) -> None:
    """{{user}} was filled in before the check: a swear word or a product name in a
    member's name flagged every reply to them, and each was generated three times for
    the same answer."""
    async with await ChatService.open(echo_settings) as service:
        asked = ChatRequest(platform="test", user_id="u1", display_name=name, text="早，{{user}}！")
        reply = await service.chat(asked)
        assert reply.text == f"{EchoEngine.prefix}早，{name}！"
        assert (reply.ooc_retries, service.ooc_regenerations) == (0, 0)
        # What she writes herself is still judged.
        said = await service.chat(asked.model_copy(update={"text": "我是ChatGPT"}))
        assert said.ooc_retries > 0
