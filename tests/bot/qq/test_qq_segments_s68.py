"""Malformed reports, and cards and files she cannot read, as a tester's NapCat sent them.

- A bare string in the message array, a segment with no `type`, or `"sender": null`
  made NoneBot log a traceback ("Event has no message!") and drop the message; the
  message is now read without that part.
- An @ whose `qq` is null or a list read as "@None" or "@[1, 2]"; it is now no @.
- Her line for pictures and stickers answered an unreadable card, a music or contact
  card, or a file whose name is not a string, sent alone; each is now read as its note.

End to end: `atri serve` on the echo engine, reached over a real OneBot v11 WebSocket.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from bot.lines import lines
from tests.bot.qq.test_quotes_faces_s50 import ECHO, _answered, _at_her, _text
from tests.bot.qq.test_serve_e2e import group_message, serving


@pytest.fixture(scope="module")
def ws_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serving(tmp_path_factory.mktemp("serve-segments-s68")) as url:
        yield url


@pytest.mark.parametrize(
    ("odd", "user_id"),
    [("hello", 6801), ({"data": {"text": "x"}}, 6802), ({"type": None, "data": {}}, 6803)],
    ids=["bare-string", "no-type", "type-null"],
)
async def test_a_segment_that_is_no_segment_is_left_out_not_the_message(
    ws_url: str, odd: Any, user_id: int
) -> None:
    event = group_message(_at_her(odd, _text(" 你好")), user_id=user_id)
    assert await _answered(ws_url, event) == ECHO + "你好"


async def test_a_report_whose_sender_is_null_is_answered(ws_url: str) -> None:
    event = group_message(_at_her(_text(" 你好")), user_id=6804)
    event["sender"] = None
    assert await _answered(ws_url, event) == ECHO + "你好"


async def test_an_at_of_nobody_readable_is_no_at(ws_url: str) -> None:
    nobody = [{"type": "at", "data": {"qq": qq}} for qq in (None, [1, 2], {"a": 1})]
    event = group_message(_at_her(_text(" 看"), *nobody, _text("这个")), user_id=6805)
    assert await _answered(ws_url, event) == ECHO + "看这个"


UNREAD_CARD = ECHO + "（分享了一张卡片，内容看不到）"


@pytest.mark.parametrize(
    ("alone", "said", "user_id"),
    [
        ({"type": "json", "data": {"data": "{not json"}}, UNREAD_CARD, 6806),
        ({"type": "music", "data": {"type": "163", "id": "28949129"}}, UNREAD_CARD, 6807),
        ({"type": "contact", "data": {"type": "qq", "id": "10001"}}, UNREAD_CARD, 6808),
        ({"type": "file", "data": {"file": 12345}}, ECHO + "（发来了附件：?）", 6809),
    ],
    ids=["bad-json", "music", "contact", "file-name-not-text"],
)
async def test_a_card_or_file_alone_she_cannot_read_is_answered_as_its_note(
    ws_url: str, alone: dict[str, Any], said: str, user_id: int
) -> None:
    assert lines().card_unread_note == "（分享了一张卡片，内容看不到）"
    answered = await _answered(ws_url, group_message(_at_her(alone), user_id=user_id))
    assert answered == said
    assert answered != lines().media_only
