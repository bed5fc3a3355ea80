"""Session 72: Discord pictures and voice messages reached her as "（发来了附件：猫.png）" and
"（发来了附件：voice-message.ogg）", a picture alone was answered by the model (which could
only pretend to have seen it), and unknown mentions were English words ("@user", "#channel")
in her Chinese prompt. Through the real discord.py client and the fake Discord."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot import lines as bot_lines
from bot.discord.adapter import AtriClient
from bot.discord.text import ZERO_WIDTH_SPACE, markup_as_text, outgoing_parts
from bot.lines import lines, use_card
from tests.bot.discord.fake_discord import (
    CHANNEL_ID,
    DM_CHANNEL_ID,
    MEMBER_ID,
    FakeDiscord,
    is_message_to,
)
from tests.bot.discord.test_channel_mode_explicit_s68 import posts_to, set_mode
from tests.bot.discord.test_chat import ECHO, say
from tests.bot.test_lines import card_settings


def attachment(filename: str, content_type: str | None, **extra: Any) -> dict[str, Any]:
    """An attachment as Discord sends it: typed by its content, not by its name."""
    sent = {
        "id": "5",
        "filename": filename,
        "size": 1,
        "url": "https://cdn.example/c",
        "proxy_url": "https://cdn.example/c",
        **extra,
    }
    if content_type is not None:
        sent["content_type"] = content_type
    return sent


PICTURE = attachment("猫.png", "image/png", width=64, height=64)
VOICE = attachment(
    "voice-message.ogg", "audio/ogg", duration_secs=3.5, waveform="AAECAwQ=", flags=8192
)
PDF = attachment("期末复习.pdf", "application/pdf")


async def replies_to(fake: FakeDiscord, channel_id: int) -> list[str]:
    """Her posts there, once one came."""
    await fake.wait_for_calls(is_message_to(channel_id))
    return [str(c.body["content"]) for c in fake.calls_matching(is_message_to(channel_id))]


async def test_a_picture_alone_gets_her_line_not_an_answer_to_its_file_name(
    fake_discord: FakeDiscord, client: AtriClient
) -> None:
    await say(fake_discord, MEMBER_ID, "", attachments=[PICTURE])
    assert await replies_to(fake_discord, CHANNEL_ID) == [lines().media_only]


async def test_a_voice_message_alone_in_a_dm_gets_her_voice_line(
    fake_discord: FakeDiscord, client: AtriClient
) -> None:
    await fake_discord.send_message(MEMBER_ID, "", in_guild=False, attachments=[VOICE])
    assert await replies_to(fake_discord, DM_CHANNEL_ID) == [lines().voice_only]


@pytest.mark.parametrize(
    ("words", "sent", "heard"),
    [
        ("看", [PICTURE], "看 （发来了一张图片）"),
        ("听听", [VOICE], "听听 （发来了一条语音）"),
        # A file is named, whatever it is; a picture beside it does not make it media.
        ("", [PDF, PICTURE], "（发来了附件：期末复习.pdf） （发来了一张图片）"),
        # Untyped, as Discord may send an odd file: named, as before.
        ("", [attachment("cat.png", None)], "（发来了附件：cat.png）"),
    ],
    ids=["picture-with-words", "voice-with-words", "file-and-picture", "untyped"],
)
async def test_pictures_and_voice_beside_other_things_are_said_to_have_come(
    fake_discord: FakeDiscord,
    client: AtriClient,
    words: str,
    sent: list[dict[str, Any]],
    heard: str,
) -> None:
    await say(fake_discord, MEMBER_ID, words, attachments=sent)
    assert await replies_to(fake_discord, CHANNEL_ID) == [ECHO + heard]


async def test_a_picture_not_sent_to_her_in_a_channel_she_answers_in_full_is_not_answered(
    fake_discord: FakeDiscord, client: AtriClient
) -> None:
    """As on QQ: in "all" mode every picture would get her line."""
    await set_mode(fake_discord, "all")
    fake_discord.calls.clear()
    await fake_discord.send_message(MEMBER_ID, "", attachments=[PICTURE])
    assert await posts_to(fake_discord, CHANNEL_ID) == []
    await fake_discord.send_message(MEMBER_ID, "", attachments=[VOICE])
    await fake_discord.send_message(MEMBER_ID, "大家好")
    (reply,) = await replies_to(fake_discord, CHANNEL_ID)
    # Heard, as messages not for her are: the room tells her they came.
    assert reply.endswith("大家好")
    assert "（发来了一张图片）" in reply and "（发来了一条语音）" in reply


def test_unknown_mentions_read_in_her_language(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    said = markup_as_text("你见过 <@123> 吗？<@&555> <#777>")
    assert said == f"你见过 @{ZERO_WIDTH_SPACE}某人 吗？@{ZERO_WIDTH_SPACE}某个身份组 #某个频道"
    assert outgoing_parts("<@940000000000000002> 你好") == [f"@{ZERO_WIDTH_SPACE}某人 你好"]
    monkeypatch.setattr(bot_lines, "_current", bot_lines.lines())  # put back after the test
    monkeypatch.setattr(bot_lines, "_language", bot_lines.spoken_language())
    use_card(card_settings(tmp_path, "Yuki", "A girl who lives in the snow."))
    assert markup_as_text("<@1> <#2>") == f"@{ZERO_WIDTH_SPACE}user #channel"
