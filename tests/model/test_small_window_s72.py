"""A small context window (session 72): a card that leaves little room for messages is
said at start, the summary of a long exchange keeps the person's words, the timeout
hint names the reply's cap rather than a window already small."""

from __future__ import annotations

import logging

import pytest

from atri.config import Settings
from model.character.prompt import TEMPLATE_OVERHEAD_TOKENS
from model.engines.echo import EchoEngine
from model.memory import Message
from model.protocol import ChatRequest
from model.service import ChatService
from model.summaries import LABELS, plan_fold

LITTLE_ROOM = "tokens for a message and all earlier ones"
HINT = "was not answered within [worker] request_timeout_seconds"


def warnings(caplog: pytest.LogCaptureFixture, words: str) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno >= logging.WARNING and words in r.getMessage()
    ]


async def card_tokens(settings: Settings) -> int:
    """The configured card's prompt as the echo engine counts it (a character a token)."""
    async with await ChatService.open(settings) as service:
        return len(service.system_prompt)


async def test_a_card_leaving_little_room_is_said_once_at_start(
    echo_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """512-token window, 200-token replies: the card left 31 tokens for a message and all
    history and started silently; every ordinary message was then cut, and no earlier
    exchange was ever in her prompt."""
    echo_settings.generation.max_new_tokens = 200
    with caplog.at_level(logging.WARNING, logger="model.service"):
        card = await card_tokens(echo_settings)  # the echo's own 32,768-token window
    assert not warnings(caplog, LITTLE_ROOM)  # a card with room says nothing
    small = EchoEngine()  # echo with a real model's small window
    small.context_window = card + 2 * TEMPLATE_OVERHEAD_TOKENS + 200 + 31
    with caplog.at_level(logging.WARNING, logger="model.service"):
        async with await ChatService.open(echo_settings, engine=small) as service:
            reply = await service.chat(ChatRequest(platform="console", user_id="u", text="hi"))
    assert reply.status == "ok"  # it fits: a warning, not a refusal
    (said,) = warnings(caplog, LITTLE_ROOM)
    assert f"leaves 31 {LITTLE_ROOM}" in said
    assert f"{small.context_window}-token context window" in said
    assert "up to 200 ([generation] max_new_tokens)" in said
    assert "shorten the character card" in said and "raise [model] context_window" in said


def said(role: str, content: str, id_: int) -> Message:
    user = "u1" if role == "user" else ""
    return Message(id_, "qq:user:u1", role, user, "Aya", content, 0.0, "", False)


ASKED = "hi ATRI, do you like crab?"
LONG_REPLY = "START_OF_REPLY " + "I'll give you a choice, crabs or the beach. " * 40


def fold(exchange: list[Message], max_prompt_tokens: int) -> str:
    plan = plan_fold(
        None,
        [*exchange, said("user", "what did I just say?", 9)],
        4,
        "Summarize.",
        "ATRI",
        LABELS["en"],
        len,
        max_prompt_tokens,
    )
    assert plan is not None and plan.exchanges == 1
    user_turn = plan.messages[1]["content"]
    assert len("Summarize.") + len(user_turn) <= max_prompt_tokens  # it still fits
    return plan.transcript


def test_a_fold_of_one_long_exchange_shortens_her_reply_and_keeps_the_users_words() -> None:
    """A 200-token reply in a small window: the fold kept the transcript's end, so the
    request began mid-word in her reply and the person's message, which the summary is
    for, was cut away."""
    text = fold([said("user", ASKED, 1), said("assistant", LONG_REPLY, 2)], 300)
    assert text.startswith(f"Aya: {ASKED}\nATRI: START_OF_REPLY I'll give")
    assert text.endswith("…")


def test_a_fold_whose_message_alone_is_too_long_keeps_its_end_and_both_labels() -> None:
    long_message = "START_OF_MSG " + "I went to the market and bought fish. " * 30 + "END"
    text = fold([said("user", long_message, 1), said("assistant", LONG_REPLY, 2)], 300)
    first, second = text.split("\n")
    assert first.startswith("Aya: ") and first.endswith("bought fish. END")
    # Her side went first, down to a quarter of the room: her turn is never left blank.
    assert second.startswith("ATRI: START_OF_REPLY") and second.endswith("…")
    assert len(second) < len(first)


class SlowEcho(EchoEngine):
    """Echo named as an engine that reads at its own pace (not llamacpp's own hint)."""

    name = "local"


@pytest.mark.parametrize(
    ("window", "prompt", "max_new", "names_window", "names_reply"),
    [
        (512, 290, 200, False, True),  # the tester's: every prompt is over a quarter
        (512, 290, 24, False, False),
        (4000, 3000, 128, True, False),
        (8192, 2100, 1024, True, True),
        # A short prompt on a small or busy machine (README's first run): the reply's cap.
        (2048, 439, 256, False, True),
        (2048, 439, 16, False, True),
    ],
)
async def test_the_timeout_hint_names_the_reply_cap_and_not_a_small_window(
    echo_settings: Settings,
    caplog: pytest.LogCaptureFixture,
    window: int,
    prompt: int,
    max_new: int,
    names_window: bool,
    names_reply: bool,
) -> None:
    """A 512-token window on a loaded CPU: the hint said to lower the window (already
    tiny) and never named max_new_tokens, though writing the 200-token reply was most
    of the wait."""
    echo_settings.generation.max_new_tokens = max_new
    engine = SlowEcho()
    engine.context_window = window
    async with await ChatService.open(echo_settings, engine=engine) as service:
        with caplog.at_level(logging.WARNING, logger="model.service"):
            service._hint_at_a_missed_deadline(prompt)
    (hint,) = warnings(caplog, HINT)
    assert ("lower [model] context_window" in hint) == names_window
    assert (f"lower [generation] max_new_tokens (now {max_new}" in hint) == names_reply
    assert hint.endswith("raise request_timeout_seconds.")
