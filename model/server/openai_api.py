"""The OpenAI chat-completions protocol on the worker: `/v1/chat/completions`, `/v1/models`
(and `/v1/models/{id}`, which the openai SDK's `models.retrieve` and some UIs call: it
answers any id a chat request accepts, as she answers a chat naming any).

This module only translates: a request becomes one `ChatRequest` for the same
`ChatService.chat` a bot message goes through (rate limit, per-conversation lock,
deadline, context fitting, out-of-character guard, memory write), and its `Reply`
becomes OpenAI's JSON or stream.

ATRI's rules for OpenAI clients (README, "The model worker and the OpenAI-compatible API"):
- The client keeps the conversation and sends all of it; stored memory is never read.
- Without a system message ATRI's persona prompt leads the conversation. A client's own
  system (or developer) messages replace it only when they are a persona for her: they
  name her (her name or an alias), as a SillyTavern card for her does. Otherwise (Chatbox's
  "You are a helpful assistant.", NextChat's memory summary, Open WebUI's search results)
  they follow her persona as a labelled section of notes: she stays herself. A named
  system line (SillyTavern's example dialogue) is written "Name: text".
- The request joins the same batcher and out-of-character guard as bot traffic, so the
  [generation] settings apply; a client's sampling parameters (temperature, top_p, …)
  are accepted and ignored (one batch shares one set). Two are honoured, per request:
  `max_tokens` (or `max_completion_tokens`), the reply's length, within
  `[generation] max_new_tokens`, and `stop`, up to 4 strings the reply ends before
  (exactly: the white space before one stays, as OpenAI's; memory keeps it without);
  `finish_reason` says "length" when the reply was cut at its token limit.
- What she cannot do (more than one choice, a forced tool call, a JSON reply,
  log-probabilities, audio, an image or other non-text part) is refused with OpenAI's 400
  naming the field, never answered in prose as if it were done. The last user message's
  `name` is the person she answers ({{user}}); the last message must be the user's, or
  her unfinished reply after it (SillyTavern's Continue with "Continue prefill"): she goes
  on with it, and the answer is only its rest, which the client appends.
- With a `user` field the exchange is also stored, in scope platform "openai", user id =
  that field (and that user is rate-limited like a bot user); without it, or with one of
  blanks or invisible characters only, nothing is kept.
  A Continue is never stored: her reply was, when she first made it. A regenerate (the
  same conversation sent again: SillyTavern's swipe) stores her new reply in place of the
  one stored, not the question twice (`exchange_id`).
- Without `[worker] openai_api_requires_token`, each client address is rate-limited too,
  as one more user: a client cannot dodge the limit by varying or leaving out `user`.
- `stream: true` streams the finished reply in chunks (the batcher produces whole
  replies), then `data: [DONE]` (a usage chunk before it with `stream_options`
  `include_usage: true`; `stream_options` without `stream: true` is OpenAI's 400); the
  headers wait for the reply, so `X-ATRI-Status` says what it is, as on a plain answer.
  A client that leaves before the reply is ready does not cancel it when it named a
  `user` (its exchange is stored, streamed or not); without one nothing would be kept,
  so its chat is cancelled (`unless_the_client_leaves`).
- The worker's own lines are no reply of hers, so they are HTTP errors in OpenAI's format,
  streamed or not, each with its `X-ATRI-Status`: rate_limited is 429 and busy 503, both
  with `Retry-After`, and error 500. A worker that cannot answer anyone as configured (its
  character prompt leaves no room in the context window) answers its 500 with the
  sentence saying so and `x-should-retry: false`, which OpenAI's SDKs obey (no retry
  cures it). Bots get her lines for all of these, as before.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator, Coroutine, Iterator
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from atri.config import Secrets
from model.admission import RATE_WINDOW_SECONDS
from model.protocol import (
    GRAPHEME,
    MAX_STOP_STRINGS,
    ChatRequest,
    ChatTurn,
    Reply,
    StopText,
    Text,
    clean_text,
    visible_text,
)
from model.server.auth import check_api_key
from model.service import ChatService

PLATFORM = "openai"
MODEL_ALIAS = "atri"
# Characters per stream delta at most, unless one grapheme cluster (an emoji of seven code
# points) is longer: a cluster is never cut, or a client drawing each delta shows its halves.
STREAM_CHUNK_CHARS = 8
# More messages than any real conversation sends: beyond it a request is refused (413)
# before any work, since each message costs validation and fitting time.
MAX_MESSAGES = 2000
# Content parts of all messages together, counted before they are validated: 10,000
# bad items in a 30 KB body held the event loop for 18 s while their errors were listed.
MAX_CONTENT_PARTS = 4000
# Client addresses whose use of system messages was logged; past this many, forgotten.
MAX_CLIENTS_TOLD = 10_000
# Retry-After of a 429: the limit's whole window, after which a place is free for certain
# (the limiter does not say when its oldest request leaves the window).
RATE_LIMITED_RETRY_SECONDS = int(RATE_WINDOW_SECONDS)
# Retry-After of a 503: a place in the queue frees as a batch ends, which takes seconds; a
# retry at once mostly finds it full again.
BUSY_RETRY_SECONDS = 10
# The status of an answer to a client that left before it (nginx's "client closed
# request"): never sent, but what the endpoint returns.
CLIENT_GONE = 499
STREAM_OPTIONS_WITHOUT_STREAM = (
    "stream_options: only allowed when stream is true, as in OpenAI's API; send "
    "stream: true with it, or leave it out."
)

log = logging.getLogger(__name__)
# Its own logger, which `atri` shows without -v (TOLD_LOGGERS): whether a client's system
# messages replaced her persona is what an operator needs to know when she stops being
# herself in SillyTavern or NextChat, while this module's other INFO lines wait for -v.
system_text_log = logging.getLogger(f"{__name__}.system_text")


# `model` and `user`: names, not text. `model` is repeated in every chunk of a stream, so
# a long one would multiply the reply's size (a 1 MB name made a 28 MB answer). The
# constraint sits inside the type, so pydantic says "characters", not "items".
MAX_NAME_CHARS = 200
Name = Annotated[str, StringConstraints(max_length=MAX_NAME_CHARS), BeforeValidator(clean_text)]
# Any model a client names is answered by her (front ends send their own: "gpt-4o"), so
# `/v1/models/{id}` answers any id this accepts too (`answered_model`): front ends that
# retrieve the model before chatting refused to chat on its 404.
ModelId = Name
MODEL_ID = TypeAdapter(ModelId)
# A reply length: a whole number of tokens, at least one (not "5", 5.5 or true).
TokenCount = Annotated[StrictInt, Field(gt=0)]


class OpenAIError(Exception):
    """An error answered in the OpenAI error format, which OpenAI clients display."""

    def __init__(
        self,
        message: str,
        kind: str = "invalid_request_error",
        status: int = 400,
        code: str = "",
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.kind = kind
        self.status = status
        self.code = code or kind
        self.param = param
        self.headers = headers

    @staticmethod
    def body(message: str, kind: str, code: str = "", param: str | None = None) -> dict[str, Any]:
        return {"error": {"message": message, "type": kind, "param": param, "code": code or kind}}


# The roles of a tool's result (OpenAI's current and its older name).
TOOL_ROLES = ("tool", "function")
# The content parts that hold text: "refusal" is an assistant's part, its text in `refusal`.
TEXT_PARTS = ("text", "refusal")


class ContentPart(BaseModel):
    model_config = ConfigDict(extra="ignore")
    type: str
    text: Text = ""
    refusal: Text = ""


class InMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: Text | list[ContentPart] | None = None
    # Who speaks (OpenAI's `name`): the last user message's is the person she answers.
    name: Name | None = None

    def text(self) -> str:
        if isinstance(self.content, list):
            return "".join(p.text or p.refusal for p in self.content if p.type in TEXT_PARTS)
        return self.content or ""


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="ignore")
    include_usage: StrictBool | None = None  # null: not asked, as OpenAI's spec allows


class CompletionRequest(BaseModel):
    # Sampling fields (temperature, top_p, …) are accepted and ignored: [generation] rules.
    model_config = ConfigDict(extra="ignore")
    model: ModelId = MODEL_ALIAS
    messages: list[InMessage] = Field(min_length=1)
    # Strict, as every flag on the wire: JSON true or false, not "yes", 1 or "off"; null
    # (which OpenAI's spec allows, and clients that write every field send) is false.
    stream: StrictBool | None = None
    stream_options: StreamOptions | None = None
    user: Name | None = None
    # The reply's length in tokens (`max_completion_tokens` is OpenAI's newer name); the
    # smallest of those given and `[generation] max_new_tokens` applies.
    max_tokens: TokenCount | None = None
    max_completion_tokens: TokenCount | None = None
    stop: StopText | Annotated[list[StopText], Field(max_length=MAX_STOP_STRINGS)] | None = None
    # How many choices: one reply is written per request, so another number is refused
    # (`refused_field`) rather than answered with fewer choices than asked for.
    n: Annotated[StrictInt, Field(ge=1)] | None = None
    # What she cannot do is refused (`refused_field`), not quietly answered in prose as if
    # it were done: a forced tool call, a JSON reply, token log-probabilities, audio.
    # `tools` alone is accepted: with `tool_choice` "auto" a reply in text is an answer
    # OpenAI gives too.
    tool_choice: Any = None
    function_call: Any = None
    response_format: Any = None
    logprobs: StrictBool | None = None
    top_logprobs: Annotated[StrictInt, Field(ge=0, le=20)] | None = None
    modalities: list[str] | None = None

    @field_validator("user")
    @classmethod
    def _blank_is_anonymous(cls, user: str | None) -> str | None:
        """A `user` of blanks or invisible characters only (" ", "\\n", U+200B) is "":
        anonymous, nothing stored. It made one conversation, `openai:user: `, that
        every such client shared."""
        return user if user is None or visible_text(user) else ""

    @model_validator(mode="before")
    @classmethod
    def _not_too_many(cls, data: Any) -> Any:
        """Too many messages, or content parts, refused before any is validated: their
        number is what a small body can make large (`[1, 1, …]`)."""
        messages = data.get("messages") if isinstance(data, dict) else None
        if not isinstance(messages, list):
            return data
        if len(messages) > MAX_MESSAGES:
            raise OpenAIError(
                f"The request has {len(messages)} messages; at most {MAX_MESSAGES} "
                "are accepted. Send the conversation's recent messages only.",
                kind="request_too_large",  # as for a body over the size limit
                status=413,
            )
        parts = sum(
            len(m["content"])
            for m in messages
            if isinstance(m, dict) and isinstance(m.get("content"), list)
        )
        if parts > MAX_CONTENT_PARTS:
            raise OpenAIError(
                f"The request's messages have {parts} content parts; at most"
                f" {MAX_CONTENT_PARTS} are accepted.",
                kind="request_too_large",
                status=413,
            )
        return data

    def streamed(self) -> bool:
        return bool(self.stream)

    def usage_chunk(self) -> bool:
        return self.stream_options is not None and bool(self.stream_options.include_usage)

    def reply_cap(self) -> int | None:
        given = [n for n in (self.max_tokens, self.max_completion_tokens) if n is not None]
        return min(given) if given else None

    def stop_strings(self) -> list[str]:
        if self.stop is None:
            return []
        return [self.stop] if isinstance(self.stop, str) else list(self.stop)

    def refused_field(self) -> tuple[str, str] | None:
        """The first field asking for what ATRI cannot do, and the sentence saying so."""
        if self.n is not None and self.n != 1:
            return (
                "n",
                "n: this worker writes one reply per request; send n: 1 (SillyTavern: "
                "Multiple swipes per generation = 1).",
            )
        if self.tool_choice not in (None, "none", "auto"):
            return "tool_choice", "tool_choice: this worker calls no tools; send 'auto' or 'none'."
        if self.function_call not in (None, "none", "auto"):
            return (
                "function_call",
                "function_call: this worker calls no functions; send 'auto' or 'none'.",
            )
        kind = self.response_format.get("type") if isinstance(self.response_format, dict) else None
        if self.response_format is not None and kind != "text":
            return (
                "response_format",
                "response_format: this worker answers in prose, not JSON; only "
                '{"type": "text"} is accepted.',
            )
        if self.logprobs or self.top_logprobs:
            field = "logprobs" if self.logprobs else "top_logprobs"
            return field, (
                f"{field}: this worker does not return token log-probabilities (SillyTavern: "
                "turn off Request token probabilities)."
            )
        if self.modalities is not None and set(self.modalities) - {"text"}:
            return "modalities", 'modalities: this worker answers in text only; send ["text"].'
        for i, message in enumerate(self.messages):
            parts = message.content if isinstance(message.content, list) else []
            for j, part in enumerate(parts):
                if part.type not in TEXT_PARTS:
                    # `param` as OpenAI's, the sentence with the JSON path the client sent.
                    return (
                        f"messages.{i}.content.{j}",
                        f"messages[{i}].content[{j}]: this worker reads text only, not "
                        f"'{part.type[:40]}' parts; send the message's text parts alone.",
                    )
        return None


# SillyTavern's example dialogue: system messages named for the two sides of the chat.
EXAMPLE_USER = "example_user"
EXAMPLE_ASSISTANT = "example_assistant"
# The heading of a client's system text that is not a persona for her, in her language.
CLIENT_NOTES_HEADINGS = {
    "zh": "（对方的聊天软件附上的说明：供参考，你仍然是你自己）",
    "en": "(Notes from the user's chat app: context only; you are still yourself)",
    "ja": "（相手のチャットアプリからのメモ：参考まで。あなたはあなたのまま）",
}


# A line stating which model the client calls ("Current model: atri" in NextChat's injected
# prompt, "Model: …", "model name: …", "当前模型：…"): with the model named after her, as
# the README has users do, it named her, and NextChat's "You are ChatGPT…" replaced her
# persona. The whole line is the statement: at most two words before "model", one name
# after the colon; a sentence that says "model:" ("Never say you are an AI language
# model: stay in character, ATRI.") still names her.
MODEL_NAME_LINE = re.compile(
    r"^[^\S\n]*(?:\w+[^\S\n]*){0,2}?(?<![A-Za-z])(?:model|模型|モデル)(?:[ _-]?(?:name|id))?"
    r"[^\S\n]*[:：][^\S\n]*[^\s:：]{1,80}[^\S\n]*$",
    re.IGNORECASE | re.MULTILINE,
)


@dataclass(frozen=True)
class Speakers:
    """Who the conversation is between, as the worker knows it: her name and aliases
    (what a persona for her names), and the user's name when the request gives none."""

    her: str
    aliases: tuple[str, ...] = ()
    user: str = ""
    language: str = "en"

    def names_her(self, text: str) -> bool:
        """Whether `text` names her: a whole word in Latin script ("Patricia" is not
        "Atri"), anywhere in scripts written without spaces (亚托莉, アトリ). A line that
        only states the model's name (`MODEL_NAME_LINE`) does not count."""
        text = MODEL_NAME_LINE.sub("", text)
        for name in (self.her, *self.aliases):
            if name.strip() and re.search(
                rf"(?<![A-Za-z0-9]){re.escape(name.strip())}(?![A-Za-z0-9])", text, re.IGNORECASE
            ):
                return True
        return False


