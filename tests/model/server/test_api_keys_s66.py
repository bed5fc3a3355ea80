"""Who may use the worker's /v1 API: clients' own keys (ATRI_API_KEYS), which open no
admin route (the API key was the admin token: a chat front end given it could read and
purge any member's memory), and an address no client can name for itself."""

from __future__ import annotations

import httpx

from atri.config import Secrets, Settings
from model.server.app import bind_socket, create_app, serving
from model.service import ChatService
from tests.model.server.conftest import ADMIN_TOKEN

HI = {"messages": [{"role": "user", "content": "hi"}], "user": "u1"}


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def test_a_clients_key_opens_the_api_and_no_admin_route(echo_settings: Settings) -> None:
    echo_settings.worker.openai_api_requires_token = True
    secrets = Secrets.from_env({"ATRI_ADMIN_TOKEN": ADMIN_TOKEN, "ATRI_API_KEYS": "st-1, nc-2"})
    async with (
        await ChatService.open(echo_settings) as service,
        serving(create_app(service, secrets), bind_socket("127.0.0.1", 0)) as url,
        httpx.AsyncClient(base_url=url) as http,
    ):
        for key in ("st-1", "nc-2", ADMIN_TOKEN):
            answer = await http.post("/v1/chat/completions", json=HI, headers=bearer(key))
            assert answer.status_code == 200, key
        for key in ("st-", "st-1, nc-2", "nc-2x", "none"):
            refused = await http.post("/v1/chat/completions", json=HI, headers=bearer(key))
            assert refused.status_code == 401, key
        history = {"platform": "openai", "user_id": "u1"}
        assert (
            await http.post("/history", json=history, headers=bearer("st-1"))
        ).status_code == 401
        assert (await http.post("/purge", json=history, headers=bearer("nc-2"))).status_code == 401
        kept = await http.post("/history", json=history, headers=bearer(ADMIN_TOKEN))
        assert kept.status_code == 200 and kept.json()


async def test_with_no_key_at_all_the_closed_api_says_so(echo_settings: Settings) -> None:
    echo_settings.worker.openai_api_requires_token = True
    async with (
        await ChatService.open(echo_settings) as service,
        serving(create_app(service, Secrets()), bind_socket("127.0.0.1", 0)) as url,
        httpx.AsyncClient(base_url=url) as http,
    ):
        refused = await http.post("/v1/chat/completions", json=HI, headers=bearer("x"))
    assert refused.status_code == 401
    assert "neither ATRI_API_KEYS nor ATRI_ADMIN_TOKEN" in refused.text


async def test_a_client_cannot_name_its_own_address_to_pass_the_limit(
    echo_settings: Settings,
) -> None:
    """Through a tunnel every client arrives from 127.0.0.1, whose X-Forwarded-For
    uvicorn trusted: each new made-up address was answered again."""
    echo_settings.worker.rate_limit_per_minute = 2
    hi = {"messages": HI["messages"]}
    async with (
        await ChatService.open(echo_settings) as service,
        serving(create_app(service, Secrets()), bind_socket("127.0.0.1", 0)) as url,
        httpx.AsyncClient(base_url=f"{url}/v1") as http,
    ):
        told = [
            (
                await http.post(
                    "/chat/completions", json=hi, headers={"X-Forwarded-For": f"10.1.0.{i}"}
                )
            ).headers["X-ATRI-Status"]
            for i in range(4)
        ]
    assert told == ["ok", "ok", "rate_limited", "rate_limited"]


async def test_a_page_under_another_name_cannot_reach_a_local_worker(
    echo_settings: Settings,
) -> None:
    """DNS rebinding: evil.example made to resolve to 127.0.0.1 is the page's own origin to
    the browser, which let it chat with her and read the answers."""
    async with (
        await ChatService.open(echo_settings) as service,
        serving(create_app(service, Secrets()), bind_socket("127.0.0.1", 0)) as url,
        httpx.AsyncClient(base_url=url) as http,
    ):
        port = url.rsplit(":", 1)[1]
        for host in ("evil.example", f"evil.example:{port}", "127.0.0.1.nip.io"):
            refused = await http.post("/v1/chat/completions", json=HI, headers={"Host": host})
            assert refused.status_code == 421, host
            assert "listens on this machine only" in refused.text
        for host in (f"localhost:{port}", f"127.0.0.1:{port}", f"[::1]:{port}", "app.localhost"):
            answer = await http.get("/health", headers={"Host": host})
            assert answer.status_code == 200, host
    # Listening for other machines, any name they use reaches it.
    echo_settings.worker.host = "0.0.0.0"
    async with (
        await ChatService.open(echo_settings) as service,
        serving(create_app(service, Secrets()), bind_socket("127.0.0.1", 0)) as url,
        httpx.AsyncClient(base_url=url) as http,
    ):
        assert (await http.get("/health", headers={"Host": "atri.example"})).status_code == 200
