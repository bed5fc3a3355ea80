"""Session 51: with narration = "stage", a line of script code a custom regex left as
narration (Naninovel's `@char n pos:85 scale:0.925`) is no stage direction of a reply."""

from __future__ import annotations

from collections import Counter

import pytest

from dataprep.records import Utterance
from dataprep.speakers import SpeakerMap
from dataprep.turns import TurnRules, build_samples

SPEAKERS = SpeakerMap.from_aliases(["k"], ["n"])


def reply(narration: str) -> str:
    rows = [("k", "Where am I?"), (None, narration), ("n", "Uhm, wait...")]
    lines = [(Utterance(w, t, "s.nani", i, "1"), SPEAKERS.role(w)) for i, (w, t) in enumerate(rows)]
    samples = build_samples(lines, TurnRules(narration="stage"), Counter())
    return samples[0].reply


@pytest.mark.parametrize(
    "code",
    [
        "@char n pos:85 scale:0.925",
        "; a comment",
        '{"bg": "desert"}',
        "pos:85 scale:0.925",
        "time=100",
    ],
)
def test_code_is_no_stage_direction(code: str) -> None:
    assert reply(code) == "Uhm, wait..."


@pytest.mark.parametrize(
    ("words", "direction"),
    [
        ("She frowns.", "(She frowns.) "),
        ("Note: she frowns.", "(Note: she frowns.) "),
        ("时间:10点", "（时间:10点）"),
    ],
)
def test_narration_still_is(words: str, direction: str) -> None:
    assert reply(words) == f"{direction}Uhm, wait..."
