"""OneBot v11 message reports as the plugin reads them: NoneBot's own event models, made
safe against a malformed segment and stamped with the order they arrived in.

The plugin registers them with `Adapter.add_custom_model` (the adapter's public way to
replace an event model), so the adapter builds them from each report as it arrives over
the connection, before it gives each event a task of its own:

- A segment whose `data` is not an object (`{"type": "text", "data": null}`, as a buggy
  implementation may send) would raise inside the adapter's at-me check, before any
  handler runs, and the message would be lost. Its data becomes `{}` (a text segment's,
  `{"text": ""}`), so the rest of the message is still read. A segment that is no
  object (a bare string) or has no `type` is left out, and a `sender` that is no object
  becomes `{}`: NoneBot would drop the whole message over either.
- OneBot's `time` is in whole seconds, and `message_id` is no order at all (go-cqhttp
  and Lagrange hash it, NapCat numbers it its own way). Within one second the order the
  implementation reported the messages in is the best order there is, and parsing is
  the last point where it is known: `sent_at` is the report's second plus a millisecond
  per earlier report of that same second.
- A private report whose `group_id` is NapCat's stand-in for "group not found" loses it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Self

from nonebot.adapters.onebot.v11 import GroupMessageEvent, PrivateMessageEvent
from pydantic import BaseModel, model_validator

# Reports of one second are spaced this far apart in `sent_at`; the 1000th and later of
# a second share its last step.
_STEP_SECONDS = 0.001
_STEPS = 1000
# Seconds whose report count is kept (reports a little late still find theirs).
_SECONDS_KEPT = 64


class ArrivalOrder:
    """Counts the reports of each recent second, in the order they arrive."""

    def __init__(self) -> None:
        self._counts: dict[int, int] = {}

    def stamp(self, seconds: int) -> float:
        earlier = self._counts.get(seconds, 0)
        self._counts[seconds] = earlier + 1
        if len(self._counts) > _SECONDS_KEPT:
            del self._counts[min(self._counts)]
        return seconds + min(earlier, _STEPS - 1) * _STEP_SECONDS


arrivals = ArrivalOrder()

# The group number NapCat reports for a temporary session whose group it could not look
# up (and inside forwarded bundles): no real group.
NAPCAT_NO_GROUP = "284840486"


def clean_segments(message: Any) -> Any:
    """The report's message with every segment's `data` an object, and a text segment's
    `text` a string; a segment that is no object, or has no string `type`, is left out.
    A CQ-code string (or anything else) is left to NoneBot."""
    if isinstance(message, dict):
        message = [message]
    if not isinstance(message, list):
        return message
    cleaned = []
    for segment in message:
        # NoneBot drops the whole message over a segment that is no object or has no type.
        if not isinstance(segment, dict) or not isinstance(segment.get("type"), str):
            continue
        data = segment.get("data")
        data = dict(data) if isinstance(data, dict) else {}
        if segment["type"] == "text" and not isinstance(data.get("text"), str):
            data["text"] = ""
        cleaned.append({**segment, "data": data})
    return cleaned


def _clean_report(values: Any) -> Any:
    if isinstance(values, dict):
        values = dict(values)
        for key in ("message", "original_message"):
            if key in values:
                values[key] = clean_segments(values[key])
        if "sender" in values and not isinstance(values["sender"], dict):
            values["sender"] = {}  # `"sender": null` would drop the message
        if (
            values.get("message_type") == "private"
            and str(values.get("group_id")) == NAPCAT_NO_GROUP
        ):
            # NoneBot copies a report's group_id into the reply: NapCat would then try
            # to open the session through a group that does not exist. Without it,
            # NapCat looks the session up in its own cache.
            del values["group_id"]
    return values


class ArrivalStamped(BaseModel):
    """Both message models' additions, once: NoneBot's group and private events must
    each be subclassed, and pydantic collects these validators from either."""

    sent_at: float = 0.0
    if TYPE_CHECKING:
        time: int  # the report's, from NoneBot's event class beside this one

    @model_validator(mode="before")
    @classmethod
    def _clean(cls, values: Any) -> Any:
        return _clean_report(values)

    @model_validator(mode="after")
    def _stamp(self) -> Self:
        self.sent_at = arrivals.stamp(self.time)
        return self


class GroupMessage(ArrivalStamped, GroupMessageEvent):
    pass


class PrivateMessage(ArrivalStamped, PrivateMessageEvent):
    pass


MODELS = (GroupMessage, PrivateMessage)


def sent_at(event: Any) -> float:
    """When the platform says the message was sent: the stamped time, or, for an event
    built otherwise (another plugin's model, a test's), the report's whole second."""
    stamped = getattr(event, "sent_at", 0.0)
    return stamped if isinstance(stamped, float) and stamped else float(event.time)
