"""Session 64: two members of one name, each in a fold of their own, are told apart in
the summary. The collision was looked for in the fold's exchanges alone: both were plain
小明, and the summary (which leads every later prompt) had one 小明 who owed money and
never borrowed any, who kept a cat and was allergic to cats."""

from __future__ import annotations

from atri.config import Settings
from model.memory import Memory, Message
from model.service import ChatService
from model.summaries import LABELS, people_named, plan_fold


def _said(i: int, user: str, name: str, text: str, role: str = "user") -> Message:
    return Message(i, "qq:chan:g1", role, user, name, text, 0.0, "", False)


def test_a_fold_names_a_member_whose_name_another_of_the_conversation_has() -> None:
    first_fold = [
        _said(1, "101", "小明", "我欠小红一百块钱"),
        _said(2, "", "", "记住了", "assistant"),
        _said(3, "101", "小明", "我养了一只猫叫Mochi"),
    ]
    everyone = {("101", "小明"), ("202", "小明")}
    plan = plan_fold(None, first_fold, 1, "总结", "亚托莉", LABELS["zh"], len, 10_000, everyone)
    assert plan is not None
    assert plan.transcript.splitlines()[0] == "小明(101)：我欠小红一百块钱"
    alone = plan_fold(None, first_fold, 1, "总结", "亚托莉", LABELS["zh"], len, 10_000)
    assert alone is not None and alone.transcript.startswith("小明：")


async def test_the_speakers_of_a_scope_are_read_once_each(echo_settings: Settings) -> None:
    async with await Memory.open(echo_settings.path(echo_settings.memory.path)) as memory:
        for user, name, text in [("101", "小明", "a"), ("202", "小明", "b"), ("101", "小明", "c")]:
            await memory.append("qq:chan:g1", "user", user, text, display_name=name)
        await memory.append("qq:chan:g1", "assistant", "", "d")
        speakers = await memory.speakers_of("qq:chan:g1")
    assert people_named(speakers) == {("101", "小明"), ("202", "小明")}


async def test_the_summarizer_tells_them_apart_across_folds(echo_settings: Settings) -> None:
    """Through the service: the fold's request names each 小明 by id."""
    echo_settings.memory.scope = "channel"
    async with await ChatService.open(echo_settings) as service:
        assert service.summarizer is not None
        memory = service.memory
        for i, (user, text) in enumerate(
            [("101", "我欠小红一百块钱"), ("202", "我从来不借钱给别人"), ("101", "还有吗")]
        ):
            await memory.append("qq:chan:g1", "user", user, text, display_name="小明")
            await memory.append("qq:chan:g1", "assistant", "", f"好的{i}")
        asked: list[str] = []
        generate = service.summarizer._generate

        async def seen(messages: list[dict[str, str]]) -> object:
            asked.append(messages[-1]["content"])
            return await generate(messages)

        service.summarizer._generate = seen  # type: ignore[method-assign]
        service.summarizer.fold_exchanges = 1
        assert await service.summarizer.fold("qq:chan:g1")
    assert "小明(101)：我欠小红一百块钱" in asked[0]
