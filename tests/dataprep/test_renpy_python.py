"""Ren'Py lines said from Python: `$ renpy.say(e, "…")`, `$ e("…")`, and the same calls in
a `python:` block of the story, read as the say statement each one is."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from atri.config import DataprepSettings
from dataprep.formats import ParseOptions, parse
from dataprep.formats.common import COMPUTED_TEXT, UNRESOLVED_VARIABLE
from dataprep.formats.renpy import lines as renpy_lines
from dataprep.formats.renpy import names as renpy_names
from dataprep.formats.renpy import python_say as renpy_python_say
from dataprep.pipeline import run_pipeline
from dataprep.records import Utterance

DEFINES = (
    'define e = Character("Eileen")\ndefine m = Character("Max")\ndefault town = "Harborside"\n'
)


def read(script: str) -> list[Utterance]:
    text = DEFINES + script
    options = ParseOptions(renpy_variables=renpy_names.string_variables(text))
    return parse(text, "s.rpy", "renpy", options)


def test_python_say_calls_in_the_story(fixtures: Path) -> None:
    # `$ e("…")` and the say calls of a story `python:` block were skipped as code: the
    # lines were lost, and an exchange broke where they had been.
    text = (fixtures / "python_calls.rpy").read_text(encoding="utf-8")
    options = ParseOptions(renpy_variables=renpy_names.string_variables(text))
    found = parse(text, "p.rpy", "renpy", options)
    assert [(u.line, u.speaker, u.text, u.dropped) for u in found] == [
        (12, "Max", "Morning.", None),
        (13, "Eileen", "Morning, Max.", None),
        (14, "Eileen", 'It\'s "early", though.', None),  # keyword arguments change nothing
        (15, None, "The kettle whistled.", None),
        (16, "Baker", "Bread's ready!", None),
        (17, "Eileen", "Coming!", None),  # two statements on one line
        (17, "Max", "Me too.", None),
        # Text the game computes (an f-string, a sum, a variable) is a line of hers that
        # cannot be used: dropped and counted, never read as its code.
        (18, "Eileen", 'f"Hi, {player_name}."', COMPUTED_TEXT),
        (19, "Eileen", '"Welcome to " + town_name', COMPUTED_TEXT),
        (20, "Eileen", "greeting", COMPUTED_TEXT),
        # A triple-quoted Python string is one line on screen (no monologue split).
        (21, "Eileen", "A long day\nin Harborside.", None),
        (26, "Eileen", "Then tea it is.", None),
        # The python block of the second choice: its say calls, a branch's included, but
        # not those in a function's body, nor those of `init python:` above.
        (30, "Max", "Let's go out.", None),
        (34, "Eileen", "Take an umbrella.", None),
        (36, None, "The door creaked.", None),  # a call over two lines: its text's line
        (37, "Eileen", "mood_line", COMPUTED_TEXT),
        (38, "Eileen", "See you.", None),
    ]
    # Scene and menu bookkeeping as for say statements: each choice a branch that follows
    # the lines before the menu, the lines after the menu a branch of their own.
    by_line = {u.line: (u.scene, u.branch, u.forked_from) for u in found}
    assert by_line[13] == ("start", 0, None)
    assert by_line[26] == ("start", 1, 0)
    assert by_line[30] == by_line[36] == ("start", 2, 0)
    assert by_line[38] == ("start", 3, None)


@pytest.mark.parametrize(
    ("call", "say"),
    [
        ('renpy.say(e, "Hi, [town].{w} Ready?")', 'e "Hi, [town].{w} Ready?"'),
        ("e('It\\'s \"fine\".', interact=False)", "e 'It\\'s \"fine\".'"),
        ('e(_("Welcome."))', 'e "Welcome."'),
        ('e(u"100\\% sure {{braces}")', 'e "100\\% sure {{braces}"'),
        ('renpy.say("Guard", "Halt!")', '"Guard" "Halt!"'),
        ("renpy.say(who='Guard', what='Halt!')", "'Guard' 'Halt!'"),
        ('renpy.say(None, "Rain fell.")', '"Rain fell."'),
        ('narrator("Rain fell.")', 'narrator "Rain fell."'),
        ('centered("Chapter Two")', 'centered "Chapter Two"'),
        ('e("Where is [nowhere]?")', 'e "Where is [nowhere]?"'),  # dropped alike
        ('e("Wait.{p}Okay.")  # a comment', 'e "Wait.{p}Okay."'),
        ('renpy.say(x, "An undefined speaker.")', 'x "An undefined speaker."'),
        ('extend(", almost done.")', 'extend ", almost done."'),
        ('e("""Yes.""")', 'e """Yes."""'),
    ],
)
def test_a_python_say_reads_as_its_say_statement(call: str, say: str) -> None:
    # The same speaker lookup, escapes, tags, variables and line numbers as `e "…"`, on
    # a `$` line and in a story python block (whose header takes a comment's line here).
    before = 'label start:\n    m "Hold on"\n'
    as_say = read(f"{before}    # python:\n    {say}\n")
    assert as_say != read(before)  # each says something (an extend, with the line before)
    assert read(f"{before}    # python:\n    ${call}\n") == as_say
    assert read(f"{before}    python:\n        {call}\n") == as_say


@pytest.mark.parametrize(
    "what",
    [
        'f"Hi {name}."',
        "greeting",
        '"Hi " + name',
        # Adjacent literals are one constant (see test_adjacent_literals_…), but not
        # with a variable added to it.
        '"Hi " "there, " + name',
        '"Hi %s." % name',
        '"Hi {}.".format(name)',
        'r"C:\\games"',
        "_(greeting)",
    ],
)
def test_text_that_is_not_one_literal_is_dropped_and_counted(what: str, tmp_path: Path) -> None:
    script = tmp_path / "script.rpy"
    script.write_text(
        DEFINES + "label start:\n"
        '    m "Hello."\n'
        f"    $ e({what})\n"
        '    m "Again?"\n'
        f"    $ renpy.say(e, {what}, interact=False)\n"
        '    m "And now?"\n'
        f"    python:\n        e({what})\n"
        '    m "Well?"\n'
        '    e "Fine."\n',
        encoding="utf-8",
    )
    found = parse(script.read_text(encoding="utf-8"), "s.rpy", "renpy", ParseOptions())
    assert [(u.line, u.speaker, u.text, u.dropped) for u in found if u.dropped] == [
        (line, "Eileen", what, COMPUTED_TEXT) for line in (6, 8, 11)
    ]
    settings = DataprepSettings(lead_aliases=["Max"], character_aliases=["Eileen"], eval_ratio=0)
    result = run_pipeline(settings, [script])
    # As any line said but dropped, hers end the exchange: the lead's lines around them
    # were one turn, "Hello.\nAgain?\nAnd now?\nWell?", as if she had never spoken.
    assert [(s.prompt, s.reply) for s in result.train] == [("Well?", "Fine.")]
    assert result.stats.character_lines_dropped[COMPUTED_TEXT] == 3
    clean = next(s for s in result.stats.stages if s.stage == "clean text")
    assert clean.dropped[COMPUTED_TEXT] == 3


def test_adjacent_literals_are_one_line(fixtures: Path) -> None:
    # Python joins adjacent string literals when it compiles the call, so `e("Hello, "
    # "world.")` shows one constant string: it was dropped as computed text.
    text = (fixtures / "python_join.rpy").read_text(encoding="utf-8")
    found = parse(text, "j.rpy", "renpy", ParseOptions())
    assert [(u.line, u.speaker, u.text, u.dropped) for u in found] == [
        (7, "Max", "Ready?", None),
        (8, "Eileen", "Hello, world.", None),
        (9, "Max", 'It\'s a "joined" line.', None),  # either quotes, escapes kept apart
        (11, "Eileen", "Across the lines of one call.", None),  # a comment between
        (14, "Eileen", "Wrapped for the translators.", None),
        (15, "Guard", "Halt! Who goes there?", None),  # a joined name too
        (16, "Eileen", "Two lines,\nthen one more part.", None),  # one line on screen
        (19, "Eileen", "In a python block.", None),
        # A part that is not a literal still makes the text the game's to compute.
        (21, "Eileen", '"Hi, " "there, " + player_name', COMPUTED_TEXT),
        (22, "Eileen", '"Hi, " f"{player_name}."', COMPUTED_TEXT),
        (23, "Eileen", '"Hello, %s" " again." % player_name', COMPUTED_TEXT),
        (24, "Eileen", '"C:" r"\\games"', COMPUTED_TEXT),  # as `r"C:\\games"` alone
        (25, "Eileen", "Done.", None),
    ]


def test_literals_added_are_one_line() -> None:
    # `"a" + "b"` is a sum of constants the game shows as one string: it was dropped as
    # computed text. With a variable or a call among the parts it still is.
    found = read(
        "label start:\n"
        '    $ e("Good morning, " + "Max.")\n'
        '    $ renpy.say(m, \'Morning\' + ", " + "Eileen.")\n'
        '    $ e("Tea " "or " + "coffee?")\n'
        '    $ e("Hi, " + town)\n'
        '    $ e("Hi, " + _("there."))\n'
    )
    assert [(u.line, u.speaker, u.text, u.dropped) for u in found] == [
        (5, "Eileen", "Good morning, Max.", None),
        (6, "Max", "Morning, Eileen.", None),
        (7, "Eileen", "Tea or coffee?", None),
        (8, "Eileen", '"Hi, " + town', COMPUTED_TEXT),
        (9, "Eileen", "Hi, there.", None),
    ]


def test_an_extend_of_computed_text_drops_the_line_it_continues() -> None:
    found = read('label start:\n    e "Hold on"\n    $ extend(rest)\n    e "Done."\n')
    assert [(u.text, u.dropped) for u in found] == [
        ("Hold onrest", COMPUTED_TEXT),
        ("Done.", None),
    ]


def test_init_python_and_other_code_say_nothing() -> None:
    # `init python:` runs before the game starts, where no line can be shown; `python
    # early` as the file is loaded; an `init:` block is init code too.
    found = read(
        "init python:\n"
        '    renpy.say(e, "Init.")\n'
        '    e("Init too.")\n'
        "init -1 python:\n"
        '    e("Init, earlier.")\n'
        "python early:\n"
        '    e("Early.")\n'
        "init:\n"
        '    $ e("In an init block.")\n'
        "label start:\n"
        "    python hide:\n"
        '        e("Said.")\n'
        '        class Box:\n            e("A class body.")\n'
        '        x = e("Part of an assignment.")\n'
        '        print(e("Part of a call."))\n'
        '    $ shown = renpy.say(e, "Part of an expression.") or shown\n'
        '    $ renpy.notify("Saved.")\n'
        '    $ unknown("Not a character.")\n'
        '    $ e.say("Not a call of e.")\n'
        "    $ e()\n"
        "    $ renpy.say(e)\n"
        '    $ renpy.say(speakers[0], "Who, as code.")\n'
        "    $ renpy.say(*line)\n"
        "screen hud():\n"
        "    python:\n"
        '        e("In a screen.")\n'
    )
    assert [(u.speaker, u.text) for u in found] == [("Eileen", "Said.")]


def test_a_python_block_read_whole_and_line_by_line() -> None:
    found = read(
        "label start:\n"
        "    python:\n"
        "        for i in range(2):\n"
        '            e("In a loop.")\n'
        "        try:\n"
        '            m("Tried.")\n'
        "        except Exception:\n"
        '            e("Caught.")\n'
        '        e("""First line\n'
        'second line, at column 0""")\n'
        '        e("After the string.")\n'
        '    m "Said after the block."\n'
        # A Python 2 block does not parse as a whole: each line that does is read.
        "    python:\n"
        '        print "debug"\n'
        '        e("Still read.")\n'
        "        def f():\n"
        '            e("Not read: a function.")\n'
        '        m("""Read too,\n'
        '    though dedented.""")\n'
        '    e "The end."\n'
    )
    assert [(u.line, u.speaker, u.text) for u in found] == [
        (7, "Eileen", "In a loop."),
        (9, "Max", "Tried."),
        (11, "Eileen", "Caught."),
        (12, "Eileen", "First line\nsecond line, at column 0"),
        (14, "Eileen", "After the string."),
        (15, "Max", "Said after the block."),
        (18, "Eileen", "Still read."),
        (21, "Max", "Read too,\nthough dedented."),
        (23, "Eileen", "The end."),
    ]


