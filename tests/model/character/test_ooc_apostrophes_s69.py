"""Models write "I’m" as often as "I'm": the out-of-character rules, written with the
plain apostrophe, judge both the same."""

from __future__ import annotations

import pytest

from atri.config import OOCSettings
from model.character.ooc import OOCDetector

DETECTOR = OOCDetector(OOCSettings(), "en")


@pytest.mark.parametrize("apostrophe", ["'", "\u2019", "\u2018", "\u02bc", "\uff07"])
@pytest.mark.parametrize(
    ("reply", "kind"),
    [
        ("I{a}m an AI assistant, not ATRI.", "self-reference"),
        ("I{a}m just a program.", "self-reference"),
        ("I{a}m here to help!", "assistant-speak"),
    ],
)
def test_a_typographic_apostrophe_is_judged_as_the_plain_one(
    reply: str, kind: str, apostrophe: str
) -> None:
    reasons = DETECTOR.check(reply.format(a=apostrophe)).reasons
    assert any(r.startswith(kind) for r in reasons), (reply, apostrophe, reasons)


def test_the_reason_quotes_what_the_rule_matched() -> None:
    """The reason names the rule's words; the reply itself is sent as the model wrote it."""
    (reason,) = [
        r for r in DETECTOR.check("I\u2019m an AI.").reasons if r.startswith("self-reference")
    ]
    assert "I'm an AI" in reason
