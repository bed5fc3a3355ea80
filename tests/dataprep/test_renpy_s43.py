"""Ren'Py reading, session 43: a say statement's stray quote mark, `define character.k`
beside `define k`, characters set by `default`, and a script split into lines once."""

from __future__ import annotations

from dataprep.formats import ParseOptions
from dataprep.formats import renpy as renpy_format

HEAD = 'define e = Character("Eileen")\nlabel start:\n'


def _said(text: str, options: ParseOptions | None = None) -> list[tuple[int, str | None, str]]:
    found = renpy_format.parse(text, "s.rpy", options or ParseOptions())
    return [(u.line, u.speaker, u.text) for u in found]


class _CountedText(str):
    """A script that counts how often it is split into lines."""

    splits = 0

    def splitlines(self, keepends: bool = False) -> list[str]:
        _CountedText.splits += 1
        return super().splitlines(keepends)


def test_a_script_is_split_into_lines_once() -> None:
    """The characters' definitions were read from a second split of the text the say
    statements were read from."""
    script = _CountedText(HEAD + '    e "Hello."\n')
    _CountedText.splits = 0
    assert _said(script) == [(3, "Eileen", "Hello.")]
    assert _CountedText.splits == 1
