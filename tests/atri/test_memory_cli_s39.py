"""`atri memory reset` of someone whose words are only in channels' shared conversations."""

from __future__ import annotations

from pathlib import Path

from model.memory import Memory
from tests.atri.memory_cli import atri, memory_config


async def _shared_only(memory: Memory) -> None:
    # `[memory] scope = "channel"`: the group's conversation is everyone's there.
    await memory.append_many(
        "qq:chan:500",
        [("user", "42", "小李", "我明天去大阪", ""), ("assistant", "", "", "一路平安！", "")],
        "m1",
    )


def test_a_reset_of_a_user_with_only_shared_conversations_says_where_their_words_are(
    tmp_path: Path,
) -> None:
    """It said "Reset qq:user:42: 0 messages archived.", as if it had failed, and left
    the user with no idea where their words were or what would remove them."""
    config = memory_config(tmp_path, _shared_only)
    code, out = atri(config, "memory", "reset", "qq:user:42")
    assert code == 0
    assert "Nothing reset: qq:user:42 has no conversation of their own" in out
    said = " ".join(out.split())
    # Pasted, it acts on this config's database (s66: it had no --config).
    assert "qq:chan:500" in said and f"atri --config {config} memory purge qq:user:42" in said
    assert "0 messages" not in out
    # The group's conversation is as it was.
    code, out = atri(config, "memory", "show", "qq:chan:500")
    assert "我明天去大阪" in out and "(archived)" not in out
