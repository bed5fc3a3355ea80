"""`atri prep` warns that the aliases name another character than the card only when dataprep
would not match them to the card's names either."""

from __future__ import annotations

import pytest

from atri.cli import card_mismatch_note
from atri.config import DataprepSettings, Settings


def settings_with(*aliases: str) -> Settings:
    return Settings(dataprep=DataprepSettings(character_aliases=list(aliases)))


@pytest.mark.parametrize(
    "alias",
    ["ATRI（微笑）", "ＡＴＲＩ", "A TRI", "AT\u200bRI", "【亚托莉】", "atri (smiling)"],
)
def test_an_alias_dataprep_matches_to_the_card_is_no_mismatch(alias: str) -> None:
    assert card_mismatch_note("ATRI", ["亚托莉"], settings_with(alias)) == ""


def test_an_alias_naming_another_character_is_still_told() -> None:
    note = card_mismatch_note("ATRI", ["亚托莉"], settings_with("Mio", "ＭＩＯ"))
    assert "character_aliases (Mio, ＭＩＯ) hold none of the names of ATRI" in note
