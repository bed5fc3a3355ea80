"""Reading QQ messages and making ATRI's replies safe to send."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from nonebot.adapters.onebot.v11 import Message, MessageSegment

from bot.qq.text import (
    CUT_MARK,
    defang,
    incoming_text,
    only_media,
    reply_parts,
    text_message,
)


def test_defang_breaks_cq_codes_and_at_everyone() -> None:
    assert defang("[CQ:at,qq=all]") == "［CQ:at,qq=all]"
    assert defang("[ cq : image,file=x]") == "［ cq : image,file=x]"
    assert defang("@全体成员 @all @Everyone 起床") == "＠全体成员 ＠all ＠Everyone 起床"
    assert defang("[高性能] 的 @夏生") == "[高性能] 的 @夏生"


def test_defang_takes_the_japanese_at_all_too() -> None:
    # A Japanese group's notes write @all as @全員 (bot/qq/mentions.py): never live.
    assert defang("@全員 おはよう") == "＠全員 おはよう"


@given(st.text())
def test_a_reply_never_parses_into_another_segment(text: str) -> None:
    message = text_message(defang(text))
    assert [seg.type for seg in message] == ["text"]
    # Written out as a CQ string and read back (as a string-format implementation
    # would), it is still one text segment with the same words.
    again = Message(str(message))
    assert [seg.type for seg in again] in ([], ["text"])
    assert again.extract_plain_text() == defang(text)


def test_incoming_text_takes_only_well_formed_text() -> None:
    message = (
        MessageSegment.text(" 你好 ")
        + MessageSegment.image("file:///x.png")
        + MessageSegment("text", {})
        + MessageSegment("text", {"text": 5})
        + MessageSegment.text("亚托莉")
    )
    assert incoming_text(message) == "你好 亚托莉"
    assert not only_media(message)
    assert only_media(Message(MessageSegment.image("file:///x.png")))
    assert not only_media(Message(MessageSegment.text("")))
    assert not only_media(MessageSegment.at(5555) + MessageSegment.reply(1))


def test_reply_parts_split_and_cut_long_replies() -> None:
    sentence = "我是高性能的机器人！"
    assert reply_parts(sentence * 3, 500, 4) == [sentence * 3]
    parts = reply_parts(sentence * 30, 50, 2)
    assert parts == [sentence * 5, sentence * 4 + sentence[:-2] + CUT_MARK]
    assert all(len(p) <= 50 for p in parts)
    assert reply_parts("  ", 50, 2) == []
