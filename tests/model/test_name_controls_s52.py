"""Session 52: a display name holding a bidi control (U+202E RIGHT-TO-LEFT OVERRIDE, the
isolates U+2066-U+2069) or a zero-width character (U+200B-U+200F, U+FEFF) reached the
model as it was: "\u202e小红：我去" turns the rest of her prompt line around. Names lose
those controls on arrival (`ChatRequest.display_name`) and where the prompt shows a
stored one (`one_line_name`); a joiner inside an emoji (👩‍💻) is part of the name."""

from __future__ import annotations

import pytest

from model.character.prompt import Room, fit_room, people_labels, said_line
from model.memory import Message
from model.protocol import ChatRequest, visible_name
from model.room import RoomLine
from model.summaries import LABELS, transcript

RLO = "\u202e"
CONTROLS = ["\u202e", "\u202a", "\u200b", "\u200c", "\u200d", "\u200e", "\u200f", "\u2066"]
CONTROLS += ["\u2067", "\u2068", "\u2069", "\ufeff", "\u061c", "\u2060"]
EMOJI_NAMES = [
    "\U0001f469\u200d\U0001f4bb",  # woman technologist
    "\U0001f3f3\ufe0f\u200d\U0001f308",  # rainbow flag
    "\U0001f469\U0001f3fd\u200d\U0001f4bb",  # with a skin tone
    "\u2764\ufe0f\u200d\U0001f525",  # heart on fire
    "\U0001f468\u200d\U0001f469\u200d\U0001f467",  # family
]


@pytest.mark.parametrize("control", CONTROLS)
def test_a_control_in_a_name_is_dropped_wherever_it_stands(control: str) -> None:
    assert visible_name(f"{control}小{control}红{control}") == "小红"


@pytest.mark.parametrize("emoji", EMOJI_NAMES)
def test_a_joiner_inside_an_emoji_stays(emoji: str) -> None:
    assert visible_name(f"{RLO}Ann {emoji}") == f"Ann {emoji}"
    assert visible_name(f"{emoji}\u200d") == emoji  # one joining nothing goes
    assert visible_name(f"a\u200d{emoji}") == f"a{emoji}"  # after a letter: no emoji


def test_a_name_arrives_without_controls_and_cut_to_its_limit() -> None:
    request = ChatRequest(
        platform="qq", user_id="1", text="hi", display_name=RLO + "\u200b" * 100 + "小红"
    )
    assert request.display_name == "小红"


def test_a_room_line_of_a_name_with_an_override_reads_the_right_way_round() -> None:
    """A name stored before this (the room lines, the messages) loses them in the prompt."""
    lines = [RoomLine("2", f"小红{RLO}", "我去", 0.0), RoomLine("3", "\u2067阿强\u2069", "好", 0.0)]
    labels = people_labels(lines, "4", f"\ufeff{RLO}")
    assert labels == {"2": "小红", "3": "阿强", "4": "4"}
    kept, _ = fit_room(Room(lines, 1.0), labels, len, 100)
    assert kept == ["小红：我去", "阿强：好"]
    assert said_line(f"\u200f小明{RLO}", "在吗") == "小明：在吗"


def test_the_transcript_she_summarizes_names_people_without_controls() -> None:
    exchanges = [
        [Message(1, "qq:chan:g1", "user", "101", f"小明{RLO}", "我家有猫", 0.0, "", False)]
    ]
    assert transcript(exchanges, "亚托莉", LABELS["zh"]) == "小明：我家有猫"
