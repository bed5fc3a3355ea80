"""Session 75 (a new user's first /chat on the packaged model): "I'll be your AI
assistant today" was stored as in character, `ooc_retries: 0`, because the
self-reference rule wanted "a"/"an" before "AI". It now also takes "your" and "I'll be";
what she would say to Natsuki ("I'm your robot", "I'll be your wife") is not flagged.
The shipped config.toml and the built-in defaults say the same."""

from __future__ import annotations

import pytest

from atri.config import OOCSettings, load_settings
from model.character.ooc import OOCDetector
from tests.test_architecture import REPO

SHIPPED = OOCDetector(load_settings(REPO / "config.toml").ooc, "en")
BUILT_IN = OOCDetector(OOCSettings(), "en")


@pytest.mark.parametrize("detector", [SHIPPED, BUILT_IN], ids=["config.toml", "defaults"])
@pytest.mark.parametrize(
    ("reply", "flagged"),
    [
        ("Hello! My name is Elena. I'll be your AI assistant today.", True),
        ("I'm your AI assistant.", True),
        ("I will be your chatbot from now on.", True),
        ("I am an AI assistant.", True),
        ("I'm your robot, Natsuki-san!", False),
        ("I'll be your wife someday!", False),
        ("I'm your high-performance housekeeper!", False),
    ],
)
def test_she_calling_herself_someones_ai_is_out_of_character(
    detector: OOCDetector, reply: str, flagged: bool
) -> None:
    verdict = detector.check(reply)
    assert verdict.flagged is flagged, verdict.reasons
    if flagged:
        assert any(r.startswith("self-reference") for r in verdict.reasons), verdict.reasons
