"""Session 51: the reload job judges a new version's smoke reply as a user would get it,
without a reasoning model's `<think>` part: a version whose reply is all reasoning does
not go live, and a good one is not judged on its reasoning."""

from __future__ import annotations

from typing import Any

import pytest

from atri.config import Settings
from model.service import ChatService
from tests.model.conftest import V1, MakeVersion


async def staged(settings: Settings, make_version: MakeVersion, smoke_reply: str) -> Any:
    """(the live version, the job's record) after the job saw V1, whose smoke test
    answers `smoke_reply`."""
    make_version(V1)
    async with await ChatService.open(settings) as service:

        async def smoke_test(name: str, messages: Any, max_new_tokens: int) -> str:
            return smoke_reply

        service.engine.smoke_test = smoke_test  # type: ignore[attr-defined]
        await service.reloader.check()
        return service.engine.adapter_version, service.reloader.last


@pytest.mark.parametrize(
    "reply",
    [
        "<think>The user greets me. I should answer cheerfully.</think>",
        "<think>The user greets me and I keep thinking",
        "The user greets me, so I answer cheerfully.\n</think>\n\n",
    ],
    ids=["closed block", "open block", "after an open-think prompt"],
)
async def test_a_version_whose_smoke_reply_is_all_reasoning_does_not_go_live(
    reload_settings: Settings, make_version: MakeVersion, reply: str
) -> None:
    live, last = await staged(reload_settings, make_version, reply)
    assert live == ""
    assert last["ok"] is False
    assert "no text besides its reasoning" in last["message"]


async def test_a_version_that_replies_after_its_reasoning_goes_live(
    reload_settings: Settings, make_version: MakeVersion
) -> None:
    live, last = await staged(
        reload_settings, make_version, "<think>A greeting.</think>\n\nHi! I'm fine."
    )
    assert live == V1
    assert last["ok"] is True
