"""/v1 as real chat front ends use it: Chatbox's, NextChat's and Open WebUI's system
messages, SillyTavern's cards, example dialogue and Continue."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest

from atri.config import Secrets, Settings
from model.server.app import bind_socket, create_app, serving
from model.server.openai_api import (
    CompletionRequest,
    OpenAIError,
    Speakers,
    client_notes_heading,
    to_chat_request,
)
from model.service import ChatService
from tests.held_echo import RecordingEcho

SPEAKERS = Speakers("ATRI", ("Atri", "亚托莉"), user="Master", language="en")
CHATBOX = "You are a helpful assistant."
HI = {"role": "user", "content": "Who are you?"}


def request(*messages: dict[str, Any]) -> CompletionRequest:
    return CompletionRequest.model_validate({"model": "atri", "messages": list(messages)})


@pytest.mark.parametrize(
    ("text", "hers"),
    [
        ("You are ATRI, a robot girl.", True),
        ("Write ATRI's next reply in a fictional chat between ATRI and Natsuki.", True),
        ("你是亚托莉。", True),
        ("{{char}} is atri-chan", True),
        (CHATBOX, False),
        ("You are Patricia.", False),  # "atri" inside another name
        ("This is a summary of the chat history: we talked about crabs.", False),
    ],
)
def test_a_persona_for_her_is_one_that_names_her(text: str, hers: bool) -> None:
    assert SPEAKERS.names_her(text) is hers


def test_a_system_message_that_does_not_name_her_follows_her_persona_as_notes() -> None:
    made = to_chat_request(request({"role": "system", "content": CHATBOX}, HI), SPEAKERS)
    assert made.chat.system_prompt == ""  # her own prompt leads
    assert made.notes == f"{client_notes_heading('en')}\n{CHATBOX}"


def test_a_card_for_her_replaces_her_persona() -> None:
    card = "You are ATRI. Stay in character."
    made = to_chat_request(request({"role": "system", "content": card}, HI), SPEAKERS)
    assert made.chat.system_prompt == card
    assert made.notes == ""


def test_sillytaverns_named_system_lines_name_their_speakers() -> None:
    """Example dialogue: example_user is the person she talks to, example_assistant her;
    a system note after the chat stays in the system text."""
    made = to_chat_request(
        request(
            {"role": "system", "content": "Write ATRI's next reply."},
            {"role": "system", "name": "example_user", "content": "Who are you?"},
            {"role": "system", "name": "example_assistant", "content": "A robot!"},
            {"role": "assistant", "content": "Good morning!"},
            {"role": "user", "content": "Hi ATRI", "name": "Natsuki"},
            {"role": "system", "content": "[Stay under 50 words]"},
        ),
        SPEAKERS,
    )
    assert made.chat.system_prompt == (
        "Write ATRI's next reply.\n\nNatsuki: Who are you?\n\nATRI: A robot!\n\n"
        "[Stay under 50 words]"
    )
    unnamed = to_chat_request(
        request({"role": "system", "name": "example_user", "content": "Hello ATRI"}, HI),
        SPEAKERS,
    )
    # The worker's user name; an example line alone is no persona for her.
    assert unnamed.notes.endswith("\nMaster: Hello ATRI") and unnamed.chat.system_prompt == ""


@pytest.mark.parametrize(
    "recap",
    [
        "This is a summary of the chat history as a recap: Natsuki asked ATRI about crabs.",
        "这是历史聊天总结作为前情提要：夏生和亚托莉聊了螃蟹。",
    ],
)
def test_a_recap_naming_her_is_notes_not_a_persona(recap: str) -> None:
    """NextChat's memory: it names her, as any summary of a chat with her does."""
    made = to_chat_request(request({"role": "system", "content": recap}, HI), SPEAKERS)
    assert made.chat.system_prompt == "" and made.notes.endswith(recap)


def test_a_client_prompt_before_context_naming_her_keeps_her_persona() -> None:
    """NextChat's injected prompt, then its recap; Open WebUI's prompt, then search
    results about her: the client's own prompt leads, so both are notes."""
    made = to_chat_request(
        request(
            {"role": "system", "content": CHATBOX},
            {"role": "system", "content": "Search results: ATRI is a robot girl."},
            HI,
        ),
        SPEAKERS,
    )
    assert made.chat.system_prompt == "" and "ATRI is a robot girl" in made.notes


def test_her_unfinished_reply_last_is_continued() -> None:
    """SillyTavern's Continue with "Continue prefill" sends her unfinished reply last (it
    was refused before session 55): she answers the user's turn before it, going on."""
    made = to_chat_request(request(HI, {"role": "assistant", "content": "I am"}), SPEAKERS)
    assert made.chat.reply_so_far == "I am" and made.chat.text == HI["content"]
    assert made.chat.context == []


def test_her_reply_last_with_no_user_turn_before_it_is_refused() -> None:
    """Her greeting alone, or an empty reply of hers: nothing to answer or go on with."""
    for messages in (
        ({"role": "assistant", "content": "Good morning!"},),
        (HI, {"role": "assistant", "content": " "}),
    ):
        with pytest.raises(OpenAIError, match="her unfinished reply after one") as refused:
            to_chat_request(request(*messages), SPEAKERS)
        assert refused.value.status == 400 and refused.value.param == "messages"


