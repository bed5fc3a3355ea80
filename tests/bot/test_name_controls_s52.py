"""Session 52: a name inside the text the model reads (who a quote is of, a forwarded
message's sender, an @-ed member) kept its bidi controls and zero-width characters: a
name ending in U+202E RIGHT-TO-LEFT OVERRIDE turned the rest of the note around. Each
loses them (`model.protocol.visible_name`); a joiner inside an emoji stays."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from nonebot.adapters.onebot.v11 import Message, MessageSegment

from bot.discord.text import mentions_as_names
from bot.lines import lines
from bot.qq import mentions
from bot.qq.forwards import _message_line, segments_text
from bot.qq.quotes import quoted_note
from bot.quoting import quote_note
from tests.bot.discord.test_text import sent_text
from tests.bot.qq.events import SELF_ID, group_event

RLO = "\u202e"
CODER = "\U0001f469\u200d\U0001f4bb"  # woman technologist: a joiner inside


def test_a_quote_names_its_author_without_controls() -> None:
    assert quote_note(f"小明{RLO}\u200b", "明天放假") == lines().quote_note.format(
        who="小明", text="明天放假"
    )
    assert quote_note(f"\u2066Ann {CODER}\u2069", "hi") == lines().quote_note.format(
        who=f"Ann {CODER}", text="hi"
    )


def test_a_qq_quote_names_its_sender_without_controls() -> None:
    sender = SimpleNamespace(user_id=4100, card=f"小明{RLO}", nickname="")
    reply = SimpleNamespace(message=Message("明天放假"), sender=sender)
    event: Any = SimpleNamespace(reply=reply, self_id=int(SELF_ID))
    assert quoted_note(event) == lines().quote_note.format(who="小明", text="明天放假")


def test_a_forwarded_senders_name_loses_its_controls() -> None:
    item = {"sender": {"card": f"\ufeff小红{RLO}"}, "message": "我去"}
    assert _message_line(item) == "小红: 我去"


def test_an_at_names_the_member_without_controls() -> None:
    at = MessageSegment("at", {"qq": "5000", "name": f"@小红{RLO}"})
    assert segments_text(Message([at, MessageSegment.text(" 你好")])) == "@小红 你好"


async def test_an_at_in_a_qq_message_names_the_member_without_controls() -> None:
    bot: Any = SimpleNamespace(self_id=SELF_ID)
    at = MessageSegment("at", {"qq": "5000", "name": f"小红{RLO}\u200f"})
    event = group_event(Message([at, MessageSegment.text(" 你好")]))
    assert await mentions.spoken_text(bot, event, bot) == "@小红 你好"


def test_a_discord_mention_names_the_member_without_controls() -> None:
    def names(kind: str, ident: int) -> str | None:
        return {1: f"夏生{RLO}", 2: f"{CODER}\u200b", 3: "every\u200bone"}.get(ident)

    assert mentions_as_names("<@1> hi <@2>", names) == f"@夏生 hi @{CODER}"
    # A name made "everyone" by dropping its controls still pings nobody.
    assert sent_text("<@3>", names) == "@\u200beveryone"
