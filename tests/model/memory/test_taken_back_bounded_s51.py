"""Session 51 on the memory store: `Memory._taken_back` kept an entry for every scope
that ever had an exchange recalled, edited, cut or purged, group chatter never stored as
an exchange included, until the worker restarted (20,000 members each deleting a line:
40,000 entries). Now only a scope whose summary is being written (`Memory.folding`) is
counted, for as long as that lasts, and a summary planned before a take-back is still
refused. Each test runs on a real SQLite file."""

from __future__ import annotations

from pathlib import Path

from model.memory import Memory

EXCHANGE = [
    ("user", "1", "小红", "我的电话是 13800000000", ""),
    ("assistant", "", "ATRI", "好", ""),
]


async def take_back_everywhere(memory: Memory, people: int) -> None:
    """Each person's line recalled, edited, cut and purged in a conversation of its own."""
    for n in range(people):
        scope = f"discord:chan:g/c:user:{n}"
        await memory.archive_request(scope, f"x{n}")
        await memory.reword_message(scope, str(n), f"y{n}", "fixed typo")
        await memory.cut_reply(scope, f"z{n}", "cut")
        await memory.purge_user_in(scope, str(n))


async def test_take_backs_of_scopes_not_being_summarized_are_not_kept(tmp_path: Path) -> None:
    async with await Memory.open(tmp_path / "m.sqlite3") as memory:
        await take_back_everywhere(memory, 300)
        assert len(memory._taken_back) == 0
        assert memory.taken_back("discord:chan:g/c:user:1") == 0


async def test_a_summary_planned_before_a_take_back_is_refused_however_many_others_come(
    tmp_path: Path,
) -> None:
    """What a bound by size would break: the fold's count evicted by others' take-backs
    would read as unchanged, and the summary holding the recalled text be stored."""
    async with await Memory.open(tmp_path / "m.sqlite3") as memory:
        await memory.append_many("qq:user:1", EXCHANGE, "m1")
        up_to = (await memory.history("qq:user:1"))[-1].id
        with memory.folding("qq:user:1"):
            taken_back = memory.taken_back("qq:user:1")  # as `Summarizer.fold` reads it
            # Edited out: the message stays live, so only the count refuses the summary.
            assert await memory.reword_message("qq:user:1", "1", "m1", "不告诉你") == 1
            await take_back_everywhere(memory, 300)
            assert set(memory._taken_back) == {"qq:user:1"}
            assert memory.taken_back("qq:user:1") == taken_back + 1
            stored = await memory.add_summary(
                "qq:user:1", "- 13800000000", up_to, taken_back=taken_back
            )
        assert not stored
        assert len(memory._taken_back) == 0 and len(memory._folding) == 0


async def test_a_count_lasts_until_the_last_fold_of_its_scope_ends(tmp_path: Path) -> None:
    async with await Memory.open(tmp_path / "m.sqlite3") as memory:
        with memory.folding("qq:user:1"):
            with memory.folding("qq:user:1"):
                await memory.cut_reply("qq:user:1", "m1", "cut")
            assert memory.taken_back("qq:user:1") == 1  # the outer fold still sees it
        assert memory.taken_back("qq:user:1") == 0
        assert len(memory._taken_back) == 0
