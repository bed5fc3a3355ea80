"""QQ's reset keyword follows the language she speaks ("reset memory", 記憶をリセット),
and the Chinese 重置记忆 works in every language; `[bot] command_name` renames the slash
command, not the keyword, and the usage text names both as they are."""

from __future__ import annotations

from types import ModuleType

import pytest
from nonebot.adapters.onebot.v11 import Bot
from nonebug import App

from bot import lines
from model.service import ChatService
from tests.bot.qq.events import SELF_ID, group_event
from tests.bot.qq.test_matchers import expect_reply, remembered, say

FORGOTTEN = {
    "zh": "好的，亚托莉不会再接着我们之前的对话了（2 条）：它只是存档，没有删除，要彻底删除请用 /atri forget。重新开始吧！",
    "en": "OK, ATRI won't go on from our conversation (2 messages): it is archived, not deleted; /atri forget deletes it for good. Let's start over!",
    "ja": "わかった、アトリはもうわたしたちの会話の続きをしないよ（2 件）。削除ではなく保管だから、完全に消すなら /atri forget を使ってね。また最初から話そう！",
}
NAMES = {"zh": "亚托莉", "en": "ATRI", "ja": "アトリ"}


@pytest.mark.parametrize(
    ("language", "words"),
    [
        ("en", "reset memory"),
        ("en", "  Reset   Memory "),
        ("ja", "記憶をリセット"),
        ("en", "重置记忆"),
        ("ja", "重置记忆"),
    ],
)
async def test_the_keyword_of_her_language_and_the_chinese_one_reset(
    app: App, plugin: ModuleType, echo_service: ChatService, language: str, words: str
) -> None:
    lines.use_character(NAMES[language], language)
    await say(echo_service, "4000")
    async with app.test_matcher() as ctx:
        bot = ctx.create_bot(base=Bot, self_id=SELF_ID)
        event = group_event(words, user_id=4000)
        ctx.receive_event(bot, event)
        ctx.should_pass_rule(plugin.reset_words)
        expect_reply(ctx, event, FORGOTTEN[language])
    assert await remembered(echo_service, "4000") == 0


async def test_another_languages_keyword_is_no_command(plugin: ModuleType) -> None:
    """In Chinese, "reset memory" is words to her (a member writing English in a Chinese
    group), and so is the Japanese keyword; in English, the Japanese one is."""
    for language, words in (
        ("zh", "reset memory"),
        ("zh", "記憶をリセット"),
        ("en", "記憶をリセット"),
    ):
        lines.use_character(NAMES[language], language)
        assert not await plugin._reset_keyword(group_event(words))
        assert not await plugin._reset_keyword(group_event(f"please {words}"))


@pytest.mark.parametrize("language", ["zh", "en", "ja"])
def test_the_usage_names_the_renamed_command_and_the_keyword_that_works(language: str) -> None:
    lines.use_character(NAMES[language], language)
    usage = lines.use_command("eileen").qq_usage
    keyword = lines.lines().qq_reset_keyword
    reset_line = next(line for line in usage.splitlines() if line.startswith("/eileen reset "))
    assert keyword in reset_line and "/atri" not in usage
    assert {"zh": "或", "en": " or ", "ja": "または"}[language] in reset_line
