"""What a label's story Python defines (`$ e = Character("Eileen")` in `label setup_names:`)
names the lines after the statements that run it, in the forms the first reading of it
(test_renpy_label_characters_s48.py) missed or misread:

- Python's `$ renpy.call("setup_names")`, `$ renpy.jump(…)` and
  `$ renpy.call_in_new_context(…)` (a new context shares the store: what the label
  defines stays) are the statements `call` and `jump`, in a script and in a label's run;
  a label an expression computes stays unfollowed.
- Story code at a label's level after its block (`$ f = Character("Fay")` at column 0)
  runs when the label's run falls through it: a `return` there ends the run.
- A `jump` in a label's run goes on in the label it jumps to: what that one defines
  holds after a call of the first (one behind an `if` may hold, so names nothing).
- A `call` whose arguments go on over lines is a call all the same.
- A `jump` to a label of the same script names nothing at the jump: the lines below it
  in the script run before that label does, and that label's own lines name the lines
  after them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from dataprep.pipeline import PrepResult
from tests.dataprep.test_renpy_label_characters_s48 import label_names, parsed, run


def named_lines(result: PrepResult) -> list[tuple[str, str]]:
    return sorted({(s.name, s.role) for s in result.stats.speakers})


CHARACTERS = 'label setup_names:\n    $ e = Character("Eileen")\n    {end}\n'
SCRIPT = (
    'define e = Character("???")\n'
    'define mc = Character("Max")\n'
    "label start:\n"
    '    e "Who are you?"\n'
    "    {goes}\n"
    "label after_names:\n"
    '    mc "I am Max."\n'
    '    e "I am Eileen."\n'
)
PYTHON_GOES = {
    "renpy.call": ('$ renpy.call("setup_names")', "return"),
    "renpy.call from_current": ("$ renpy.call('setup_names', from_current=False)", "return"),
    "renpy.call label=": ('$ renpy.call(label="setup_names")  # names', "return"),
    "renpy.call_in_new_context": ('$ renpy.call_in_new_context("setup_names", 1)', "return"),
    "renpy.jump": ('$ renpy.jump("setup_names")', "jump after_names"),
    "call over lines": ('call setup_names(\n        "first",\n        "second")', "return"),
}


@pytest.mark.parametrize(("goes", "end"), PYTHON_GOES.values(), ids=PYTHON_GOES.keys())
def test_python_forms_of_call_and_jump_name_the_lines_after_them(
    tmp_path: Path, goes: str, end: str
) -> None:
    result = run(tmp_path, characters=CHARACTERS.format(end=end), script=SCRIPT.format(goes=goes))
    assert result.problem is None
    assert named_lines(result) == [("???", "other"), ("Eileen", "character"), ("Max", "lead")]


def test_a_label_an_expression_computes_names_nothing() -> None:
    script = 'define e = Character("???")\nlabel start:\n    $ renpy.call(which)\n    e "Hi."\n'
    assert parsed(script, {"which": {"e": "Wrong"}}) == [("???", "Hi.")]


def test_python_calls_and_jumps_in_a_label_run_the_labels_they_name() -> None:
    found = label_names(
        "label setup_names:\n"
        '    $ renpy.call("name_eileen")\n'
        '    $ renpy.call_in_new_context("name_bob")\n'
        "    if early:\n"
        '        $ renpy.call("name_cid")\n'
        '    $ renpy.jump("name_dee")\n'
        '    $ f = Character("Fay")\n',  # never reached: the jump left the label
        'label name_eileen:\n    $ e = Character("Eileen")\n    return\n',
        'label name_bob:\n    $ b = Character("Bob")\n    return\n',
        'label name_cid:\n    $ c = Character("Cid")\n    return\n',
        'label name_dee:\n    $ d = Character("Dee")\n    return\n',
    )
    assert found["setup_names"] == {"e": "Eileen", "b": "Bob", "d": "Dee"}


def test_a_python_jump_that_may_leave_the_label_unsettles_what_follows() -> None:
    found = label_names(
        "label setup_names:\n"
        '    $ a = Character("Ann")\n'
        "    if early:\n"
        "        $ renpy.jump(where)\n"  # computed: where it goes is not known
        '    $ b = Character("Bob")\n'
        "    return\n"
    )
    assert found == {"setup_names": {"a": "Ann"}}


def test_a_jump_in_a_label_goes_on_in_the_label_it_names() -> None:
    found = label_names(
        "label setup_names:\n"
        '    $ e = Character("Eileen")\n'
        '    $ f = Character("Fay")\n'
        "    if early:\n"
        "        jump rename_eileen\n"  # may run: Eve or Eileen, not known
        "    return\n"
        "label name_gus:\n"
        '    $ e = Character("Eileen")\n'
        "    jump rename_eileen\n"  # runs: Eve
        "label rename_eileen:\n"
        '    $ e = Character("Eve")\n'
        '    $ g = Character("Gus")\n'
        "    return\n"
    )
    assert found["setup_names"] == {"f": "Fay"}
    assert found["name_gus"] == {"e": "Eve", "g": "Gus"}


def test_story_code_after_a_label_block_is_in_its_run() -> None:
    found = label_names(
        "label setup_names:\n"
        '    $ e = Character("Eileen")\n'
        '$ f = Character("Fay")\n'
        "call name_gus\n"
        "init python:\n"  # runs before the game: its `return` ends no run
        "    def shout(what):\n"
        "        return what.upper()\n"
        "python:\n"
        '    h = Character("Hal")\n'
        "label next_one:\n"
        '    $ k = Character("Kei")\n'
        "    return\n"
        'label name_gus:\n    $ g = Character("Gus")\n    return\n'
    )
    assert found["setup_names"] == {"e": "Eileen", "f": "Fay", "g": "Gus", "h": "Hal", "k": "Kei"}


def test_a_return_at_the_label_level_ends_its_run() -> None:
    found = label_names(
        "label setup_names:\n"
        '    $ e = Character("Eileen")\n'
        "return\n"
        "label unreached:\n"  # reached from elsewhere, not from setup_names
        '    $ e = Character("Eve")\n'
        "    return\n"
    )
    assert found["setup_names"] == {"e": "Eileen"}


def test_story_code_at_the_label_level_behind_an_if_names_nothing() -> None:
    found = label_names(
        "label setup_names:\n"
        '    $ e = Character("Eileen")\n'
        "if early:\n"
        "    return\n"
        '$ f = Character("Fay")\n'
    )
    assert found["setup_names"] == {"e": "Eileen"}


def test_a_call_over_lines_in_a_label_is_a_call() -> None:
    found = label_names(
        "label setup_names:\n"
        "    call name_eileen(\n"
        "        'first') from _call_name_eileen\n"
        "    return\n"
        'label name_eileen(first):\n    $ e = Character("Eileen")\n    return\n'
    )
    assert found["setup_names"] == {"e": "Eileen"}


def test_a_jump_to_a_label_of_the_same_script_names_nothing_at_the_jump() -> None:
    # The label's own `$ e = …` names the lines after it; at the jump, the lines between
    # would take a name they do not have yet.
    script = (
        'define e = Character("???")\n'
        "label start:\n"
        '    e "Who are you?"\n'
        "    jump reveal\n"
        "label reveal:\n"
        '    e "Wait and see."\n'
        '    $ e = Character("Eileen")\n'
        '    e "I am Eileen."\n'
    )
    assert parsed(script, label_names(script)) == [
        ("???", "Who are you?"),
        ("???", "Wait and see."),
        ("Eileen", "I am Eileen."),
    ]
