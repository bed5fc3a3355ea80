"""Follow-ups of QA 38 on the worker's memory: a purge tells messages and room lines
apart."""

from __future__ import annotations

from atri.config import Settings
from model.protocol import ChatRequest
from model.service import ChatService


def said(text: str, user: str, channel: str = "g1", addressed: bool = True) -> ChatRequest:
    return ChatRequest(
        platform="qq", user_id=user, text=text, channel_id=channel, addressed=addressed
    )


async def test_a_purge_over_http_says_how_many_were_room_lines(echo_settings: Settings) -> None:
    """`POST /purge` keeps `count` (messages and room lines together) and adds
    `room_lines`; `Memory.purge` gives both counts."""
    import httpx
    from pydantic import SecretStr

    from atri.config import Secrets
    from model.server.app import bind_socket, create_app, serving

    secrets = Secrets(admin_token=SecretStr("t"))
    async with (
        await ChatService.open(echo_settings) as service,
        serving(create_app(service, secrets), bind_socket("127.0.0.1", 0)) as url,
        httpx.AsyncClient(base_url=url, headers={"Authorization": "Bearer t"}) as client,
    ):
        assert (await service.chat(said("hello there", "1"))).status == "ok"  # 2 messages
        for channel in ("g1", "g2", "g3"):
            await service.chat(said("only heard", "1", channel, addressed=False))
        answer = await client.post("/purge", json={"platform": "qq", "user_id": "1"})
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"count": 5, "room_lines": 3}
        await service.chat(said("hello again", "2"))
        await service.chat(said("heard", "2", "g2", addressed=False))
        key = service.scope_for("qq", "2", "g1")
        assert await service.memory.purge(key) == (2, 1)
