"""Several names the player types (a husband's, a wife's, a baby's in qirien's Personal
Space): the lead aliases say which is the player's; the others are names like any
variable's, shown with the value the game gives or offers. Every typed name was the lead,
so the husband's lines were the lead's ("No speaker matched the character (Jack)") and a
line named him {{user}}. One typed name is the player's as before; several of which none
is a lead alias stay the lead, with a note on how to pick one."""

from __future__ import annotations

from pathlib import Path

import pytest

from atri.config import DataprepSettings
from dataprep.pipeline import PrepResult, run_pipeline

HEADER = (
    'define her = DynamicCharacter("her_name")\n'
    'define him = DynamicCharacter("his_name")\n'
    'default his_name = "Jack"\n'
    'default her_name = "Kelly"\n'
)
LINES = (
    '    him "[her_name]... you\'re incredible."\n'
    '    her "I love you, [his_name]."\n'
    '    him "Let\'s go to Talaam together."\n'
    '    her "Are you serious?"\n'
    '    him "I have never been more serious."\n'
)
# The repro of the report: the husband's and the wife's names are asked.
TWO_INPUTS = (
    HEADER + "label start:\n"
    '    $ his_name = renpy.input("What is his name?", "Jack", length=20)\n'
    '    $ her_name = renpy.input("What is your name?", "Kelly", length=20)\n' + LINES
)


def run(tmp_path: Path, text: str, lead: str, character: str) -> PrepResult:
    path = tmp_path / "script.rpy"
    path.write_text(text, encoding="utf-8")
    settings = DataprepSettings(lead_aliases=[lead], character_aliases=[character], eval_ratio=0)
    return run_pipeline(settings, [path])


def speakers(result: PrepResult) -> set[tuple[str, int, str]]:
    return {(s.name, s.lines, s.role) for s in result.stats.speakers}


def said(result: PrepResult) -> set[str]:
    return {text for sample in result.train for _, text in sample.turns}


def test_the_wife_as_lead_chats_with_the_husband(tmp_path: Path) -> None:
    result = run(tmp_path, TWO_INPUTS, "Kelly", "Jack")
    assert result.problem is None
    assert speakers(result) == {("Kelly", 2, "lead"), ("Jack", 3, "character")}
    # Her line names him by his name, not the placeholder for whoever chats.
    assert "I love you, Jack." in said(result)
    assert not any("{{user}}" in text for text in said(result))


def test_the_husband_as_lead_chats_with_the_wife(tmp_path: Path) -> None:
    result = run(tmp_path, TWO_INPUTS, "Jack", "Kelly")
    assert result.problem is None
    assert speakers(result) == {("Jack", 3, "lead"), ("Kelly", 2, "character")}
    assert {"I love you, {{user}}.", "Are you serious?"} <= said(result)


def test_a_name_only_offered_by_renpy_input_or_the_variable_picks_the_lead(
    tmp_path: Path,
) -> None:
    # No `default`: the name the input offers (positional or default=) is its value; the
    # lead alias may name the variable itself.
    offered = (
        HEADER.replace('default his_name = "Jack"\n', "").replace(
            'default her_name = "Kelly"\n', ""
        )
        + "label start:\n"
        '    $ his_name = renpy.input(_("His name?"), default="Jack")\n'
        '    $ her_name = renpy.input("Your name?")\n' + LINES
    )
    result = run(tmp_path, offered, "her_name", "Jack")
    assert result.problem is None
    assert speakers(result) == {("her_name", 2, "lead"), ("Jack", 3, "character")}
    assert "I love you, Jack." in said(result)


def test_one_typed_name_is_the_lead_whatever_its_value(tmp_path: Path) -> None:
    # The documented rule: the name the player types is the lead's, even one whose
    # value is no lead alias.
    one = HEADER + 'label start:\n    $ his_name = renpy.input("His name?", "Jack")\n' + LINES
    result = run(tmp_path, one, "Max", "Kelly")
    assert result.problem is None
    assert speakers(result) == {("Max", 3, "lead"), ("Kelly", 2, "character")}
    assert "I love you, {{user}}." in said(result)
    assert not any("[his_name]" in note for note in result.notes)


@pytest.mark.parametrize("character", ["Jack", "Kelly"])
def test_several_typed_names_none_an_alias_all_stay_the_lead_with_a_note(
    tmp_path: Path, character: str
) -> None:
    result = run(tmp_path, TWO_INPUTS, "Bob", character)
    assert result.problem is not None
    assert "No speaker matched the character" in result.problem
    assert speakers(result) == {("Bob", 5, "lead")}
    [note] = [note for note in result.notes if "[his_name]" in note]
    assert "[her_name]" in note and "lead_aliases" in note
