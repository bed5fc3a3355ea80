"""What a QQ message carries beside its words reaches the model as text: a QQ face
(系统表情), a forwarded chat record (合并转发) and the message it quotes (回复).

End to end: `atri serve` on the echo engine, which answers "亚托莉听到了：<what the model
was given>", reached over a real WebSocket as NapCat reaches it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from nonebot.adapters.onebot.v11 import MessageSegment
from websockets.asyncio.client import connect

from bot.limits import MAX_INPUT_CHARS
from bot.qq.forwards import record_text
from tests.bot.qq.events import SELF_ID
from tests.bot.qq.test_serve_e2e import (
    HEADERS,
    answer,
    check_quoted_reply,
    group_message,
    next_action,
    serving,
)

ECHO = "亚托莉听到了："


@pytest.fixture(scope="module")
def ws_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serving(tmp_path_factory.mktemp("serve")) as url:
        yield url


def _at_her(*segments: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"type": "at", "data": {"qq": SELF_ID}}, *segments]


def _text(text: str) -> dict[str, Any]:
    return {"type": "text", "data": {"text": text}}


async def _answered(url: str, event: dict[str, Any], quoted: Any = None) -> str:
    """Report `event`; the text of ATRI's reply. `quoted`: NapCat's answer to the
    adapter's `get_msg` for a quote (None: the fetch fails, as go-cqhttp's may)."""
    async with connect(url, additional_headers=HEADERS) as ws:
        await ws.send(json.dumps(event))
        while True:
            action = await next_action(ws)
            if action["action"] == "get_forward_msg":  # not held any more: read unseen
                failed = {"status": "failed", "retcode": 100, "data": None}
                await ws.send(json.dumps(failed | {"echo": action["echo"]}))
                continue
            if action["action"] == "get_msg":
                if quoted is None:
                    failed = {"status": "failed", "retcode": 100, "data": None}
                    await ws.send(json.dumps(failed | {"echo": action["echo"]}))
                else:
                    await answer(ws, action, quoted)
                continue
            if action["action"] == "get_group_member_info":
                await answer(ws, action, {"user_id": 1, "nickname": "某人", "card": ""})
                continue
            await answer(ws, action, {"message_id": 1})
            return check_quoted_reply(action["params"]["message"], event)


FACE_CRYING = {"type": "face", "data": {"id": "5"}}  # go-cqhttp: [CQ:face,id=5]
NAPCAT_FACE = {"type": "face", "data": {"id": "5", "raw": {"faceIndex": 5, "faceText": "/流泪"}}}


async def test_a_face_beside_words_reaches_the_model_by_its_name(ws_url: str) -> None:
    """ "今天考试又挂了" + /流泪 read as a bare statement: the face left no trace."""
    for face in (NAPCAT_FACE, FACE_CRYING):
        event = group_message(_at_her(_text(" 今天考试又挂了"), face), user_id=4501)
        assert await _answered(ws_url, event) == ECHO + "今天考试又挂了[流泪]"
    # An id no table knows (a newer face): a note that there was one.
    unknown = {"type": "face", "data": {"id": "99999"}}
    event = group_message(_at_her(_text(" 好吧"), unknown), user_id=4501)
    assert await _answered(ws_url, event) == ECHO + "好吧（发了一个表情）"


async def test_a_face_alone_is_still_answered_as_media(ws_url: str) -> None:
    event = group_message(_at_her(NAPCAT_FACE), user_id=4502)
    assert await _answered(ws_url, event) == "亚托莉还看不懂图片和表情呢……用文字和我说吧！"


def _forwarded(name: str, text: str) -> dict[str, Any]:
    """One message of a forwarded record as NapCat puts it in `data.content`."""
    return {
        "self_id": int(SELF_ID),
        "user_id": 4100,
        "time": 0,
        "message_id": 1,
        "message_type": "group",
        "sender": {"user_id": 4100, "nickname": name, "card": ""},
        "raw_message": text,
        "message": [_text(text)],
        "message_format": "array",
    }


FORWARD_ID = "7350000000000000000"


async def test_a_forwarded_record_is_read_as_the_text_it_forwards(ws_url: str) -> None:
    """NapCat sends the record's messages inline: she read it as a picture."""
    record = [_forwarded("小明", "周五晚上八点开黑"), _forwarded("小红", "[CQ:at,qq=all] 来")]
    forward = {"type": "forward", "data": {"id": FORWARD_ID, "content": record}}
    event = group_message(_at_her(forward), user_id=4503)
    said = await _answered(ws_url, event)
    assert (
        said
        == ECHO + "（转发了一段聊天记录：\n小明: 周五晚上八点开黑\n小红: ［CQ:at,qq=all] 来\n）"
    )