def test_python_literals_escapes_and_dropped_variables() -> None:
    found = read(
        "label start:\n"
        '    $ e("She said \\"hi\\".")\n'
        "    $ e('Single \\'quotes\\'.')\n"
        "    $ e('''Triple 'single' quotes.''')\n"
        '    $ e("Hi [nowhere].")\n'
    )
    assert [(u.text, u.dropped) for u in found] == [
        ('She said "hi".', None),
        ("Single 'quotes'.", None),
        ("Triple 'single' quotes.", None),
        ("Hi [nowhere].", UNRESOLVED_VARIABLE),
    ]


@pytest.mark.parametrize(
    "line",
    [
        "$ e(" + '"a' * 50_000,
        "$ renpy.say(e, " + "'a" * 50_000,
        "$ e(" + "(" * 100_000,
        "$ e(" + "-" * 100_000 + "1)",
        "python:\n        e(" + '"a' * 50_000,
    ],
)
def test_a_long_broken_python_line_parses_at_once(line: str) -> None:
    # 100 KB of Python no parser takes: read in one pass, and the lines around it kept (a
    # `$` say call never closed is a line of hers, dropped: see test_an_unclosed_say_call…).
    text = f'label start:\n    e "Before."\n    {line}\n    $ e("After.")\n'
    started = time.perf_counter()
    found = parse(DEFINES + text, "a.rpy", "renpy", ParseOptions())
    assert time.perf_counter() - started < 1
    assert [(u.speaker, u.text) for u in found if u.dropped is None] == [
        ("Eileen", "Before."),
        ("Eileen", "After."),
    ]
    assert {u.dropped for u in found} <= {None, renpy_python_say.UNCLOSED_CALL}


