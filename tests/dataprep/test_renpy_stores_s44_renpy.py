"""Ren'Py's stores, session 44: a Python say call finds its speaker in the default store
(a say statement in the `character` store first), and a `default` of a character is the
one in play over a `define` of it."""

from __future__ import annotations

from pathlib import Path

import pytest

from atri.config import DataprepSettings
from dataprep.formats import ParseOptions
from dataprep.formats import renpy as renpy_format
from dataprep.formats.renpy import characters as renpy_characters
from dataprep.loaded_scripts import load_scripts
from dataprep.pipeline import iter_utterances, parse_options


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


def _parsed(text: str) -> list[tuple[str | None, str]]:
    """(speaker, text) of each line one file read alone gives."""
    return [(u.speaker, u.text) for u in renpy_format.parse(text, "s.rpy", ParseOptions())]


STORE = 'define character.k = Character("Eileen")\n'
DEFAULT_STORE = 'define k = Character("Kate")\n'
SAYS = (
    "label start:\n"
    '    k "Said."\n'
    '    $ k("Called.")\n'
    '    $ renpy.say(k, "Said from Python.")\n'
    '    $ renpy.say(store.k, "Named in the store.")\n'
    "    python:\n"
    '        k("Called in a block.")\n'
)
# A say statement finds `character.k`; Python finds the default store's `k`.
HEARD = [
    ("Eileen", "Said."),
    ("Kate", "Called."),
    ("Kate", "Said from Python."),
    ("Kate", "Named in the store."),
    ("Kate", "Called in a block."),
]
STORE_ORDERS = {
    "store first": {"script.rpy": STORE + DEFAULT_STORE + SAYS},
    "store last": {"script.rpy": DEFAULT_STORE + STORE + SAYS},
    "store in another file": {"a.rpy": STORE, "script.rpy": DEFAULT_STORE + SAYS},
    "default store in another file": {"a.rpy": DEFAULT_STORE, "script.rpy": STORE + SAYS},
    "each in a file of its own": {"a.rpy": STORE, "b.rpy": DEFAULT_STORE, "script.rpy": SAYS},
    "a python block in the character store": {
        "a.rpy": 'init python in character:\n    k = Character("Eileen")\n',
        "script.rpy": DEFAULT_STORE + SAYS,
    },
}


@pytest.mark.parametrize("files", STORE_ORDERS.values(), ids=STORE_ORDERS.keys())
def test_python_says_a_line_of_the_default_stores_character(
    tmp_path: Path, files: dict[str, str]
) -> None:
    """`$ k("…")` and `$ renpy.say(k, "…")` were named from `character.k`, as the say
    statement `k "…"` is; Python looks `k` up in the default store."""
    assert _prepared(tmp_path, files) == HEARD


def test_one_file_read_alone_names_python_from_the_default_store() -> None:
    assert _parsed(DEFAULT_STORE + STORE + SAYS) == HEARD
    assert _parsed(STORE + DEFAULT_STORE + SAYS) == HEARD


def test_python_without_a_default_store_character_keeps_the_character_stores() -> None:
    # Nothing in the default store to find: the speaker stays the one the name gives.
    assert _parsed(STORE + 'label start:\n    $ k("Called.")\n') == [("Eileen", "Called.")]


DEFAULT = 'default e = Character("Eileen")\n'
DEFINE = 'define e = Character("Yuki")\n'
SAID = 'label start:\n    e "Hello."\n    $ e("Hi.")\n'
# `define` runs at init, `default` as the game starts: the default's value is in play.
DEFAULT_ORDERS = {
    "default first": {"script.rpy": DEFAULT + DEFINE + SAID},
    "default last": {"script.rpy": DEFINE + DEFAULT + SAID},
    "default in another file, first": {"a.rpy": DEFAULT, "script.rpy": DEFINE + SAID},
    "default in another file, last": {"script.rpy": DEFINE + SAID, "z.rpy": DEFAULT},
    "define in another file, first": {"a.rpy": DEFINE, "script.rpy": DEFAULT + SAID},
    "define in another file, last": {"script.rpy": DEFAULT + SAID, "z.rpy": DEFINE},
    "in the character store": {
        "script.rpy": 'default character.e = Character("Eileen")\n'
        'define character.e = Character("Yuki")\n' + SAID
    },
    "a second default is skipped": {
        "script.rpy": DEFAULT + 'default e = Character("Yuki")\n' + SAID
    },
}


@pytest.mark.parametrize("files", DEFAULT_ORDERS.values(), ids=DEFAULT_ORDERS.keys())
def test_a_characters_default_is_the_one_in_play_over_its_define(
    tmp_path: Path, files: dict[str, str]
) -> None:
    """`default e` and `define e` of one variable: the one read last named the speaker,
    where Ren'Py sets the default's value as the game starts, over the define's."""
    assert _prepared(tmp_path, files) == [("Eileen", "Hello."), ("Eileen", "Hi.")]


def test_a_default_over_a_define_in_one_file_read_alone() -> None:
    assert _parsed(DEFAULT + DEFINE + SAID) == [("Eileen", "Hello."), ("Eileen", "Hi.")]
    assert renpy_characters.collect_characters(DEFINE + DEFAULT) == {"e": "Eileen"}


def test_a_dynamic_default_over_a_define(tmp_path: Path) -> None:
    files = {
        "script.rpy": 'define e = Character("Yuki")\ndefault e_name = "Eileen"\n'
        'default e = DynamicCharacter("e_name")\n' + SAID
    }
    assert _prepared(tmp_path, files) == [("Eileen", "Hello."), ("Eileen", "Hi.")]
