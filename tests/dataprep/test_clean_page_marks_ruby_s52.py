"""Session 52: cleaning takes the page-end marks real dumps leave at a line's end
(CatSystem2's `「起きてないもん！」\\@`, ONScripter's `\\`) off before it strips the quotes,
and a ruby tag whose reading is kana (VNTextPatch's `[ruby text="さいゆう"]彩釉[/ruby]`,
CatSystem2's `[皐月/さつき]`) leaves the word it reads."""

from __future__ import annotations

import pytest

from dataprep.clean import clean_text


@pytest.mark.parametrize(
    ("line", "clean"),
    [
        ("「起きてないもん！」\\@", "起きてないもん！"),
        ("「快起来，森罗」\\", "快起来，森罗"),
        ("「だって」@", "だって"),
        ("「だって」\\@  ", "だって"),
        ("我咬紧了牙关。\\", "我咬紧了牙关。"),
        ("「あ」\\@\n「い」\\@", "「あ」 「い」"),  # a reply joined from two lines
    ],
)
def test_page_end_marks_go_before_the_quotes(line: str, clean: str) -> None:
    assert clean_text(line) == clean


@pytest.mark.parametrize(
    "line",
    [
        "戦人さまッ！@　危ないッ！！",  # a click wait inside the line
        "¯\\_(ツ)_/¯",
        "Open C:\\Games\\save now",
        "A line ending in an escaped \\\\",
        "mail@example.com is mine",
    ],
)
def test_marks_inside_a_line_stay(line: str) -> None:
    assert clean_text(line) == line


@pytest.mark.parametrize(
    ("line", "clean"),
    [
        ('[ruby text="さいゆう"]彩釉[/ruby]の器', "彩釉の器"),
        ("[ruby text='さいゆう']彩釉[/ruby]の器", "彩釉の器"),
        ('「[ruby text="か"]漢[/ruby]字」', "漢字"),
        ('[ruby text="kanji"]漢字[/ruby]', "漢字"),
        ("「[皐月/さつき]くん！」\\@", "皐月くん！"),  # CatSystem2's
        ("後輩は[神無城/かんなぎ][琴子/ことこ]。", "後輩は神無城琴子。"),
        ("[Atri/亚托莉]早上好", "[Atri/亚托莉]早上好"),  # no kana reading: no ruby
    ],
)
def test_a_ruby_tag_leaves_its_word(line: str, clean: str) -> None:
    assert clean_text(line) == clean
