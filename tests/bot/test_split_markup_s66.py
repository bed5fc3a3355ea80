"""Session 66: a long Discord reply never leaves markdown unpaired where it is split.

Part 1 of a reply cut at 2,000 characters ended inside a spoiler: its `||` unpaired shows
as plain text, so the game's ending, meant to be hidden, was shown to everyone. A span
(spoiler, bold, italic, inline code) that fits in one part now moves whole to the next
part; one longer than a part is closed at each part's end and reopened at the next's
start. QQ renders no markdown: its splitting is unchanged.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from atri.config import Settings
from bot.discord.text import MESSAGE_LIMIT, outgoing_parts
from bot.qq.text import reply_parts
from bot.splitting import split_message
from model.service import ChatService
from tests.bot.discord.conftest import fake_discord_gateway, running_client
from tests.bot.discord.fake_discord import BOT_ID, CHANNEL_ID, MEMBER_ID, FakeDiscord, is_message_to

ENDING = "||结局：她最后睡着了。夏生一直等着她醒来。||"
BEFORE = "前情提要的一句话。"  # 9 characters
AFTER = "后来的事。" * 3


def unpaired(part: str, marker: str) -> bool:
    return part.count(marker) % 2 == 1


def test_a_spoiler_across_the_cut_goes_whole_into_the_next_part() -> None:
    text = BEFORE * 4 + ENDING + AFTER  # the cut at 50 fell after "她最后睡着了。"
    parts = split_message(text, 50, markup=True)
    assert parts == [BEFORE * 4, ENDING + AFTER]
    # Without markup (QQ) the cut falls where it did, inside the spoiler.
    plain = split_message(text, 50)
    assert plain[0].endswith("||结局：她最后睡着了。") and unpaired(plain[0], "||")


@pytest.mark.parametrize(
    "span",
    [
        "**她说：这是最后一次。我会一直记得。**",
        "*她说：这是最后一次。我会一直记得。*",
        "`say('这是最后一次。我会一直记得。')`",
    ],
    ids=["bold", "italic", "inline-code"],
)
def test_bold_italic_and_inline_code_across_the_cut_go_whole(span: str) -> None:
    text = BEFORE * 4 + span + AFTER
    parts = split_message(text, 50, markup=True)
    assert parts == [BEFORE * 4, span + AFTER]


def test_a_spoiler_longer_than_a_part_is_closed_and_reopened_in_each() -> None:
    secret = "她最后睡着了。" * 20  # 140 characters
    text = "以下是剧透：" + f"||{secret}||" + "就是这样。"
    parts = split_message(text, 60, markup=True)
    assert all(len(p) <= 60 for p in parts)
    assert parts[0].startswith("以下是剧透：||她最后睡着了。")  # the intro takes words beside it
    assert all(p.count("||") == 2 for p in parts)
    assert all(p.startswith("||") for p in parts[1:])
    assert parts[-1].endswith("||就是这样。")
    assert "".join(p.replace("||", "") for p in parts) == text.replace("||", "")


def test_nested_spans_longer_than_a_part_close_innermost_first() -> None:
    text = "**||" + "秘密。" * 30 + "||**"
    parts = split_message(text, 40, markup=True)
    assert len(parts) > 1 and all(len(p) <= 40 for p in parts)
    assert all(p.startswith("**||") and p.endswith("||**") for p in parts)


def test_italic_reopened_after_a_blank_still_reads_as_italic() -> None:
    # Discord takes "* word*" and "*word *" as plain text: the blanks at a cut go.
    words = "and then she slept " * 8
    parts = split_message(f"*{words.strip()}*", 40, markup=True)
    assert len(parts) > 1
    assert all(re.fullmatch(r"\*\S.*\S\*", p) for p in parts), parts


def test_a_lone_marker_is_text_and_splits_as_before() -> None:
    text = BEFORE * 4 + "||结局：她最后睡着了。" + AFTER  # no closing ||
    assert split_message(text, 50, markup=True) == split_message(text, 50)
    text = BEFORE * 4 + "*她最后睡着了。" + AFTER
    assert split_message(text, 50, markup=True) == split_message(text, 50)


def test_qq_which_shows_no_markdown_splits_as_before() -> None:
    text = BEFORE * 4 + ENDING + AFTER
    assert reply_parts(text, 50, 10) == split_message(text, 50)


def test_outgoing_discord_parts_keep_a_spoiler_whole_at_the_real_limit() -> None:
    text = BEFORE * 220 + ENDING + AFTER  # 1,980 characters, then the spoiler
    parts = outgoing_parts(text)
    assert all(len(p) <= MESSAGE_LIMIT for p in parts)
    assert parts == [BEFORE * 220, ENDING + AFTER]


@asynccontextmanager
async def fake_discord_for(
    monkeypatch: pytest.MonkeyPatch, service: ChatService, settings: Settings
) -> AsyncIterator[FakeDiscord]:
    """The fake Discord with the real client connected, as tests/bot/discord's fixtures."""
    async with fake_discord_gateway(monkeypatch) as fake, running_client(fake, service, settings):
        yield fake


async def test_the_gateway_receives_a_long_reply_with_its_spoiler_covered(
    monkeypatch: pytest.MonkeyPatch, echo_service: ChatService, echo_settings: Settings
) -> None:
    echo = "亚托莉听到了："  # the echo engine's reply: this, then the message
    text = BEFORE * 220 + ENDING + AFTER  # with the echo's words, the cut fell in it
    async with fake_discord_for(monkeypatch, echo_service, echo_settings) as fake:
        await fake.send_message(MEMBER_ID, f"<@{BOT_ID}> {text}", mentions=(BOT_ID,))
        await fake.wait_for_calls(is_message_to(CHANNEL_ID), count=2)
        await asyncio.sleep(0.2)  # any further part
        sent = [c.body["content"] for c in fake.calls_matching(is_message_to(CHANNEL_ID))]
    assert all(len(part) <= MESSAGE_LIMIT for part in sent)
    assert not any(unpaired(part, "||") for part in sent)
    assert sent[-1] == ENDING + AFTER
    assert "".join(sent) == echo + text
