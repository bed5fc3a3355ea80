"""`_CHAPTER_FIRST` lets the plain parser skip the chapter-heading alternation at lines
that cannot start one: it must hold the first character of every alternative of
`_CHAPTER`, or a heading would be read as a speaker's line."""

from __future__ import annotations

import re
from re import _constants as c  # type: ignore[attr-defined]
from re import _parser  # type: ignore[attr-defined]
from typing import Any

import pytest

from dataprep.formats import ParseOptions, plain
from dataprep.formats.plain import _CHAPTER, _CHAPTER_FIRST

_ZERO_WIDTH = {c.ASSERT, c.ASSERT_NOT, c.AT}
_REPEATS = {c.MAX_REPEAT, c.MIN_REPEAT, c.POSSESSIVE_REPEAT}


def _firsts(items: list[tuple[Any, Any]], ignore_case: bool) -> set[tuple[str, bool]]:
    """Each character a match of `items` may start with, and whether case is ignored there."""
    found: set[tuple[str, bool]] = set()
    for op, av in items:
        if op in _ZERO_WIDTH:
            continue  # a lookaround or anchor takes no character: the next item starts
        if op is c.LITERAL:
            return found | {(chr(av), ignore_case)}
        if op is c.BRANCH:
            for branch in av[1]:
                found |= _firsts(list(branch), ignore_case)
            return found
        if op is c.SUBPATTERN:
            _, add, remove, sub = av
            case = (ignore_case or bool(add & re.IGNORECASE)) and not remove & re.IGNORECASE
            return found | _firsts(list(sub), case)
        if op in _REPEATS and av[0] >= 1:
            return found | _firsts(list(av[2]), ignore_case)
        raise AssertionError(f"update this test for {op} at the start of _CHAPTER")
    return found


def test_every_alternative_of_chapter_starts_with_a_guarded_character() -> None:
    firsts = _firsts(list(_parser.parse(_CHAPTER)), False)
    assert len(firsts) > 20
    for char, ignore_case in firsts:
        for form in {char, char.upper(), char.lower()} if ignore_case else {char}:
            assert re.fullmatch(_CHAPTER_FIRST, form), form


@pytest.mark.parametrize(
    "heading",
    [
        "第三章：海边",
        "序章：夏天",
        "Chapter 3: Home",
        "SCENE 2: Night",
        "场景：海边",
        "bgm: umi.ogg",
    ],
)
def test_a_heading_before_a_colon_is_no_speaker(heading: str) -> None:
    said = plain.parse(f"{heading}\n亚托莉：早上好\n", "s.txt", ParseOptions())
    assert [(u.speaker, u.text) for u in said] == [(None, heading), ("亚托莉", "早上好")]


def test_lines_of_cjk_names_read_as_by_every_test() -> None:
    """A CJK name with no quote after it takes a shortcut (`_PlainNames`); a quote, a line
    number, a name too long or one of no letter still take the tests they need."""
    lines = [
        "亚托莉：早上好",
        "亚托莉「早上好」",
        "亚托莉“嗯”了一声。",
        "０００１ 亚托莉：第一句",
        "１２号：你好",
        "很长" * 17 + "：名字太长",
        "夏生：(笑) 好吧",
        "～：只有符号",
        "水菜萌\t用制表符",
    ]
    said = plain.parse("\n".join(lines) + "\n", "s.txt", ParseOptions())
    assert [(u.speaker, u.text) for u in said] == [
        ("亚托莉", "早上好"),
        ("亚托莉", "「早上好」"),
        (None, "亚托莉“嗯”了一声。"),
        ("亚托莉", "第一句"),
        ("１２号", "你好"),
        (None, "很长" * 17 + "：名字太长"),
        ("夏生", "(笑) 好吧"),
        (None, "～：只有符号"),
        ("水菜萌", "用制表符"),
    ]
