"""The summary of one exchange too long for its request keeps a short reply of hers whole
and leaves no blank turn (session 72, review finding 5); `clean_str` ends a line at every
control character `str.splitlines` ends one at (finding 7)."""

from __future__ import annotations

import unicodedata

import pytest

from model.memory import Message
from model.protocol import clean_str
from model.summaries import LABELS, _shortened_exchange, plan_fold

LONG_MESSAGE = " ".join(f"w{i}" for i in range(200)) + " my cat is called Mochi"  # 205 words
SHORT_REPLY = "Mochi is a lovely name!"  # 5 words
LONG_REPLY = "START_OF_REPLY " + "crabs or the beach, you choose " * 60 + "END_OF_REPLY"


def words(text: str) -> int:
    """A tokenizer-free count: a token a word."""
    return len(text.split())


def said(role: str, content: str, id_: int = 0) -> Message:
    user = "u1" if role == "user" else ""
    return Message(id_, "qq:user:u1", role, user, "Natsuki", content, 0.0, "", False)


def shortened(exchange: list[Message], room: int) -> str:
    text = _shortened_exchange(exchange, "ATRI", LABELS["en"], {}, room, words)
    assert words(text) <= room
    return text


@pytest.mark.parametrize("room", [150, 60])
def test_her_short_reply_stays_whole_beside_a_long_message(room: int) -> None:
    """Her share was counted while the person's whole 205 words were still in: below
    zero, so her reply became "" and a bare "ATRI:" line was left, though 5 words fitted
    beside the 140 of theirs that were kept."""
    text = shortened([said("user", LONG_MESSAGE), said("assistant", SHORT_REPLY)], room)
    theirs, hers = text.split("\n")
    assert hers == f"ATRI: {SHORT_REPLY}"
    assert theirs.startswith("Natsuki: ") and theirs.endswith("w199 my cat is called Mochi")
    assert words(text) == room  # what her reply left went to the person's words


def test_a_fold_keeps_her_short_reply_to_a_message_too_long_for_the_request() -> None:
    plan = plan_fold(
        None,
        [said("user", LONG_MESSAGE, 1), said("assistant", SHORT_REPLY, 2), said("user", "hi", 3)],
        4,
        "Summarize.",
        "ATRI",
        LABELS["en"],
        len,
        600,
    )
    assert plan is not None and plan.exchanges == 1
    assert plan.transcript.endswith(f"my cat is called Mochi\nATRI: {SHORT_REPLY}")


def test_a_long_reply_beside_a_long_message_keeps_its_start_and_gives_way_first() -> None:
    text = shortened([said("user", LONG_MESSAGE), said("assistant", LONG_REPLY)], 150)
    theirs, hers = text.split("\n")
    assert hers.startswith("ATRI: START_OF_REPLY crabs") and hers.endswith("…")
    assert theirs.endswith("my cat is called Mochi")
    assert words(theirs) > 2 * words(hers)  # the person's words are what the summary is for


def test_a_message_cut_to_nothing_leaves_no_empty_turn_line() -> None:
    """Room for little more than the labels: a turn with nothing left of it is left out,
    label too; a blank "ATRI:" line invited the summary to invent what she said."""
    exchange = [
        said("user", LONG_MESSAGE),
        said("assistant", SHORT_REPLY),
        said("user", "and my dog is called Taro"),
        said("assistant", LONG_REPLY),
    ]
    text = shortened(exchange, 8)
    lines = text.split("\n")
    assert lines and all(line.split(": ", 1)[1:] not in ([], [""]) for line in lines)
    assert not any(line.rstrip().endswith(":") for line in lines)
    assert len(lines) == 3  # her first reply, cut to nothing, is the line left out
    assert lines[-1].startswith("ATRI: START_OF_REPLY")


CONTROLS_BUT_THE_TAB = [
    chr(code) for code in range(0x110) if unicodedata.category(chr(code)) == "Cc" and code != 9
]


@pytest.mark.parametrize("control", CONTROLS_BUT_THE_TAB, ids=lambda c: f"U+{ord(c):04X}")
def test_clean_str_ends_a_line_wherever_splitlines_does(control: str) -> None:
    """The file, group and record separators (U+001C-U+001E) were dropped, so
    "line one\\x1eline two" became "line oneline two", while `str.splitlines` and her
    prompt's labels read two lines there."""
    text = f"line one{control}line two"
    if len(text.splitlines()) == 2:
        assert clean_str(text) == "line one\nline two"
    else:
        assert clean_str(text) == "line oneline two"
