"""A new user preparing another character than ATRI: what `atri prep` wrote and said."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from atri.cli import app
from dataprep.clean import placeholder_replacer


def test_a_lead_named_like_a_word_keeps_the_word_where_a_sentence_opens_with_it() -> None:
    """A lead called "Will": "Will you let me sleep?" became "{{user}} you let me sleep?"."""
    replace = placeholder_replacer(["Will"])
    assert replace("Will you let me sleep? I will.") == "Will you let me sleep? I will."
    assert replace("Wake up! Will it rain?") == "Wake up! Will it rain?"
    # Where it is his name, it is still replaced.
    assert replace("Thanks, Will. Will is late.") == "Thanks, {{user}}. {{user}} is late."
    assert replace("Will, you came!") == "{{user}}, you came!"
    assert replace("I told Will I would come.") == "I told {{user}} I would come."
    assert placeholder_replacer(["May"])("May I come in, May?") == "May I come in, {{user}}?"


def test_a_name_that_is_no_word_is_replaced_before_a_pronoun_too() -> None:
    replace = placeholder_replacer(["Natsuki"])
    assert replace("Natsuki you're late!") == "{{user}} you're late!"


SCRIPT = "Ken: Morning, Mio.\nMio: Morning! The tide is out.\n"
NO_CONFIG = "No config file was read"


def test_prep_outside_the_configs_folder_says_it_read_atris_built_in_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run from another folder, prep read the built-in (ATRI's) aliases and said "add the
    right names to [dataprep] character_aliases", naming no file to add them to."""
    monkeypatch.delenv("ATRI_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "script.txt").write_text(SCRIPT, encoding="utf-8")
    result = CliRunner().invoke(app, ["prep", "script.txt", "--out", "out"])
    said = " ".join(result.output.split())
    assert result.exit_code == 1, said
    assert "No speaker matched the character (ATRI)" in said
    assert f"{NO_CONFIG} (no config.toml in this folder, no --config or ATRI_CONFIG)" in said

    # With a config read, the sentence about its aliases is enough.
    (tmp_path / "config.toml").write_text('[dataprep]\nlead_aliases = ["Ken"]\n', encoding="utf-8")
    result = CliRunner().invoke(app, ["prep", "script.txt", "--out", "out"])
    assert result.exit_code == 1 and NO_CONFIG not in result.output, result.output