def test_a_long_python_line_said_parses_at_once() -> None:
    words = "word " * 20_000
    text = f'label start:\n    $ e("{words}")\n    python:\n        m("{words}", interact=False)\n'
    started = time.perf_counter()
    found = parse(DEFINES + text, "a.rpy", "renpy", ParseOptions())
    assert time.perf_counter() - started < 1
    assert [(u.speaker, u.text) for u in found] == [
        ("Eileen", words.strip()),
        ("Max", words.strip()),
    ]


def test_a_python_say_call_over_several_lines() -> None:
    # A `$` call whose brackets stay open goes on over the lines below, as in Python; it was
    # read from its first line alone (no Python), and the lines below as statements of
    # their own: `"Hello, world.",` became a narrator's line.
    found = read(
        "label start:\n"
        '    m "Ready?"\n'
        "    $ e(\n"
        '        "Hello, world.",\n'
        "        interact=False,\n"
        "    )\n"
        "    $ renpy.say(m,\n"
        '                "Fine.")  # a comment with a ( in it\n'
        "    $ renpy.notify(\n"
        '        "Saved.")\n'
        '    $ e(_("Nested (brackets), [[a literal] and a {{brace}."),\n'
        '        what_prefix="~")\n'
        "    menu:\n"
        '        "Stay":\n'
        "            $ renpy.say(None,\n"
        '    "Rain fell.")\n'
        '            e "Then stay."\n'
        '        "Go":\n'
        '            $ e("""Off\n'
        'we go.""",\n'
        "                interact=False)\n"
        '    m "Done."\n'
    )
    assert [(u.line, u.speaker, u.text, u.dropped) for u in found] == [
        (5, "Max", "Ready?", None),
        (7, "Eileen", "Hello, world.", None),
        (11, "Max", "Fine.", None),
        (14, "Eileen", "Nested (brackets), [a literal] and a {brace}.", None),
        # A continuation line less indented than the choice is still the call's.
        (19, None, "Rain fell.", None),
        (20, "Eileen", "Then stay.", None),
        (22, "Eileen", "Off\nwe go.", None),
        (25, "Max", "Done.", None),
    ]
    by_line = {u.line: (u.branch, u.forked_from) for u in found}
    assert by_line[19] == by_line[20] == (1, 0)
    assert by_line[22] == (2, 0)