@dataclass(frozen=True)
class ClientRequest:
    """A request as the service takes it: `notes`, the client's system text that is no
    persona for her, follow her own prompt ("" when there is none)."""

    chat: ChatRequest
    notes: str = ""


# Front ends' recaps of earlier turns (NextChat's memory, in English and in Chinese): a
# summary of a chat with her names her, and is no persona.
RECAP_OPENINGS = (
    "This is a summary of the chat history as a recap",
    "这是历史聊天总结作为前情提要",
)


def _is_persona(messages: list[InMessage], speakers: Speakers) -> bool:
    """Whether the client's system text is a persona for her: its first system message
    (not a recap, not a named example line) names her. A card or SillyTavern's main prompt
    comes first; another client's own prompt (Chatbox's, NextChat's injected one) leads
    its system text, and a recap or search context naming her after it makes no persona."""
    for message in messages:
        if message.role not in ("system", "developer") or message.name:
            continue
        text = message.text().strip()
        if text and not text.startswith(RECAP_OPENINGS):
            return speakers.names_her(text)
    return False


def _system_line(message: InMessage, speakers: Speakers, user: str) -> str:
    """A system message's text; a named one (SillyTavern's example dialogue) as "Name: text"."""
    if not message.name:
        return message.text()
    who = {EXAMPLE_USER: user, EXAMPLE_ASSISTANT: speakers.her}.get(message.name, message.name)
    return f"{who}: {message.text()}"


