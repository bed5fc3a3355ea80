"""Session 68: Bob quoted Alice's "oops my phone 139-ALICE-RECALLED" and asked ATRI about
it; Alice recalled her message, and even a purge of Alice left her words in Bob's (or the
group's) conversation, since the quote note was the stored message. The quoted words are
now read for that one reply (`ChatRequest.with_quote`); what is stored names only whose
message it quoted. The real service on a real SQLite file, its prompts recorded."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from atri.config import Settings
from model.engines.base import Generation
from model.engines.echo import EchoEngine
from model.protocol import ChatRequest, ScopeRef
from model.service import ChatService

ALICE, BOB = "41", "42"
PHONE = "139-ALICE-RECALLED"
KEPT = "（引用了Alice的消息）"
SHOWN = f"（引用了Alice的消息：oops my phone {PHONE}）"
ANSWER = "嗯，看到了"


class QuietEngine(EchoEngine):
    """Records every prompt and answers the same line: her reply holds no quoted words,
    so whatever of them is stored came from the message."""

    def __init__(self) -> None:
        super().__init__()
        self.prompts: list[list[dict[str, str]]] = []

    async def generate(self, batch, gen, limits=None):  # type: ignore[no-untyped-def]
        self.prompts += batch
        return [Generation(text=ANSWER, new_tokens=len(ANSWER)) for _ in batch]


def quoting(words: str, addressed: bool = True, request_id: str = "qq-2") -> ChatRequest:
    """Bob's message quoting Alice's, as the QQ bot sends it."""
    return ChatRequest(
        platform="qq",
        user_id=BOB,
        display_name="Bob",
        text=KEPT + words,
        with_quote=SHOWN + words,
        channel_id="g1",
        addressed=addressed,
        request_id=request_id,
    )


def rows_holding(db: Path, text: str) -> list[str]:
    """Every text in the database file holding `text`: messages, room lines, summaries."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        tables = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
        found = []
        for (table,) in tables:
            for column in [row[1] for row in conn.execute(f'PRAGMA table_info("{table}")')]:
                query = f'SELECT "{column}" FROM "{table}" WHERE CAST("{column}" AS TEXT) LIKE ?'
                found += [str(value) for (value,) in conn.execute(query, (f"%{text}%",))]
    return found


def last_turn(prompt: list[dict[str, str]]) -> str:
    return prompt[-1]["content"]


@pytest.fixture(params=["channel", "user"])
def settings_for(echo_settings: Settings, request: pytest.FixtureRequest) -> Settings:
    echo_settings.memory.scope = request.param
    return echo_settings


async def test_the_quoted_words_are_in_that_prompt_only_and_never_stored(
    settings_for: Settings,
) -> None:
    engine = QuietEngine()
    async with await ChatService.open(settings_for, engine) as service:
        reply = await service.chat(quoting("did you see that?"))
        assert (reply.status, reply.text) == ("ok", ANSWER)
        assert last_turn(engine.prompts[0]).endswith(SHOWN + "did you see that?")
        scope = ScopeRef(platform="qq", user_id=BOB, channel_id="g1")
        remembered = await service.remembered(scope)
        assert [t.content for t in remembered.turns] == [KEPT + "did you see that?", ANSWER]
        # Her next prompt reads the stored message: whose message it quoted, not its words.
        await service.chat(quoting("还记得吗", request_id="qq-3"))
        history = "\n".join(m["content"] for m in engine.prompts[1][:-1])
        assert KEPT + "did you see that?" in history and PHONE not in history
        assert last_turn(engine.prompts[1]).endswith(SHOWN + "还记得吗")
        # A purge of Alice has nothing of hers to find in Bob's conversation: none is there.
        await service.purge(ScopeRef(platform="qq", user_id=ALICE))
    assert rows_holding(Path(settings_for.memory.path), PHONE) == []


async def test_a_heard_quote_keeps_only_whose_message_in_its_room_line(
    echo_settings: Settings,
) -> None:
    engine = QuietEngine()
    async with await ChatService.open(echo_settings, engine) as service:
        heard = await service.chat(quoting("lol", addressed=False))
        assert heard.status == "heard"
        lines = await service.memory.room.all_lines("qq:chan:g1")
        assert [line.content for line in lines] == [KEPT + "lol"]
        asked = quoting("在吗", request_id="qq-3").model_copy(update={"with_quote": ""})
        await service.chat(asked)
    (prompt,) = engine.prompts
    assert f"Bob：{KEPT}lol" in last_turn(prompt)
    assert PHONE not in "\n".join(m["content"] for m in prompt)
    assert rows_holding(Path(echo_settings.memory.path), PHONE) == []


async def test_an_edit_of_a_quoting_message_stores_it_the_same_way(
    echo_settings: Settings,
) -> None:
    engine = QuietEngine()
    async with await ChatService.open(echo_settings, engine) as service:
        asked = quoting("did you see that?")
        assert (await service.chat(asked)).status == "ok"
        edited = asked.model_copy(
            update={"text": KEPT + "did you see it?", "with_quote": SHOWN + "did you see it?"}
        )
        assert (await service.chat(edited.as_edit())).status == "heard"
        remembered = await service.remembered(ScopeRef(platform="qq", user_id=BOB, channel_id="g1"))
    assert [t.content for t in remembered.turns] == [KEPT + "did you see it?", ANSWER]
    assert rows_holding(Path(echo_settings.memory.path), PHONE) == []


async def test_a_message_too_long_for_the_prompt_is_stored_as_the_end_it_read(
    echo_settings: Settings,
) -> None:
    """The prompt keeps the end of a message longer than the window; so does memory, of
    the stored text."""
    engine = QuietEngine()
    words = "喵" * 40_000 + "完"
    async with await ChatService.open(echo_settings, engine) as service:
        assert (await service.chat(quoting(words))).status == "ok"
        remembered = await service.remembered(ScopeRef(platform="qq", user_id=BOB, channel_id="g1"))
    seen = last_turn(engine.prompts[0])
    stored = remembered.turns[0].content
    assert len(seen) < len(words) and stored == words[-len(seen) :]
