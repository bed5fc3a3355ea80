"""Session 71: markup and mentions where a Discord (or QQ) reply is split and escaped.

A spoiler or bold span holding a code block lost its markers when cut (the spoiler's
words shown uncovered); ~~, __ and _ spans were never closed and reopened; a zero-width
space went into emails, links and code holding "@here…"; a hard cut split "\\*" in two;
and a reply of exactly 2,000 characters went out as two messages.
"""

from __future__ import annotations

import random
import re

from bot.discord.text import MESSAGE_LIMIT, ZERO_WIDTH_SPACE, outgoing_parts
from bot.qq.text import defang, split_reply
from bot.splitting import hard_cut, split_message

ZWSP = ZERO_WIDTH_SPACE
FENCE = "```"
MARKERS = ("||", "**", "~~", "__")
EMAIL = "bob@hereford.ac.uk"
LINK = "https://mastodon.social/@everyone_news"
CODE_LINE = "ssh deploy@here.example.com"
WORDS = [
    "secret",
    "answer",
    "riddle",
    "snake_case_name",
    "好的",
    EMAIL,
    LINK,
    "@here",
    "x@everyones",
]


def balanced(part: str) -> bool:
    return all(part.count(marker) % 2 == 0 for marker in MARKERS)


def bare(text: str) -> str:
    """The text without markers, fences, blanks and zero-width spaces."""
    return re.sub(r"\|\||\*\*|~~|__|```|\s|" + ZWSP, "", text)


def test_a_spoiler_holding_a_code_block_is_closed_and_reopened_in_every_part() -> None:
    text = "||```\ncode\n``` " + "Secret sentence. " * 150 + "||"
    parts = outgoing_parts(text)
    assert len(parts) == 2 and all(len(part) <= MESSAGE_LIMIT for part in parts)
    for part in parts:
        assert part.startswith("||") and part.endswith("||") and part.count("||") == 2, part
    assert bare("".join(parts)) == bare(text)


def test_a_spoiler_around_a_long_code_block_covers_each_of_its_parts() -> None:
    code = 'print("answer line")\n' * 120
    parts = outgoing_parts(f"Solution: ||```python\n{code}```||")
    code_parts = [part for part in parts if FENCE in part]
    assert len(code_parts) == 2
    for part in code_parts:
        assert part.startswith("||```python\n") and part.endswith("\n```||"), part[:30]
    assert "".join(parts).count("answer line") == 120


def test_bold_around_a_long_code_block_is_closed_and_reopened() -> None:
    parts = outgoing_parts("**```\n" + "line\n" * 500 + "```**")
    assert len(parts) == 2
    assert all(part.startswith("**```\n") and part.endswith("\n```**") for part in parts)


def test_strike_underline_and_underscore_italics_are_closed_and_reopened() -> None:
    for marker in ("~~", "__", "_"):
        text = marker + "struck sentence. " * 150 + "struck" + marker
        parts = outgoing_parts(text)
        assert len(parts) == 2, marker
        for part in parts:
            assert part.startswith(marker) and part.endswith(marker), (marker, part[-5:])
        assert re.sub(r"[_~\s]", "", "".join(parts)) == re.sub(r"[_~\s]", "", text)


def test_snake_case_is_no_italics_to_close() -> None:
    text = "call snake_case_name now. " * 100
    parts = split_message(text, 200, markup=True)
    assert "".join(parts).count("_") == text.count("_")


def test_no_zero_width_space_goes_into_emails_links_or_code() -> None:
    for text in [
        f"mail me: {EMAIL}",
        f"{FENCE}\n{CODE_LINE}\n{FENCE}",
        LINK,
        f"run `{CODE_LINE}` then",
    ]:
        assert outgoing_parts(text) == [text]


def test_a_mention_that_could_show_is_still_broken() -> None:
    (part,) = outgoing_parts(f"@here see {EMAIL} and x@everyone")
    assert part == f"@{ZWSP}here see {EMAIL} and x@{ZWSP}everyone"


def test_qq_leaves_an_email_whole_but_defangs_at_all() -> None:
    assert defang("x@all.example or @all") == "x@all.example or ＠all"
    assert split_reply(f"写信给 x@all.example {LINK}", 500, 4).parts == [
        f"写信给 x@all.example {LINK}"
    ]


def test_a_hard_cut_keeps_an_escape_with_what_it_escapes() -> None:
    text = "x" * 1998 + "\\*not italic*"
    assert hard_cut(text, 1999) == 1998
    for width in (MESSAGE_LIMIT - 2, MESSAGE_LIMIT - 1):
        parts = outgoing_parts("x" * width + "\\*not italic*")
        assert len(parts) == 2 and not parts[0].endswith("\\"), width
    assert hard_cut("x" * 1997 + "\\\\*", 1999) == 1999  # an escaped backslash: done


def test_a_reply_of_exactly_the_limit_is_one_message() -> None:
    assert outgoing_parts("a" * MESSAGE_LIMIT) == ["a" * MESSAGE_LIMIT]
    # A part that needs the character in front still fits.
    parts = outgoing_parts("好" * 1995 + "。# 标题呢。" + "好" * 1990)
    assert all(len(part) <= MESSAGE_LIMIT for part in parts)
    assert any(part.startswith(ZWSP + "#") for part in parts)


def random_sentence(rng: random.Random) -> str:
    words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 12)))
    return words + rng.choice([". ", "! ", "\n", " ", "。"])


def random_block(rng: random.Random) -> str:
    return f"{FENCE}\n" + f"{CODE_LINE}\n" * rng.randint(1, 8) + f"{FENCE}\n"


def random_reply(rng: random.Random) -> str:
    items: list[str] = []
    for _ in range(rng.randint(1, 40)):
        roll = rng.random()
        if roll < 0.15:
            items.append(random_block(rng))
        elif roll < 0.4:
            inner = [random_sentence(rng) for _ in range(rng.randint(1, 12))]
            if rng.random() < 0.5:
                inner.insert(rng.randint(0, len(inner)), random_block(rng))
            marker = rng.choice(MARKERS)
            items.append(marker + "".join(inner).strip() + marker + " ")
        else:
            items.append(random_sentence(rng))
    return "".join(items)


def test_random_replies_keep_limits_spans_words_and_addresses() -> None:
    rng = random.Random(71)
    for _ in range(150):
        text = random_reply(rng)
        limit = rng.randint(80, 400)
        parts = split_message(text, limit, markup=True)
        assert all(len(part) <= limit for part in parts), text
        assert all(balanced(part) for part in parts), (limit, text)
        assert bare("".join(parts)) == bare(text), (limit, text)
    for _ in range(30):
        text = "".join(random_reply(rng) for _ in range(6))
        parts = outgoing_parts(text)
        joined = "".join(parts)
        assert all(len(part) <= MESSAGE_LIMIT for part in parts)
        assert all(balanced(part) for part in parts), text
        assert bare(joined) == bare(text)
        for address in (EMAIL, LINK, CODE_LINE):
            assert joined.count(address) == text.count(address), address
        # A mention standing on its own is still broken.
        assert re.search(r"(?<![\w/.])@here", joined) is None
