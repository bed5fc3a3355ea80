"""Ren'Py menus: a say statement that is a menu's prompt is a line of its speaker (shown
while the player chooses); a choice's caption is what the player picks, never a line of
any speaker or narration, a comment after it or not."""

from __future__ import annotations

from pathlib import Path

from atri.config import DataprepSettings
from dataprep.formats import ParseOptions, parse
from dataprep.pipeline import run_pipeline

CAPTIONS = (
    "The harbor",
    "The hill",
    'Room #2, the "quiet" one',
    "A caption written over two lines",
    "Stay",
    "Go",
)


def test_a_menus_prompt_is_a_line_and_its_captions_are_none(fixtures: Path) -> None:
    # A caption with a comment after its ":" was read as narration ("The harbor"), and
    # its choice's lines as the lines before it; a `menu:` with a comment after it was no
    # menu, so its choices were one branch.
    text = (fixtures / "menus.rpy").read_text(encoding="utf-8")
    found = parse(text, "menus.rpy", "renpy", ParseOptions())
    assert [(u.line, u.speaker, u.text, u.branch, u.forked_from) for u in found] == [
        (8, "Max", "Where to?", 0, None),
        (10, "Eileen", "The harbor, or the hill?", 0, None),  # the prompt: her line
        # Each choice a branch of its own that follows the lines before the menu.
        (12, "Eileen", "The harbor it is.", 1, 0),
        (14, "Max", "Up the hill.", 2, 0),
        (15, "Eileen", "Race you!", 2, 0),
        (20, "Eileen", "Two lines for that?", 4, 0),
        (22, None, "Narration may ask too.", 5, None),  # a narrated prompt
        (24, "Eileen", "Then we stay.", 6, 5),
        (27, "Eileen", "Off we go.", 8, None),
    ]
    assert not {u.text for u in found} & set(CAPTIONS)


def test_a_menus_prompt_is_her_reply_and_no_caption_is_counted(fixtures: Path) -> None:
    settings = DataprepSettings(lead_aliases=["Max"], character_aliases=["Eileen"], eval_ratio=0)
    result = run_pipeline(settings, [fixtures / "menus.rpy"])
    assert [[text for _, text in s.turns] for s in result.train] == [
        ["Where to?", "The harbor, or the hill?"],
        ["Where to?", "The harbor, or the hill?", "Up the hill.", "Race you!"],
    ]
    assert [(s.name, s.lines) for s in result.stats.speakers] == [("Eileen", 6), ("Max", 2)]
    assert result.stats.roles["narration"] == 1  # the narrated prompt; no caption
