"""A TOML card's keys that are no field of the card (`background`, `[[character_book]]`, as
a SillyTavern author writes them) are named in the card's notes with the key to write
instead, and its lore entries are counted as a JSON card's lorebook is: before, they did
nothing and nothing said so."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from typer.testing import CliRunner

from atri.cli import app
from model.character.persona import load_persona
from tests.cli_output import says

# The tester's card (/tmp/s72/play_knowledge/lore_card.toml).
LORE_CARD = """\
language = "en"
name = "ATRI"
description = "ATRI is a high-performance robot girl."
greeting = "Good morning, {{user}}!"
lore = ["The town is sinking into the sea."]
background = ["Eden is the floating city of the rich."]

[[character_book]]
keys = ["Minamo"]
content = "Minamo is Natsuki's childhood friend."

[[keyword_lore]]
keys = ["Ryuji"]
content = "Ryuji is loud."
"""


def card(tmp_path: Path, text: str = LORE_CARD) -> Path:
    path = tmp_path / "lore_card.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_unknown_keys_are_named_in_one_note_with_the_lore_keys_to_write(tmp_path: Path) -> None:
    persona = load_persona(card(tmp_path))
    ignored = [n for n in persona.unused if "not keys of a TOML card" in n]
    assert len(ignored) == 1, persona.unused
    assert ignored[0].startswith("background, character_book: not keys of a TOML card")
    assert "`lore`" in ignored[0] and "`[[keyword_lore]]`" in ignored[0]
    assert "write background as lore, character_book as keyword_lore" in ignored[0]


def test_a_key_without_an_alias_is_named_without_a_suggestion(tmp_path: Path) -> None:
    persona = load_persona(card(tmp_path, 'name = "Mio"\nhobby = "chess"\n'))
    assert len(persona.unused) == 1, persona.unused
    assert persona.unused[0].startswith("hobby: not keys of a TOML card, so ignored")
    assert "write " not in persona.unused[0]


def test_a_translations_unknown_keys_are_named_in_its_version(tmp_path: Path) -> None:
    text = 'name = "Mio"\nbackground = ["x"]\n[translations.ja]\nname = "ミオ"\nfacts = ["y"]\n'
    persona = load_persona(card(tmp_path, text))
    japanese = persona.in_language("ja").unused
    assert any(n.startswith("[translations.ja] facts:") and "facts as lore" in n for n in japanese)
    # The top's ignored key is in the file whichever version is used.
    assert any(n.startswith("background:") for n in japanese), japanese
    assert not any("[translations.ja]" in n for n in persona.unused), persona.unused


def test_the_packaged_card_has_no_ignored_keys() -> None:
    persona = load_persona()
    for version in (persona, *persona.translations.values()):
        assert not any("not keys of a TOML card" in n for n in version.unused), version.unused


def test_lore_entries_are_counted_as_a_json_cards_are(tmp_path: Path) -> None:
    persona = load_persona(card(tmp_path))
    assert (
        "lore and keyword_lore: 1 entry always in the system prompt; 1 entry with keys, "
        "told where one is in the last 4 messages" in persona.unused
    ), persona.unused
    only_facts = load_persona(card(tmp_path, 'name = "Mio"\nlore = ["a", "b"]\n'))
    assert only_facts.unused == []  # both are in the prompt `atri persona show` prints


def test_persona_show_names_the_ignored_keys_and_counts_the_lore(tmp_path: Path) -> None:
    card(tmp_path)
    config = tmp_path / "config.toml"
    config.write_text('[persona]\ncard = "lore_card.toml"\n', encoding="utf-8")
    result = CliRunner().invoke(app, ["--config", str(config), "persona", "show"])
    assert result.exit_code == 0, result.output
    assert "[Background] The town is sinking into the sea." in result.stdout
    assert says(
        result.stderr,
        "Character card: background, character_book: not keys of a TOML card, so ignored",
    ), result.stderr
    assert says(
        result.stderr,
        "Character card: lore and keyword_lore: 1 entry always in the system prompt; "
        "1 entry with keys, told where one is in the last 4 messages.",
    ), result.stderr


def test_the_entries_a_message_calls_up_are_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    persona = load_persona(card(tmp_path))
    with caplog.at_level(logging.INFO, logger="model.character.persona"):
        assert persona.called_up_lore(["Is Minamo here?"]) == []
        assert [t.content for t in persona.called_up_lore(["Is Ryuji here?"])] == ["Ryuji is loud."]
    said = [r.getMessage() for r in caplog.records if r.name == "model.character.persona"]
    assert said == ["Lorebook entries called up: Ryuji is loud."], said
