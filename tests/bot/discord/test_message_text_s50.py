"""What the model reads of a Discord message (session 50's study of real payloads), through
the real discord.py client and the fake Discord: the echo engine's reply is its input."""

from __future__ import annotations

from typing import Any

from bot.discord.adapter import AtriClient
from bot.quoting import MAX_QUOTE_CHARS
from tests.bot.discord.fake_discord import (
    ADMIN_ID,
    BOT_ID,
    CHANNEL_ID,
    DM_CHANNEL_ID,
    LISTEN_CHANNEL_ID,
    MEMBER_ID,
    FakeDiscord,
    is_message_to,
)
from tests.bot.discord.test_chat import ECHO, MENTION, say


def attachment(filename: str) -> dict[str, Any]:
    return {
        "id": "5",
        "filename": filename,
        "size": 1,
        "url": "https://cdn.example/c",
        "proxy_url": "https://cdn.example/c",
    }


async def heard(fake: FakeDiscord, payload: dict[str, object], channel_id: int = CHANNEL_ID) -> str:
    """What the model was given for `payload` (the echo engine repeats it)."""
    await fake.dispatch("MESSAGE_CREATE", payload)
    (reply,) = await fake.wait_for_calls(is_message_to(channel_id))
    content = str(reply.body["content"])
    assert content.startswith(ECHO), content  # else her empty-message line
    return content[len(ECHO) :]


async def test_emoji_channels_timestamps_and_commands_read_as_a_person_sees_them(
    fake_discord: FakeDiscord, client: AtriClient
) -> None:
    """Custom emoji, channel mentions, timestamps and slash-command mentions reached the
    model as raw markup (`<:pepe_cry:1234567890>`, `<#id>`, `<t:…:R>`, `</atri reset:1>`)."""
    payload = fake_discord.message_payload(
        MEMBER_ID,
        f"{MENTION} 哭了 <:pepe_cry:1234567890> <a:dance:222> 去 <#{LISTEN_CHANNEL_ID}> 和 "
        "<#123> 看 <t:1767225600:R> 和 <t:1767225600:d> 的公告，用 </atri reset:123>",
        mentions=(BOT_ID,),
    )
    assert await heard(fake_discord, payload) == (
        "哭了 :pepe_cry: :dance: 去 #atri-chat 和 #某个频道 看 2026-01-01 00:00 UTC 和 "
        "2026-01-01 的公告，用 /atri reset"
    )


async def test_her_reply_still_pings_nobody_after_markup_is_made_readable(
    fake_discord: FakeDiscord, client: AtriClient
) -> None:
    payload = fake_discord.message_payload(
        MEMBER_ID, f"{MENTION} <#{CHANNEL_ID}> @everyone <@{MEMBER_ID}>", mentions=(BOT_ID,)
    )
    await fake_discord.dispatch("MESSAGE_CREATE", payload)
    (reply,) = await fake_discord.wait_for_calls(is_message_to(CHANNEL_ID))
    assert reply.body["content"] == ECHO + "#general @\u200beveryone @Ryuji"
    assert reply.body["allowed_mentions"] == {"parse": [], "replied_user": False}


async def test_a_reply_to_another_members_message_gives_her_its_text(
    fake_discord: FakeDiscord, client: AtriClient
) -> None:
    """Asked "他说的是真的吗？" in a reply to someone else's message, she was given only
    those words: the message they are about was lost."""
    quoted = fake_discord.message_payload(ADMIN_ID, f"明天 <#{CHANNEL_ID}> 维护\n一整天")
    payload = fake_discord.message_payload(
        MEMBER_ID, f"{MENTION} 他说的是真的吗？", mentions=(BOT_ID,), reply_to=quoted
    )
    assert await heard(fake_discord, payload) == (
        "（引用了Minamo的消息：明天 #general 维护 一整天） 他说的是真的吗？"
    )


async def test_a_long_quoted_message_is_cut(fake_discord: FakeDiscord, client: AtriClient) -> None:
    quoted = fake_discord.message_payload(ADMIN_ID, "长" * 1000)
    payload = fake_discord.message_payload(
        MEMBER_ID, f"{MENTION} 对吗", mentions=(BOT_ID,), reply_to=quoted
    )
    said = await heard(fake_discord, payload)
    assert said == f"（引用了Minamo的消息：{'长' * (MAX_QUOTE_CHARS - 1)}…） 对吗"


async def test_a_quote_of_a_picture_notes_the_picture(
    fake_discord: FakeDiscord, client: AtriClient
) -> None:
    quoted = fake_discord.message_payload(ADMIN_ID, "", attachments=[attachment("cat.png")])
    payload = fake_discord.message_payload(
        MEMBER_ID, f"{MENTION} 可爱吗", mentions=(BOT_ID,), reply_to=quoted
    )
    said = await heard(fake_discord, payload)
    assert said == "（引用了Minamo的消息：（发来了附件：cat.png）） 可爱吗"


