"""Ren'Py `if`/`elif`/`else` blocks are branches, as a menu's choices are: a player sees
one block's lines, never all of them in one turn. A say statement with its string right
after the speaker (`xw"你好"`) is read as `xw "你好"`, as Ren'Py reads it; a string
prefix (`u"…"`, `f"…"`, `r"…"`) is no speaker."""

from __future__ import annotations

from pathlib import Path

from atri.config import DataprepSettings
from dataprep.formats import ParseOptions, parse
from dataprep.pipeline import run_pipeline
from dataprep.records import Role

HEAD = 'define e = Character("Eileen")\ndefine m = Character("Max")\n\nlabel start:\n'


def _branches(body: str) -> list[tuple[int, str, int, int | None]]:
    found = parse(HEAD + body, "s.rpy", "renpy", ParseOptions())
    return [(u.line, u.text, u.branch, u.forked_from) for u in found]


def _replies(tmp_path: Path, body: str) -> list[list[str]]:
    script = tmp_path / "script.rpy"
    script.write_text(HEAD + body, encoding="utf-8")
    settings = DataprepSettings(lead_aliases=["Max"], character_aliases=["Eileen"], eval_ratio=0)
    result = run_pipeline(settings, [script])
    return [[text for _, text in s.turns] for s in result.train]


CHAIN = """\
    m "Ready?"
    e "Almost."
    if mood == "good":
        m "Great."
        e "Let's go."
    elif mood == "bad":
        m "Oh."
        e "Sorry."
    else:
        m "Hm."
        e "Whatever."
    m "Anyway."
    e "Bye."
"""


def test_each_block_of_a_chain_follows_the_lines_before_it_alone() -> None:
    # All three blocks were one branch: "Great." / "Oh." / "Hm." one turn of Max's.
    assert _branches(CHAIN) == [
        (5, "Ready?", 0, None),
        (6, "Almost.", 0, None),
        (8, "Great.", 1, 0),
        (9, "Let's go.", 1, 0),
        (11, "Oh.", 2, 0),
        (12, "Sorry.", 2, 0),
        (14, "Hm.", 3, 0),
        (15, "Whatever.", 3, 0),
        # After a chain with an `else`: one block or another was seen, so none in particular.
        (16, "Anyway.", 4, None),
        (17, "Bye.", 4, None),
    ]


def test_no_reply_joins_two_blocks(tmp_path: Path) -> None:
    assert _replies(tmp_path, CHAIN) == [
        ["Ready?", "Almost."],
        ["Ready?", "Almost.", "Great.", "Let's go."],
        ["Ready?", "Almost.", "Oh.", "Sorry."],
        ["Ready?", "Almost.", "Hm.", "Whatever."],
        ["Anyway.", "Bye."],
    ]


def test_the_repro_s_replies_hold_one_alternative_each(tmp_path: Path) -> None:
    # qirien/personal-space2 community.rpy: her reply was "It's been real good talking to
    # you. / I really like you. / See you around."
    body = """\
    m "What was her title?"
    e "Overseer of Restraint."
    if style == "strict":
        m "I would only notice when she did poke him."
    else:
        m "I wouldn't notice either."
    e "It's been real good talking to you."
    if love > 5:
        e "I really like you."
    else:
        e "See you around."
"""
    replies = [sample[-1] for sample in _replies(tmp_path, body)]
    assert replies == ["Overseer of Restraint."]


def test_after_a_chain_with_no_else_the_lines_go_on_from_before_it(tmp_path: Path) -> None:
    # A player who ran no block saw the lines before the `if`, then those after it.
    body = """\
    m "Ready?"
    e "Almost."
    if met:
        m "Again?"
    m "Let's go."
    e "Fine."
"""
    assert _branches(body)[2:] == [(8, "Again?", 1, 0), (9, "Let's go.", 2, 0), (10, "Fine.", 2, 0)]
    assert _replies(tmp_path, body) == [
        ["Ready?", "Almost."],
        ["Ready?", "Almost.", "Let's go.", "Fine."],
    ]


def test_a_chain_that_says_nothing_changes_nothing(tmp_path: Path) -> None:
    body = """\
    m "Ready?"
    if met:
        $ seen = True
    elif late:
        jump away
    else:
        pass
    e "Almost."
"""
    assert [branch for _, _, branch, _ in _branches(body)] == [0, 0]
    assert _replies(tmp_path, body) == [["Ready?", "Almost."]]