def to_chat_request(body: CompletionRequest, speakers: Speakers) -> ClientRequest:
    """System and developer messages become one system text: the client's persona for her
    when it leads with one (`_is_persona`), otherwise notes after her own prompt; tool
    messages are dropped; the last turn must be the user's and the ones before it are the
    client's context, less those with no text (an assistant's tool call, an empty message
    SillyTavern kept), which would only show her empty turns. A last message of hers with
    text after a user's is her unfinished reply to the last user message (`_so_far`)."""
    turns = [
        ChatTurn(role=m.role, content=m.text())
        for m in body.messages
        if m.role == "user" or m.role == "assistant"
    ]
    so_far = _so_far(body.messages)
    if so_far:
        asked = max(i for i, t in enumerate(turns) if t.role == "user" and visible_text(t.content))
        turns = turns[: asked + 1]
    elif (turns and turns[-1].role == "assistant") or body.messages[-1].role in TOOL_ROLES:
        # A tool's result last was dropped with the tool messages, and the user's message
        # before it answered as if the result had not come.
        raise OpenAIError(not_the_users_turn(body.messages), param="messages")
    # Visible text, not strip(): a message of zero-width spaces got the worker's "what did
    # you want to tell me?" line as if it were her reply.
    if not turns or not visible_text(turns[-1].content):
        raise OpenAIError("The last message must be a non-empty user message.", param="messages")
    context = [turn for turn in turns[:-1] if visible_text(turn.content)]
    speaker = [m for m in body.messages if m.role == "user"][-1].name
    user = speaker or speakers.user
    system = "\n\n".join(
        _system_line(m, speakers, user) for m in body.messages if m.role in ("system", "developer")
    ).strip()
    persona = system if _is_persona(body.messages, speakers) else ""
    notes = "" if persona or not system else f"{client_notes_heading(speakers.language)}\n{system}"
    request = ChatRequest(
        platform=PLATFORM,
        user_id=body.user or "",
        display_name=speaker or "",
        text=turns[-1].content,
        context=context,
        system_prompt=persona,
        max_new_tokens=body.reply_cap(),
        stop=body.stop_strings(),
        reply_so_far=so_far,
        request_id=exchange_id(context, turns[-1].content) if body.user else "",
    )
    return ClientRequest(request, notes)


