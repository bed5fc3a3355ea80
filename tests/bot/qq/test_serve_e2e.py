"""`atri serve` with `[qq] enabled`, reached over a real WebSocket as NapCat reaches it.

The server runs in a subprocess (NoneBot initialises once per process, and this one
belongs to nonebug); the test plays the OneBot v11 implementation: it connects to the
reverse-WebSocket endpoint, reports events in the protocol's JSON and answers the
actions NoneBot calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus

from tests.bot.qq.events import GROUP_ID, SELF_ID, SUPERUSER_ID

REPO_ROOT = Path(__file__).resolve().parents[3]
TOKEN = "napcat-test-token"
USER_ID = 4000
BLOCKED_ID = 4001
MALFORMED_SENDER_ID = 4005
TEMP_SESSION_ID = 4006
# A member of its own for the quote test: the module's other tests use up USER_ID's rate limit.
QUOTING_ID = 4007
OTHER_GROUP_ID = 301
SEND_GAP = 0.2
# A real model (the offline one in the room test) loads before the port opens.
START_TIMEOUT_SECONDS = 120.0
ACTION_TIMEOUT_SECONDS = 10.0
HEADERS = {"X-Self-ID": SELF_ID, "Authorization": f"Bearer {TOKEN}"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for_port(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"atri serve exited with {proc.returncode}:\n{log.read_text()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    proc.kill()
    pytest.fail(f"atri serve did not listen on {port}:\n{log.read_text()}")


@contextlib.contextmanager
def serving(
    root: Path,
    extra_qq: str = "",
    extra: str = "",
    model: str = 'engine = "echo"',
    replies_per_minute: int = 0,
) -> Iterator[str]:
    """`atri serve` (on the echo engine unless `model` says; `replies_per_minute` is
    `[qq] max_replies_per_minute`, no cap by default) in a subprocess; its OneBot
    WebSocket URL."""
    config, port = serve_config(root, extra_qq, extra, model, replies_per_minute)
    with serve_process(root, config, port):
        yield f"ws://127.0.0.1:{port}/onebot/v11/ws"


def serve_config(
    root: Path,
    extra_qq: str = "",
    extra: str = "",
    model: str = 'engine = "echo"',
    replies_per_minute: int = 0,
) -> tuple[Path, int]:
    """`serving`'s config in `root`, and the free port it names."""
    port = _free_port()
    config = root / "config.toml"
    config.write_text(
        f"""
[model]
{model}
[memory]
path = "memory.sqlite3"
[reload]
enabled = false
{extra}
[qq]
enabled = true
port = {port}
superusers = ["{SUPERUSER_ID}"]
blocked_users = ["{BLOCKED_ID}"]
allowed_groups = ["{GROUP_ID}"]
split_pause_seconds = 0
send_gap_seconds = {SEND_GAP}
send_retry_seconds = {SEND_GAP}
max_replies_per_minute = {replies_per_minute}
sends_per_minute = 0
{extra_qq}
""",
        encoding="utf-8",
    )
    return config, port


