"""A body of the wrong shape is told in words about the JSON the client sent: the place
as its JSON path (`messages[2].content[0].type`), what was expected as JSON ("a JSON
object"), never the name of one of the worker's own classes, on /v1 and the worker's
own routes alike."""

from __future__ import annotations

import importlib
import pkgutil
import re
from typing import Any

import httpx
import pytest
from pydantic import BaseModel, ValidationError

import model.protocol
import model.server
from model.protocol import ChatRequest
from model.server.app import validation_problems
from model.server.openai_api import CompletionRequest
from model.service import ChatService
from tests.model.server.conftest import ADMIN_TOKEN

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
HI = {"role": "user", "content": "hi"}
# Pydantic's words for Python objects, which a JSON client never sent.
PYTHON_WORDS = ("instance of", "extract fields", "dictionary", "after validation")


def our_model_names() -> set[str]:
    """Every pydantic model the worker defines for its wire: the request models of its
    own routes (model.protocol) and of the HTTP app and the OpenAI API (model.server)."""
    modules = [model.protocol]
    for found in pkgutil.iter_modules(model.server.__path__, f"{model.server.__name__}."):
        modules.append(importlib.import_module(found.name))
    return {
        value.__name__
        for module in modules
        for value in vars(module).values()
        if isinstance(value, type)
        and issubclass(value, BaseModel)
        and value.__module__ == module.__name__
    }


OUR_MODELS = our_model_names()


def assert_no_internals(message: str) -> None:
    named = [name for name in OUR_MODELS if re.search(rf"\b{name}\b", message)]
    assert named == [], message
    assert not [w for w in PYTHON_WORDS if w in message], message


def test_the_models_checked_for_are_the_request_models() -> None:
    # The ones a wrong body reaches: a collector that found none would check nothing.
    assert {"CompletionRequest", "InMessage", "ContentPart", "StreamOptions"} <= OUR_MODELS
    assert {"ChatRequest", "ChatTurn", "ScopeRef", "ChannelSetting"} <= OUR_MODELS


@pytest.mark.parametrize(
    ("body", "path", "said"),
    [
        ({"messages": [HI], "stream": True, "stream_options": "yes"}, "stream_options", "Input should be a JSON object"),
        ({"messages": [HI], "stream": True, "stream_options": ["x"]}, "stream_options", "Input should be a JSON object"),
        ({"messages": ["hi"]}, "messages[0]", "Input should be a JSON object"),
        ({"messages": [HI, HI, 5]}, "messages[2]", "Input should be a JSON object"),
        ({"messages": [HI, {"role": "bot", "content": "x"}]}, "messages[1].role", "Input should be 'system'"),
        ({"messages": [HI, {"content": "x"}]}, "messages[1].role", "Field required"),
        ({"messages": [HI, HI, {"role": "user", "content": ["x"]}]}, "messages[2].content[0]", "Input should be a JSON object"),
        ({"messages": [HI, HI, {"role": "user", "content": [{"text": "x"}]}]}, "messages[2].content[0].type", "Field required"),
        ({"messages": [{"role": "user", "content": [{"type": "text", "text": "a"}, {"type": 5}]}]}, "messages[0].content[1].type", "Input should be a valid string"),
        ({"messages": [{"role": "user", "content": {"type": "text"}}]}, "messages[0].content", "Input should be a valid string or a valid list"),
        ({"messages": [HI], "stop": ["a", 5]}, "stop[1]", "Input should be a valid string"),
        ({"messages": [HI], "stop": ["a"] * 10}, "stop", "List should have at most 4 items, not 10"),
        ([HI], "body", "Input should be a JSON object"),
    ],
)  # fmt: skip
async def test_a_wrong_v1_body_is_told_by_its_json_path_in_json_words(
    echo_worker: tuple[ChatService, str], body: Any, path: str, said: str
) -> None:
    _, url = echo_worker
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        answer = await http.post("/v1/chat/completions", json=body)
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["message"].startswith(f"Bad request: {path}: {said}"), error["message"]
    assert_no_internals(error["message"])
    # `param` names the same place, in OpenAI's dotted form (None: the body as a whole).
    dotted = re.sub(r"\[(\d+)\]", r".\1", path)
    assert error["param"] == (None if path == "body" else dotted)


CHAT = {"platform": "t", "user_id": "u", "text": "hi"}


@pytest.mark.parametrize(
    ("route", "body", "path", "said"),
    [
        ("/chat", {**CHAT, "context": ["x"]}, "context[0]", "Input should be a JSON object"),
        ("/chat", {**CHAT, "context": [{"role": "user", "content": "a"}, 5]}, "context[1]", "Input should be a JSON object"),
        ("/chat", {**CHAT, "context": [{"role": "user", "content": "a"}, {"role": "x", "content": "b"}]}, "context[1].role", "Input should be 'user' or 'assistant'"),
        ("/chat", [CHAT], "body", "Input should be a JSON object"),
        ("/reset", "t:user:u", "body", "Input should be a JSON object"),
        ("/channels", {"platform": "qq", "channel_id": "c", "mode": "loud"}, "mode", "Input should be 'off'"),
    ],
)  # fmt: skip
async def test_a_wrong_body_on_the_workers_own_routes_is_told_the_same_way(
    echo_worker: tuple[ChatService, str], route: str, body: Any, path: str, said: str
) -> None:
    _, url = echo_worker
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        answer = await http.post(route, json=body, headers=ADMIN)
    assert answer.status_code == 422
    detail = answer.json()["detail"]
    assert detail.startswith(f"Bad request: {path}: {said}"), detail
    assert_no_internals(detail)


@pytest.mark.parametrize(
    ("request_model", "body", "path"),
    [
        (CompletionRequest, {"messages": [HI], "stream_options": "yes"}, "stream_options"),
        (CompletionRequest, {"messages": [HI, 5]}, "messages[1]"),
        (CompletionRequest, {"messages": [{"role": "user", "content": ["x"]}]}, "messages[0].content[0]"),
        (ChatRequest, {**CHAT, "context": ["x"]}, "context[0]"),
    ],
)  # fmt: skip
def test_pydantics_messages_naming_our_classes_are_reworded(
    request_model: type[BaseModel], body: dict[str, Any], path: str
) -> None:
    """Validated without FastAPI's `from_attributes`, pydantic names the class it wanted
    ("… or instance of StreamOptions"): the same sentence comes out."""
    with pytest.raises(ValidationError) as refused:
        request_model.model_validate(body)
    errors = refused.value.errors()
    assert any(re.search(r"instance of [A-Z]\w+", e["msg"]) for e in errors)
    told = validation_problems(errors)
    assert told == f"{path}: Input should be a JSON object"
    assert_no_internals(told)
