"""A poll's words reach the model as a member sees them, and a poll without a question
still gets an answer (session 51's fuzz of message payloads)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import discord

from bot.discord.adapter import AtriClient, _poll_note
from tests.bot.discord.fake_discord import BOT_ID, MEMBER_ID, FakeDiscord
from tests.bot.discord.test_chat import MENTION
from tests.bot.discord.test_message_text_s50 import heard


def poll(payload: dict[str, Any], question: str | None, *answers: str) -> dict[str, Any]:
    payload["poll"] = {
        "question": {"text": question},
        "answers": [
            {"answer_id": i, "poll_media": {"text": text}} for i, text in enumerate(answers, 1)
        ],
        "expiry": payload["timestamp"],
        "allow_multiselect": False,
        "layout_type": 1,
    }
    return payload


def test_mentions_and_timestamps_in_a_poll_read_as_a_member_sees_them() -> None:
    """`<@id>` and `<t:…>` in a poll reached the model as raw markup (her reply's own
    path hides it again, so this reads the note itself)."""
    poll = discord.Poll(question="<@42> 去哪？", duration=timedelta(hours=1))
    poll.add_answer(text="<t:1767225600:d> 海边")
    names = {("user", 42): "夏生"}
    note = _poll_note(poll, lambda kind, ident: names.get((kind, ident)))
    assert note == "（发起了投票：@夏生 去哪？ 选项：2026-01-01 海边）"


async def test_a_poll_without_question_text_is_still_answered(
    fake_discord: FakeDiscord, client: AtriClient
) -> None:
    """discord.py reads a question whose text is null as None.text: the message was
    dropped with a traceback and the mention got no reply."""
    payload = fake_discord.message_payload(MEMBER_ID, f"{MENTION} 选哪个", mentions=(BOT_ID,))
    said = await heard(fake_discord, poll(payload, None, "海边", "山上"))
    assert said.startswith("选哪个") and "海边 / 山上" in said