@contextlib.contextmanager
def serve_process(
    root: Path, config: Path, port: int, launcher: Path | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """`atri serve --config config` in a subprocess (through `launcher`, a script that
    runs atri, where given), until it listens on `port`; stopped with Ctrl+C at the end
    (unless the test stopped it), and its log never shows the OneBot token."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATRI_")}
    env["ATRI_ONEBOT_ACCESS_TOKEN"] = TOKEN
    # This checkout's code, whichever one the virtual environment was installed from.
    env["PYTHONPATH"] = str(REPO_ROOT)
    log = root / "serve.log"
    atri = ["-m", "atri"] if launcher is None else [str(launcher)]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, *atri, "--config", str(config), "serve"],
            cwd=root,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_for_port(port, proc, log)
        yield proc
    finally:
        proc.send_signal(signal.SIGINT)  # Ctrl+C: uvicorn and NoneBot shut down cleanly
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            pytest.fail(f"atri serve did not stop on Ctrl+C:\n{log.read_text()}")
    assert TOKEN not in log.read_text()


@pytest.fixture(scope="module")
def ws_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serving(tmp_path_factory.mktemp("serve")) as url:
        yield url


_message_ids = iter(range(101, 10_000))


def group_message(
    message: Any,
    user_id: int = USER_ID,
    role: str = "member",
    self_id: str = SELF_ID,
    group_id: int = GROUP_ID,
) -> dict[str, Any]:
    """A group message report as NapCat sends it (message as an array, or a CQ string)."""
    return {
        "time": int(time.time()),
        "self_id": int(self_id),
        "post_type": "message",
        "message_type": "group",
        "sub_type": "normal",
        "message_id": next(_message_ids),
        "group_id": group_id,
        "user_id": user_id,
        "message": message,
        "raw_message": message if isinstance(message, str) else "",
        "font": 0,
        "sender": {"user_id": user_id, "nickname": "夏生", "card": "", "role": role},
    }


def group_recall(
    event: dict[str, Any], user_id: int = USER_ID, operator_id: int = USER_ID
) -> dict[str, Any]:
    """The notice NapCat sends when the group message `event` (said by `user_id`) is
    recalled by `operator_id` (its author, or an admin)."""
    return {
        "time": int(time.time()),
        "self_id": event["self_id"],
        "post_type": "notice",
        "notice_type": "group_recall",
        "group_id": event["group_id"],
        "user_id": user_id,
        "operator_id": operator_id,
        "message_id": event["message_id"],
    }


def private_message(text: str, user_id: int = USER_ID, self_id: str = SELF_ID) -> dict[str, Any]:
    """A private (friend) message report as NapCat sends it."""
    return {
        "time": int(time.time()),
        "self_id": int(self_id),
        "post_type": "message",
        "message_type": "private",
        "sub_type": "friend",
        "message_id": next(_message_ids),
        "user_id": user_id,
        "message": _text(text),
        "raw_message": text,
        "font": 0,
        "sender": {"user_id": user_id, "nickname": "夏生"},
    }


# NapCat's answer to `get_robot_uin_range`: official bots' QQ numbers.
ROBOT_RANGE = [{"minUin": "3889000000", "maxUin": "3889999999"}]
OFFICIAL_BOT_ID = 3889000001
OTHER_SELF_ID = "2001"


def own_member_question(action: dict[str, Any]) -> bool:
    """The account asking about itself in a group, past the cache: whether it is an admin
    (a whole mute), or banned (asked at connect of the groups she spoke in)."""
    params = action["params"]
    return (
        action["action"] == "get_group_member_info"
        and str(params.get("user_id")) == SELF_ID
        and params.get("no_cache") is True
    )


async def next_action(ws: ClientConnection, own_member_info: bool = False) -> dict[str, Any]:
    """The next send NoneBot makes (heartbeat-free: the test never sends any); the
    questions an account is asked on connecting, and "typing" in private chats, are
    answered as NapCat answers them (a group asked about is not muted whole, and she is
    a member not banned there, unless `own_member_info`: then that question is the
    test's to answer)."""
    while True:
        action = json.loads(await asyncio.wait_for(ws.recv(), ACTION_TIMEOUT_SECONDS))
        if action["action"] == "get_robot_uin_range":
            await answer(ws, action, ROBOT_RANGE)
            continue
        if action["action"] == "set_input_status":
            await answer(ws, action, None)
            continue
        if action["action"] == "get_group_info":  # asked at a first refused send
            await answer(
                ws, action, {"group_id": action["params"]["group_id"], "group_all_shut": 0}
            )
            continue
        if own_member_question(action) and not own_member_info:
            member = {"user_id": int(SELF_ID), "role": "member", "shut_up_timestamp": 0}
            await answer(ws, action, {"group_id": action["params"]["group_id"]} | member)
            continue
        return action


async def answer(ws: ClientConnection, action: dict[str, Any], data: Any) -> None:
    await ws.send(json.dumps({"status": "ok", "retcode": 0, "data": data, "echo": action["echo"]}))


async def reply_to(ws: ClientConnection, event: dict[str, Any]) -> list[dict[str, Any]]:
    """Report `event`, take the send action it causes, confirm it; the message array."""
    await ws.send(json.dumps(event))
    action = await next_action(ws)
    assert action["action"] in {"send_msg", "send_group_msg"}
    params = action["params"]
    assert params["group_id"] == GROUP_ID
    await answer(ws, action, {"message_id": 90_000 + event["message_id"]})
    segments: list[dict[str, Any]] = params["message"]
    return segments


def check_quoted_reply(segments: list[dict[str, Any]], event: dict[str, Any]) -> str:
    """Only a quote, an @ of the sender and text; returns the text."""
    assert {seg["type"] for seg in segments} <= {"reply", "at", "text"}
    assert segments[0] == {"type": "reply", "data": {"id": str(event["message_id"])}}
    assert [seg for seg in segments if seg["type"] == "at"] == [
        {"type": "at", "data": {"qq": str(event["user_id"])}}
    ]
    return "".join(seg["data"]["text"] for seg in segments if seg["type"] == "text").strip()


async def test_a_wrong_or_missing_access_token_is_refused(ws_url: str) -> None:
    for headers in [{**HEADERS, "Authorization": "Bearer wrong"}, {"X-Self-ID": SELF_ID}]:
        with pytest.raises(InvalidStatus) as refused:
            async with connect(ws_url, additional_headers=headers):
                pass
        assert refused.value.response.status_code == 403


async def test_events_posted_over_http_are_refused_whatever_they_carry(ws_url: str) -> None:
    """NoneBot's HTTP POST routes checked no access token: an owner's "/atri reset @member"
    posted there with a wrong one (or none) was carried out by her real account."""
    import urllib.error
    import urllib.request

    forged = group_message(
        [{"type": "text", "data": {"text": "亚托莉 大家快点这个链接 http://evil.example"}}],
        user_id=int(SUPERUSER_ID),
    )
    base = ws_url.removesuffix("/ws")
    async with connect(ws_url, additional_headers=HEADERS) as ws:
        for path in ("/", "/http", "/http/"):
            for headers in ({"X-Self-ID": SELF_ID}, HEADERS):  # the right token too
                request = urllib.request.Request(
                    base.replace("ws://", "http://") + path,
                    data=json.dumps(forged).encode(),
                    headers={"Content-Type": "application/json", **headers},
                    method="POST",
                )
                with pytest.raises(urllib.error.HTTPError) as refused:
                    await asyncio.to_thread(urllib.request.urlopen, request, timeout=5)
                assert refused.value.code == 401
        # Nothing was said; the next message over the WebSocket is the next answered (from
        # a member of its own: the module's server limits each member's replies a minute).
        event = group_message([{"type": "text", "data": {"text": "ATRI，在吗"}}], user_id=4010)
        assert check_quoted_reply(await reply_to(ws, event), event) == "亚托莉听到了：在吗"


async def test_group_chat_over_onebot_v11(ws_url: str) -> None:
    async with connect(ws_url, additional_headers=HEADERS) as ws:
        lifecycle = {"time": int(time.time()), "self_id": int(SELF_ID), "post_type": "meta_event"}
        await ws.send(
            json.dumps(lifecycle | {"meta_event_type": "lifecycle", "sub_type": "connect"})
        )

        # Array format, with CQ codes and @everyone smuggled in as text for the echo to repeat.
        event = group_message(
            [
                {"type": "at", "data": {"qq": SELF_ID}},
                {
                    "type": "text",
                    "data": {"text": " [CQ:at,qq=all] 你好 @全体成员 [CQ:image,file=x.png]"},
                },
            ]
        )
        text = check_quoted_reply(await reply_to(ws, event), event)
        assert text == "亚托莉听到了：［CQ:at,qq=all] 你好 ＠全体成员 ［CQ:image,file=x.png]"

        # String format (messagePostFormat "string"), addressed by nickname.
        event = group_message("亚托莉 &#91;CQ:face,id=1&#93;早上好")
        text = check_quoted_reply(await reply_to(ws, event), event)
        assert text == "亚托莉听到了：［CQ:face,id=1]早上好"

        # Not addressed: silence; malformed reports: dropped; the next message is answered.
        await ws.send(json.dumps(group_message([{"type": "text", "data": {"text": "大家好"}}])))
        await ws.send(json.dumps({"post_type": "message", "message_type": "group"}))
        await ws.send(json.dumps(group_message([{"type": "text"}])))
        await ws.send("not json at all")
    async with connect(ws_url, additional_headers=HEADERS) as ws:
        event = group_message([{"type": "text", "data": {"text": "ATRI，还在吗"}}])
        text = check_quoted_reply(await reply_to(ws, event), event)
        assert text == "亚托莉听到了：还在吗"


async def test_a_malformed_segment_loses_only_itself(ws_url: str) -> None:
    """A segment with no data object raised inside NoneBot's adapter (its at-me check),
    before any handler ran: the whole message was lost."""
    async with connect(ws_url, additional_headers=HEADERS) as ws:
        for broken in [{"type": "text", "data": None}, {"type": "text", "data": {"text": None}}]:
            event = group_message(
                [
                    {"type": "at", "data": {"qq": SELF_ID}},
                    broken,
                    {"type": "face", "data": None},
                    {"type": "text", "data": {"text": " 你好"}},
                ],
                user_id=MALFORMED_SENDER_ID,  # the other tests' sender has a rate limit
            )
            text = check_quoted_reply(await reply_to(ws, event), event)
            assert text == "亚托莉听到了：你好"


async def test_a_temporary_session_is_answered_through_its_group(ws_url: str) -> None:
    """A private message from a member who is not a friend (`sub_type` "group"): the reply
    names the group it came through, as go-cqhttp (`sender.group_id`; its `temp_source`
    is the kind of session, 0 for a group) and NapCat (`group_id`) report it."""
    go_cqhttp = private_message("你好", user_id=TEMP_SESSION_ID)
    go_cqhttp |= {"sub_type": "group", "temp_source": 0}
    go_cqhttp["sender"]["group_id"] = GROUP_ID
    napcat = private_message("在吗", user_id=TEMP_SESSION_ID)
    napcat |= {"sub_type": "group", "group_id": GROUP_ID, "temp_source": GROUP_ID}
    # NapCat's stand-in when it could not look the group up: no group is named (it was
    # sent back, and NapCat tried to open the session through a group that is not there).
    unknown = private_message("还在吗", user_id=TEMP_SESSION_ID)
    unknown |= {"sub_type": "group", "group_id": 284840486, "temp_source": 284840486}
    friend = private_message("朋友的话", user_id=TEMP_SESSION_ID)
    sessions = [(go_cqhttp, GROUP_ID), (napcat, GROUP_ID), (unknown, None), (friend, None)]
    async with connect(ws_url, additional_headers=HEADERS) as ws:
        for event, group in sessions:
            await ws.send(json.dumps(event))
            action = await next_action(ws)
            await answer(ws, action, {"message_id": 1})
            assert action["action"] == "send_msg"
            params = action["params"]
            assert (params["message_type"], params["user_id"]) == ("private", TEMP_SESSION_ID)
            assert params.get("group_id") == group


async def test_a_reply_to_atri_and_a_refused_admin_command(ws_url: str) -> None:
    async with connect(ws_url, additional_headers=HEADERS) as ws:
        event = group_message(
            [{"type": "reply", "data": {"id": "555"}}, {"type": "text", "data": {"text": "真的吗"}}]
        )
        await ws.send(json.dumps(event))
        get_msg = await next_action(ws)  # the adapter asks whose message was quoted
        assert get_msg["action"] == "get_msg" and get_msg["params"] == {"message_id": 555}
        quoted = {"time": 0, "message_type": "group", "message_id": 555, "real_id": 555}
        await answer(ws, get_msg, quoted | {"sender": {"user_id": int(SELF_ID)}, "message": "嗯"})
        action = await next_action(ws)
        await answer(ws, action, {"message_id": 1})
        said = check_quoted_reply(action["params"]["message"], event)
        assert said == "亚托莉听到了：（引用了你说过的话：嗯）真的吗"  # her quoted message first

        event = group_message("/atri reset group")
        text = check_quoted_reply(await reply_to(ws, event), event)
        assert text == "只有管理员才能这样做哦。亚托莉会好好记住规矩的！"

        # The protocol end no longer holds the quoted message: get_msg fails, and the
        # quote stays in front. Her @ after it still makes it a reply to her, and a
        # quoted command is still a command.
        for words, said in (
            ("真的吗", "亚托莉听到了：真的吗"),
            ("/atri reset group", "只有管理员才能这样做哦。亚托莉会好好记住规矩的！"),
        ):
            quote = [
                {"type": "reply", "data": {"id": "556"}},
                {"type": "at", "data": {"qq": SELF_ID}},
            ]
            said_by = {"user_id": QUOTING_ID}
            event = group_message(
                [*quote, {"type": "text", "data": {"text": f" {words}"}}], **said_by
            )
            await ws.send(json.dumps(event))
            get_msg = await next_action(ws)
            assert get_msg["action"] == "get_msg"
            failed = {"status": "failed", "retcode": 100, "data": None, "echo": get_msg["echo"]}
            await ws.send(json.dumps(failed | {"message": "message not found"}))
            action = await next_action(ws)
            await answer(ws, action, {"message_id": 1})
            assert check_quoted_reply(action["params"]["message"], event) == said


async def silent_until_next(ws: ClientConnection, self_id: str) -> None:
    """Nothing was sent before the answer to a control message sent now."""
    control = group_message(
        [{"type": "at", "data": {"qq": self_id}}, *_text("对照")], self_id=self_id
    )
    await ws.send(json.dumps(control))
    action = await next_action(ws)
    await answer(ws, action, {"message_id": 1})
    assert check_quoted_reply(action["params"]["message"], control) == "亚托莉听到了：对照"


async def private_answer(ws: ClientConnection, text: str) -> str:
    """Send a private message now; the text of the next send, which must answer it."""
    await ws.send(json.dumps(private_message(text)))
    action = await next_action(ws)
    await answer(ws, action, {"message_id": 1})
    assert action["params"]["user_id"] == USER_ID
    texts = [seg["data"]["text"] for seg in action["params"]["message"] if seg["type"] == "text"]
    return "".join(texts).strip()


def _text(text: str) -> list[dict[str, Any]]:
    return [{"type": "text", "data": {"text": text}}]


async def test_two_accounts_in_one_group_answer_the_person_once_and_never_each_other(
    ws_url: str,
) -> None:
    other_headers = {**HEADERS, "X-Self-ID": OTHER_SELF_ID}
    async with (
        connect(ws_url, additional_headers=HEADERS) as first,
        connect(ws_url, additional_headers=other_headers) as second,
    ):
        await asyncio.sleep(0.5)  # both accounts are known to NoneBot
        # The person addresses ATRI by name: both accounts hear it, one answers.
        heard = [group_message("亚托莉 你们好", self_id=s) for s in (SELF_ID, OTHER_SELF_ID)]
        await first.send(json.dumps(heard[0]))
        action = await next_action(first)
        await answer(first, action, {"message_id": 1})
        reply = check_quoted_reply(action["params"]["message"], heard[0])
        assert reply == "亚托莉听到了：你们好"
        await second.send(json.dumps(heard[1]))

        # Her reply starts with her name: the other account hears it, and stays silent.
        echo = group_message(reply, user_id=int(SELF_ID), self_id=OTHER_SELF_ID)
        await second.send(json.dumps(echo))
        # An official bot (NapCat's range) quoting her name: silent too.
        official = group_message("亚托莉 你好", user_id=OFFICIAL_BOT_ID, self_id=OTHER_SELF_ID)
        await second.send(json.dumps(official))
        await silent_until_next(second, OTHER_SELF_ID)
        await silent_until_next(first, SELF_ID)


async def test_blocked_people_and_groups_not_allowed_are_not_answered(ws_url: str) -> None:
    async with connect(ws_url, additional_headers=HEADERS) as ws:
        await asyncio.sleep(0.3)
        for event in [
            group_message("亚托莉 我被屏蔽了吗", user_id=BLOCKED_ID),
            group_message("/atri status", user_id=BLOCKED_ID),
            private_message("私聊呢", user_id=BLOCKED_ID),
            group_message("亚托莉 别的群", group_id=OTHER_GROUP_ID),
        ]:
            await ws.send(json.dumps(event))
        # A private chat is not a group: the group allow list leaves it alone.
        assert await private_answer(ws, "你好") == "亚托莉听到了：你好"
        await silent_until_next(ws, SELF_ID)


async def test_group_admins_turn_her_off_and_to_every_message(ws_url: str) -> None:
    async with connect(ws_url, additional_headers=HEADERS) as ws:
        event = group_message("/atri mode off")
        assert check_quoted_reply(await reply_to(ws, event), event) == (
            "只有管理员才能这样做哦。亚托莉会好好记住规矩的！"
        )
        event = group_message("/atri mode off", role="admin")
        assert "不说话" in check_quoted_reply(await reply_to(ws, event), event)
        await ws.send(json.dumps(group_message("亚托莉 在吗")))  # off: silent
        # NoneBot handles each event in its own task: the silence is checked while the
        # group is still off, so a late handling of "在吗" cannot meet the next mode.
        assert await private_answer(ws, "对照") == "亚托莉听到了：对照"
        event = group_message("/atri mode all", role="owner")
        assert "每条" in check_quoted_reply(await reply_to(ws, event), event)
        event = group_message("大家早上好")  # not addressed: she speaks up
        assert check_quoted_reply(await reply_to(ws, event), event) == "亚托莉听到了：大家早上好"
        event = group_message("/atri mode on", role="admin")
        await reply_to(ws, event)
        await ws.send(json.dumps(group_message("没有叫她")))
        await silent_until_next(ws, SELF_ID)


async def test_one_account_sends_paced_and_retries_after_risk_control(ws_url: str) -> None:
    async with connect(ws_url, additional_headers=HEADERS) as ws:
        events = [group_message(f"亚托莉 第{n}条") for n in range(3)]
        for event in events:
            await ws.send(json.dumps(event))
        sent_at = []
        refused = False
        while len(sent_at) < 3:
            action = await next_action(ws)
            if not refused:  # NapCat under risk control: the first send is refused
                refused = True
                failure = {"status": "failed", "retcode": 1200, "msg": "发送失败，风控"}
                await ws.send(json.dumps(failure | {"data": None, "echo": action["echo"]}))
                continue
            sent_at.append(time.monotonic())
            await answer(ws, action, {"message_id": 1})
        gaps = [b - a for a, b in itertools.pairwise(sent_at)]
        assert all(gap >= SEND_GAP * 0.9 for gap in gaps), gaps


async def actions_until_sent(ws: ClientConnection, event: dict[str, Any], typing: Any) -> list[str]:
    """Report `event` and answer every action up to the reply's send: `set_input_status`
    with `typing` (a whole OneBot response), the send with a message id. Their names."""
    await ws.send(json.dumps(event))
    names = []
    while True:
        action = json.loads(await asyncio.wait_for(ws.recv(), ACTION_TIMEOUT_SECONDS))
        names.append(action["action"])
        if action["action"] == "get_robot_uin_range":
            await answer(ws, action, ROBOT_RANGE)
        elif action["action"] == "set_input_status":
            assert action["params"] == {"user_id": event["user_id"], "event_type": 1}
            await ws.send(json.dumps(typing | {"echo": action["echo"]}))
        else:
            assert action["action"] in {"send_msg", "send_private_msg", "send_group_msg"}
            await answer(ws, action, {"message_id": 1})
            return names


TYPING_OK = {"status": "ok", "retcode": 0, "data": None}
# What an implementation without the call answers (NapCat's and go-cqhttp's wording).
TYPING_UNKNOWN = {"status": "failed", "retcode": 1404, "data": None, "message": "不支持的Api"}


async def test_she_shows_typing_in_private_chats_only(ws_url: str) -> None:
    async with connect(ws_url, additional_headers=HEADERS) as ws:
        names = await actions_until_sent(ws, private_message("在想什么呢"), TYPING_OK)
        assert names.count("set_input_status") == 1 and names[-1] == "send_msg"
        assert names.index("set_input_status") < names.index("send_msg")
        event = group_message([{"type": "at", "data": {"qq": SELF_ID}}, *_text("在吗")])
        assert "set_input_status" not in await actions_until_sent(ws, event, TYPING_OK)
        # Still shown in the next private chat: a supported call is kept.
        names = await actions_until_sent(ws, private_message("还在吗"), TYPING_OK)
        assert names.count("set_input_status") == 1


async def test_an_implementation_without_typing_is_asked_once(ws_url: str) -> None:
    headers = {**HEADERS, "X-Self-ID": "2002"}
    async with connect(ws_url, additional_headers=headers) as ws:
        first = private_message("你好", self_id="2002")
        assert "set_input_status" in await actions_until_sent(ws, first, TYPING_UNKNOWN)
        for text in ["你好呀", "听得到吗"]:
            event = private_message(text, self_id="2002")
            assert await actions_until_sent(ws, event, TYPING_UNKNOWN) == ["send_msg"]
