"""Naninovel `@if`/`@elseif`/`@else` blocks are branches, as the Ren'Py reader reads an
`if` chain: a player sees one block's lines, never two blocks' in one turn. A chain ends
at `@endif`, or (nested blocks, Naninovel 1.20+) at the first line no deeper than the
`@if`. A run of `@choice`s ends the exchange, each choice's nested lines a branch. Before,
every block's lines were one run of lines (Max's "Great." / "Oh." / "Hm." one turn)."""

from __future__ import annotations

from pathlib import Path

from atri.config import DataprepSettings
from dataprep.formats import ParseOptions, parse
from dataprep.pipeline import run_pipeline


def branches(text: str) -> list[tuple[int, str, int, int | None]]:
    found = parse(text, "a.nani", "naninovel", ParseOptions())
    return [(u.line, u.text, u.branch, u.forked_from) for u in found]


def replies(tmp_path: Path, text: str) -> list[list[str]]:
    script = tmp_path / "a.nani"
    script.write_text(text, encoding="utf-8")
    settings = DataprepSettings(lead_aliases=["Max"], character_aliases=["Eileen"], eval_ratio=0)
    return [[t for _, t in s.turns] for s in run_pipeline(settings, [script]).train]


ENDIF_CHAIN = """\
Max: Ready?
Eileen: Almost.
@if mood=="good"
Max: Great.
Eileen: Let's go.
@elseif mood=="bad"
Max: Oh.
Eileen: Sorry.
@else
; a comment
Max: Hm.
Eileen: Whatever.
@endif
Max: Anyway.
Eileen: Bye.
"""

NESTED_CHAIN = """\
Max: Ready?
Eileen: Almost.
@if mood=="good"
    Max: Great.
    Eileen: Let's go.
@elseif mood=="bad"
    Max: Oh.
    Eileen: Sorry.
@else
    Max: Hm.
    Eileen: Whatever.
Max: Anyway.
Eileen: Bye.
"""


def test_each_block_of_an_endif_chain_follows_the_lines_before_it_alone() -> None:
    assert branches(ENDIF_CHAIN) == [
        (1, "Ready?", 0, None),
        (2, "Almost.", 0, None),
        (4, "Great.", 1, 0),
        (5, "Let's go.", 1, 0),
        (7, "Oh.", 2, 0),
        (8, "Sorry.", 2, 0),
        (11, "Hm.", 3, 0),
        (12, "Whatever.", 3, 0),
        (14, "Anyway.", 4, None),  # after one block or another: none in particular
        (15, "Bye.", 4, None),
    ]


def test_nested_blocks_end_at_the_first_line_no_deeper_than_the_if() -> None:
    assert [(t, b, f) for _, t, b, f in branches(NESTED_CHAIN)] == [
        (t, b, f) for _, t, b, f in branches(ENDIF_CHAIN)
    ]


def test_no_reply_joins_two_blocks(tmp_path: Path) -> None:
    assert replies(tmp_path, ENDIF_CHAIN) == [
        ["Ready?", "Almost."],
        ["Ready?", "Almost.", "Great.", "Let's go."],
        ["Ready?", "Almost.", "Oh.", "Sorry."],
        ["Ready?", "Almost.", "Hm.", "Whatever."],
        ["Anyway.", "Bye."],
    ]


def test_after_a_chain_without_else_the_lines_go_on_from_before_it() -> None:
    text = "Max: Ready?\n@if ok\nEileen: Yes.\n@endif\nEileen: Then go.\n@if never\n@endif\nMax: Fine.\n"
    assert branches(text) == [
        (1, "Ready?", 0, None),
        (3, "Yes.", 1, 0),
        (5, "Then go.", 2, 0),
        (8, "Fine.", 2, 0),  # a chain that read no line changes nothing
    ]


def test_choices_end_the_exchange_and_their_nested_lines_are_branches() -> None:
    text = """\
Max: Left or right?
@choice "Left"
    Eileen: Left it is.
@choice "Right"
    Eileen: Right, then.
Max: Here we are.
@choice "Go on" goto:.Next
@stop
Eileen: Somewhere else.
"""
    assert branches(text) == [
        (1, "Left or right?", 0, None),
        (3, "Left it is.", 1, 0),
        (5, "Right, then.", 2, 0),
        (6, "Here we are.", 3, None),
        (9, "Somewhere else.", 5, None),
    ]
