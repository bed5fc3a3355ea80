"""An edit of a message a reset had archived: the archived summary that folded its old
text in went on holding it (a phone number edited out stayed in `atri memory show
--archived`, in backups and in the file), though an edit promises the old text gone from
the database."""

from __future__ import annotations

from pathlib import Path

from model.memory.store import Memory


async def test_an_edit_after_a_reset_drops_the_archived_summary_holding_the_old_text(
    tmp_path: Path,
) -> None:
    path = tmp_path / "m.sqlite3"
    memory = await Memory.open(path)
    try:
        await memory.append_many(
            "s",
            [("user", "7", "", "call DAVE-PHONE-OLD", ""), ("assistant", "", "", "ok", "")],
            "m1",
        )
        await memory.append_many(
            "s", [("user", "7", "", "later", ""), ("assistant", "", "", "sure", "")], "m2"
        )
        assert await memory.add_summary("s", "- they gave DAVE-PHONE-OLD", 2)
        assert await memory.reset("s") == 4
        # The conversation goes on after the reset; then the old message is edited.
        await memory.append_many(
            "s", [("user", "7", "", "hello again", ""), ("assistant", "", "", "hi", "")], "m3"
        )
        assert await memory.reword_message("s", "7", "m1", "call [removed]") == 1
        texts = [m.content for m in await memory.all_messages("s")]
        assert "call [removed]" in texts
    finally:
        await memory.close()
    assert b"DAVE-PHONE-OLD" not in path.read_bytes()
