"""`HttpWorker`: the `Worker` interface over HTTP, for bots pointed at `[worker] url`.

Bots cannot tell it from the in-process ChatService. A chat that cannot reach the worker
still gets an answer in ATRI's voice (`[worker] error_reply`, status "error"); reload
and rollback report failure as a ReloadResult; reset, purge and status raise
WorkerUnreachable with one sentence, which the bot's command layer shows.
"""

from __future__ import annotations

import logging
import socket
from typing import Any

import httpx

from atri.config import Secrets, Settings
from model.memory import scope_key
from model.protocol import ChatRequest, ReloadResult, Reply, ScopeRef, WorkerStatus

log = logging.getLogger(__name__)

# Beyond the worker's own request timeout (after which it answers "busy" itself).
TIMEOUT_MARGIN_SECONDS = 10.0
CONNECT_TIMEOUT_SECONDS = 5.0
# Bots send one request per user message; keep that many connections open for reuse.
MAX_CONNECTIONS = 256


class WorkerUnreachable(Exception):
    """The worker did not answer properly; str() is the sentence to show."""


class HttpWorker:
    def __init__(self, settings: Settings, secrets: Secrets) -> None:
        self.settings = settings
        self.url = settings.worker.url.rstrip("/")
        headers = {}
        if secrets.admin_token is not None:
            headers["Authorization"] = f"Bearer {secrets.admin_token.get_secret_value()}"
        timeout = settings.worker.request_timeout_seconds + TIMEOUT_MARGIN_SECONDS
        # TCP_NODELAY: httpx writes a request's headers and body separately, and Nagle's
        # algorithm would hold the body until the worker's delayed ACK (~40 ms).
        transport = httpx.AsyncHTTPTransport(
            socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)],
            limits=httpx.Limits(
                max_connections=MAX_CONNECTIONS, max_keepalive_connections=MAX_CONNECTIONS
            ),
        )
        self._client = httpx.AsyncClient(
            base_url=self.url,
            headers=headers,
            timeout=httpx.Timeout(timeout, connect=CONNECT_TIMEOUT_SECONDS),
            transport=transport,
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def __aenter__(self) -> HttpWorker:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def _call(self, method: str, path: str, body: Any = None) -> Any:
        try:
            response = await self._client.request(method, path, json=body)
        except httpx.HTTPError as exc:
            raise WorkerUnreachable(
                f"Cannot reach the ATRI worker at {self.url} ({type(exc).__name__}); "
                "is `atri worker` running there?"
            ) from None
        if response.status_code == 401:
            raise WorkerUnreachable(
                f"The ATRI worker at {self.url} refused {path}: set the same ATRI_ADMIN_TOKEN "
                "for the bots as for the worker."
            )
        if response.status_code >= 400:
            raise WorkerUnreachable(
                f"The ATRI worker at {self.url} answered {path} with HTTP "
                f"{response.status_code}: {response.text[:200]}"
            )
        return response.json()

    async def chat(self, request: ChatRequest) -> Reply:
        try:
            return Reply.model_validate(await self._call("POST", "/chat", request.model_dump()))
        except (WorkerUnreachable, ValueError) as exc:
            log.error("chat failed: %s", exc)
            scope = scope_key(
                self.settings.memory.scope,
                request.platform,
                request.user_id,
                request.channel_id,
                request.guild_id,
            )
            return Reply(text=self.settings.worker.error_reply, scope=scope, status="error")

    async def reset(self, scope: ScopeRef) -> int:
        return int((await self._call("POST", "/reset", scope.model_dump()))["count"])

    async def purge(self, scope: ScopeRef) -> int:
        return int((await self._call("POST", "/purge", scope.model_dump()))["count"])

    async def status(self) -> WorkerStatus:
        return WorkerStatus.model_validate(await self._call("GET", "/status"))

    async def reload(self) -> ReloadResult:
        return await self._reload("/reload")

    async def rollback(self) -> ReloadResult:
        return await self._reload("/rollback")

    async def _reload(self, path: str) -> ReloadResult:
        try:
            return ReloadResult.model_validate(await self._call("POST", path))
        except WorkerUnreachable as exc:
            return ReloadResult(ok=False, message=str(exc))
