"""The card's names are compared with `[dataprep] character_aliases` after the same
Traditional → Simplified conversion prep gives speakers' names."""

from __future__ import annotations

from atri.cli import card_mismatch_note
from atri.config import DataprepSettings, Settings


def settings_with(aliases: list[str], convert: bool) -> Settings:
    return Settings(
        dataprep=DataprepSettings(character_aliases=aliases, traditional_to_simplified=convert)
    )


def test_a_traditional_card_name_matches_simplified_aliases_when_prep_converts() -> None:
    assert card_mismatch_note("亞托莉", [], settings_with(["亚托莉"], convert=True)) == ""
    assert card_mismatch_note("ATRI", ["亞托莉"], settings_with(["亚托莉"], convert=True)) == ""


def test_without_the_conversion_the_two_spellings_still_differ() -> None:
    note = card_mismatch_note("亞托莉", [], settings_with(["亚托莉"], convert=False))
    assert "character_aliases (亚托莉) hold none of the names of 亞托莉" in note
    note = card_mismatch_note("亞托莉", [], settings_with(["水菜萌"], convert=True))
    assert "hold none of the names of 亞托莉" in note
