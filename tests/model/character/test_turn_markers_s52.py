"""Session 52: a reply that goes on with a turn the model wrote for the person, opened
with its template's user marker as text (Phi-3's and GLM-4's `<|user|>`, Mistral's and
Llama-2's `[INST]`, DeepSeek-R1's `<｜User｜>`), reached the user and her memory as hers.
`clean_reply` cuts there where the served model's own template writes that marker
(`user_turn_markers`); under another template it is text like any."""

from __future__ import annotations

import pytest

from atri.config import Settings
from model.character.prompt import clean_reply
from model.engines.base import chat_template_of
from model.engines.chat_template import user_turn_markers
from model.engines.echo import EchoEngine
from model.protocol import ChatRequest
from model.service import ChatService
from tests.model.chat_templates import GLM4, MISTRAL_V02, PHI3_MINI, QWEN25, REAL_TEMPLATES

R1 = (
    "{% for message in messages %}{% if message['role'] == 'user' %}"
    "{{'<｜User｜>' + message['content']}}{% else %}"
    "{{'<｜Assistant｜>' + message['content'] + '<｜end▁of▁sentence｜>'}}{% endif %}{% endfor %}"
)
MARKERS = {"mistral": "[INST]", "mistral03": "[INST]", "llama2": "[INST]", "phi3": "<|user|>"}
MARKERS["glm4"] = "<|user|>"  # written as <|{{ item['role'] }}|>: found in its render
# Session 53: the tokens ChatML, Llama-3 and Gemma open every turn with are theirs too
# (`TURN_OPENERS`), cut at under them alone.
MARKERS.update(qwen25="<|im_start|>", qwen3="<|im_start|>", yi="<|im_start|>")
MARKERS.update(llama3="<|start_header_id|>", gemma2="<start_of_turn>")
# Session 69: DeepSeek-LLM names the person's turn in plain text, found in its render.
MARKERS["deepseek"] = "\nUser:"


@pytest.mark.parametrize("name", sorted(REAL_TEMPLATES))
def test_each_template_opens_a_persons_turn_with_its_own_marker(name: str) -> None:
    expected = (MARKERS[name],) if name in MARKERS else ()
    assert user_turn_markers(REAL_TEMPLATES[name].template) == expected


def test_r1s_marker_and_the_text_of_a_template_that_cannot_render() -> None:
    assert user_turn_markers(R1) == ("<｜User｜>",)
    assert user_turn_markers("{{ raise_exception('no') }}[INST]") == ("[INST]",)
    assert user_turn_markers("") == ()


@pytest.mark.parametrize(
    ("template", "raw"),
    [
        (PHI3_MINI.template, "你好\n<|user|>\n夏生：再见"),
        (GLM4.template, "你好<|user|>\n再见"),
        (MISTRAL_V02.template, "你好 [INST] 再见 [/INST] 好的"),
        (R1, "你好<｜User｜>再见"),
    ],
)
def test_a_turn_opened_with_the_templates_marker_is_cut(template: str, raw: str) -> None:
    assert clean_reply(raw, "亚托莉", (), user_turn_markers(template)) == "你好"


def test_under_another_template_the_marker_is_text() -> None:
    text = "Phi-3 starts a message with <|user|> and ends it with <|end|>"
    assert clean_reply(text, "亚托莉", (), user_turn_markers(QWEN25.template)) == (
        "Phi-3 starts a message with <|user|> and ends it with"
    )  # <|end|> is every template's end of a turn
    said = "写 <|user|> 再写你的话"
    assert clean_reply(said, "亚托莉", (), user_turn_markers(QWEN25.template)) == said
    assert clean_reply(said, "亚托莉") == said


class TemplatedEcho(EchoEngine):
    """Echo whose model renders chats with `chat_template`."""

    def __init__(self, chat_template: object) -> None:
        super().__init__(prefix="")  # her reply is the message itself
        self.chat_template = chat_template


async def test_the_service_cuts_at_the_served_templates_marker(echo_settings: Settings) -> None:
    said = ChatRequest(platform="test", user_id="u", text="好的 [INST] 那你呢？ [/INST]")
    async with await ChatService.open(
        echo_settings, engine=TemplatedEcho(MISTRAL_V02.template)
    ) as service:
        reply = await service.chat(said)
        assert reply.text == "好的"
        assert (await service.memory.history(reply.scope))[1].content == "好的"
    other = said.model_copy(update={"text": "写 <|user|> 再写"})
    async with await ChatService.open(
        echo_settings, engine=TemplatedEcho(QWEN25.template)
    ) as service:
        assert (await service.chat(other)).text == "写 <|user|> 再写"


def test_a_template_of_another_kind_is_none() -> None:
    """A tokenizer holding several templates by name (a dict), or none (None)."""
    assert chat_template_of(TemplatedEcho({"default": "[INST]"})) == ""
    assert chat_template_of(TemplatedEcho(None)) == ""
    assert chat_template_of(EchoEngine()) == ""