def test_an_unclosed_say_call_is_dropped_and_the_lines_below_read(tmp_path: Path) -> None:
    # A bracket never closed would take the rest of the file into one statement: the call
    # takes at most MAX_BRACKET_LINES lines, and one still open then is a line of its
    # speaker whose text is unknown, dropped and counted; the lines below are read.
    limit = renpy_lines.MAX_BRACKET_LINES
    filler = "".join(f'    m "Line {i}."\n' for i in range(limit + 5))
    script = tmp_path / "script.rpy"
    script.write_text(
        DEFINES + "label start:\n"
        '    m "Hello."\n'
        '    $ e("Never closed.",\n'
        f"{filler}"
        '    $ renpy.say(e, "Closed at the cap."\n'
        + "".join("\n" for _ in range(limit - 1))
        + "    )\n"
        '    $ renpy.say(None, "A string left open,\n'
        '        never closed.")\n'
        '    $ renpy.say(speakers[0], "Nobody as written."\n'
        '    e "Fine."\n',
        encoding="utf-8",
    )
    found = parse(script.read_text(encoding="utf-8"), "s.rpy", "renpy", ParseOptions())
    assert [(u.line, u.speaker, u.text, u.dropped) for u in found if u.speaker != "Max"] == [
        (6, "Eileen", 'e("Never closed.",', renpy_python_say.UNCLOSED_CALL),
        (7 + limit + 5, "Eileen", "Closed at the cap.", None),
        (9 + 2 * limit + 4, None, 'renpy.say(None, "A string left open,', "unclosed_call"),
        (12 + 2 * limit + 4, "Eileen", "Fine.", None),
    ]
    assert [u.text for u in found if u.speaker == "Max"] == [
        "Hello.",
        *(f"Line {i}." for i in range(limit + 5)),
    ]
    settings = DataprepSettings(lead_aliases=["Max"], character_aliases=["Eileen"], eval_ratio=0)
    result = run_pipeline(settings, [script])
    assert result.stats.character_lines_dropped[renpy_python_say.UNCLOSED_CALL] == 1


def test_escapes_are_read_left_to_right_as_renpy_reads_them() -> None:
    # An escaped backslash before an "n" is a backslash and an "n", not a line break;
    # escaped braces and brackets are shown as written, not read as a tag or a variable.
    script = r"""label start:
    e "C:\\new\\folder, \{b\}bold\{/b\}, 100\%, caf\u00e9, \[town], a\nb."
    $ e("C:\\new, \"quoted\".")
"""
    assert [u.text for u in read(script)] == [
        "C:\\new\\folder, {b}bold{/b}, 100%, café, [town], a b.",
        'C:\\new, "quoted".',
    ]
