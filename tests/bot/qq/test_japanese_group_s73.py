"""Session 73, a Japanese QQ group over a real OneBot v11 WebSocket, and the console.

Her name set apart by the Japanese comma (アトリ、…) or by ！ or ？ did not call her by
name: the name stayed in what she read, and 「アトリ、記憶をリセット」 was chatted about,
not a reset. ＡＴＲＩ and ｱﾄﾘ, an input method's widths of her names, got no reply, nor
did `／ａｔｒｉ　ヘルプ` or `/ATRI help`. The mode and group commands had no Japanese
words, and the console refused `/atri 状態`, which QQ's help teaches."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect

from bot.console import RESET_NOTE
from bot.lines import lines_for
from bot.qq.text import reply_parts
from tests.bot.qq.events import SELF_ID, SUPERUSER_ID
from tests.bot.qq.test_serve_e2e import (
    HEADERS,
    answer,
    check_quoted_reply,
    group_message,
    next_action,
    serving,
)
from tests.bot.test_console import run_chat

# Her card for a Japanese fan group: アトリ, and ATRI; no half-width ｱﾄﾘ listed.
CARD = """
language = "ja"
name = "アトリ"
user_name = "夏生"
aliases = ["ATRI"]
description = "アトリは海の底で眠っていたアンドロイドの少女。"
personality = "明るく、負けず嫌い。"
scenario = "夏、半分海に沈んだ町。"
greeting = "おはようございます、{{user}}さん！"
"""
PERSONA = '[persona]\ncard = "atri_ja.toml"\nlanguage = "ja"'
HEARD = "アトリに聞こえたよ："
SAID = lines_for("アトリ", "ja")
# An @ of her: answered after any reply to a message sent before it.
CONTROL = [{"type": "at", "data": {"qq": SELF_ID}}, {"type": "text", "data": {"text": " 確かめ"}}]


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("ja")
    (folder / "atri_ja.toml").write_text(CARD, encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def ja_url(root: Path) -> Iterator[str]:
    with serving(root, extra=PERSONA) as url:
        yield url


async def _answers(ws: ClientConnection, event: dict[str, Any], parts: int = 1) -> str:
    """Report `event`; the text of her reply to it (its `parts` sends joined)."""
    await ws.send(json.dumps(event))
    texts = []
    for part in range(parts):
        action = await next_action(ws)
        await answer(ws, action, {"message_id": 90_000 + part})
        if part == 0:
            texts.append(check_quoted_reply(action["params"]["message"], event))
        else:
            texts.append("".join(s["data"]["text"] for s in action["params"]["message"]))
    return "\n".join(texts)


async def _silent(ws: ClientConnection, message: str, user_id: int) -> None:
    """`message` gets no reply: the next send answers a control message sent after it."""
    await ws.send(json.dumps(group_message(message, user_id=user_id)))
    control = group_message(CONTROL, user_id=user_id)
    assert await _answers(ws, control) == HEARD + "確かめ"


async def test_her_name_set_apart_or_in_any_width_calls_her_and_is_left_out(
    ja_url: str,
) -> None:
    said = {
        "アトリ、おはよう": "おはよう",
        "アトリ！おはよう": "おはよう",
        "atri、やっほー": "やっほー",
        "ATRI? 元気": "元気",
        "アトリ，おはよう": "おはよう",  # as before: the full-width comma
        "ＡＴＲＩ　こんにちは": "こんにちは",
        "ｱﾄﾘ おはよう": "おはよう",
        "ＡＴＲＩ、元気？": "元気？",
        "Ａｔｒｉ、元気？": "元気？",
        # Running on into the sentence, the name stays in what she reads.
        "アトリちゃん元気？": "アトリちゃん元気？",
        "ｱﾄﾘちゃん元気？": "ｱﾄﾘちゃん元気？",
    }
    async with connect(ja_url, additional_headers=HEADERS) as ws:
        for user, (message, heard) in enumerate(said.items(), start=7300):
            assert await _answers(ws, group_message(message, user_id=user)) == HEARD + heard
        # Only the start of a longer word, in any width: not her name.
        for message in ("アトリエシリーズ最高", "ｱﾄﾘｴ最高", "ＡＴＲＩＵＭ 很漂亮"):
            await _silent(ws, message, user_id=7320)


async def test_her_reset_keyword_after_her_name_and_the_japanese_comma_resets(
    ja_url: str,
) -> None:
    async with connect(ja_url, additional_headers=HEADERS) as ws:
        event = group_message("アトリ、おはよう", user_id=7330)
        assert await _answers(ws, event) == HEARD + "おはよう"
        event = group_message("アトリ、記憶をリセット", user_id=7330)
        assert await _answers(ws, event) == SAID.counted(SAID.reset_done, count=2)
        event = group_message("ＡＴＲＩ！記憶を　リセット", user_id=7331)
        assert await _answers(ws, event) == SAID.counted(SAID.reset_done, count=0)


async def test_the_command_name_in_any_width_and_the_japanese_words(ja_url: str) -> None:
    usage = reply_parts(SAID.qq_usage, 500, 4)
    owner = int(SUPERUSER_ID)
    async with connect(ja_url, additional_headers=HEADERS) as ws:
        for typed in ("／ａｔｒｉ　ヘルプ", "/ATRI help", "/atri ﾍﾙﾌﾟ"):
            event = group_message(typed, user_id=7340)
            assert await _answers(ws, event, parts=len(usage)) == "\n".join(usage)
        status = await _answers(ws, group_message("/ATRI 状態", user_id=7341))
        assert status.startswith(SAID.status_version.format(version=SAID.base_model))
        for typed, done in [
            ("/atri モード オフ", SAID.mode_off),
            ("/atri モード すべて", SAID.mode_all),
            ("/atri モード オン", SAID.mode_mention),
        ]:
            assert await _answers(ws, group_message(typed, user_id=owner)) == done
        group_reset = SAID.counted(SAID.channel_reset_done, count=0)
        assert await _answers(ws, group_message("/atri reset グループ", user_id=owner)) == (
            group_reset
        )
    for word in ("モード", "グループ", "オフ", "オン", "全部"):  # the help names them
        assert word in SAID.qq_usage
    # One sentence, not broken after 「メッセージに」.
    assert SAID.qq_usage.splitlines()[0].endswith(
        "メッセージに返信してね。個別チャットでは、そのまま話しかけてね。"
    )


def test_the_console_takes_the_command_words_qq_teaches(root: Path) -> None:
    config = root / "console.toml"
    config.write_text(
        f'[model]\nengine = "echo"\n{PERSONA}\n[memory]\npath = "console.sqlite3"\n',
        encoding="utf-8",
    )
    result = run_chat(config, ["/atri 状態", "/atri リセット", "／ＡＴＲＩ 重置", "/atri ヘルプ"])
    shown = result.stdout
    assert result.returncode == 0, result.stderr
    assert "Unknown command" not in shown and HEARD not in shown
    assert "Engine echo" in shown
    assert shown.count(RESET_NOTE) == 2
