"""Ren'Py reading, session 43: a say statement's stray quote mark, `define character.k`
beside `define k`, characters set by `default`, and a script split into lines once."""

from __future__ import annotations

from pathlib import Path

import pytest

from atri.config import DataprepSettings
from dataprep.formats import ParseOptions
from dataprep.formats import renpy as renpy_format
from dataprep.formats.renpy import say_ids as renpy_say_ids
from dataprep.loaded_scripts import load_scripts
from dataprep.pipeline import iter_utterances, parse_options, run_pipeline

HEAD = 'define e = Character("Eileen")\nlabel start:\n'


def _said(text: str, dropped: str | None = None) -> list[tuple[int, str | None, str]]:
    """(line, speaker, text) of each line read (of those dropped for `dropped`, if given)."""
    found = renpy_format.parse(text, "s.rpy", ParseOptions())
    return [(u.line, u.speaker, u.text) for u in found if u.dropped == dropped]


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


# Say statements below a stray quote mark: Ren'Py reports a parse error for the line that
# leaves its string open; the lines after it are read as the statements they are. (The
# script's body; the lines read; the lines left out, their text after the quote mark.)
STRAYS = {
    # The fourth line's stray quote closed the first's string: lines 4 to 7 were one
    # statement, read as "Hello there. e ", and "Two." and "Three." were lost.
    "two strays": (
        '    e "Hello there.\n    e "Two."\n    m "Three."\n    e "Four.\n    m "Five."\n',
        [(5, "Eileen", "Two."), (6, "Max", "Three."), (8, "Max", "Five.")],
        [(4, "Eileen", "Hello there."), (7, "Eileen", "Four.")],
    ),
    # Narration and apostrophes between: the lines down to the next stray quote mark were
    # one statement, read as "Hello there." and what followed its string dropped.
    "narration and apostrophes": (
        '    e "Hello there.\n    "She nods."\n    m "It\'s late."\n    e "Isn\'t it?"\n'
        '    m "Go.\n    e "Bye."\n',
        [
            (5, None, "She nods."),
            (6, "Max", "It's late."),
            (7, "Eileen", "Isn't it?"),
            (9, "Eileen", "Bye."),
        ],
        [(4, "Eileen", "Hello there."), (8, "Max", "Go.")],
    ),
    # A statement with no string between is read too.
    "a statement with no string between": (
        '    e "Hi.\n    show e happy\n    m "Two."\n    e "Three.\n    m "Four."\n',
        [(6, "Max", "Two."), (8, "Max", "Four.")],
        [(4, "Eileen", "Hi."), (7, "Eileen", "Three.")],
    ),
    # A choice of a menu below the stray line is still a choice.
    "a menu below": (
        '    e "Well.\n    menu:\n        "Go":\n            m "Gone."\n        "Stay":\n'
        '            m "Here."\n    e "So.\n    e "End."\n',
        [(7, "Max", "Gone."), (9, "Max", "Here."), (11, "Eileen", "End.")],
        [(4, "Eileen", "Well."), (10, "Eileen", "So.")],
    ),
}
# Strings Ren'Py takes over lines: read as one line of dialogue, as before.
OVER_LINES = {
    "a string over two lines": (
        '    e "Hello\n    world."\n    m "Hi."\n',
        [(4, "Eileen", "Hello world."), (6, "Max", "Hi.")],
        [],
    ),
    "arguments after it": (
        '    e "Hello\n    my world " (what_color="#fff")\n    m "Hi."\n',
        [(4, "Eileen", "Hello my world"), (6, "Max", "Hi.")],
        [],
    ),
    "a with clause after it": (
        '    e "Hello\n    dear " with dissolve\n    m "Hi."\n',
        [(4, "Eileen", "Hello dear"), (6, "Max", "Hi.")],
        [],
    ),
    "a say statement inside it, in the other quote marks": (
        '    e \'She wrote\n    m "Hi."\n    on the wall.\'\n    m "Hi."\n',
        [(4, "Eileen", 'She wrote m "Hi." on the wall.'), (7, "Max", "Hi.")],
        [],
    ),
    "a choice over lines": (
        '    menu:\n        "Go\n        left":\n            m "Left."\n',
        [(7, "Max", "Left.")],
        [],
    ),
}
HEADS = 'define e = Character("Eileen")\ndefine m = Character("Max")\nlabel start:\n'


@pytest.mark.parametrize(
    "body, said, unclosed", [*STRAYS.values(), *OVER_LINES.values()], ids=[*STRAYS, *OVER_LINES]
)
def test_a_stray_quote_mark_loses_its_own_line_only(
    body: str, said: list[tuple[int, str | None, str]], unclosed: list[tuple[int, str, str]]
) -> None:
    text = HEADS + body
    assert _said(text) == said
    assert sorted(renpy_say_ids.say_identifiers(text).values()) == [line for line, *_ in said]
    # The line left out is counted, with its speaker.
    assert _said(text, renpy_format.UNCLOSED_STRING) == unclosed


def test_say_statements_never_closing_their_string_are_counted_and_named(
    tmp_path: Path,
) -> None:
    """`atri prep` says which lines a stray quote mark cost, and counts them among the
    character's lines dropped."""
    script = tmp_path / "script.rpy"
    body = STRAYS["two strays"][0]
    script.write_text(HEADS + body + '    e "Fine."\n    e "Oops.\n', encoding="utf-8")
    settings = DataprepSettings(lead_aliases=["Max"], character_aliases=["Eileen"], eval_ratio=0)
    result = run_pipeline(settings, [script])
    assert result.stats.character_lines_dropped[renpy_format.UNCLOSED_STRING] == 3
    assert result.warnings == [
        f"{script}: the strings of the say statements on lines 4, 7, 10 are never closed"
        " (stray quote marks, parse errors to Ren'Py); those lines were left out, the lines"
        " below them were read."
    ]
