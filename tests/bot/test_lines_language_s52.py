"""The bots' own lines (command answers, slash-command menu, the notes put into her
prompt) are in the language she is served in and name her as that language does: ATRI's
card is written in Chinese, but served in English her chats got Chinese lines naming
亚托莉 beside English replies naming ATRI, and a Chinese sticker note pulled her English
replies into Chinese."""

from __future__ import annotations

from pathlib import Path

from atri.config import Secrets, Settings
from bot import commands, lines
from bot.commands import Actor
from bot.lines import lines_for, use_card, use_character
from bot.relay import HttpWorker, speak_as_the_worker
from model.character.persona import configured_card_path, load_persona
from model.server.app import bind_socket, create_app, serving
from model.service import ChatService
from tests.model.server.conftest import ADMIN_TOKEN

SECRETS = Secrets.from_env({"ATRI_ADMIN_TOKEN": ADMIN_TOKEN})


def atri_in(language: str, engine: str = "local") -> Settings:
    settings = Settings()
    settings.persona.language = language
    settings.model.engine = engine  # type: ignore[assignment]
    return settings


def test_atri_served_in_english_gets_english_lines_naming_atri() -> None:
    said = use_card(atri_in("en"))
    assert said.refused == "Only admins can do that. ATRI will keep to the rules!"
    assert said.sticker_note.format(sticker="Wave") == "(sent a sticker: Wave)"
    assert said.picture_note == "(sent a picture)"
    assert said.slash_reset == "Make ATRI forget your conversation"
    assert lines.lines() is said


def test_the_language_auto_chooses_is_the_lines_language() -> None:
    # The offline default model knows only English: "auto" serves her English version.
    assert use_card(atri_in("auto")) == lines_for("ATRI", "en")
    # Echo runs no base model: "auto" is the card's own language, Chinese.
    assert use_card(atri_in("auto", engine="echo")) == lines_for("亚托莉", "zh")
    assert use_card(atri_in("zh")) == lines_for("亚托莉", "zh")


async def test_a_command_answers_in_the_language_she_is_served_in(
    echo_service: ChatService,
) -> None:
    use_card(atri_in("en"))
    member = Actor(platform="test", user_id="m1", is_admin=False)
    answer = await commands.reset_self(echo_service, member)
    assert answer.text.startswith("OK, ATRI won't go on from our conversation")


def test_a_character_in_a_language_without_lines_keeps_the_lines() -> None:
    before = use_card(atri_in("en"))
    assert use_character("Minji", "ko") is None
    assert use_character("Minji", "") is None  # a worker too old to say its language
    assert lines.lines() is before
    assert use_character("ユキ", "ja") == lines_for("ユキ", "ja")


async def test_a_separate_workers_character_sets_the_lines(
    tmp_path: Path, echo_settings: Settings
) -> None:
    """A bot (ATRI's card, Chinese by its own config) beside a worker serving English
    Eileen: the plugin in someone's own NoneBot project, or `atri serve` with
    `[worker] url`. Only her error line was learned; every other line named 亚托莉."""
    eileen = tmp_path / "eileen.toml"
    eileen.write_text('name = "Eileen"\nlanguage = "en"\n', encoding="utf-8")
    echo_settings.persona.card = str(eileen)
    bot = atri_in("zh")
    use_card(bot)
    async with (
        await ChatService.open(echo_settings) as service,
        serving(create_app(service, SECRETS), bind_socket("127.0.0.1", 0)) as url,  # type: ignore[arg-type]
    ):
        worker = bot.worker.model_copy(update={"url": url})
        async with HttpWorker(worker, SECRETS) as remote:
            await speak_as_the_worker(remote, bot, load_persona(configured_card_path(bot)))
    assert lines.lines() == lines_for("Eileen", "en")
    assert lines.lines().qq_usage.startswith("Chat with Eileen:")


def test_the_japanese_usage_shows_no_chinese_keyword() -> None:
    """QQ's reset keyword is the Chinese 重置记忆 whatever the language: the Japanese
    usage text showed it; it shows the slash command, as the English one does."""
    usage = lines_for("ユキ", "ja").qq_usage
    assert "重置记忆" not in usage
    assert "/atri reset または 記憶をリセット — あなたとの会話を忘れる" in usage  # its own keyword
    assert "重置记忆" in lines_for("雪", "zh").qq_usage  # the keyword works there
