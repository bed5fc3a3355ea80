"""A QQ face id reads as the name QQ itself gives it, checked against QQ's sysface table
(QSid -> QDes) as NapNeko/NapCatQQ and koishijs/QFace carry it: a wrong name would tell
the model the opposite feeling."""

from __future__ import annotations

from typing import Any

import pytest
from nonebot.adapters.onebot.v11 import MessageSegment

from bot.lines import lines
from bot.qq.faces import face_name, face_text


def _face(face_id: str, **raw: Any) -> MessageSegment:
    data: dict[str, Any] = {"id": face_id}
    if raw:
        data["raw"] = raw
    return MessageSegment("face", data)


@pytest.mark.parametrize(
    ("face_id", "name"),
    [
        # Rows of the sysface table: "QSid": "5", "QDes": "/流泪" and so on.
        ("5", "流泪"),
        ("14", "微笑"),
        ("0", "惊讶"),
        ("109", "左亲亲"),  # the table said 亲亲; QQ names this one 左亲亲 (305 is 右亲亲)
        ("178", "斜眼笑"),
        ("262", "脑阔疼"),
        ("326", "生气"),
        ("357", "裂开"),
    ],
)
def test_an_id_reads_as_qqs_own_name(face_id: str, name: str) -> None:
    assert face_name(_face(face_id)) == name
    assert face_text(_face(face_id)) == f"[{name}]"


def test_an_id_no_table_names_is_a_note_that_one_was_sent() -> None:
    # 99999 is no face; 113 (啤酒) is one, left out of the table as an object, not a feeling.
    for face_id in ("99999", "113"):
        assert face_name(_face(face_id)) is None
        assert face_text(_face(face_id)) == lines().face_note


def test_napcats_own_face_text_wins_over_the_table() -> None:
    # NapCat names the face itself; a newer QQ may name an id differently than the table.
    assert face_text(_face("5", faceIndex=5, faceText="/心碎")) == "[心碎]"
    assert face_text(_face("99999", faceIndex=99999, faceText="/新表情")) == "[新表情]"


def test_an_id_int_refuses_is_a_note_not_an_error() -> None:
    """ "²" passes str.isdigit() and fails int(); 5,000 digits pass it and fail Python's
    limit on digits: the ValueError left her without an answer (session 51)."""
    for face_id in ("²", "٣", "5" * 5000):
        assert face_name(_face(face_id)) is None
        assert face_text(_face(face_id)) == lines().face_note
