"""A /v1 client that leaves before its reply (SillyTavern's stop button) is counted in
`/metrics` as status "cancelled"; before, its request vanished from `atri_requests_total`."""

from __future__ import annotations

import asyncio

import httpx

from atri.config import Secrets, Settings
from model.server.app import bind_socket, create_app, serving
from model.service import ChatService
from tests.model.server.test_v1_probe_s55 import HI, SlowRows, ask_and_leave


def _count(metrics: str, status: str) -> float:
    """`atri_requests_total`'s value for /v1 requests of `status` (0 when not listed)."""
    line = f'atri_requests_total{{api="openai",status="{status}"}} '
    found = [float(row.removeprefix(line)) for row in metrics.splitlines() if row.startswith(line)]
    return found[0] if found else 0.0


async def test_a_client_that_leaves_is_counted_as_cancelled(
    echo_settings: Settings, secrets: Secrets
) -> None:
    engine = SlowRows(seconds=0.5)
    async with (
        await ChatService.open(echo_settings, engine=engine) as service,
        serving(create_app(service, secrets), bind_socket("127.0.0.1", 0)) as url,
        httpx.AsyncClient(base_url=url, timeout=10) as http,
    ):
        before = (await http.get("/metrics")).text
        await ask_and_leave(
            url, {"messages": [{"role": "user", "content": "stop"}]}, lambda: engine.rows
        )
        # The cancellation reaches the service a moment after the connection drops.
        for _ in range(500):
            if engine.rows[0][1].cancelled():
                break
            await asyncio.sleep(0.01)
        # One with `user` is stored, so its client leaving cancels nothing: answered.
        stored = {"messages": [{"role": "user", "content": "keep"}], "user": "natsuki"}
        await ask_and_leave(url, stored, lambda: len(engine.rows) > 1)
        answered = await http.post("/v1/chat/completions", json={"messages": [HI]})
        for _ in range(500):
            if all(row.done() for _, row in engine.rows):
                break
            await asyncio.sleep(0.01)
        for _ in range(1000):  # the stored reply is counted once it is stored
            after = (await http.get("/metrics")).text
            if _count(after, "ok") == 2:
                break
            await asyncio.sleep(0.01)
    assert answered.status_code == 200
    assert _count(before, "cancelled") == _count(before, "ok") == 0
    assert _count(after, "cancelled") == 1
    assert _count(after, "ok") == 2  # the normal request and the stored one, as before
