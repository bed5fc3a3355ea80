"""The QQ plugin run standalone: loaded by someone's own NoneBot project (`nb run`), not
by `atri serve`, which hands the plugin its worker and config.toml's language before it
loads it. Standalone, the plugin reads its keys from that project's .env, speaks
`ATRI_LANGUAGE` and reaches `atri worker` over HTTP (`ATRI_WORKER_URL`).

The plugin (`bot.qq.atri`) calls `configure_plugin` once, when NoneBot imports it.
"""

from __future__ import annotations

import logging
import re

from nonebot import get_driver

from atri.config import Secrets, Settings, WorkerSettings
from bot.lines import use_card, use_character
from bot.qq import NoWorker, current_worker, set_worker
from bot.qq.config import Config, PluginConfigError, read_plugin_config
from model.character.persona import configured_card_path, load_persona

log = logging.getLogger(__name__)

# Her name among a card's aliases in a language it has no version in (ATRI's アトリ).
_WRITTEN_IN = {"ja": re.compile(r"[\u3040-\u30ff]"), "en": re.compile(r"^[A-Za-z][A-Za-z .'-]*$")}


def configure_plugin() -> Config:
    """The plugin's config. Standalone, also the bots' lines in `ATRI_LANGUAGE` and the
    worker reached over HTTP; without `ATRI_WORKER_URL` the project stops with one
    sentence (no plugin could answer anyone)."""
    config = _read_config()
    if config.atri_language and not _serving():
        # Standalone: the description NoneBot reads now, and the rest of the bots' lines
        # until the worker answers; under `atri serve` they already speak config.toml's
        # language (`bot.serve` sets them before it loads the plugin).
        _speak_standalone_language(_standalone_settings(config))
    try:
        _connect_standalone_worker(config)
    except NoWorker as exc:
        raise SystemExit(str(exc)) from None
    return config


def _serving() -> bool:
    """Under `atri serve`, which hands the plugin its worker before loading it."""
    try:
        current_worker()
    except NoWorker:
        return False
    return True


def _read_config() -> Config:
    """Standalone, a key the plugin cannot use stops the project with its one sentence:
    NoneBot would log a traceback and run on without the plugin, answering nobody."""
    serving = _serving()
    try:
        return read_plugin_config(serving)
    except PluginConfigError as exc:
        if serving:
            raise
        raise SystemExit(f"ATRI's QQ plugin: {exc}") from None


def _standalone_settings(config: Config) -> Settings:
    """What a plugin in someone's own NoneBot project knows of ATRI's config: her worker,
    her error line and `ATRI_LANGUAGE` (it has no config.toml; the card is ATRI's)."""
    worker = WorkerSettings(url=config.atri_worker_url, error_reply=config.atri_error_reply)
    own = Settings(worker=worker)
    if config.atri_language:
        own.persona.language = config.atri_language
    return own


def _speak_standalone_language(own: Settings) -> None:
    """Standalone with `ATRI_LANGUAGE`: the bots speak it, naming her as the card does in
    it (or by an alias written in it), until the worker says who she is."""
    language = own.persona.language
    card = load_persona(configured_card_path(own))
    if language in card.languages:
        use_card(own, card)
        return
    written = _WRITTEN_IN.get(language)
    names = [a for a in card.aliases if written is not None and written.search(a)]
    use_character(names[0] if names else card.name, language)


def _connect_standalone_worker(config: Config) -> None:
    """In someone's own NoneBot project: reach `atri worker` over HTTP."""
    try:
        current_worker()
        return  # `atri serve` handed us its in-process worker
    except NoWorker:
        if not config.atri_worker_url:
            raise
    from bot.relay import HttpWorker

    own = _standalone_settings(config)
    http = HttpWorker(own.worker, Secrets.from_env())
    set_worker(http)
    get_driver().on_shutdown(http.aclose)

    @get_driver().on_startup
    async def check_release() -> None:
        """`atri serve` stops on a worker of another release; in someone's own NoneBot
        project that would stop their other plugins too, so it is said, loudly, once at
        start-up: every message then gets her error line until the two match."""
        from bot.relay import OtherRelease, speak_as_the_worker

        try:
            await http.check_release()
        except OtherRelease as exc:
            log.error("%s Until then ATRI answers every message with her error line.", exc)
            return
        # Her error line in the worker's language, as under `atri serve`: left at its
        # default it was her Chinese line beside a worker's English replies. The bots'
        # own lines (usage, reset answers, the picture, poke and forward notes put into
        # her prompt) follow the worker's character and language the same way: they
        # named ATRI in Chinese beside an English Eileen. The card is ATRI's packaged
        # one (a plugin has no config.toml to name another).
        await speak_as_the_worker(http, own, load_persona(configured_card_path(own)))
