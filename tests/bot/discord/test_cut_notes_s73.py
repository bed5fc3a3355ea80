"""Session 73 (review of s72): a message of 3,990 characters with a file was said to be
cut ("she read only the first 4,000 characters") though every word was read: the limit
counted the file's note, and cut the file's name instead. The words alone are limited;
the notes come on top, as on QQ. Through the real discord.py client and the fake Discord."""

from __future__ import annotations

from bot.discord.adapter import AtriClient
from bot.limits import MAX_INPUT_CHARS
from bot.lines import lines
from tests.bot.discord.fake_discord import CHANNEL_ID, MEMBER_ID, FakeDiscord, is_message_to
from tests.bot.discord.test_chat import ECHO, say
from tests.bot.discord.test_media_notes_s72 import PDF

PDF_NOTE = "（发来了附件：期末复习.pdf）"


async def all_posted_for(fake: FakeDiscord, words: str) -> str:
    """All she posted for `words` and a PDF, once a next message's answer shows it is all
    there, without spaces: a long reply comes in parts, split at a space (which goes)."""
    await say(fake, MEMBER_ID, words, attachments=[PDF])
    await say(fake, MEMBER_ID, "还在吗")
    last = ECHO + "还在吗"
    await fake.wait_for_calls(lambda c: is_message_to(CHANNEL_ID)(c) and c.body["content"] == last)
    posts = [str(c.body["content"]) for c in fake.calls_matching(is_message_to(CHANNEL_ID))]
    posts.remove(last)
    return "".join("".join(posts).split())


async def test_words_under_the_limit_beside_a_file_are_read_whole_and_not_said_cut(
    fake_discord: FakeDiscord, client: AtriClient
) -> None:
    words = "x" * (MAX_INPUT_CHARS - 10)
    posted = await all_posted_for(fake_discord, words)
    assert posted == f"{ECHO}{words}{PDF_NOTE}"  # her reply holds every word


async def test_words_over_the_limit_are_cut_and_said_so_and_the_file_still_named(
    fake_discord: FakeDiscord, client: AtriClient
) -> None:
    posted = await all_posted_for(fake_discord, "y" * (MAX_INPUT_CHARS + 50))
    cut = lines().input_cut.format(count=MAX_INPUT_CHARS)
    assert posted == "".join(f"{cut}{ECHO}{'y' * MAX_INPUT_CHARS}{PDF_NOTE}".split())
