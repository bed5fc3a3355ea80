"""A purge of a person deletes her replies that repeated their words (`_take_out_repeats`);
restoring a backup taken before it brought such a reply back, since the import left out
only the rows under the purged keys. It now leaves out, too, her replies in the backup
that repeat the words it leaves out, counted as purged; `include_purged` restores them.
And the purge's read of those replies goes through an index (schema 15:
`messages_replies`), not the whole table. Real ChatService, real SQLite, the echo
engine (which repeats the room lines leading its prompt)."""

from __future__ import annotations

from atri.config import Settings
from model.memory import Memory, parse_export
from model.protocol import ChatRequest, MessageRef, ScopeRef
from model.service import ChatService
from tests.model.memory.test_purge_index_s51 import plans, statements_of

PHONE = "13800138000"


def said(text: str, user: str, addressed: bool = False, channel: str = "g1") -> ChatRequest:
    return ChatRequest(
        platform="qq",
        user_id=user,
        display_name={"1": "小明", "2": "小红"}[user],
        text=text,
        channel_id=channel,
        addressed=addressed,
        request_id=f"qq-{user}-{text[:4]}",
    )


async def replies_of_y(memory: Memory) -> list[str]:
    return [m.content for m in await memory.all_messages("qq:user:2") if m.role == "assistant"]


async def test_a_restored_backup_does_not_bring_back_her_reply_repeating_a_purged_person(
    echo_settings: Settings,
) -> None:
    async with await ChatService.open(echo_settings) as service:
        memory = service.memory
        assert (await service.chat(said(f"我的手机号是{PHONE}", "1"))).status == "heard"
        assert PHONE in (await service.chat(said("亚托莉 刚才谁说话了？", "2", True))).text
        await service.chat(said("你好呀，今天过得怎么样", "2", True, channel=""))
        repeating = next(m for m in await memory.all_messages("qq:user:2") if PHONE in m.content)
        assert await memory.add_summary("qq:user:2", f"小明的号码是{PHONE}", repeating.id)
        backup = parse_export(await memory.backup(), "backup.json")

        await service.purge(ScopeRef(platform="qq", user_id="1"))
        after_purge = await replies_of_y(memory)
        assert len(after_purge) == 1 and PHONE not in after_purge[0]

        result = await memory.import_export(backup)  # type: ignore[arg-type]
        assert await replies_of_y(memory) == after_purge
        assert await memory.all_summaries("qq:user:2") == []
        # X's room line, and Y's reply that repeated it (and the summary folding it).
        assert result.counts.purged_room_lines == 1
        assert result.counts.purged_messages == 1
        assert result.counts.purged_summaries == 1
        assert result.counts.purged_keys == ["qq:user:1"]
        # Y's own messages were never X's words: they stay, as the purge left them.
        asked = [m.content for m in await memory.all_messages("qq:user:2") if m.role == "user"]
        assert asked == ["亚托莉 刚才谁说话了？", "你好呀，今天过得怎么样"]

        again = await memory.import_export(backup, include_purged=True)  # type: ignore[arg-type]
        assert again.counts.purged_messages == 0
        assert any(PHONE in text for text in await replies_of_y(memory))
        assert any(PHONE in line.content for line in await memory.room.all_lines("qq:chan:g1"))


async def test_the_read_of_her_replies_since_goes_through_messages_replies(
    echo_settings: Settings,
) -> None:
    """Both a purge and a recall (each inside the write lock) read her replies since the
    words they forget by the time they were stored, not the whole table."""
    async with await ChatService.open(echo_settings) as service:
        memory = service.memory
        await service.chat(said(f"我的手机号是{PHONE}", "1"))
        await service.chat(said("亚托莉 刚才谁说话了？", "2", True))
        recall = MessageRef(platform="qq", user_id="1", channel_id="g1", request_id="qq-1-我的手机")
        for change in (
            lambda: service.forget_message(recall),
            lambda: memory.purge("qq:user:1"),
        ):
            ran = await statements_of(memory, change)
            candidates = [sql for sql in ran if "role = 'assistant' AND created_at >=" in sql]
            assert len(candidates) == 1
            steps = await plans(memory, candidates)
            assert steps and all("USING INDEX messages_replies" in step for step in steps), steps
