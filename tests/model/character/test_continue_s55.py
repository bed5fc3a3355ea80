"""Her unfinished reply (a Continue) in the one fitting function and in the cleaning of
what the model wrote after it."""

from __future__ import annotations

import pytest

from model.character.prompt import (
    TEMPLATE_OVERHEAD_TOKENS,
    ReplySoFarTooLong,
    Turn,
    Window,
    clean_continuation,
    fit_prompt,
    reply_so_far,
)


def count(text: str) -> int:
    return len(text.split()) or 1


EARLIER = [
    turn
    for i in range(6)
    for turn in (Turn("user", f"question {i} " * 5), Turn("assistant", "answer " * 5))
]


def test_her_reply_so_far_ends_the_chat_and_takes_its_room() -> None:
    window = Window(context_window=200, max_new_tokens=40)
    asked = fit_prompt("system", EARLIER, "how are you?", count, window)
    so_far = "I am fine " * 8  # 24 words
    continued = fit_prompt("system", EARLIER, "how are you?", count, window, so_far=so_far)
    assert continued.messages[-1] == {"role": "assistant", "content": so_far}
    assert reply_so_far(continued.messages) == so_far and reply_so_far(asked.messages) == ""
    assert continued.messages[-2]["content"] == "how are you?"
    # Its tokens come out of the history's room: older exchanges make way.
    assert continued.dropped_turns > asked.dropped_turns
    assert continued.prompt_tokens <= window.context_window - window.max_new_tokens
    with_so_far = sum(count(m["content"]) + TEMPLATE_OVERHEAD_TOKENS for m in continued.messages)
    assert continued.prompt_tokens >= with_so_far


def test_a_reply_so_far_that_leaves_no_room_is_its_own_sentence() -> None:
    window = Window(context_window=200, max_new_tokens=40)
    with pytest.raises(ReplySoFarTooLong, match="Her unfinished reply takes"):
        fit_prompt("system", [], "hi", count, window, so_far="word " * 150)


@pytest.mark.parametrize(
    ("so_far", "generated", "rest"),
    [
        ("I am fine, and", " the sea is calm.<|im_end|>", " the sea is calm."),
        ("I am fine, and ", " the sea is calm.", "the sea is calm."),  # ST's postfix
        ("The sea is beauti", "ful today.\n", "ful today."),  # mid-word: no space added
        ("Atri", ": a name label mid-reply stays", ": a name label mid-reply stays"),
        ("Done.", "<|im_end|>", ""),  # she had finished: nothing, not "……"
    ],
)
def test_the_rest_keeps_its_start_as_written(so_far: str, generated: str, rest: str) -> None:
    assert clean_continuation(generated, so_far) == rest
