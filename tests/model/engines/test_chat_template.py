"""The one probe of a chat template for the token that ends a reply (chat_template.py's
`template_reply_stop`), on the real templates of tests/model/chat_templates.py."""

from __future__ import annotations

import pytest

from model.engines.chat_template import ReplyStop, reply_stop, template_reply_stop
from tests.model.chat_templates import REAL_TEMPLATES, template_tokenizer
from tests.tiny_model import CHATML_TEMPLATE, TRAINING_TEXT, build_tokenizer

# Each real template's reply stop, and whether it follows the chat's last reply too.
EXPECTED = {
    "gemma2": ReplyStop("<end_of_turn>", after_last_reply=True),
    "mistral": ReplyStop("</s>", after_last_reply=True),
    "mistral03": ReplyStop("</s>", after_last_reply=True),
    "llama2": ReplyStop("</s>", after_last_reply=True),
    "llama3": ReplyStop("<|eot_id|>", after_last_reply=True),
    "phi3": ReplyStop("<|end|>", after_last_reply=True),
    "qwen25": ReplyStop("<|im_end|>", after_last_reply=True),
    "yi": ReplyStop("<|im_end|>", after_last_reply=True),
    "deepseek": ReplyStop("<｜end▁of▁sentence｜>", after_last_reply=True),
    # GLM-4 closes no turn: a reply ends at the next <|user|>, which the last has not.
    "glm4": ReplyStop("<|user|>", after_last_reply=False),
    "qwen3": ReplyStop("<|im_end|>", after_last_reply=True),
}


@pytest.mark.parametrize("name", sorted(REAL_TEMPLATES))
def test_the_reply_stop_of_each_real_template(name: str) -> None:
    assert reply_stop(template_tokenizer(REAL_TEMPLATES[name])) == EXPECTED[name]


def test_a_rendered_template_is_probed_once() -> None:
    """A template known only by its render (llama.cpp's GGUF): one render gives both the
    stop and whether it follows the last reply."""
    renders: list[list[dict[str, str]]] = []

    def render(chat: list[dict[str, str]]) -> str:
        renders.append(chat)
        # GLM-4's shape in ChatML's tokens: turns open with <|im_start|>, none is closed.
        return "".join(f"<|im_start|>{m['role']}\n{m['content']}" for m in chat)

    stop = template_reply_stop(render, ["<|im_start|>", "<|im_end|>"])
    assert stop == ReplyStop("<|im_start|>", after_last_reply=False)
    assert len(renders) == 1


def test_no_stop_where_the_template_refuses_or_writes_plain_text() -> None:
    def refuse(chat: list[dict[str, str]]) -> str:
        raise ValueError("Conversation roles must alternate")

    assert template_reply_stop(refuse, ["<|im_end|>"]) is None
    plain = build_tokenizer(
        TRAINING_TEXT,
        512,
        "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}",
    )
    assert reply_stop(plain) is None
    assert reply_stop(build_tokenizer(TRAINING_TEXT, 512, CHATML_TEMPLATE)) == ReplyStop(
        "<|im_end|>", after_last_reply=True
    )
