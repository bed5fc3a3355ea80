"""/v1 edges found in session 74: a regenerate (SillyTavern's swipe) stored the question
twice, the text before a `stop` string lost its white space at the end, and
`/v1/models/{id}` refused model ids that a chat request is answered under."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence

import httpx
from openai import AsyncOpenAI

from atri.config import GenerationSettings, Secrets, Settings
from model.character.prompt import ChatMessages
from model.engines.base import Generation, RowLimits
from model.engines.echo import EchoEngine
from model.server.app import bind_socket, create_app, serving
from model.server.openai_api import MAX_NAME_CHARS
from model.service import ChatService

CHAT = "/v1/chat/completions"
CONVERSATION = [
    {"role": "user", "content": "hello"},
    {"role": "assistant", "content": "hi, I am ATRI"},
    {"role": "user", "content": "what can you do?"},
]
SCOPE = "openai:user:tavern-s74"


class NumberedEcho(EchoEngine):
    """Echo whose every reply ends with its number: a regenerate differs from the first."""

    def __init__(self) -> None:
        super().__init__()
        self.made = 0

    async def generate(
        self,
        batch: list[ChatMessages],
        gen: GenerationSettings,
        limits: Sequence[RowLimits] | None = None,
    ) -> list[Generation]:
        out = await super().generate(batch, gen, limits)
        for generation in out:
            self.made += 1
            generation.text += f" #{self.made}"
        return out


def said(answer: httpx.Response) -> str:
    assert answer.status_code == 200, answer.text
    content: str = answer.json()["choices"][0]["message"]["content"]
    return content


async def test_a_regenerate_stores_the_exchange_once_with_the_reply_kept_last(
    echo_settings: Settings, secrets: Secrets
) -> None:
    """A swipe sends the same conversation again: memory held the question twice, with
    both answers. Two sent at once (a swipe while the first is still answered) are both
    answered, not one of them told nothing as a platform's copy is."""
    body = {"messages": CONVERSATION, "user": "tavern-s74"}
    async with (
        await ChatService.open(echo_settings, engine=NumberedEcho()) as service,
        serving(create_app(service, secrets), bind_socket("127.0.0.1", 0)) as url,
        httpx.AsyncClient(base_url=url, timeout=10) as http,
    ):
        first = said(await http.post(CHAT, json=body))
        swiped = said(await http.post(CHAT, json=body))
        both = [said(a) for a in await asyncio.gather(*(http.post(CHAT, json=body) for _ in "ab"))]
        kept = said(await http.post(CHAT, json=body))
        # The next turn after the reply the client kept, and the same words in another
        # conversation: new exchanges, each stored.
        after = [*CONVERSATION, {"role": "assistant", "content": kept}, CONVERSATION[-1]]
        later = said(await http.post(CHAT, json={**body, "messages": after}))
        other = [{"role": "user", "content": "what can you do?"}]
        elsewhere = said(await http.post(CHAT, json={**body, "messages": other}))
        stored = await service.memory.all_messages(SCOPE)
    assert first.endswith("#1") and swiped.endswith("#2") and kept.endswith("#5")
    assert sorted(reply[-2:] for reply in both) == ["#3", "#4"]
    assert [(m.role, m.content, m.archived) for m in stored] == [
        ("user", "what can you do?", False),
        ("assistant", kept, False),
        ("user", "what can you do?", False),
        ("assistant", later, False),
        ("user", "what can you do?", False),
        ("assistant", elsewhere, False),
    ]


async def test_the_text_before_a_stop_string_keeps_its_white_space(
    echo_settings: Settings, secrets: Secrets
) -> None:
    """OpenAI answers the text up to the stop string exactly: "Hi there \\n\\n", not
    "Hi there". Memory keeps the reply without the white space at its end."""
    words = "Hi there \n\nUser: and more"
    ask = {"messages": [{"role": "user", "content": words}], "user": "tavern-s74"}
    async with (
        await ChatService.open(echo_settings) as service,
        serving(create_app(service, secrets), bind_socket("127.0.0.1", 0)) as url,
        httpx.AsyncClient(base_url=url, timeout=10) as http,
    ):
        whole = said(await http.post(CHAT, json={"messages": ask["messages"]}))
        plain = await http.post(CHAT, json={**ask, "stop": ["User:"]})
        streamed = await http.post(CHAT, json={**ask, "stop": "User:", "stream": True})
        stored = await service.memory.history(SCOPE)
    expected = whole[: whole.index("User:")]
    assert expected.endswith("Hi there \n\n")
    assert said(plain) == expected
    assert plain.json()["choices"][0]["finish_reason"] == "stop"
    chunks = [line for line in streamed.text.splitlines() if line.startswith("data: {")]
    deltas = [json.loads(chunk[len("data: ") :])["choices"] for chunk in chunks]
    assert "".join(d[0]["delta"].get("content", "") for d in deltas if d) == expected
    # Stored once: the second request was the first's conversation again (a regenerate).
    assert [m.content for m in stored if m.role == "assistant"] == [expected.rstrip()]


async def test_any_model_id_a_chat_request_takes_can_be_retrieved(
    echo_worker: tuple[ChatService, str],
) -> None:
    """Front ends that retrieve the model before chatting refused on the 404 of
    `/v1/models/gpt-4o`, though a chat naming it is answered."""
    _, url = echo_worker
    longest, too_long = "m" * MAX_NAME_CHARS, "m" * (MAX_NAME_CHARS + 1)
    hi = [{"role": "user", "content": "hi"}]
    async with (
        AsyncOpenAI(base_url=f"{url}/v1", api_key="anything", max_retries=0) as api,
        httpx.AsyncClient(base_url=url, timeout=10) as http,
    ):
        retrieved = await api.models.retrieve("gpt-4o")
        atri = (await http.get("/v1/models/atri")).json()
        gpt = (await http.get("/v1/models/gpt-4o")).json()
        hub = await http.get("/v1/models/org/model")
        edge = await http.get(f"/v1/models/{longest}")
        refused = await http.get(f"/v1/models/{too_long}")
        chats = [
            await http.post(CHAT, json={"model": m, "messages": hi}) for m in (longest, too_long)
        ]
        slash = await http.get("/v1/models/")
    assert retrieved.id == "gpt-4o" and retrieved.object == "model"
    # Her model object (base model, adapter version), under the name asked for.
    assert {**gpt, "id": "atri", "created": 0} == {**atri, "created": 0}
    assert hub.status_code == 200 and hub.json()["id"] == "org/model"
    assert edge.status_code == 200 and edge.json()["id"] == longest
    assert [c.status_code for c in chats] == [200, 400]  # the same rule: one place
    assert refused.status_code == 404 and refused.json()["error"]["code"] == "model_not_found"
    assert f"at most {MAX_NAME_CHARS} characters" in refused.json()["error"]["message"]
    assert slash.status_code == 404 and "drop the slash" in slash.json()["error"]["message"]
