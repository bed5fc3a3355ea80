"""Session 74: a long message or reply is cut between two characters as a reader sees
them (grapheme clusters), never inside one: a flag's two letters, a family emoji's
joiners, a skin tone, an accent, a keycap or Hangul jamo cut apart showed as a box or
the wrong flag. The limit still holds: no part, and no kept input, goes over it."""

from __future__ import annotations

import io
from typing import Any

import pytest
import regex
from rich.console import Console

from atri.graphemes import character_cut, within_limit
from bot.console import run_console
from bot.discord.text import MESSAGE_LIMIT, outgoing_parts
from bot.limits import MAX_INPUT_CHARS, input_kept
from bot.qq.text import split_reply
from bot.splitting import FENCE
from model.protocol import ChatRequest, Reply
from model.service import ChatService

CHARACTERS = {
    "flag": "🇯🇵",
    "family": "👨‍👩‍👧‍👦",
    "skin tone": "👍🏽",
    "accent": "e\u0301",
    "keycap": "1\ufe0f\u20e3",
    "hangul jamo": "\u1100\u1161\u11a8",
}
_CLUSTER = regex.compile(r"\X")


def clusters(text: str) -> list[str]:
    return _CLUSTER.findall(text)


def whole(parts: list[str], text: str, added: str = "") -> bool:
    """Every character of every part is one of `text`'s (or of `added`'s, the markup a
    splitter adds): none is the half of one."""
    known = set(clusters(text)) | set(clusters(added))
    return all(set(clusters(part)) <= known for part in parts)


@pytest.mark.parametrize("character", CHARACTERS.values(), ids=CHARACTERS.keys())
def test_a_cut_at_any_limit_keeps_the_character_whole_and_within_it(character: str) -> None:
    text = "ab" + character * 30
    for limit in range(1, len(text)):
        kept = within_limit(text, limit)
        assert len(kept) <= limit
        assert text.startswith(kept) and whole([kept], text)
        assert len(kept) > limit - len(character)  # only the character cut across is left


def test_a_character_longer_than_any_cut_back_is_cut_hard_at_the_limit() -> None:
    zalgo = "a" + "\u0301" * 500  # one cluster: nothing keeps it whole within the limit
    assert character_cut(zalgo, 300) == 300
    assert character_cut(zalgo, 0) == 0 and character_cut("ab", 5) == 2


@pytest.mark.parametrize("character", CHARACTERS.values(), ids=CHARACTERS.keys())
def test_an_incoming_message_is_cut_to_its_limit_between_characters(character: str) -> None:
    for lead in range(len(character)):
        text = "x" * (MAX_INPUT_CHARS - lead - 1) + character * 3
        kept = input_kept(text)
        assert len(kept) <= MAX_INPUT_CHARS and text.startswith(kept)
        assert whole([kept], text)
    assert input_kept("短い") == "短い"


@pytest.mark.parametrize("character", CHARACTERS.values(), ids=CHARACTERS.keys())
def test_a_code_block_in_parts_too_small_for_its_fence_is_cut_between_characters(
    character: str,
) -> None:
    # QQ's max_message_chars may be set this low; the fence then leaves no room for code.
    reply = f"{FENCE}python3\n" + character * 40 + f"\n{FENCE}"
    for limit in range(8, 36):
        parts = split_reply(reply, limit, 1000).parts
        assert all(len(part) <= limit for part in parts)
        assert whole(parts, reply), limit
        assert sum(part.count(character) for part in parts) == 40


@pytest.mark.parametrize("mark", ["\ufe0f", "\u0301", "\u200d"])
def test_a_sentence_end_keeps_what_joins_its_mark_on_discord(mark: str) -> None:
    sentence = "这句话说完了！" + mark
    reply = sentence * (MESSAGE_LIMIT // len(sentence) + 40)
    parts = outgoing_parts(reply)
    assert len(parts) > 1 and all(len(part) <= MESSAGE_LIMIT for part in parts)
    assert whole(parts, reply)
    assert "".join(parts) == reply


class Recording:
    """The echo service, keeping each request's text as the console sent it."""

    def __init__(self, service: ChatService) -> None:
        self._service = service
        self.texts: list[str] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._service, name)

    async def chat(self, request: ChatRequest) -> Reply:
        self.texts.append(request.text)
        return await self._service.chat(request)


async def test_a_long_console_line_is_sent_cut_between_characters(
    echo_service: ChatService, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real console, a pasted line past the limit ending in flags."""
    flag = CHARACTERS["flag"]
    line = "x" * (MAX_INPUT_CHARS - 1) + flag * 3
    worker = Recording(echo_service)
    monkeypatch.setattr("sys.stdin", io.StringIO(line + "\n"))
    screen = Console(file=io.StringIO(), force_terminal=False, width=500)
    await run_console(worker, screen, "you", "ATRI", "hello", [])  # type: ignore[arg-type]
    (sent,) = worker.texts
    assert sent == "x" * (MAX_INPUT_CHARS - 1)  # the flag across the limit left out whole
