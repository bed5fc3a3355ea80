"""Masked links in spellings the first defence did not read as links: an address with
backslash-escaped symbols, or a scheme without its two slashes. Discord's markdown drops
a backslash before a symbol (simple-markdown's `unescapeUrl`), and a browser reads
"https:evil.example" as https://evil.example: each may show only its text."""

from __future__ import annotations

import pytest

from bot.discord.adapter import AtriClient
from bot.discord.text import ZERO_WIDTH_SPACE, outgoing_parts
from tests.bot.discord.fake_discord import CHANNEL_ID, MEMBER_ID, FakeDiscord, is_message_to
from tests.bot.discord.test_chat import ECHO, say

HIDDEN = [
    "[领取 Nitro](https:\\/\\/evil.example/gift)",
    "[领取 Nitro](https:evil.example/gift)",
    "[领取 Nitro](https:/evil.example/gift)",
    "[领取 Nitro]( <https\\:\\/\\/evil.example/gift> )",
    '[领取 Nitro](HTTPS:\\/\\/evil.example/gift "免费")',
]


@pytest.mark.parametrize("link", HIDDEN)
def test_a_masked_link_in_any_spelling_of_its_address_is_broken(link: str) -> None:
    (part,) = outgoing_parts(f"快看 {link} 。")
    assert "](" not in part
    assert part.replace(ZERO_WIDTH_SPACE, "") == f"快看 {link} 。"  # all of it still shows


def test_brackets_and_parentheses_that_are_no_link_stay_as_written() -> None:
    text = "[也不是](相对/路径) [注](见上) [a] (b) [c](d e)"
    assert outgoing_parts(text) == [text]


async def test_her_reply_shows_where_such_a_link_goes(
    fake_discord: FakeDiscord, client: AtriClient
) -> None:
    """Through the real client: the echo engine repeats what it was asked to write."""
    await say(fake_discord, MEMBER_ID, " ".join(HIDDEN[:2]))
    (reply,) = await fake_discord.wait_for_calls(is_message_to(CHANNEL_ID))
    content = reply.body["content"]
    assert content.startswith(ECHO) and "](" not in content
    assert content.replace(ZERO_WIDTH_SPACE, "") == ECHO + " ".join(HIDDEN[:2])