def exchange_id(context: list[ChatTurn], text: str) -> str:
    """The id her stored exchange goes by: the conversation up to the user's message,
    which a regenerate (SillyTavern's swipe) sends again as it was, so that her new reply
    replaces the stored one instead of storing the question twice (`ChatService`'s
    copies). Without the system text: NextChat's says the time, new at every send."""
    said = [[turn.role, turn.content] for turn in context] + [["user", text]]
    digest = hashlib.sha256(json.dumps(said).encode()).hexdigest()
    return f"{PLATFORM}-{digest[:32]}"


def _so_far(messages: list[InMessage]) -> str:
    """Her unfinished reply, where the conversation ends with one: SillyTavern's Continue
    with "Continue prefill" sends it last, as her message, and appends what comes back.
    "" where the last message is not hers, has no text, or follows no user message with
    text (her greeting alone: there is no turn she answers). Her messages between the
    user's and this one are left out (the client appends to this one alone)."""
    last = messages[-1]
    if last.role != "assistant" or not visible_text(last.text()):
        return ""
    asked = any(m.role == "user" and visible_text(m.text()) for m in messages[:-1])
    return last.text() if asked else ""


def not_the_users_turn(messages: list[InMessage]) -> str:
    """Why a conversation whose last turn is hers cannot be answered, named after what the
    client sent last: her unfinished reply, an instruction after it, or a tool's result."""
    last = messages[-1].role
    if last in TOOL_ROLES:
        return (
            "The last message is a tool's result, but this worker calls no tools: the last "
            "message must be the user's."
        )
    if last == "assistant":
        return (
            "The last message must be the user's, or her unfinished reply after one: she "
            "answers a user's message, and continues a reply of hers only with text that "
            "follows it."
        )
    return (
        "The last message must be the user's, or her unfinished reply: after her reply "
        'comes only an instruction. For SillyTavern\'s Continue, turn on "Continue prefill" '
        "(AI Response Configuration), which sends her reply last; she does not write the "
        "user's turn (Impersonate)."
    )


