"""Naninovel as real projects write it (the samples of naninovel/samples): the text ids
of Naninovel 1.20+ (`Hello.|#12|`) and TextMeshPro rich-text tags (`<b>`, `<tip="VN">`,
`<br>`) are never said, and `@print "text" author:k` shows text as a text line does.
Before, the ids and tags were left in the words, and a `@print` line was lost."""

from __future__ import annotations

from dataprep.formats import ParseOptions, parse

SCRIPT = """\
@printer Wide
Beginning day 1 of common route.|#1|
k: Use <b>@back</b> to change the <tip="Bg">background</tip>.|#a|[i] Like this.|#b|<br><br>Easy.|#c|
n: Four <3 five.
@print "Hide! Use the \\"hide\\" command!" author:n wait! if:tries==2
@print Quisque.|#9|
@choice "Test choice|#11|" pos:10,50
"""


def said() -> list[tuple[str | None, str]]:
    return [(u.speaker, u.text) for u in parse(SCRIPT, "a.nani", "naninovel", ParseOptions())]


def test_text_ids_and_rich_text_tags_are_not_said() -> None:
    assert said()[:3] == [
        (None, "Beginning day 1 of common route."),
        ("k", "Use @back to change the background. Like this. Easy."),
        ("n", "Four <3 five."),
    ]


def test_a_print_command_is_a_text_line() -> None:
    assert said()[3:] == [("n", 'Hide! Use the "hide" command!'), (None, "Quisque.")]
