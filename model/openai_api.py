"""The OpenAI chat-completions protocol on the worker: `/v1/chat/completions`, `/v1/models`.

ATRI's rules for OpenAI clients (README, "The model worker and the OpenAI-compatible API"):
- The client keeps the conversation and sends all of it; stored memory is never read.
- Without a system message ATRI's persona prompt leads the conversation; a client's own
  system (or developer) messages replace it, so SillyTavern cards and chained workers
  keep their prompt.
- The request joins the same batcher and out-of-character guard as bot traffic, so the
  [generation] settings apply; a client's sampling parameters are accepted and ignored
  (one batch shares one set).
- With a `user` field the exchange is also stored, in scope platform "openai", user id =
  that field (and that user is rate-limited like a bot user); without it nothing is kept.
- `stream: true` streams the finished reply in chunks (the batcher produces whole
  replies), then `data: [DONE]`.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from atri.config import Secrets
from model.prompt import ChatMessages, count_message_tokens
from model.protocol import Reply
from model.service import ChatService

PLATFORM = "openai"
MODEL_ALIAS = "atri"
STREAM_CHUNK_CHARS = 8


class OpenAIError(Exception):
    """An error answered in the OpenAI error format, which OpenAI clients display."""

    def __init__(self, message: str, kind: str = "invalid_request_error", status: int = 400):
        super().__init__(message)
        self.message = message
        self.kind = kind
        self.status = status

    @staticmethod
    def body(message: str, kind: str) -> dict[str, Any]:
        return {"error": {"message": message, "type": kind, "param": None, "code": kind}}


class ContentPart(BaseModel):
    model_config = ConfigDict(extra="ignore")
    type: str
    text: str = ""


class InMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):
            return "".join(p.text for p in self.content if p.type == "text")
        return self.content or ""


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="ignore")
    include_usage: bool = False


class CompletionRequest(BaseModel):
    # Sampling fields (temperature, top_p, max_tokens, …) are accepted and ignored.
    model_config = ConfigDict(extra="ignore")
    model: str = MODEL_ALIAS
    messages: list[InMessage] = Field(min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    user: str | None = Field(default=None, max_length=200)


def to_chat_messages(messages: list[InMessage], persona_prompt: str) -> ChatMessages:
    """System and developer messages become one leading system prompt (the persona's when
    the client sends none); tool messages are dropped; the last turn must be the user's."""
    system = "\n\n".join(m.text() for m in messages if m.role in ("system", "developer"))
    turns = [
        {"role": m.role, "content": m.text()} for m in messages if m.role in ("user", "assistant")
    ]
    if not turns or turns[-1]["role"] != "user" or not turns[-1]["content"].strip():
        raise OpenAIError("The last user or assistant message must be a non-empty user message.")
    return [{"role": "system", "content": system.strip() or persona_prompt}, *turns]


def fit_to_window(service: ChatService, messages: ChatMessages) -> ChatMessages:
    """Drop the oldest turns until the prompt leaves room for the reply."""
    engine = service.engine
    room = engine.context_window - service.settings.generation.max_new_tokens
    while len(messages) > 2 and count_message_tokens(service.count_tokens, messages) > room:
        messages = [messages[0], *messages[2:]]
    return messages


def openai_router(service: ChatService, secrets: Secrets) -> APIRouter:
    from model.http_api import check_token

    def client_key(request: Request) -> None:
        if service.settings.worker.openai_api_requires_token:
            check_token(secrets, request)

    router = APIRouter(prefix="/v1", dependencies=[Depends(client_key)])

    @router.get("/models")
    async def models() -> dict[str, Any]:
        created = int(time.time())
        base = service.engine.base_id
        version = service.engine.adapter_version
        ids = [MODEL_ALIAS] + ([version] if version else [])
        data = [
            {
                "id": model_id,
                "object": "model",
                "created": created,
                "owned_by": "atri",
                "root": base,
                "parent": base,
                "adapter_version": version,
            }
            for model_id in ids
        ]
        return {"object": "list", "data": data}

    @router.post("/chat/completions", response_model=None)
    async def completions(body: CompletionRequest) -> Response:
        messages = to_chat_messages(body.messages, service.system_prompt)
        messages = fit_to_window(service, messages)
        if body.stream:
            return StreamingResponse(
                _stream(service, body, messages),
                media_type="text/event-stream",
                headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
            )
        reply = await _answer(service, body, messages)
        payload = _completion(service, body, messages, reply)
        return JSONResponse(payload, headers={"X-ATRI-Status": reply.status})

    return router


async def _answer(service: ChatService, body: CompletionRequest, messages: ChatMessages) -> Reply:
    if not body.user:
        return await service.complete(messages)
    scope = service.scope_for(PLATFORM, body.user)
    if not service.rate_limiter.allow(f"{PLATFORM}:{body.user}"):
        return Reply(text=service.settings.worker.busy_reply, scope=scope, status="rate_limited")
    reply = await service.complete(messages, scope)
    if reply.status == "ok":
        await service.memory.append_many(
            scope,
            [
                ("user", body.user, "", messages[-1]["content"], ""),
                ("assistant", "", service.persona.name, reply.text, reply.adapter_version),
            ],
        )
    return reply


def _usage(service: ChatService, messages: ChatMessages, reply: Reply) -> dict[str, int]:
    prompt = count_message_tokens(service.count_tokens, messages)
    completion = service.count_tokens(reply.text)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def _fingerprint(reply: Reply) -> str:
    """Which adapter produced the reply ("base" = none)."""
    return reply.adapter_version or "base"


def _completion(
    service: ChatService, body: CompletionRequest, messages: ChatMessages, reply: Reply
) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.model,
        "system_fingerprint": _fingerprint(reply),
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": reply.text},
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        "usage": _usage(service, messages, reply),
    }


async def _stream(
    service: ChatService, body: CompletionRequest, messages: ChatMessages
) -> AsyncIterator[str]:
    completion_id = f"chatcmpl-{uuid.uuid4().hex}"
    created = int(time.time())

    def chunk(delta: dict[str, str], finish: str | None, fingerprint: str) -> str:
        data = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": body.model,
            "system_fingerprint": fingerprint,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
        }
        return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"

    reply = await _answer(service, body, messages)
    fingerprint = _fingerprint(reply)
    yield chunk({"role": "assistant", "content": ""}, None, fingerprint)
    for start in range(0, len(reply.text), STREAM_CHUNK_CHARS):
        yield chunk({"content": reply.text[start : start + STREAM_CHUNK_CHARS]}, None, fingerprint)
    yield chunk({}, "stop", fingerprint)
    if body.stream_options is not None and body.stream_options.include_usage:
        usage = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": body.model,
            "choices": [],
            "usage": _usage(service, messages, reply),
        }
        yield f"data: {json.dumps(usage, ensure_ascii=False)}\n\n"
    yield "data: [DONE]\n\n"
