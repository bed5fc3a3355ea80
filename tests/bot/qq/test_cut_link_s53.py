"""A reply cut off at `max_reply_parts` never ends inside a link: `https://……` or
`…/blob/ma...` looks like a link that leads nowhere. The cut goes before the link."""

from __future__ import annotations

from bot.qq.text import split_reply

LINK = "https://github.com/a/b/blob/main/docs/setup.md"


def kept(text: str, limit: int, mark: str) -> str:
    parts, cut_off = split_reply(text, limit, 1, mark)
    assert cut_off and parts[0].endswith(mark) and len(parts[0]) <= limit
    return parts[0].removesuffix(mark)


def test_a_link_after_chinese_is_left_out_whole() -> None:
    text = "好" * 90 + "https://b23.tv/abcdef123 看这个"
    for limit in range(92, 110):
        assert kept(text, limit, "……") == "好" * 90, limit


def test_an_english_cut_never_ends_inside_a_link() -> None:
    before = "See the setup notes at"
    text = f"{before} {LINK} for the steps you need, then come back and tell me."
    for limit in range(len(before) + 6, len(before) + len(LINK) + 4):
        assert kept(text, limit, "...") == before, limit


def test_a_link_that_fits_stays_whole() -> None:
    text = f"Read {LINK} first. " + "And then something else entirely. " * 5
    part = kept(text, len(LINK) + 30, "...")
    assert LINK in part


def test_a_part_that_is_only_a_link_is_still_cut_hard() -> None:
    text = "https://example.com/" + "x" * 200
    part = kept(text, 50, "...")
    assert part and text.startswith(part)