async def test_a_reply_to_a_deleted_message_is_read_as_before(
    fake_discord: FakeDiscord, client: AtriClient
) -> None:
    """Discord sends `referenced_message: null` for a message deleted since."""
    quoted = fake_discord.message_payload(ADMIN_ID, "已删除")
    payload = fake_discord.message_payload(
        MEMBER_ID, f"{MENTION} 他说的是真的吗？", mentions=(BOT_ID,), reply_to=quoted
    )
    payload["referenced_message"] = None
    assert await heard(fake_discord, payload) == "他说的是真的吗？"


def her_reply_to(fake: FakeDiscord, answered: dict[str, object], text: str) -> dict[str, object]:
    """A message of hers answering `answered`, as Discord sends it in a reply to it."""
    reply = fake.message_payload(BOT_ID, text, reply_to=answered)
    del reply["referenced_message"]  # Discord sends one level of them only
    return reply


async def test_her_own_reply_is_quoted_only_when_it_answered_someone_else(
    fake_discord: FakeDiscord, client: AtriClient
) -> None:
    """A reply to her answer to this same member is in their conversation already; her
    answer to another member (each member has their own memory by default) is not."""
    asked = await say(fake_discord, MEMBER_ID, "你好")
    others = await say(fake_discord, ADMIN_ID, "天气")
    await fake_discord.wait_for_calls(is_message_to(CHANNEL_ID), count=2)
    fake_discord.calls.clear()
    to_them = fake_discord.message_payload(
        MEMBER_ID, "真的？", reply_to=her_reply_to(fake_discord, asked, "你好呀")
    )
    assert await heard(fake_discord, to_them) == "真的？"
    fake_discord.calls.clear()
    to_another = fake_discord.message_payload(
        MEMBER_ID, "真的？", reply_to=her_reply_to(fake_discord, others, "明天下雨")
    )
    assert await heard(fake_discord, to_another) == "（引用了你说过的话：明天下雨） 真的？"
    fake_discord.calls.clear()
    unknown = fake_discord.message_payload(BOT_ID, "我是高性能的机器人！")  # answered nothing known
    to_unknown = fake_discord.message_payload(MEMBER_ID, "真的？", reply_to=unknown)
    assert await heard(fake_discord, to_unknown) == "真的？"


def forwarding(fake: FakeDiscord, **snapshot: Any) -> dict[str, Any]:
    """A DM forwarding one message whose snapshot holds `snapshot`'s fields."""
    payload = fake.message_payload(MEMBER_ID, "", in_guild=False)
    payload["message_reference"] = {"type": 1, "message_id": "1", "channel_id": "2"}
    message = {
        "type": 0,
        "content": "",
        "embeds": [],
        "attachments": [],
        "timestamp": payload["timestamp"],
        "edited_timestamp": None,
        "flags": 0,
        "mentions": [],
        "mention_roles": [],
        "components": [],
    }
    payload["message_snapshots"] = [{"message": message | snapshot}]
    return payload


async def test_a_forwarded_picture_or_sticker_is_noted(
    fake_discord: FakeDiscord, client: AtriClient
) -> None:
    """Only a snapshot's words were read: a forwarded picture got her empty-message line."""
    picture = forwarding(fake_discord, attachments=[attachment("cat.png")])
    assert await heard(fake_discord, picture, DM_CHANNEL_ID) == "（发来了附件：cat.png）"
    fake_discord.calls.clear()
    sticker = forwarding(
        fake_discord, content="看", sticker_items=[{"id": "7", "name": "wave", "format_type": 1}]
    )
    assert await heard(fake_discord, sticker, DM_CHANNEL_ID) == "看 （发来了贴纸：wave）"


async def test_a_poll_is_read_as_its_question_and_answers(
    fake_discord: FakeDiscord, client: AtriClient
) -> None:
    """A message holding only a poll got her empty-message line."""
    payload = fake_discord.message_payload(MEMBER_ID, MENTION, mentions=(BOT_ID,))
    payload["poll"] = {
        "question": {"text": "周末去哪？"},
        "answers": [
            {"answer_id": 1, "poll_media": {"text": "海边"}},
            {"answer_id": 2, "poll_media": {"text": "山上" * 100}},
        ],
        "expiry": payload["timestamp"],
        "allow_multiselect": False,
        "layout_type": 1,
    }
    said = await heard(fake_discord, payload)
    assert said.startswith("（发起了投票：周末去哪？ 选项：海边 / 山上山上")
    assert said.endswith("…）")
    assert len(said) < 250


async def test_a_poll_answer_of_a_custom_emoji_reads_as_its_name(
    fake_discord: FakeDiscord, client: AtriClient
) -> None:
    payload = fake_discord.message_payload(MEMBER_ID, MENTION, mentions=(BOT_ID,))
    payload["poll"] = {
        "question": {"text": "心情？"},
        "answers": [
            # Discord sends a text always (docs: "should always be non-null"), empty here.
            {
                "answer_id": 1,
                "poll_media": {"text": "", "emoji": {"id": "123", "name": "pepe_cry"}},
            },
            {"answer_id": 2, "poll_media": {"text": "", "emoji": {"id": None, "name": "😀"}}},
        ],
        "expiry": payload["timestamp"],
        "allow_multiselect": False,
        "layout_type": 1,
    }
    assert await heard(fake_discord, payload) == "（发起了投票：心情？ 选项：:pepe_cry: / 😀）"