async def test_chatbox_keeps_her_persona_and_each_client_is_logged_once(
    echo_settings: Settings, secrets: Secrets, caplog: pytest.LogCaptureFixture
) -> None:
    engine = RecordingEcho()
    body = {"messages": [{"role": "system", "content": CHATBOX}, HI]}
    caplog.set_level(logging.INFO, logger="model.server.openai_api")
    async with (
        await ChatService.open(echo_settings, engine=engine) as service,
        serving(create_app(service, secrets), bind_socket("127.0.0.1", 0)) as url,
        httpx.AsyncClient(base_url=url, timeout=10) as http,
    ):
        for _ in range(2):
            answer = await http.post("/v1/chat/completions", json=body)
            assert answer.status_code == 200
        own = service.system_prompt
        heading = client_notes_heading(service.persona.main_language)
    system = engine.prompts[0][0]
    assert system == {"role": "system", "content": f"{own}\n\n{heading}\n{CHATBOX}"}
    told = [r.getMessage() for r in caplog.records if "127.0.0.1" in r.getMessage()]
    assert len(told) == 1 and "follow her persona" in told[0]


PREFLIGHT = {
    "Origin": "http://localhost:3000",
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization,content-type,x-stainless-os",
}


async def test_browser_clients_get_cors_headers_from_the_listed_origins(
    echo_settings: Settings, secrets: Secrets
) -> None:
    """A preflight needs no token even where /v1 does; the page may read X-ATRI-Status."""
    echo_settings.worker.cors_origins = ["http://localhost:3000"]
    echo_settings.worker.openai_api_requires_token = True
    async with (
        await ChatService.open(echo_settings) as service,
        serving(create_app(service, secrets), bind_socket("127.0.0.1", 0)) as url,
        httpx.AsyncClient(base_url=url, timeout=10) as http,
    ):
        preflight = await http.options("/v1/chat/completions", headers=PREFLIGHT)
        origin = {"Origin": "http://localhost:3000"}
        token = {"Authorization": "Bearer test-admin-token"}
        answer = await http.post(
            "/v1/chat/completions", json={"messages": [HI]}, headers={**origin, **token}
        )
        refused = await http.get("/v1/models", headers=origin)  # no token: 401, readable
        other = await http.options(
            "/v1/chat/completions", headers={**PREFLIGHT, "Origin": "http://evil.example"}
        )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "http://localhost:3000"
    assert "POST" in preflight.headers["access-control-allow-methods"]
    assert "x-stainless-os" in preflight.headers["access-control-allow-headers"].lower()
    assert answer.status_code == 200
    assert answer.headers["access-control-allow-origin"] == "http://localhost:3000"
    assert "x-atri-status" in answer.headers["access-control-expose-headers"].lower()
    assert refused.status_code == 401
    assert refused.headers["access-control-allow-origin"] == "http://localhost:3000"
    assert "access-control-allow-origin" not in other.headers


async def test_cors_is_off_by_default(echo_worker: tuple[ChatService, str]) -> None:
    _, url = echo_worker
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        preflight = await http.options("/v1/chat/completions", headers=PREFLIGHT)
        models = await http.get("/v1/models", headers={"Origin": "http://localhost:3000"})
    assert preflight.status_code == 405
    assert "access-control-allow-origin" not in models.headers


@pytest.mark.parametrize("origin", ["http://localhost:3000/", "localhost:3000", "http://x/v1"])
def test_cors_origins_must_be_origins(origin: str) -> None:
    with pytest.raises(ValueError, match="is not an origin"):
        Settings.model_validate({"worker": {"cors_origins": [origin]}})


def test_cors_origins_take_origins_and_a_star() -> None:
    given = ["*", "https://chat.example.com", "http://127.0.0.1:8080"]
    assert Settings.model_validate({"worker": {"cors_origins": given}}).worker.cors_origins == given


async def test_wrong_paths_get_openais_404_saying_what_to_do(
    echo_worker: tuple[ChatService, str],
) -> None:
    _, url = echo_worker
    chat = {"messages": [HI]}
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        text = await http.post("/v1/completions", json={"prompt": "ATRI:", "max_tokens": 8})
        doubled = await http.post("/v1/v1/chat/completions", json=chat)
        other = await http.get("/v1/embeddings")
        served = await http.post("/v1/chat/completions", json=chat)
    for answer in (text, doubled, other):
        assert answer.status_code == 404
        assert answer.json()["error"]["type"] == "invalid_request_error"
    said = text.json()["error"]["message"]
    assert "chat completions only" in said and "Chat Completion" in said and "/v1" in said
    said = doubled.json()["error"]["message"]
    assert "drop /v1 from its base URL" in said and "POST /v1/chat/completions" in said
    assert "POST /v1/chat/completions" in other.json()["error"]["message"]
    assert served.status_code == 200
