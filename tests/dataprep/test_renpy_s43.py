"""Ren'Py reading, session 43: a say statement's stray quote mark, `define character.k`
beside `define k`, characters set by `default`, and a script split into lines once."""

from __future__ import annotations

from pathlib import Path

import pytest

from atri.config import DataprepSettings
from dataprep.formats import ParseOptions
from dataprep.formats import renpy as renpy_format
from dataprep.pipeline import iter_utterances, load_scripts, parse_options

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


def _prepared(game: Path, files: dict[str, str]) -> list[tuple[str | None, str]]:
    """(speaker, text) of each line `atri prep` reads from the game's files, in order."""
    paths = []
    for name, text in files.items():
        (game / name).write_text(text, encoding="utf-8")
        paths.append(game / name)
    settings = DataprepSettings(lead_aliases=["Max"], character_aliases=["Eileen"])
    scripts, _ = load_scripts(paths, settings, None)
    options = parse_options(settings, scripts)
    return [(u.speaker, u.text) for batch in iter_utterances(scripts, options) for u in batch]


STORE = 'define character.k = Character("Eileen")\n'
DEFAULT_STORE = 'define k = Character("Kate")\n'
SAYS = 'label start:\n    k "Hello."\n'
# The character store's `k` speaks a say statement, whichever definition comes last.
STORE_ORDERS = {
    "store first, one file": {"script.rpy": STORE + DEFAULT_STORE + SAYS},
    "store last, one file": {"script.rpy": DEFAULT_STORE + STORE + SAYS},
    "store in the first file": {"a.rpy": STORE, "b.rpy": DEFAULT_STORE, "script.rpy": SAYS},
    "store in the last file": {"a.rpy": DEFAULT_STORE, "b.rpy": STORE, "script.rpy": SAYS},
    "store and script in the first file": {"a.rpy": STORE + SAYS, "b.rpy": DEFAULT_STORE},
    "default store in the script's file": {"a.rpy": STORE, "b.rpy": DEFAULT_STORE + SAYS},
    "a python block in the character store": {
        "a.rpy": 'init python in character:\n    k = Character("Eileen")\n',
        "b.rpy": DEFAULT_STORE + SAYS,
    },
}


@pytest.mark.parametrize("files", STORE_ORDERS.values(), ids=STORE_ORDERS.keys())
def test_a_say_statement_finds_its_speaker_in_the_character_store_first(
    tmp_path: Path, files: dict[str, str]
) -> None:
    """`define k` and `define character.k` in one game: the last one read named the
    speaker of `k "…"`, where Ren'Py (7.4 on) looks in the character store first."""
    assert _prepared(tmp_path, files) == [("Eileen", "Hello.")]


# `default` sets a variable when the game starts, a Character as any other value.
DEFAULTS = {
    "default": 'default e = Character("Eileen")\n',
    "default over lines": 'default e = Character(\n    "Eileen",\n    color="#c8ffc8")\n',
    "default, dynamic": 'default e_name = "Eileen"\ndefault e = DynamicCharacter("e_name")\n',
    "default in the character store": 'default character.e = Character("Eileen")\n',
}


@pytest.mark.parametrize("defines", DEFAULTS.values(), ids=DEFAULTS.keys())
def test_a_character_set_by_default_names_its_speaker(tmp_path: Path, defines: str) -> None:
    """`default e = Character("Eileen")` was no character definition: every line of `e`
    had the speaker "e"."""
    files = {"characters.rpy": defines, "script.rpy": 'label start:\n    e "Hello."\n'}
    assert _prepared(tmp_path, files) == [("Eileen", "Hello.")]


# Say statements below a stray quote mark: Ren'Py refuses the line that leaves its string
# open; the lines after it are read as the statements they are.
STRAYS = {
    # The fourth line's stray quote closed the first's string: lines 4 to 7 were one
    # statement, read as "Hello there. e ", and "Two." and "Three." were lost.
    "two strays": (
        '    e "Hello there.\n    e "Two."\n    m "Three."\n    e "Four.\n    m "Five."\n',
        [(5, "Eileen", "Two."), (6, "Max", "Three."), (8, "Max", "Five.")],
    ),
    # Narration and apostrophes between: the lines down to the next stray quote mark were
    # one statement, read as narration ("Hello there.\n", then the rest dropped).
    "narration and apostrophes": (
        '    e "Hello there.\n    "She nods."\n    m "It\'s late."\n    e "Isn\'t it?"\n'
        '    m "Go.\n    e "Bye."\n',
        [
            (5, None, "She nods."),
            (6, "Max", "It's late."),
            (7, "Eileen", "Isn't it?"),
            (9, "Eileen", "Bye."),
        ],
    ),
    # A statement with no string between is read too.
    "a statement with no string between": (
        '    e "Hi.\n    show e happy\n    m "Two."\n    e "Three.\n    m "Four."\n',
        [(6, "Max", "Two."), (8, "Max", "Four.")],
    ),
    # A choice of a menu below the stray line is still a choice.
    "a menu below": (
        '    e "Well.\n    menu:\n        "Go":\n            m "Gone."\n        "Stay":\n'
        '            m "Here."\n    e "So.\n    e "End."\n',
        [(7, "Max", "Gone."), (9, "Max", "Here."), (11, "Eileen", "End.")],
    ),
}
# Strings Ren'Py takes over lines: read as one line of dialogue, as before.
OVER_LINES = {
    "a string over two lines": (
        '    e "Hello\n    world."\n    m "Hi."\n',
        [(4, "Eileen", "Hello world."), (6, "Max", "Hi.")],
    ),
    "arguments after it": (
        '    e "Hello\n    my world " (what_color="#fff")\n    m "Hi."\n',
        [(4, "Eileen", "Hello my world"), (6, "Max", "Hi.")],
    ),
    "a with clause after it": (
        '    e "Hello\n    dear " with dissolve\n    m "Hi."\n',
        [(4, "Eileen", "Hello dear"), (6, "Max", "Hi.")],
    ),
    "a say statement inside it, in the other quote marks": (
        '    e \'She wrote\n    m "Hi."\n    on the wall.\'\n    m "Hi."\n',
        [(4, "Eileen", 'She wrote m "Hi." on the wall.'), (7, "Max", "Hi.")],
    ),
    "a choice over lines": (
        '    menu:\n        "Go\n        left":\n            m "Left."\n',
        [(7, "Max", "Left.")],
    ),
}
HEADS = 'define e = Character("Eileen")\ndefine m = Character("Max")\nlabel start:\n'


@pytest.mark.parametrize("name", [*STRAYS, *OVER_LINES])
def test_a_stray_quote_mark_loses_its_own_line_only(name: str) -> None:
    body, expected = STRAYS.get(name) or OVER_LINES[name]
    text = HEADS + body
    said = _said(text)
    assert said == expected
    assert sorted(renpy_format.say_identifiers(text).values()) == [line for line, *_ in said]
