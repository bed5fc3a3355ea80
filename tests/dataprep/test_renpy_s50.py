"""Ren'Py defects a study of eleven real games found (session 50): a screen or transform
whose parameter has a string default, text tags and line breaks in character names, an
empty translation template with a string speaker, a name typed through a screen, a line
break in Chinese or Japanese text, and a nameless character named by its variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from atri.config import DataprepSettings
from dataprep.pipeline import PrepResult, run_pipeline

TWO = 'define h = Character("Hisao")\ndefine e = Character("Emi")\n'
STORY = 'label start:\n    h "Morning, Emi."\n    e "Race you to the track!"\n'


def run(tmp_path: Path, text: str, lead: list[str], character: list[str]) -> PrepResult:
    path = tmp_path / "script.rpy"
    path.write_text(text, encoding="utf-8")
    settings = DataprepSettings(lead_aliases=lead, character_aliases=character, eval_ratio=0)
    return run_pipeline(settings, [path])


def speakers(result: PrepResult) -> set[tuple[str, int, str]]:
    return {(s.name, s.lines, s.role) for s in result.stats.speakers}


def said(result: PrepResult) -> list[str]:
    return [text for sample in result.train for _, text in sample.turns]


# r01: Katawa Shoujo's festival editor, DDLC's poem screen (shipped by every DDLC mod).
@pytest.mark.parametrize(
    "block",
    [
        'screen editor(opened=None, in_graphic_mode=[], layer="master"):\n'
        '    key "hide_windows" action NullAction()\n'
        "    if True:\n"
        '        key "s" action NullAction()\n'
        "    vbox:\n"
        '        style_group "new_action_editor"\n',
        "screen poem(currentpoem, paper='paper'):\n"
        '    imagebutton idle "paper" action Return()\n'
        '    text "A poem"\n',
        'transform flash(img="white"):\n    "white"\n    pause 0.1\n    "black"\n',
    ],
)
def test_a_block_with_a_string_default_parameter_is_code(tmp_path: Path, block: str) -> None:
    result = run(tmp_path, TWO + block + STORY, ["Hisao"], ["Emi"])
    assert result.problem is None
    assert speakers(result) == {("Hisao", 1, "lead"), ("Emi", 1, "character")}
    assert result.stats.roles.get("narration", 0) == 0


# r04: misakisai's 4,687 `extend "\n…"` lines.
def test_a_line_break_joins_chinese_with_nothing_and_english_with_a_space(tmp_path: Path) -> None:
    script = (
        'define me = Character("我")\ndefine tomo = Character("友")\n'
        "label start:\n"
        '    me "……嘛，学习能力确实是因人而异的。"\n'
        '    tomo "咦？！不会吧！"\n'
        '    extend "\\n我、我难道又下错单了……？"\n'
        '    me "等等。\\n你说什么？"\n'
        '    tomo "Wait.\\nWhat?"\n'
    )
    result = run(tmp_path, script, ["我"], ["友"])
    assert result.problem is None
    assert "咦？！不会吧！我、我难道又下错单了……？" in said(result)
    assert "等等。你说什么？" in said(result)
    assert "Wait. What?" in said(result)
