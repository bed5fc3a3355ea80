"""Session 51: sends a OneBot implementation refuses or never answers, through `atri serve`
and a OneBot v11 peer over a real WebSocket.

A send never answered on a connection that stays up was parked "until the account comes
back" (it never left): the group's next reply waited `resend_within_seconds` more, and
the log said at INFO that the account "did not come back". A refusal was logged as
NoneBot's repr over several lines, naming the chat by a bare number.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest
from websockets.asyncio.client import connect

from bot.qq.sending import (
    SEND_ANSWER_SECONDS,
    is_retryable,
    refusal_text,
    send_answer_seconds,
)
from tests.bot.qq.test_messages_e2e import serving, stored_reply, texts
from tests.bot.qq.test_serve_e2e import GROUP_ID, HEADERS, answer, group_message, next_action

# NoneBot's api_timeout for the server: how long an unanswered send waits there.
API_TIMEOUT = 1
# Long, so that a reply wrongly parked for the account's return shows.
RESEND_WITHIN = 8.0
# NapCat's answer to a send in a group where ATRI is muted: a timeout over several lines.
NAPCAT_MUTED = {
    "status": "failed",
    "retcode": 1200,
    "data": None,
    "message": 'Timeout: NTEvent serviceAndMethod:NodeIKernelMsgService/sendMsg EventRet:\n{\n    "result": 0\n}\n',
    "wording": 'Timeout: NTEvent serviceAndMethod:NodeIKernelMsgService/sendMsg EventRet:\n{\n    "result": 0\n}\n',
}


async def test_a_send_never_answered_ends_the_reply_and_the_group_goes_on(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("API_TIMEOUT", str(API_TIMEOUT))
    with serving(tmp_path_factory, 0, 0, resend_within=RESEND_WITHIN) as (url, database, _):
        async with connect(url, additional_headers=HEADERS) as ws:
            unanswered = group_message("亚托莉 在吗")
            await ws.send(json.dumps(unanswered))
            await next_action(ws)  # never answered
            began = time.monotonic()
            await ws.send(json.dumps(group_message("亚托莉 你好")))
            action = await next_action(ws)
            waited = time.monotonic() - began
            await answer(ws, action, {"message_id": 7})
            assert texts(action) == "亚托莉听到了：你好"
            # NapCat's refusal (muted) on one line, the group named.
            refused = group_message("亚托莉 禁言了吗")
            await ws.send(json.dumps(refused))
            action = await next_action(ws)
            await ws.send(json.dumps(NAPCAT_MUTED | {"echo": action["echo"]}))
            await asyncio.sleep(0.5)
        # The console wraps a long line: read it as words.
        log = " ".join((Path(database).parent / "serve.log").read_text(encoding="utf-8").split())
    # Only the unanswered send's api_timeout, not the resend window after it.
    assert API_TIMEOUT - 0.5 < waited < API_TIMEOUT + 2, waited
    assert (
        f"QQ send to group {GROUP_ID}: not confirmed by the OneBot implementation within "
        f"{API_TIMEOUT} s; taken as refused: ATRI may be muted there" in log
    )
    assert "did not come back" not in log
    assert stored_reply(database, unanswered)[1]  # nothing sent: archived, not remembered
    refusal = (
        f"QQ refused a send to group {GROUP_ID} (retcode 1200: Timeout: NTEvent "
        'serviceAndMethod:NodeIKernelMsgService/sendMsg EventRet: { "result": 0 }): ATRI may '
        "be muted there, removed from the group, or the account is under risk control (see "
        "the OneBot implementation's log); the reply was not sent and is not remembered."
    )
    assert refusal in log
    assert stored_reply(database, refused)[1]


def test_a_send_waits_for_its_answer_less_than_nonebots_default() -> None:
    """A stuck implementation holds the account's send queue (every other chat of it)
    for at most SEND_ANSWER_SECONDS, not NoneBot's 30 s."""
    assert send_answer_seconds(30.0) == SEND_ANSWER_SECONDS == 15.0
    assert send_answer_seconds(None) == SEND_ANSWER_SECONDS
    assert send_answer_seconds(3.0) == 3.0


class _Refused(Exception):
    def __init__(self, info: dict[str, object]) -> None:
        super().__init__(info)
        self.info = info


def test_a_bare_refusal_is_its_retcode() -> None:
    """Lagrange says nothing but its retcode; go-cqhttp says the same words twice."""
    assert refusal_text(_Refused({"retcode": 120, "data": None})) == "retcode 120"
    gocq = {
        "retcode": 100,
        "msg": "SEND_MSG_API_ERROR",
        "wording": "send group message failed: blocked by server",
        "message": "send group message failed: blocked by server",
    }
    assert refusal_text(_Refused(gocq)) == (
        "retcode 100: SEND_MSG_API_ERROR / send group message failed: blocked by server"
    )


@pytest.mark.parametrize(
    ("info", "retried"),
    [
        ({"retcode": 1200, "msg": "发送失败，风控"}, True),
        ({"retcode": 100, "wording": "发送过于频繁"}, True),
        # NapCat: an API it does not support; no later try changes that.
        ({"retcode": 1404, "message": "不支持的Api"}, False),
        # go-cqhttp, muted or risk-controlled alike: never retried (a ban risk).
        ({"retcode": 100, "wording": "send group message failed: blocked by server"}, False),
        ({"retcode": 120, "data": None}, False),  # Lagrange, muted
    ],
)
def test_only_a_refusal_worded_as_risk_control_is_tried_again(
    info: dict[str, object], retried: bool
) -> None:
    assert is_retryable(_Refused(info)) is retried