def client_notes_heading(language: str) -> str:
    return CLIENT_NOTES_HEADINGS.get(language, CLIENT_NOTES_HEADINGS["en"])


def under_v1(path: str) -> bool:
    """Whether `path` is the OpenAI API's (its errors in OpenAI's format): /v1 itself too."""
    return path == "/v1" or path.startswith("/v1/")


SERVED_ROUTES = "GET /v1/models, GET /v1/models/{id} and POST /v1/chat/completions"
ROUTE_PATHS = ("/v1/models", "/v1/chat/completions")
# How much of a path or model id a client sent an error repeats.
SHOWN_CHARS = 200


def _shown(said: str) -> str:
    """What the client sent, cut for an error's sentence: a 60,000-character model id was
    repeated whole in its 404."""
    return said if len(said) <= SHOWN_CHARS else f"{said[:SHOWN_CHARS]}…"


def unknown_path(path: str) -> OpenAIError:
    """OpenAI's 404 for a /v1 path this worker does not serve, saying what to do instead:
    clients show the sentence, where a bare "Not Found" leaves the user guessing."""
    if path.rstrip("/") == "/v1/completions":
        # SillyTavern's Text Completion mode (and other prompt-completion clients).
        message = (
            "This worker serves chat completions only, not text completions "
            "(/v1/completions). In SillyTavern, pick the Chat Completion API, source Custom "
            "(OpenAI-compatible), URL http://HOST:PORT/v1."
        )
    elif path.startswith("/v1/v1/"):
        # NextChat and others add /v1 themselves: a base URL ending in /v1 doubles it.
        message = (
            f"No route {path}: this client adds /v1 itself, so drop /v1 from its base URL "
            f"(http://HOST:PORT). This worker serves {SERVED_ROUTES}."
        )
    elif path.endswith("/") and path.rstrip("/") in ROUTE_PATHS:
        # Starlette answered it with an empty 307 whose Location came from the Host header.
        message = f"No route {path}: drop the slash at its end ({path.rstrip('/')})."
    else:
        message = f"No route {_shown(path)} on this worker; it serves {SERVED_ROUTES}."
    return OpenAIError(message, kind="invalid_request_error", status=404, code="unknown_url")


