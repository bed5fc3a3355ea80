"""What a request must pass to be answered. The per-minute limit is a sliding window: a
sender who keeps writing is let back in as their oldest message leaves it, not only
after a whole quiet minute; a message the per-user limit refuses is not counted against
the open API address it came from. The admin token counts only as a Bearer token."""

from __future__ import annotations

import httpx
from pydantic import SecretStr

from atri.config import Secrets, Settings
from model.admission import RATE_WINDOW_SECONDS, RateLimiter
from model.server.app import bind_socket, create_app, serving
from model.service import ChatService
from tests.model.test_service import req


def test_a_steady_sender_is_let_back_in_as_their_oldest_message_leaves_the_window() -> None:
    limiter = RateLimiter(per_minute=2)
    assert limiter.allow("u", now=0.0) and limiter.allow("u", now=50.0)
    assert not limiter.allow("u", now=55.0)
    # The message at 0 has left the window; the one at 50 has not.
    assert limiter.allow("u", now=RATE_WINDOW_SECONDS + 1.0)
    assert not limiter.allow("u", now=RATE_WINDOW_SECONDS + 2.0)
    assert limiter.allow("u", now=50.0 + RATE_WINDOW_SECONDS)


async def test_a_message_refused_per_user_leaves_the_address_s_minute_to_others(
    echo_settings: Settings,
) -> None:
    echo_settings.worker.rate_limit_per_minute = 2
    async with await ChatService.open(echo_settings) as service:
        for n in range(2):  # u1's minute used up on another path (a bot, no address)
            assert (await service.chat(req(f"hello {n}", user="u1"))).status == "ok"
        for _ in range(2):
            refused = await service.chat(req("again", user="u1"), client="10.0.0.9")
            assert refused.status == "rate_limited"
        # Nothing from 10.0.0.9 was answered: its minute is whole for two more people.
        for user in ("u2", "u3"):
            reply = await service.chat(req("hi", user=user), client="10.0.0.9")
            assert reply.status == "ok", user


async def test_the_admin_token_under_another_scheme_is_refused(echo_settings: Settings) -> None:
    secrets = Secrets(admin_token=SecretStr("s70-token"))
    async with (
        await ChatService.open(echo_settings) as service,
        serving(create_app(service, secrets), bind_socket("127.0.0.1", 0)) as url,
        httpx.AsyncClient(base_url=url) as client,
    ):
        for scheme, status in (("Basic", 401), ("Token", 401), ("Bearer", 200), ("bearer", 200)):
            sent = await client.get("/auth", headers={"Authorization": f"{scheme} s70-token"})
            assert sent.status_code == status, scheme
