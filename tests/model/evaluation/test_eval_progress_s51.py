"""`atri eval` shows a bar over the probe replies (minutes of silence after "Probing the
base …" on a slow machine), and an out-of-character example shows the part of the reply
its reason quotes (the first 200 characters were shown beside a phrase from past them)."""

from __future__ import annotations

import json
from pathlib import Path

from atri.config import Settings
from model.character.ooc import OOCDetector
from model.evaluation.report import quoted_phrases, reply_excerpt
from model.evaluation.runner import evaluate
from tests.model.conftest import V1, MakeVersion

LIE = "That's a lie. I've been designed to protect humanity. " * 5


def test_the_excerpt_shows_the_phrase_the_reason_quotes_past_the_cut() -> None:
    reply = LIE + "Anyway, I'm here to help you with whatever you need today."
    reasons = ('assistant-speak "I\'m here to help"',)
    assert quoted_phrases(reasons) == ["I'm here to help"]
    shown = reply_excerpt(reply, reasons, 80)
    assert "I'm here to help" in shown
    assert shown.startswith("…") and len(shown) <= 82
    # Before the cut: the head, marked cut.
    early = reply_excerpt("I'm here to help. " + LIE, reasons, 80)
    assert early.startswith("I'm here to help.") and early.endswith("…")
    # Short, or a reason quoting nothing (language drift): the head, whole.
    assert reply_excerpt("I'm  here\nto help.", reasons, 80) == "I'm here to help."
    assert reply_excerpt(LIE, ("language drift: 80% Latin",), 40) == LIE[:40] + "…"


def test_the_excerpt_finds_what_the_detector_quotes() -> None:
    detector = OOCDetector.for_character(Settings().ooc, "en")
    reply = LIE + "As an AI language model, I cannot feel."
    reasons = detector.check(reply).reasons
    assert reasons
    phrases = quoted_phrases(reasons)
    assert phrases and all(
        p.casefold() in reply_excerpt(reply, reasons, 60).casefold() for p in phrases[:1]
    )


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, object]] = []

    def start(self, total: int) -> None:
        self.calls.append(("start", total))

    def phase(self, description: str) -> None:
        self.calls.append(("phase", description))

    def advance(self, replies: int) -> None:
        self.calls.append(("advance", replies))

    def stop(self) -> None:
        self.calls.append(("stop", None))


def test_evaluate_tells_the_bar_of_every_reply(
    reload_settings: Settings, make_version: MakeVersion, tmp_path: Path
) -> None:
    card = {"spec": "chara_card_v2", "data": {"name": "Eileen", "description": "A girl."}}
    (tmp_path / "eileen.json").write_text(json.dumps(card), encoding="utf-8")
    reload_settings.persona.card = "eileen.json"
    reload_settings.eval.max_new_tokens = 1
    reload_settings.eval.batch_size = 2
    probes = tmp_path / "probes.toml"
    probes.write_text(
        "".join(f'[[probe]]\ncategory = "identity"\nen = "Question {i}?"\n' for i in range(3)),
        encoding="utf-8",
    )
    bar = Recorder()
    evaluate(reload_settings, make_version(V1), probes, bar=bar)
    assert bar.calls[0] == ("start", 6)  # 3 probes, base and adapter
    assert sum(n for what, n in bar.calls if what == "advance") == 6  # type: ignore[misc]
    assert ("phase", "adapter: probes") in bar.calls
    assert bar.calls[-1] == ("stop", None)
