"""Session 76: a WebVTT file naming its speakers with voice tags (`<v Atri>Hello</v>`) was
skipped by `atri prep` as subtitles "whose lines name no speaker"."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.dataprep.test_fan_scripts_s74 import _exchanges, _prep

VOICED = """\
WEBVTT - Episode 1
Kind: captions

NOTE Atri: this note is no line of hers

STYLE
::cue(v[voice="Atri"]) { color: yellow }

intro
00:01.000 --> 00:04.000 align:start
<v Natsuki Kaito>Who are <i>you</i>?</v>

00:05.000 --> 00:08.000
<v.loud Atri><c.yellow>I'm a</c> <00:06.000>high-performance
robot!

3
00:09.000 --> 00:11.000
<v Natsuki>Can you cook &amp; clean?

00:12.000 --> 00:14.000
<v Atri><b>Of course!</b></v>
"""


def test_vtt_voice_tags_name_the_speakers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code, said, out = _prep(tmp_path, monkeypatch, {"ep01.vtt": VOICED})
    assert code == 0, said
    assert "name no speaker" not in said
    assert _exchanges(out) == [
        [("human", "Who are you?"), ("gpt", "I'm a high-performance robot!")],
        [
            ("human", "Who are you?"),
            ("gpt", "I'm a high-performance robot!"),
            ("human", "Can you cook & clean?"),
            ("gpt", "Of course!"),
        ],
    ]
    written = json.dumps(_exchanges(out))
    for not_said in ("WEBVTT", "note", "cue(", "-->", "intro", "<"):
        assert not_said not in written


def test_vtt_without_voices_is_still_said_to_be_subtitles(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    unvoiced = VOICED.replace("<v Natsuki Kaito>", "").replace("<v.loud Atri>", "")
    unvoiced = unvoiced.replace("<v Natsuki>", "").replace("<v Atri>", "")
    code, said, _ = _prep(tmp_path, monkeypatch, {"ep01.vtt": unvoiced})
    assert code == 1
    assert "ep01.vtt: no dialogue found as plain" in said
    assert "whose lines name no speaker" in said
    assert "WebVTT's voice tags: <v 名字>台词" in said
