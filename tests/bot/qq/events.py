"""OneBot v11 events as the adapter builds them from a NapCat report."""

from __future__ import annotations

import itertools
import time

from nonebot.adapters.onebot.v11 import (
    GroupMessageEvent,
    Message,
    MessageSegment,
    PrivateMessageEvent,
)
from nonebot.adapters.onebot.v11.event import Sender

SELF_ID = "2000"
SUPERUSER_ID = "9000"
GROUP_ID = 300

_message_ids = itertools.count(1000)


def group_event(
    message: Message | MessageSegment | str,
    user_id: int = 4000,
    role: str = "member",
    group_id: int = GROUP_ID,
) -> GroupMessageEvent:
    if isinstance(message, str):
        message = MessageSegment.text(message)
    message = Message(message)
    return GroupMessageEvent(
        time=int(time.time()),
        self_id=int(SELF_ID),
        post_type="message",
        sub_type="normal",
        user_id=user_id,
        message_type="group",
        message_id=next(_message_ids),
        message=message,
        original_message=message.copy(),
        raw_message=str(message),
        font=0,
        sender=Sender(user_id=user_id, nickname=f"u{user_id}", card="", role=role),
        group_id=group_id,
    )


def private_event(text: str, user_id: int = 4000) -> PrivateMessageEvent:
    message = Message(MessageSegment.text(text))
    return PrivateMessageEvent(
        time=int(time.time()),
        self_id=int(SELF_ID),
        post_type="message",
        sub_type="friend",
        user_id=user_id,
        message_type="private",
        message_id=next(_message_ids),
        message=message,
        original_message=message.copy(),
        raw_message=text,
        font=0,
        sender=Sender(user_id=user_id, nickname=f"u{user_id}"),
        to_me=True,
    )


def at_me(text: str) -> Message:
    return MessageSegment.at(SELF_ID) + MessageSegment.text(" " + text)
