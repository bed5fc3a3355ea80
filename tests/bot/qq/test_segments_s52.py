"""What a QQ message carries beside words reaches the model as a short note: a sticker by
its name, a voice message, a video, a file by its name, a shared card by its title, a
die's roll. A card, a file or a roll alone is read; pictures, stickers and faces alone
keep her `media_only` line (voice and video alone: test_voice_video_alone_s52.py). Payloads are the shapes the implementations post (each
names the one that sends it), read directly, through NoneBot (nonebug), and through
`atri serve` over a real OneBot v11 WebSocket.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from nonebot.adapters.onebot.v11 import Bot, Message, MessageSegment
from nonebug import App
from websockets.asyncio.client import connect

from bot.lines import lines
from bot.qq.segments import MAX_CARD_CHARS, nothing_to_read, segment_note
from bot.quoting import MAX_QUOTE_CHARS
from model.protocol import ChannelSetting
from model.service import ChatService
from tests.bot.qq.events import GROUP_ID, SELF_ID, group_event
from tests.bot.qq.test_matchers import addressed, expect_reply
from tests.bot.qq.test_quotes_faces_s50 import ECHO, _answered, _at_her, _text
from tests.bot.qq.test_serve_e2e import HEADERS, group_message, serving

# A Bilibili video shared from the app: a mini-app card (NapCat, LLOneBot and Lagrange
# all post it as `json` with the card's JSON as a string in `data.data`).
BILIBILI = {
    "ver": "1.0.0.19",
    "prompt": "[QQ小程序]知更鸟一分三十秒",
    "config": {"type": "normal", "width": 0, "height": 0, "forward": 1, "token": "t"},
    "needShareCallBack": False,
    "app": "com.tencent.miniapp_01",
    "view": "view_8C8E89B49BE609866298ADDFF2DBABA4",
    "meta": {
        "detail_1": {
            "appid": "1109937557",
            "appType": 0,
            "title": "哔哩哔哩",
            "desc": "知更鸟一分三十秒",
            "icon": "http://miniapp.gtimg.cn/public/appicon/432b76be3a548fc128acaa6c1ec90131_200.jpg",
            "preview": "https://qq.ugcimg.cn/v1/abc",
            "url": "m.q.qq.com/a/s/2772670a8856a28502ba7d366c65d44f",
            "qqdocurl": "https://b23.tv/AbCd123?share_medium=android&share_source=qq",
            "host": {"uin": 4000, "nick": "夏生"},
        }
    },
}
BILIBILI_CARD = {"type": "json", "data": {"data": json.dumps(BILIBILI, ensure_ascii=False)}}
BILIBILI_NOTE = "（分享了卡片：哔哩哔哩 - 知更鸟一分三十秒）"
# A link shared from a browser: a struct message (NapCat, Lagrange: `json`).
LINK_CARD = {
    "app": "com.tencent.structmsg",
    "view": "news",
    "prompt": "[分享]明天放假通知",
    "meta": {"news": {"title": "明天放假通知", "desc": "全校停课一天", "tag": "QQ浏览器"}},
}
# An older card as go-cqhttp posts it: `xml`, with its service id as `resid`.
XML_CARD = (
    "<?xml version='1.0' encoding='UTF-8' standalone='yes' ?>"
    '<msg serviceID="1" templateID="1" action="web" brief="&#91;分享&#93;明天放假通知" '
    'url="https://example.com"><item layout="2"><title>明天放假通知</title>'
    '<summary>全校停课一天</summary></item><source name="网页"/></msg>'
)
# A 商城表情 as NapCat posts it now: an `image` carrying the shop sticker's name.
NAPCAT_SHOP_STICKER = {
    "type": "image",
    "data": {
        "summary": "[嘿嘿]",
        "file": "ab-abcdef.gif",
        "url": "https://gxh.vip.qq.com/club/item/parcel/item/ab/abcdef/raw300.gif",
        "key": "k",
        "emoji_id": "abcdef",
        "emoji_package_id": 231734,
    },
}
# A sticker from the favourites (NapCat: `sub_type` 1, QQ's own summary).
NAPCAT_STICKER = {
    "type": "image",
    "data": {
        "summary": "[动画表情]",
        "file": "A1B2.gif",
        "sub_type": 1,
        "url": "u",
        "file_size": "4096",
    },
}
# The same shop sticker as LLOneBot and Lagrange post it.
MFACE = {
    "type": "mface",
    "data": {
        "summary": "[嘿嘿]",
        "url": "u",
        "emoji_id": "abcdef",
        "emoji_package_id": 1,
        "key": "k",
    },
}
NAPCAT_FILE = {
    "type": "file",
    "data": {"file": "期末复习.pdf", "file_id": "f", "file_size": "123456"},
}
NAPCAT_VOICE = {
    "type": "record",
    "data": {"file": "a.amr", "path": "/q/a.amr", "file_size": "5000"},
}


def _note(segment: dict[str, Any]) -> str:
    note = segment_note(MessageSegment(segment["type"], segment["data"]))
    assert note is not None
    return note.text


@pytest.mark.parametrize(
    ("segment", "note"),
    [
        (NAPCAT_SHOP_STICKER, "（发来了表情：嘿嘿）"),
        (MFACE, "（发来了表情：嘿嘿）"),
        (NAPCAT_STICKER, "（发了一个表情）"),  # QQ names it no more than "a sticker"
        # NapCat: a picture's summary is "" or "[图片]"; go-cqhttp, Lagrange: none.
        (
            {"type": "image", "data": {"summary": "", "file": "a.jpg", "sub_type": 0}},
            "（发来了一张图片）",
        ),
        ({"type": "image", "data": {"file": "abc.image", "url": "u"}}, "（发来了一张图片）"),
        (NAPCAT_VOICE, "（发来了一条语音）"),
        (
            {"type": "video", "data": {"file": "v.mp4", "url": "u", "file_size": "9"}},
            "（发来了一段视频）",
        ),
        (NAPCAT_FILE, "（发来了附件：期末复习.pdf）"),
        # Lagrange names a file in `file_name`; only a path's last part is its name.
        (
            {"type": "file", "data": {"file_name": "C:\\私人\\a.zip", "file_id": "f"}},
            "（发来了附件：a.zip）",
        ),
        (BILIBILI_CARD, BILIBILI_NOTE),
        (
            {"type": "json", "data": {"data": json.dumps(LINK_CARD)}},
            "（分享了卡片：明天放假通知 - 全校停课一天）",
        ),
        (
            {"type": "xml", "data": {"data": XML_CARD, "resid": "1"}},
            "（分享了卡片：明天放假通知 - 全校停课一天）",
        ),
        # A card with nothing in `meta` is the line QQ shows for it in the chat list.
        (
            {"type": "json", "data": {"data": '{"prompt":"[聊天记录]","meta":{}}'}},
            "（分享了卡片：[聊天记录]）",
        ),
        # NapCat and LLOneBot: the die's face and the hand (1 布, 2 剪刀, 3 石头) as `result`.
        ({"type": "dice", "data": {"result": "5"}}, "（掷了骰子：5 点）"),
        ({"type": "rps", "data": {"result": "3"}}, "（猜拳出了石头）"),
        ({"type": "rps", "data": {"result": 1}}, "（猜拳出了布）"),
        # go-cqhttp: `value` (a hand: 0 石头, 1 剪刀, 2 布); Lagrange: nothing.
        ({"type": "dice", "data": {"value": "3"}}, "（掷了骰子：3 点）"),
        ({"type": "rps", "data": {"value": "1"}}, "（猜拳出了剪刀）"),
        ({"type": "dice", "data": {}}, "（掷了骰子）"),
        (
            {"type": "share", "data": {"url": "u", "title": "标题", "content": "内容"}},
            "（分享了卡片：标题 - 内容）",
        ),
        (
            {"type": "location", "data": {"lat": "1", "lon": "2", "title": "学校"}},
            "（分享了位置：学校）",
        ),
        (
            {"type": "markdown", "data": {"content": "# 公告\n今晚维护"}},
            "（分享了卡片：# 公告 今晚维护）",
        ),
        (
            {"type": "music", "data": {"type": "163", "id": "28949129"}},
            "（分享了一张卡片，内容看不到）",
        ),
    ],
)
def test_each_segment_is_the_note_a_member_would_give_for_it(
    segment: dict[str, Any], note: str
) -> None:
    assert _note(segment) == note


def _card_note(card: Any) -> str:
    return _note({"type": "json", "data": {"data": card}})


def test_a_hostile_card_is_plain_bounded_text_or_unread() -> None:
    unread = lines().card_unread_note
    # A card's words cannot ping anyone or become a CQ code, and stay on one line.
    title = "[CQ:at,qq=all]\n@全体成员 快看"
    card = {"meta": {"detail_1": {"title": title, "desc": "x" * 10_000}}}
    said = _card_note(json.dumps(card))
    assert "[CQ:" not in said and "@全体成员" not in said and "\n" not in said
    assert len(said) <= len(lines().card_note) + MAX_QUOTE_CHARS
    # Too long, too deep, not JSON, not an object, nested garbage: a card she cannot read.
    for raw in [
        json.dumps({"prompt": "a" * MAX_CARD_CHARS}),
        "[" * 50_000 + "]" * 50_000,
        "[" * 60_000,
        "not json at all",
        "[1, 2]",
        '{"meta": [1, {"title": "x"}], "prompt": {"a": 1}}',
        '{"meta": {"detail_1": {"title": {"text": "x"}, "desc": ["y"]}}}',
        None,
        12,
    ]:
        assert _card_note(raw) == unread, raw
    # An XML card that would make a pattern scan it again and again is read at once.
    start = time.monotonic()
    for bait in ["<title>" * 9_000, "<title>" + "<" * 60_000 + "</title>", 'brief="' * 9_000]:
        said = _note({"type": "xml", "data": {"data": bait}})
        assert len(said) <= len(lines().card_note) + MAX_QUOTE_CHARS
    assert time.monotonic() - start < 1.0


def test_odd_data_never_breaks_a_note() -> None:
    """Values of the wrong kind are no name, no title, no result."""
    odd: list[dict[str, Any]] = [
        {"type": "image", "data": {"summary": ["[嘿嘿]"], "sub_type": {"x": 1}}},
        {"type": "mface", "data": {"summary": "[" + "长" * 500 + "]"}},
        {"type": "file", "data": {"file": 5, "name": None}},
        {"type": "file", "data": {"file": "/"}},
        {"type": "dice", "data": {"result": "99"}},
        {"type": "dice", "data": {"result": True}},
        {"type": "rps", "data": {"result": "9", "value": [0]}},
        {"type": "xml", "data": {"data": 7}},
        {"type": "location", "data": {"title": {"a": 1}}},
        {"type": "share", "data": {}},
    ]
    notes = [_note(segment) for segment in odd]
    assert notes == [
        "（发来了一张图片）",
        "（发了一个表情）",
        "（发来了附件：?）",
        "（发来了附件：?）",
        "（掷了骰子）",
        "（掷了骰子）",
        "（猜了拳）",
        "（分享了一张卡片，内容看不到）",
        "（分享了一张卡片，内容看不到）",
        "（分享了一张卡片，内容看不到）",
    ]
    # Kinds no implementation posts, and those read their own way, are no note here.
    for kind in ("text", "at", "reply", "face", "forward", "node", "redbag"):
        assert segment_note(MessageSegment(kind, {})) is None


def message(*segments: dict[str, Any]) -> Message:
    return Message([MessageSegment(seg["type"], seg["data"]) for seg in segments])


def test_only_what_a_note_cannot_tell_more_of_gets_her_line() -> None:
    for seen in [
        NAPCAT_SHOP_STICKER,
        MFACE,
        NAPCAT_STICKER,
        NAPCAT_VOICE,
        {"type": "face", "data": {"id": "5"}},
    ]:
        assert nothing_to_read(message(seen)), seen
    for read in [BILIBILI_CARD, NAPCAT_FILE, {"type": "dice", "data": {"result": "2"}}]:
        assert not nothing_to_read(message(read)), read
        assert not nothing_to_read(message(NAPCAT_STICKER, read)), read
    assert not nothing_to_read(message({"type": "text", "data": {"text": "嗯"}}, MFACE))


async def test_through_nonebot_a_card_alone_is_read_and_a_sticker_alone_is_not(
    app: App, plugin: ModuleType, echo_service: ChatService
) -> None:
    """In a group set to "all", a card is a message she answers; a sticker not said to
    her is not (every sticker would get her line), one said to her gets her line."""
    await echo_service.set_channel_mode(
        ChannelSetting(platform="qq", channel_id=str(GROUP_ID), mode="all")
    )
    plugin.channel_modes().forget()
    async with app.test_matcher() as ctx:
        bot = ctx.create_bot(base=Bot, self_id=SELF_ID)
        for sticker in (NAPCAT_SHOP_STICKER, MFACE, NAPCAT_VOICE):
            ctx.receive_event(bot, addressed(bot, group_event(message(sticker))))
        event = addressed(bot, group_event(MessageSegment.at(SELF_ID) + message(MFACE)))
        ctx.receive_event(bot, event)
        expect_reply(ctx, event, lines().media_only)
        event = addressed(bot, group_event(message(BILIBILI_CARD)))
        ctx.receive_event(bot, event)
        expect_reply(ctx, event, ECHO + BILIBILI_NOTE)


@pytest.fixture(scope="module")
def ws_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serving(tmp_path_factory.mktemp("serve-segments")) as url:
        yield url


async def test_over_onebot_what_she_cannot_see_is_noted_beside_the_words(ws_url: str) -> None:
    event = group_message(_at_her(_text(" 这个好笑吗"), BILIBILI_CARD), user_id=4701)
    assert await _answered(ws_url, event) == ECHO + "这个好笑吗" + BILIBILI_NOTE
    sent = [_text(" 帮我看看"), NAPCAT_FILE, NAPCAT_SHOP_STICKER, NAPCAT_VOICE]
    event = group_message(_at_her(*sent), user_id=4702)
    said = await _answered(ws_url, event)
    assert (
        said == ECHO + "帮我看看（发来了附件：期末复习.pdf）（发来了表情：嘿嘿）（发来了一条语音）"
    )
    event = group_message(_at_her({"type": "dice", "data": {"result": "6"}}), user_id=4703)
    assert await _answered(ws_url, event) == ECHO + "（掷了骰子：6 点）"


async def test_over_onebot_a_sticker_or_voice_alone_gets_her_line(ws_url: str) -> None:
    # Voice alone has a line of its own (test_voice_video_alone_s52.py).
    for seen, line in (
        (NAPCAT_SHOP_STICKER, lines().media_only),
        (NAPCAT_VOICE, lines().voice_only),
    ):
        event = group_message(_at_her(seen), user_id=4704)
        assert await _answered(ws_url, event) == line


async def test_over_onebot_a_hostile_card_reaches_her_as_plain_text(ws_url: str) -> None:
    card = {"meta": {"detail_1": {"title": "[CQ:at,qq=all]", "desc": "@全体成员 " + "长" * 5000}}}
    hostile = {"type": "json", "data": {"data": json.dumps(card, ensure_ascii=False)}}
    said = await _answered(ws_url, group_message(_at_her(_text(" 看"), hostile), user_id=4705))
    assert said.startswith(ECHO + "看（分享了卡片：［CQ:at,qq=all] - ＠全体成员 长")
    assert len(said) < len(ECHO) + MAX_QUOTE_CHARS + 20
    # `data` of the wrong kind (null, a number) is a card she cannot read, not a lost message.
    for data in (None, 12):
        odd = {"type": "json", "data": {"data": data}}
        said = await _answered(ws_url, group_message(_at_her(_text(" 看"), odd), user_id=4706))
        assert said == ECHO + "看" + lines().card_unread_note


async def test_room_context_hears_a_card_alone_but_not_a_sticker(tmp_path: Path) -> None:
    """Overheard, a shared card is a room line as a member sees it; a sticker alone adds
    nothing the room did not have."""
    with serving(tmp_path, extra_qq="room_context = true") as url:
        async with connect(url, additional_headers=HEADERS) as ws:
            await ws.send(json.dumps(group_message([NAPCAT_SHOP_STICKER], user_id=4710)))
            await ws.send(json.dumps(group_message([BILIBILI_CARD], user_id=4711)))
            await asyncio.sleep(0.5)  # heard (and kept as room context) before the question
        said = await _answered(url, group_message(_at_her(_text(" 你看到了吗")), user_id=4712))
    assert f"夏生(4711)：{BILIBILI_NOTE}" in said
    assert "4710" not in said
