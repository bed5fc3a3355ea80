"""The worker's interface as data: what adapters send and get back.

Adapters (Discord, QQ, console, HTTP clients) only ever see these types and the
`Worker` protocol; they never import torch or know which engine answers.
"""

from __future__ import annotations

from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, Field

ScopeKind = Literal["user", "user_in_channel", "channel"]

# `Worker.reset` returns this instead of a count when the user's conversation is the
# channel's shared one (scope "channel"): only an admin may reset that, as a channel.
SHARED_SCOPE = -1


class ChatRequest(BaseModel):
    platform: str
    user_id: str
    text: str
    display_name: str = ""
    channel_id: str = ""
    guild_id: str = ""
    addressed: bool = True
    request_id: str = ""


class Reply(BaseModel):
    text: str
    scope: str
    adapter_version: str = ""
    # "ok": a model reply; "busy": overloaded or timed out; "error": the worker failed;
    # "rate_limited": this user sent too much too fast. Anything but "ok" is not stored.
    status: Literal["ok", "busy", "error", "rate_limited"] = "ok"
    ooc_retries: int = 0
    latency_ms: float = 0.0


class ScopeRef(BaseModel):
    """Which conversation a command means. With a user id: that user's conversation
    (in this channel, if memory is scoped per channel); without: the whole channel."""

    platform: str
    user_id: str = ""
    channel_id: str = ""
    guild_id: str = ""


class WorkerStatus(BaseModel):
    engine: str
    base_model: str
    adapter_version: str = ""
    queue_depth: int = 0
    uptime_seconds: float = 0.0
    last_reload: dict[str, Any] = Field(default_factory=dict)
    details: dict[str, Any] = Field(default_factory=dict)


class ReloadResult(BaseModel):
    ok: bool
    message: str
    adapter_version: str = ""


@runtime_checkable
class Worker(Protocol):
    """One interface, two transports: the in-process service and the HTTP client."""

    async def chat(self, request: ChatRequest) -> Reply: ...

    async def reset(self, scope: ScopeRef) -> int: ...

    async def purge(self, scope: ScopeRef) -> int: ...

    async def status(self) -> WorkerStatus: ...

    async def reload(self) -> ReloadResult: ...

    async def rollback(self) -> ReloadResult: ...