def answered_model(model_id: str) -> str | None:
    """`model_id` as a chat request naming it takes it (`ModelId`); None where such a
    request is refused."""
    try:
        return MODEL_ID.validate_python(model_id)
    except ValidationError:
        return None


def openai_router(service: ChatService, secrets: Secrets) -> APIRouter:
    async def client_key(request: Request) -> None:  # async: no thread hand-off (`admin`)
        if service.settings.worker.openai_api_requires_token:
            check_api_key(secrets, request)

    def open_client(request: Request) -> str:
        """The caller's address when the API is open (anyone may name any `user`, so the
        address is what a flood cannot vary); "" for key holders, trusted like bots.
        Behind a proxy named in [worker] trusted_proxies, uvicorn reads the address from
        X-Forwarded-For."""
        if service.settings.worker.openai_api_requires_token or request.client is None:
            return ""
        return request.client.host

    router = APIRouter(prefix="/v1", dependencies=[Depends(client_key)])
    persona = service.persona
    speakers = Speakers(
        persona.name, tuple(persona.aliases), service.user_name, persona.main_language
    )
    told: set[tuple[str, bool]] = set()

    def say_what_became_of_the_system_text(http: Request, request: ClientRequest) -> None:
        """Once per client address (and again if it changes): whether its system messages
        replaced her persona or follow it as notes, so the operator can tell why she
        answers as she does."""
        if not request.chat.system_prompt and not request.notes:
            return
        address = http.client.host if http.client is not None else "?"
        replaced = bool(request.chat.system_prompt)
        if (address, replaced) in told:
            return
        if len(told) >= MAX_CLIENTS_TOLD:
            told.clear()
        told.add((address, replaced))
        if replaced:
            system_text_log.info(
                "/v1 client %s: its system messages name %s, so they replace her persona",
                address,
                persona.name,
            )
        else:
            system_text_log.info(
                "/v1 client %s: its system messages do not name %s, so they follow her "
                "persona as notes",
                address,
                persona.name,
            )

    async def model_objects() -> list[dict[str, Any]]:
        """`atri` and the live adapter version, as OpenAI's model objects. A base model
        read from a folder goes by the folder's name, as `/status` names it without the
        token: the route is open by default, and its path is the worker's machine's."""
        created = int(time.time())
        status = await service.status()
        base, version = status.base_model_name(), status.adapter_version
        ids = [MODEL_ALIAS] + ([version] if version else [])
        return [
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

    # HEAD too, as HTTP wants wherever GET is served (uptime monitors and proxies ask it).
    @router.api_route("/models", methods=["GET", "HEAD"])
    async def models() -> dict[str, Any]:
        return {"object": "list", "data": await model_objects()}

    # `:path`, so an id with a slash (a hub name such as "org/model") is answered here,
    # with OpenAI's 404, rather than by the router's bare one.
    @router.api_route("/models/{model_id:path}", methods=["GET", "HEAD"])
    async def model(model_id: str, http: Request) -> dict[str, Any]:
        if not model_id:  # `/v1/models/`: the list's path, a slash at its end
            raise unknown_path(http.url.path)
        found = await model_objects()
        for item in found:
            if item["id"] == model_id:
                return item
        answered = answered_model(model_id)
        if answered is None:
            raise OpenAIError(
                f"The model '{_shown(model_id)}' does not exist on this worker: a model id"
                f" has at most {MAX_NAME_CHARS} characters (a chat request naming this one"
                f" is refused too). Any shorter one is answered by '{MODEL_ALIAS}'.",
                status=404,
                code="model_not_found",
                param="model",
            )
        # Any other name a chat request may send is answered as `atri` is.
        return {**found[0], "id": answered}

    @router.post("/chat/completions", response_model=None)
    async def completions(body: CompletionRequest, http: Request) -> Response:
        if body.stream_options is not None and not body.streamed():
            # As OpenAI answers it: a client that sends it expects a stream (and a usage
            # chunk) that a plain answer would not give it.
            raise OpenAIError(STREAM_OPTIONS_WITHOUT_STREAM, param="stream_options")
        if refused := body.refused_field():
            param, message = refused
            raise OpenAIError(message, code="unsupported_parameter", param=param)
        request = to_chat_request(body, speakers)
        say_what_became_of_the_system_text(http, request)
        # The reply is made before any header is sent, streamed or not. Batches make whole
        # replies, so a stream has nothing to send sooner; its status can then say what the
        # answer is (a busy line, decided as late as the deadline, is a 503, no model
        # reply), and a refused request gets OpenAI's 400, as a plain one does.
        chat = service.chat(request.chat, client=open_client(http), notes=request.notes)
        if body.user and not request.chat.reply_so_far:
            # Stored: a client that leaves meanwhile does not cancel it (Starlette runs an
            # endpoint to its end), so its exchange is remembered all the same.
            reply = await chat
        else:
            # Nothing is kept: a reply nobody waits for is not worth its decoding.
            answered = await unless_the_client_leaves(chat, http)
            if answered is None:
                return Response(status_code=CLIENT_GONE)
            reply = answered
        if reply.status == "refused":
            # The client's own messages cannot be answered as sent (too long to fit).
            raise OpenAIError(reply.text, param="messages")
        if reply.status in ("rate_limited", "busy", "error"):
            # A stream has sent nothing yet: the same answer.
            raise worker_line_error(reply, service.settings.worker.rate_limit_per_minute)
        status = {"X-ATRI-Status": reply.status}
        if body.streamed():
            return StreamingResponse(
                _stream(body, reply),
                media_type="text/event-stream",
                headers={**status, "Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
            )
        return JSONResponse(_completion(body, reply), headers=status)

    return router


def worker_line_error(reply: Reply, per_minute: int) -> OpenAIError:
    """Her busy or error line as the HTTP error it stands for, in OpenAI's format. Sent as
    her reply (a 200), front ends showed it as what she said, kept it in their history and
    sent it back as her turn, and the SDKs' retry never fired."""
    headers: dict[str, str] = {"X-ATRI-Status": reply.status}
    if reply.status == "rate_limited":
        return OpenAIError(
            f"Rate limit reached: this worker answers at most {per_minute} requests a minute"
            " from one user or client address ([worker] rate_limit_per_minute); try again"
            f" in {RATE_LIMITED_RETRY_SECONDS} s.",
            kind="requests",  # OpenAI's, for a limit on requests (not tokens) per minute
            status=429,
            code="rate_limit_exceeded",
            headers={**headers, "Retry-After": str(RATE_LIMITED_RETRY_SECONDS)},
        )
    if reply.status == "busy":
        return OpenAIError(
            "The worker is too busy to answer now: its queue is full, or the reply was not"
            " ready within [worker] request_timeout_seconds. Try again shortly.",
            kind="server_error",
            status=503,
            code="server_is_overloaded",
            # Not retried by the SDKs on their own: a reply past the deadline would cost
            # the whole deadline again, twice, on a worker already too slow for it.
            headers={
                **headers,
                "Retry-After": str(BUSY_RETRY_SECONDS),
                "x-should-retry": "false",
            },
        )
    if reply.error_detail:
        # The worker's own setting (its card does not fit its context window): no
        # request can be answered.
        return OpenAIError(
            reply.error_detail,
            kind="server_error",
            status=500,
            code="character_prompt_too_long",
            # OpenAI's SDKs retry a 500 twice by default: three requests, three log
            # lines and three waits for a setting no retry cures. They obey this.
            headers={**headers, "x-should-retry": "false"},
        )
    return OpenAIError(
        "The worker failed while answering this request (its log says why); try again.",
        kind="server_error",
        status=500,
        headers=headers,
    )


async def unless_the_client_leaves(chat: Coroutine[Any, Any, Reply], http: Request) -> Reply | None:
    """`chat`'s reply, or None when the client disconnects first (a stop button, a closed
    tab, a proxy's timeout): then the chat is cancelled, which frees its place in the
    queue and stops its decoding (the local engine's row at its next step, the rest of
    its batch going on), as a passed deadline does."""
    answer = asyncio.ensure_future(chat)
    left = asyncio.ensure_future(_client_left(http))
    try:
        await asyncio.wait((answer, left), return_when=asyncio.FIRST_COMPLETED)
    finally:
        left.cancel()
        if not answer.done():  # the client left, or this request was cancelled (shutdown)
            answer.cancel()
    if answer.done():
        return answer.result()
    await asyncio.wait((answer,))  # its cancellation through, before the next request
    address = http.client.host if http.client is not None else "?"
    log.info("%s client %s left before its reply: generating it stopped", http.url.path, address)
    return None


async def _client_left(http: Request) -> None:
    """Returns once the client has disconnected. The body has been read: what the server
    has left to say of this request is that it went away."""
    while (await http.receive())["type"] != "http.disconnect":
        continue


def _usage(reply: Reply) -> dict[str, int]:
    return {
        "prompt_tokens": reply.prompt_tokens,
        "completion_tokens": reply.completion_tokens,
        "total_tokens": reply.prompt_tokens + reply.completion_tokens,
    }


def _fingerprint(reply: Reply) -> str:
    """Which adapter wrote the reply: "base" = none."""
    return reply.adapter_version or "base"


def _completion(body: CompletionRequest, reply: Reply) -> dict[str, Any]:
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
                "finish_reason": reply.finish_reason,
                "logprobs": None,
            }
        ],
        "usage": _usage(reply),
    }


