"""A bot beside a separate worker says her error line in the worker's language."""

from __future__ import annotations

from atri.config import Secrets, Settings
from bot.relay import HttpWorker
from bot.serve import speak_as_the_worker
from model.character.persona import configured_card_path, load_persona, reply_lines
from model.server.app import bind_socket, create_app, serving
from model.service import ChatService
from tests.model.server.conftest import ADMIN_TOKEN

SECRETS = Secrets.from_env({"ATRI_ADMIN_TOKEN": ADMIN_TOKEN})


async def test_her_error_line_is_in_the_language_the_worker_answers_in(
    echo_settings: Settings,
) -> None:
    """The bot's config left `[model] base` at the offline default, so it chose English;
    the worker serves her card in Chinese. Her error line was English beside Chinese
    replies."""
    card = load_persona(configured_card_path(echo_settings))
    echo_settings.persona.language = "zh"
    bot_settings = echo_settings.model_copy(deep=True)
    bot_settings.model.engine = "local"
    bot_settings.model.base = ""
    bot_settings.persona.language = "auto"  # English on the offline default
    english = reply_lines(card.in_language("en"), bot_settings).error
    chinese = reply_lines(card.in_language("zh"), bot_settings).error
    assert english != chinese
    async with (
        await ChatService.open(echo_settings) as service,
        serving(create_app(service, SECRETS), bind_socket("127.0.0.1", 0)) as url,
    ):
        worker = bot_settings.worker.model_copy(update={"url": url})
        async with HttpWorker(worker, SECRETS, error_reply=english) as remote:
            await speak_as_the_worker(remote, bot_settings, card)
            assert remote.error_reply == chinese


async def test_a_worker_not_up_leaves_the_bot_s_own_line(echo_settings: Settings) -> None:
    card = load_persona(configured_card_path(echo_settings))
    worker = echo_settings.worker.model_copy(update={"url": "http://127.0.0.1:9"})
    async with HttpWorker(worker, SECRETS, error_reply="mine") as remote:
        await speak_as_the_worker(remote, echo_settings, card)
        assert remote.error_reply == "mine"