async def test_a_forwarded_record_without_its_messages_is_said_so(ws_url: str) -> None:
    """go-cqhttp sends only the record's id, and here cannot fetch it either: not the
    pictures line, a plain word (a fetched one: test_forward_fetch_s50)."""
    forward = {"type": "forward", "data": {"id": FORWARD_ID}}
    event = group_message(_at_her(forward), user_id=4504)
    assert await _answered(ws_url, event) == "这段聊天记录亚托莉打不开……把想说的直接打字告诉我吧！"
    event = group_message(_at_her(_text(" 你看看"), forward), user_id=4504)
    assert await _answered(ws_url, event) == ECHO + "你看看（转发了一段聊天记录，内容看不到）"


def test_a_long_record_is_cut_to_the_message_limit() -> None:
    record = [_forwarded(f"人{i}", "很长的一句话" * 50) for i in range(40)]
    text = record_text(MessageSegment("forward", {"id": FORWARD_ID, "content": record}))
    assert len(text) <= MAX_INPUT_CHARS and text.endswith("\n）")
    assert text.startswith("（转发了一段聊天记录：\n人0: 很长的一句话")


def _quoted(user_id: int, message: Any, nickname: str = "小明") -> dict[str, Any]:
    """NapCat's answer to `get_msg` for the quoted message."""
    sender = {"user_id": user_id, "nickname": nickname, "card": ""}
    return {"time": 0, "message_type": "group", "message_id": 700, "real_id": 700} | {
        "sender": sender,
        "message": message,
    }


def _quoting(*segments: dict[str, Any], user_id: int) -> dict[str, Any]:
    """A member's quote of 4100's message, @ing 4100 (QQ puts that @ in) and her."""
    quote = [{"type": "reply", "data": {"id": "700"}}, {"type": "at", "data": {"qq": "4100"}}]
    return group_message([*quote, _text(" "), *_at_her(*segments)], user_id=user_id)


async def test_the_quoted_message_reaches_the_model_before_the_words(ws_url: str) -> None:
    """ "他说得对吗" quoting "明天全校放假": the model read only the question."""
    event = _quoting(_text(" 他说得对吗"), user_id=4505)
    said = await _answered(ws_url, event, _quoted(4100, [_text("明天全校放假")]))
    assert said == ECHO + "（引用了小明的消息：明天全校放假）他说得对吗"


async def test_a_quote_is_cleaned_and_cut_like_any_message(ws_url: str) -> None:
    long = "[CQ:at,qq=all]@全体成员 " + "很长" * 300
    event = _quoting(_text(" 是真的吗"), user_id=4506)
    said = await _answered(ws_url, event, _quoted(4100, [_text(long)], nickname="[CQ:face,id=1]"))
    note = said.removeprefix(ECHO).removesuffix("是真的吗")
    assert note.startswith("（引用了［CQ:face,id=1]的消息：［CQ:at,qq=all]＠全体成员 很长很长")
    assert note.endswith("…）") and len(note) <= len("（引用了的消息：）") + 32 + 200


async def test_a_quote_of_her_own_message_is_hers(ws_url: str) -> None:
    quote = [{"type": "reply", "data": {"id": "700"}}, {"type": "at", "data": {"qq": SELF_ID}}]
    event = group_message([*quote, _text(" 真的吗")], user_id=4507)
    said = await _answered(ws_url, event, _quoted(int(SELF_ID), "嗯，是我说的"))
    assert said == ECHO + "（引用了你说过的话：嗯，是我说的）真的吗"


async def test_a_quote_that_could_not_be_fetched_changes_nothing(ws_url: str) -> None:
    quote = [{"type": "reply", "data": {"id": "700"}}, {"type": "at", "data": {"qq": SELF_ID}}]
    event = group_message([*quote, _text(" 他说得对吗")], user_id=4508)
    assert await _answered(ws_url, event) == ECHO + "他说得对吗"
