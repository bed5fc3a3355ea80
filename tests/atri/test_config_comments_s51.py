"""The shipped config.toml's comments say what the code does in the cases they had left
out: an empty base, the echo engine's language, the busy reply on a rate limit."""

from __future__ import annotations

import re
from pathlib import Path

from atri.config import Settings
from model.character.persona import PACKAGED_CARD, chosen_language, load_persona
from model.engines.offline_gguf import is_offline_default

COMMENTS = " ".join(
    line.lstrip("# ").strip()
    for line in (Path(__file__).parents[2] / "config.toml").read_text(encoding="utf-8").splitlines()
    if line.startswith("#")
)


def test_an_empty_base_is_the_offline_default_as_the_comment_says() -> None:
    assert is_offline_default("")
    assert '"" means it too' in COMMENTS


def test_the_echo_engine_speaks_the_cards_main_language_as_the_comment_says() -> None:
    card = load_persona(PACKAGED_CARD)
    settings = Settings()
    settings.model.engine = "echo"
    assert chosen_language(settings, card) == card.main_language != "en"
    assert re.search(r'with engine = "echo" or "openai"', COMMENTS)


def test_the_busy_reply_comment_names_the_rate_limit() -> None:
    assert "passes rate_limit_per_minute" in COMMENTS
