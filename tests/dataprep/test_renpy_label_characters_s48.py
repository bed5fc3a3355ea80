"""A story `$ e = Character("Eileen")` in a label of one file (`label setup_names:` in
characters.rpy) names the lines of `e` in another file from its `call setup_names` (or
`jump`) on, as the game shows them once that label has run. It named none of them there:
they kept the name defined before the game starts. Only what the label always does counts:
an assignment behind an `if` or a menu choice, or after a `return` that may have ended the
label, names nothing (the lines keep the name they had)."""

from __future__ import annotations

from pathlib import Path

import pytest

from atri.config import DataprepSettings
from dataprep.formats import ParseOptions
from dataprep.formats import renpy as renpy_format
from dataprep.formats.renpy import names as renpy_names
from dataprep.pipeline import PrepResult, run_pipeline

CHARACTERS = (
    "label setup_names:\n"
    '    $ e = Character("Eileen")\n'
    '    $ mc = DynamicCharacter("player_name")\n'
    "    {end}\n"
)
SCRIPT = (
    'define e = Character("???")\n'
    'define mc = Character("You")\n'
    "label start:\n"
    '    $ player_name = renpy.input("Name?")\n'
    '    e "Who are you?"\n'
    "    {goes}\n"
    "label after_names:\n"
    '    mc "I am Max."\n'
    '    e "I am Eileen."\n'
)
GOES = {
    "call": ("call setup_names", "return"),
    "call from": ("call setup_names from _call_setup_names", "return"),
    "call(args)": ("call setup_names() from _call_setup_names", "return"),
    "call expression": ('call expression "setup_names"', "return"),
    "jump": ("jump setup_names", "jump after_names"),
}
SETTINGS = DataprepSettings(lead_aliases=["Max"], character_aliases=["Eileen"])


def run(folder: Path, **files: str) -> PrepResult:
    (folder / "game").mkdir(parents=True)
    paths = []
    for name, text in files.items():
        path = folder / "game" / f"{name}.rpy"
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return run_pipeline(SETTINGS, paths)


def speakers(result: PrepResult) -> set[tuple[str, int, str]]:
    return {(s.name, s.lines, s.role) for s in result.stats.speakers}


@pytest.mark.parametrize(("goes", "end"), GOES.values(), ids=GOES.keys())
def test_a_label_of_another_file_names_the_lines_after_its_call(
    tmp_path: Path, goes: str, end: str
) -> None:
    result = run(
        tmp_path,
        characters=CHARACTERS.format(end=end),
        script=SCRIPT.format(goes=goes),
    )
    assert result.problem is None
    assert speakers(result) == {
        ("???", 1, "other"),
        ("Max", 1, "lead"),
        ("Eileen", 1, "character"),
    }
    assert [(s.prompt, s.reply) for s in result.train][-1:] == [("I am Max.", "I am Eileen.")]


def label_names(text: str, *more: str) -> dict[str, dict[str, str]]:
    names = renpy_names.ScriptNames()
    for one in (text, *more):
        names.add(one)
    return names.label_characters("Max", {}, None)


def test_a_label_names_what_its_body_always_defines() -> None:
    found = label_names(
        'define who = "Eve"\n'
        'define character.k = Character("Kei")\n'
        "label setup_names:\n"
        '    $ e = Character("Eileen")\n'
        "    python:\n"
        '        f = DynamicCharacter("who")\n'
        '        k = Character("Kei of the store")\n'
        '    $ mc = Character("[player_name]")\n'
        '    $ e = Character("Eileen Two")\n'
        "    return\n"
        'default player_name = renpy.input("Name?")\n'
    )
    assert found == {
        "setup_names": {
            "e": "Eileen Two",  # the last one it gives
            "f": "Eve",
            "store.k": "Kei of the store",  # `k "…"` is character.k's
            "mc": "Max",
        }
    }


def test_what_a_label_may_not_do_names_nothing() -> None:
    # Behind an `if`, in a menu's choice, after a return that may have ended the label,
    # after the return that ends it: the name after the call is not known for certain.
    found = label_names(
        "label setup_names:\n"
        '    $ a = Character("Ann")\n'
        '    $ b = Character("Bob")\n'
        '    $ c = Character("Cid")\n'
        "    if met_bob:\n"
        '        $ b = Character("Bobby")\n'
        "    menu:\n"
        '        "Cid?":\n'
        '            $ c = Character("Cidney")\n'
        "    if skip:\n"
        "        return\n"
        '    $ d = Character("Dee")\n'
        "    return\n"
        '    $ a = Character("Anna")\n'
    )
    assert found == {"setup_names": {"a": "Ann"}}


def test_a_later_sure_assignment_settles_the_name_again() -> None:
    found = label_names(
        "label setup_names:\n"
        "    if met_bob:\n"
        '        $ b = Character("Bobby")\n'
        '    $ b = Character("Bob")\n'
    )
    assert found == {"setup_names": {"b": "Bob"}}


def test_a_label_names_what_the_labels_it_calls_and_falls_into_define() -> None:
    found = label_names(
        "label setup_names:\n"
        "    call name_eileen\n"
        "    if early:\n"
        "        call name_bob\n"
        "label name_cid:\n"  # reached when setup_names' block ends: it falls in
        '    $ c = Character("Cid")\n'
        "    return\n",
        'label name_eileen:\n    $ e = Character("Eileen")\n    return\n',
        'label name_bob:\n    $ b = Character("Bob")\n    return\n',
    )
    assert found["setup_names"] == {"e": "Eileen", "c": "Cid"}


def test_a_label_defined_twice_names_nothing() -> None:
    # Ren'Py refuses it (or, allowed, runs one of them): which one is not known.
    found = label_names(
        'label setup_names:\n    $ e = Character("Eileen")\n    return\n',
        'label setup_names:\n    $ e = Character("Eve")\n    return\n',
    )
    assert found == {}


def test_labels_that_call_each_other_are_read_once() -> None:
    found = label_names(
        'label a:\n    $ e = Character("Eileen")\n    call b\n    return\n'
        'label b:\n    call a\n    $ f = Character("Fay")\n    return\n'
    )
    assert found["a"]["e"] == "Eileen"
    assert found["a"]["f"] == "Fay"


def parsed(script: str, labels: dict[str, dict[str, str]]) -> list[tuple[str | None, str]]:
    options = ParseOptions(renpy_label_characters=labels)
    return [(u.speaker, u.text) for u in renpy_format.parse(script, "script.rpy", options)]


def test_each_call_names_the_lines_after_it_until_the_next() -> None:
    script = (
        'define e = Character("???")\n'
        "label start:\n"
        '    e "One."\n'
        "    call first_names\n"
        '    e "Two."\n'
        "    call .second  # a local label: start.second\n"
        '    e "Three."\n'
        '    $ e = Character("Eve")\n'
        '    e "Four."\n'
        "    call screen names\n"  # a screen, not the label "screen"
        '    e "Five."\n'
    )
    labels = {
        "first_names": {"e": "Eileen"},
        "start.second": {"e": "Ellie"},
        "screen": {"e": "Wrong"},
    }
    assert parsed(script, labels) == [
        ("???", "One."),
        ("Eileen", "Two."),
        ("Ellie", "Three."),
        ("Eve", "Four."),
        ("Eve", "Five."),
    ]


def test_a_call_of_a_label_that_names_nothing_changes_nothing() -> None:
    script = 'define e = Character("Eileen")\nlabel start:\n    call intro\n    e "Hi."\n'
    assert parsed(script, {}) == [("Eileen", "Hi.")]
