"""QA round 39: where a long reply is split, on every platform."""

from __future__ import annotations

from bot.qq.text import reply_parts
from bot.splitting import split_message


def test_a_dot_inside_a_link_or_a_number_ends_no_sentence() -> None:
    # A QQ part is 20 characters here: the link fits in one, and stays whole.
    text = "看这里 x.cn/a.b?c=1 里有 3.14 的事。"
    assert reply_parts(text, 20, 5) == ["看这里 x.cn/a.b?c=1 里有", "3.14 的事。"]


def test_latin_marks_without_a_blank_still_end_chinese_sentences() -> None:
    assert split_message("真的吗?太好了!我知道了.", 8) == ["真的吗?太好了!", "我知道了."]


def test_words_longer_than_a_part_are_cut_between_words() -> None:
    assert split_message("aaa bbbbbbb ccccccccc dd", 10) == ["aaa", "bbbbbbb", "ccccccccc", "dd"]
    # A word longer than a part is cut hard, the part filled first.
    assert split_message("aaa " + "b" * 15, 10) == ["aaa bbbbbb", "b" * 9]
