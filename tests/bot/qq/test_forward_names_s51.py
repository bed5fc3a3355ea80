"""A forwarded message's sender name as a OneBot implementation may send it: only text
or a number names anyone (session 51's fuzz of forwards)."""

from __future__ import annotations

from bot.qq.forwards import _message_line


def line(sender: object) -> str:
    return _message_line({"sender": sender, "message": [{"type": "text", "data": {"text": "hi"}}]})


def test_a_name_that_is_a_list_or_object_is_no_name() -> None:
    # It read "['x']: hi", Python's spelling of a list, as the sender's name.
    assert line({"nickname": ["x"]}) == "?: hi"
    assert line({"card": {"a": 1}, "nickname": "小明"}) == "小明: hi"
    assert line({"card": "", "user_id": 10001}) == "10001: hi"