def _deltas(text: str) -> Iterator[str]:
    """`text` in pieces of at most `STREAM_CHUNK_CHARS`, each cut between two grapheme
    clusters; one longer cluster is a piece of its own."""
    start = 0
    for cluster in GRAPHEME.finditer(text):
        if cluster.end() - start > STREAM_CHUNK_CHARS and cluster.start() > start:
            yield text[start : cluster.start()]
            start = cluster.start()
    if start < len(text):
        yield text[start:]


async def _stream(body: CompletionRequest, reply: Reply) -> AsyncIterator[str]:
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
        if body.usage_chunk():
            data["usage"] = None  # OpenAI's too: the usage is in the last chunk alone
        return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"

    fingerprint = _fingerprint(reply)
    yield chunk({"role": "assistant", "content": ""}, None, fingerprint)
    for delta in _deltas(reply.text):
        yield chunk({"content": delta}, None, fingerprint)
        # A turn for the loop between chunks: a client gone mid-stream is noticed there
        # (uvicorn stops writing) instead of asyncio warning at every write after.
        await asyncio.sleep(0)
    yield chunk({}, reply.finish_reason, fingerprint)
    if body.usage_chunk():
        usage = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": body.model,
            "choices": [],
            "usage": _usage(reply),
        }
        yield f"data: {json.dumps(usage, ensure_ascii=False)}\n\n"
    yield "data: [DONE]\n\n"
