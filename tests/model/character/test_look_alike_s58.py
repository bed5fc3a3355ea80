"""Session 58: a member whose name is hers spelt with Cyrillic or Greek letters drawn as
Latin ones ("АТRI": Cyrillic А and Т) no longer speaks as her in a group's prompt: the
name reads as hers, so the label carries the member's id, as a full-width or
zero-width-spaced copy of her name already did."""

from __future__ import annotations

from model.character.prompt import look_alike, told_apart


def test_latin_look_alikes_read_as_the_latin_name() -> None:
    assert look_alike("АТRI") == look_alike("ATRI") == look_alike("atri")
    assert look_alike("Аlice") == look_alike("Alice")  # Cyrillic а
    assert look_alike("ΑΤRΙ") == look_alike("ATRI")  # Greek capitals
    # Other scripts keep their letters: names that differ still differ.
    assert look_alike("小明") == "小明"
    assert look_alike("Вася") != look_alike("Вера")


def test_a_member_named_after_her_in_other_letters_gets_an_id() -> None:
    people = [("101", "АТRI"), ("202", "Alice"), ("303", "Аlice"), ("404", "小红")]
    labels = told_apart(people, her_names=["ATRI", "亚托莉"])
    assert labels[("101", "АТRI")] == "АТRI(101)"
    assert labels[("202", "Alice")] == "Alice(202)"
    assert labels[("303", "Аlice")] == "Аlice(303)"
    assert labels[("404", "小红")] == "小红"


def test_traditional_and_katakana_spellings_read_as_hers() -> None:
    """Session 61: "亞托莉" (Traditional) is "亚托莉" to a reader, and "あとり" is
    "アトリ" read aloud: a member going by either gets an id beside it."""
    assert look_alike("亞托莉") == look_alike("亚托莉")
    assert look_alike("あとり") == look_alike("アトリ")
    assert look_alike("斑鳩夏生") == look_alike("斑鸠夏生")
    # Names that differ still differ.
    assert look_alike("小紅") != look_alike("小明")
    people = [("101", "亞托莉"), ("202", "あとり"), ("303", "小紅"), ("404", "小红")]
    labels = told_apart(people, her_names=["ATRI", "亚托莉", "アトリ"])
    assert labels[("101", "亞托莉")] == "亞托莉(101)"
    assert labels[("202", "あとり")] == "あとり(202)"
    # Two members whose names differ only in script are told apart by id as well.
    assert labels[("303", "小紅")] == "小紅(303)"
    assert labels[("404", "小红")] == "小红(404)"