def test_nested_chains_and_chains_in_a_menu_choice(tmp_path: Path) -> None:
    body = """\
    m "Ready?"
    e "Almost."
    if mood == "good":
        m "Great."
        if rain:
            e "Umbrella."
        else:
            e "Sunny!"
    menu:
        "Stay":
            if late:
                m "It's late."
                e "Then go."
            m "I'll stay."
            e "Stay then."
        "Go":
            m "I'll go."
            e "Go then."
    m "So."
    e "The end."
"""
    assert _branches(body) == [
        (5, "Ready?", 0, None),
        (6, "Almost.", 0, None),
        (8, "Great.", 1, 0),
        (10, "Umbrella.", 2, 1),
        (12, "Sunny!", 3, 1),
        # The menu follows the outer chain (no `else`): its choices go on from line 6;
        # so does the chain at the top of a choice, and the choice's lines after it.
        (16, "It's late.", 6, 0),
        (17, "Then go.", 6, 0),
        (18, "I'll stay.", 7, 0),
        (19, "Stay then.", 7, 0),
        (21, "I'll go.", 8, 0),
        (22, "Go then.", 8, 0),
        (23, "So.", 9, None),
        (24, "The end.", 9, None),
    ]
    assert _replies(tmp_path, body) == [
        ["Ready?", "Almost."],
        ["Ready?", "Almost.", "Great.", "Umbrella."],
        ["Ready?", "Almost.", "Great.", "Sunny!"],
        ["Ready?", "Almost.", "It's late.", "Then go."],
        ["Ready?", "Almost.", "I'll stay.", "Stay then."],
        ["Ready?", "Almost.", "I'll go.", "Go then."],
        ["So.", "The end."],
    ]


def test_a_string_right_after_its_speaker_is_a_line_of_that_speaker() -> None:
    text = (
        'define xw = Character("向晚")\ndefine jr = Character("嘉然")\n\nlabel start:\n'
        '    jr"医生怎么说？"\n'
        '    xw happy"嘉然失忆了。"\n'
        '    xw"""三个引号。"""\n'
        '    jr "那我们该怎么办？"\n'
    )
    found = parse(text, "s.rpy", "renpy", ParseOptions())
    assert [(u.line, u.speaker, u.text) for u in found] == [
        (5, "嘉然", "医生怎么说？"),
        (6, "向晚", "嘉然失忆了。"),
        (7, "向晚", "三个引号。"),
        (8, "嘉然", "那我们该怎么办？"),
    ]


def test_a_string_prefix_is_no_speaker_whatever_is_defined() -> None:
    # Ren'Py reads `r"…"` as a raw string (narration), and `u"…"`, `f"…"`, `rf"…"` as a
    # Python string, a parse error; `rb` is no prefix it knows, so a speaker.
    text = (
        'define u = Character("U")\ndefine f = Character("F")\ndefine r = Character("R")\n'
        'define rb = Character("RB")\n\nlabel start:\n'
        '    r"A raw \\n line."\n'
        '    u"Not a line."\n'
        '    f"Nor this."\n'
        '    rf"Nor this."\n'
        '    rb"RB speaks."\n'
        '    r "R speaks."\n'
    )
    found = parse(text, "s.rpy", "renpy", ParseOptions())
    assert [(u.line, u.speaker, u.text) for u in found] == [
        (7, None, "A raw \\n line."),
        (11, "RB", "RB speaks."),
        (12, "R", "R speaks."),
    ]


def test_glued_lines_pair_through_the_pipeline(tmp_path: Path) -> None:
    script = tmp_path / "script.rpy"
    script.write_text(
        'define xw = Character("向晚")\ndefine jr = Character("嘉然")\n\nlabel start:\n'
        '    jr"医生怎么说？"\n    xw"很严重。"\n',
        encoding="utf-8",
    )
    settings = DataprepSettings(lead_aliases=["嘉然"], character_aliases=["向晚"], eval_ratio=0)
    result = run_pipeline(settings, [script])
    assert [s.turns for s in result.train] == [
        [(Role.LEAD, "医生怎么说？"), (Role.CHARACTER, "很严重。")]
    ]
