"""Messages recalled (QQ) or deleted (Discord) while her replies still wait to be posted.

The worker forgets a recalled message at once (its exchange or room line archived, with
her stored replies that repeat it), but a reply already written may still wait for its
turn to be posted (the chat's earlier reply, the send queue, the pause between parts).
Before each part goes out, the bot asks `Recalls.stops`; what is left of a reply is not
posted when it answers the recalled message (it would quote it, and answer what its
author took back), or when it repeats the recalled words as memory judges a repeat
(`Repeats`): written from a prompt that held them as a room line, a reply to someone
else may quote the phone number its author recalled.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Literal, TypeVar

from model.memory.purged import Repeats

# How long after a recall the replies still waiting are checked against it: a reply
# waits minutes at most (its generation's deadline, then its chat's turn to post).
RECALL_WATCH_SECONDS = 600.0
# Recalls watched at once, and messages whose words are kept for a recall (QQ tells only
# a recalled message's id): a flood of either forgets the oldest.
RECALLS_KEPT = 500
WORDS_KEPT = 2000

# Why what is left of a reply is not posted: it answers the recalled message, or
# repeats its words.
Stop = Literal["answers", "repeats"]


class Recalls:
    """Recalled messages by chat (a group, a channel, a private chat) and message id,
    each watched for RECALL_WATCH_SECONDS."""

    def __init__(self) -> None:
        self._words: OrderedDict[tuple[str, str], str] = OrderedDict()
        self._recalled: OrderedDict[tuple[str, str], tuple[Repeats, float]] = OrderedDict()

    def heard(self, chat: str, message_id: str, text: str) -> None:
        """The words of a message passed to the worker, for a recall that names only its id."""
        if text:
            self._words[(chat, message_id)] = text
            _keep_last(self._words, WORDS_KEPT)

    def recalled(self, chat: str, message_id: str, text: str | None = None) -> None:
        """`message_id` in `chat` was recalled; `text`: its words, where the platform
        still tells them (else those `heard` noted, if any)."""
        key = (chat, message_id)
        said = self._words.pop(key, "") if text is None else text
        self._recalled[key] = (Repeats([said]), time.monotonic())
        self._recalled.move_to_end(key)  # kept in the order recalled: the oldest go first
        _keep_last(self._recalled, RECALLS_KEPT)

    def stops(self, chat: str, message_id: str, rest: str) -> Stop | None:
        """Whether the rest of a reply in `chat` to `message_id` (`rest`: its parts not
        posted yet) is not posted, and why; None: it goes out."""
        if self.was_recalled(chat, message_id):
            return "answers"
        for (where, _), (words, _) in self._recalled.items():
            if where == chat and words.found_in(rest):
                return "repeats"
        return None

    def was_recalled(self, chat: str, message_id: str) -> bool:
        """Whether `message_id` in `chat` was recalled lately (none is kept as a room line)."""
        self._forget_old()
        return (chat, message_id) in self._recalled

    def _forget_old(self) -> None:
        since = time.monotonic() - RECALL_WATCH_SECONDS
        while self._recalled and next(iter(self._recalled.values()))[1] < since:
            self._recalled.popitem(last=False)


KeptT = TypeVar("KeptT")


def _keep_last(kept: OrderedDict[tuple[str, str], KeptT], count: int) -> None:
    while len(kept) > count:
        kept.popitem(last=False)
