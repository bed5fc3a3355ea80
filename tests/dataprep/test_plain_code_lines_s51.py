"""Session 51: the plain reader takes no command, comment or sentence for a speaker's
line (real scripts: Naninovel's `@back Desert time:1`, ONScripter's `;「…」` and
`bg "bmp\\…",22`, XUnity's `r:"^…"=…`, English prose's `the word "FIN" is…`), and a
punctuation "name" does not hide the hint that a run's lines name hardly any speaker."""

from __future__ import annotations

import pytest

from dataprep.formats import ParseOptions, parse
from dataprep.report import _few_speakers_note
from dataprep.stats import FileReport, SpeakerCount, StageCount, Stats


def speakers(text: str, options: ParseOptions | None = None) -> list[str | None]:
    return [u.speaker for u in parse(text, "d.txt", "plain", options or ParseOptions())]


@pytest.mark.parametrize(
    "line",
    [
        "@back Desert time:1",  # Naninovel commands
        '@choice "Hello World!" goto:.Hello',
        "@char n look:left pos:35,-80",
        ";「戦人さまッ！@　危ないッ！！」@",  # ONScripter: a comment
        '`"Master Battler!`@` Look out!!!"`\\',  # ONScripter: an English text line
        'bg "bmp\\background\\fan2.bmp",22',  # ONScripter: a command and its file
        'Bg "bmp\\background\\fan2.bmp",22',  # a path is no line, even after a capital
        'r:"^所持数([0-9]+)$"=Owned - $1',  # XUnity: a regex and its translation
        '- "Why?!"',  # no letter in the name
        '1: "Run!"',
    ],
)
def test_code_and_comment_lines_name_no_speaker(line: str) -> None:
    assert speakers(f"{line}\n") in ([], [None])


def test_a_lower_case_sentence_before_a_quote_is_no_speaker() -> None:
    text = (
        '"Hmm.\nIt will "certainly" be a hit, you said? Are you really that confident?"\n'
        '"...By the way,\nthe word "FIN" is actually French."\n'
    )
    assert speakers(text) == [None, None, None, None]


def test_capitalised_names_and_aliases_before_a_quote_still_speak() -> None:
    text = 'Jessica "Why?!"\nOld Man "Run!"\nkinzo "Ha!"\n夏生「おはよう」\n?? "Who?"\n'
    aliases = ParseOptions(speaker_aliases=frozenset({"kinzo"}))
    assert speakers(text, aliases) == ["Jessica", "Old Man", "kinzo", "夏生", "??"]
    assert speakers("n: Oh, hey there!\nk: Whoa!\n") == ["n", "k"]  # a colon: any name


def stats_with(names: dict[str, int], read: int) -> Stats:
    stats = Stats(files=[FileReport(path="0.txt")])
    stats.stages = [StageCount("extract", "lines", read, read)]
    stats.speakers = [SpeakerCount(n, count, "other") for n, count in names.items()]
    return stats


def test_punctuation_names_do_not_count_as_named_lines() -> None:
    note = _few_speakers_note(stats_with({";": 150, "`": 80, "Jessica": 3}, 5000))
    assert "Only 3 of the 5,000 lines read named a speaker" in note
