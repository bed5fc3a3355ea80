"""A reply cut off at `max_reply_parts` is cut in time linear in its length, whatever the
model wrote: the link and word searches before the cut mark once read a long word again
from each of its letters (80,000 letters took seconds)."""

from __future__ import annotations

import time

from bot.qq.text import split_reply

LIMIT = 40_000


def test_a_long_word_before_the_cut_is_read_once() -> None:
    # No blank to cut at and no "://" in it: each letter was tried as a link's scheme.
    text = "a" * (2 * LIMIT)
    started = time.perf_counter()
    parts, cut_off = split_reply(text, LIMIT, 1, "...")
    assert time.perf_counter() - started < 2
    assert cut_off and parts == ["a" * (LIMIT - 3) + "..."]


def test_a_long_word_not_at_the_cut_is_read_once() -> None:
    # The part ends in another word: each letter of the first was tried as the last word.
    text = "A" * (LIMIT - 10) + " b!c" + "d" * LIMIT
    started = time.perf_counter()
    parts, cut_off = split_reply(text, LIMIT, 1, "...")
    assert time.perf_counter() - started < 2
    assert cut_off and parts == ["A" * (LIMIT - 10) + " b!..."]


def test_a_link_after_a_long_word_is_still_left_out_whole() -> None:
    limit = 2 * LIMIT
    text = "x" * (limit - 20) + " 1.https://example.com/" + "y" * limit
    started = time.perf_counter()
    parts, cut_off = split_reply(text, limit, 1, "...")
    assert time.perf_counter() - started < 2
    # The link starts at its scheme's first letter, after "1.".
    assert cut_off and parts == ["x" * (limit - 20) + " 1...."]
