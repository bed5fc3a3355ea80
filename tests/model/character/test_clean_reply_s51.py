"""clean_reply, the last guard on a model's text before it reaches a user: a turn the
model wrote itself after its end-of-turn token is not hers, a line that only says "user"
is not a turn, and her aliases are labels too."""

from __future__ import annotations

import pytest

from atri.config import Settings
from model.character.prompt import clean_reply
from model.engines.echo import EchoEngine
from model.protocol import ChatRequest
from model.service import ChatService

ALIASES = ("ATRI", "アトリ")


@pytest.mark.parametrize(
    "raw",
    [
        # Llama-3 writes no newline between its end token and the next header.
        "你好<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n再见",
        "你好<|im_end|><|im_start|>user\n夏生：再见",
        "你好<|im_end|>\n夏生：再见",
        "你好<|endoftext|>Human: 再见",
        "你好</s><s>[INST] 再见 [/INST]",
        "你好</s>[INST] 再见 [/INST]",
        "你好<end_of_turn>\n<start_of_turn>user\n再见",  # Gemma
        "你好<|end|>\n<|user|>\n再见",  # Phi-3
        "你好<|eom_id|>再见",  # Llama-3.1, a message's end
        "你好<｜end▁of▁sentence｜>再见",  # DeepSeek
        # A turn opened with no end token before it.
        "你好<|start_header_id|>user<|end_header_id|>\n\n再见",
        "你好<|im_start|>user\n再见",
        "你好\n<start_of_turn>user\n再见",
    ],
)
def test_the_reply_ends_at_its_first_end_of_turn_token(raw: str) -> None:
    assert clean_reply(raw, "亚托莉") == "你好"


def test_the_end_token_is_found_before_the_think_block_is_taken_out() -> None:
    raw = "plan\n</think>\n\n你好<|im_end|>\n<think>a new turn</think>再见"
    assert clean_reply(raw, "亚托莉") == "你好"


def test_a_closing_s_ends_her_turn_only_where_the_next_turn_opens() -> None:
    # `</s>` also closes HTML's strike-through: the text after it is hers.
    assert clean_reply("<s>旧的</s>新的", "亚托莉") == "旧的新的"
    assert clean_reply("你好</s> [INST] 再见 [/INST]", "亚托莉") == "你好"


@pytest.mark.parametrize(
    "reply",
    [
        "The roles are:\nadmin\nuser\nguest",
        "Type this:\n```\nwhoami\nuser\n```\nIt prints your name.",
        "The chat has two sides:\nassistant\nuser",
        "Roles:\n```\nuser\nassistant\n```",
    ],
)
def test_a_line_that_only_names_a_role_is_kept(reply: str) -> None:
    assert clean_reply(reply, "亚托莉") == reply


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("ATRI: Hello!", "Hello!"),
        ("Atri: hi", "hi"),
        ("アトリ：おはよう", "おはよう"),
        ("亚托莉 ：你好", "你好"),
        ("atri :  hi", "hi"),
        ("亚托莉：你好", "你好"),
    ],
)
def test_her_name_or_an_alias_in_any_case_is_taken_off_as_a_label(raw: str, clean: str) -> None:
    assert clean_reply(raw, "亚托莉", ALIASES) == clean


@pytest.mark.parametrize(
    "reply",
    [
        "ATRI is my name: a robot's name.",  # her name in a sentence, not a label
        "我叫ATRI\n：这是冒号",  # a colon on the next line labels nothing
        "夏生：你好",  # another's name is his label, kept for the guard to judge
    ],
)
def test_only_her_own_label_is_taken_off(reply: str) -> None:
    assert clean_reply(reply, "亚托莉", ALIASES) == reply


async def test_the_service_takes_her_alias_off_and_ends_her_reply_at_the_end_token(
    echo_settings: Settings,
) -> None:
    """She is 亚托莉 here, and ATRI is an alias: a reply labelled with it reached the
    user labelled, and a turn written after `<|im_end|>`
    reached the user and her memory as hers."""
    engine = EchoEngine(prefix="")  # her reply is the message itself
    async with await ChatService.open(echo_settings, engine=engine) as service:
        assert service.persona.name == "亚托莉" and "ATRI" in service.persona.aliases
        said = ChatRequest(platform="test", user_id="u", text="atri ：你好！<|im_end|>夏生：再见")
        reply = await service.chat(said)
        assert reply.text == "你好！"
        assert (await service.memory.history(reply.scope))[1].content == "你好！"
