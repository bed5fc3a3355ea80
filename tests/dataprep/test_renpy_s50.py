"""Ren'Py defects a study of eleven real games found (session 50): a screen or transform
whose parameter has a string default, text tags and line breaks in character names, an
empty translation template with a string speaker, a name typed through a screen, a line
break in Chinese or Japanese text, and a nameless character named by its variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from atri.config import DataprepSettings
from dataprep.errors import DataprepError
from dataprep.formats import ParseOptions, parse
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


# r02: DDLC--The-Hollow-Hearts's two-line names (the name, its reading in small type).
TWO_LINE_NAMES = (
    "define t = DynamicCharacter('player')\n"
    "define k = DynamicCharacter('k_name')\n"
    'define y = Character("陽太\\n{size=15}Youta{/size}")\n'
    'default player = "桜隊円\\n{size=15}Sakura Taiyen{/size}"\n'
    'default k_name = "桜言葉\\n{size=15}Sakura Kotonoha"\n'
    "label start:\n"
    '    t "Are you new here?"\n'
    '    k "Yes, I joined the club today."\n'
    '    y "Welcome!"\n'
)


def test_a_two_line_name_is_its_first_line_with_the_second_in_brackets(tmp_path: Path) -> None:
    result = run(tmp_path, TWO_LINE_NAMES, ["桜隊円"], ["桜言葉"])
    assert result.problem is None
    assert speakers(result) == {
        ("桜隊円 (Sakura Taiyen)", 1, "lead"),
        ("桜言葉 (Sakura Kotonoha)", 1, "character"),
        ("陽太 (Youta)", 1, "other"),
    }


def test_text_tags_are_dropped_from_a_name(tmp_path: Path) -> None:
    script = (
        'define t = Character("Max")\n'
        'define e = Character("{color=#f00}Eileen{/color}")\n'
        'define g = Character(_("{b}Guard{/b}"))\n'
        "label start:\n"
        '    t "Are you new here?"\n'
        '    e "Yes, I joined the club today."\n'
        '    g "Move along."\n'
    )
    result = run(tmp_path, script, ["Max"], ["Eileen"])
    assert result.problem is None
    assert speakers(result) == {
        ("Max", 1, "lead"),
        ("Eileen", 1, "character"),
        ("Guard", 1, "other"),
    }


def test_a_line_break_escape_in_a_kept_monologue_joins_only_itself() -> None:
    # `rpy monologue none` keeps the string's own line breaks; its `\n` is joined as a line's.
    script = (
        "rpy monologue none\n"
        'define e = Character("Eileen")\n'
        "label start:\n"
        '    e """\n    One.\\nTwo.\n    Three.\n    """\n'
    )
    found = parse(script, "m.rpy", "renpy", ParseOptions())
    assert [(u.speaker, u.text) for u in found] == [("Eileen", "One. Two.\nThree.")]


# r05: a fan game's empty template whose first block keeps its string speaker.
def test_an_empty_template_with_a_string_speaker_is_refused_in_one_sentence(
    tmp_path: Path,
) -> None:
    root = tmp_path / "game"
    (root / "tl" / "chinese").mkdir(parents=True)
    (root / "script.rpy").write_text(
        'define m = Character("Miku")\ndefine p = Character("Fan")\n'
        "label start:\n"
        '    "..." "Hey... Stranger. Can you help me?"\n'
        '    p "Who said that?"\n'
        '    m "Me! Down here."\n',
        encoding="utf-8",
    )
    blocks = "".join(
        f"# game/script.rpy:{line}\ntranslate chinese start_{line}:\n\n    # …\n    {said}\n\n"
        for line, said in ((4, '"..." ""'), (5, 'p ""'), (6, 'm ""'))
    )
    (root / "tl" / "chinese" / "script.rpy").write_text(blocks, encoding="utf-8")
    settings = DataprepSettings(lead_aliases=["Fan"], character_aliases=["Miku"], eval_ratio=0)
    with pytest.raises(DataprepError) as raised:
        run_pipeline(settings, [root])
    assert str(raised.value).startswith(
        "The Ren'Py chinese translation files hold no translated lines (an empty template:"
    )


# r03: DDLC (and its mods) and misakisai take the player's name through a screen.
DDLC_NAME = (
    "define mc = DynamicCharacter('player')\n"
    "define s = Character('Sayori')\n"
    'default persistent.playername = ""\n'
    "default player = persistent.playername\n"
    "screen name_input(message, ok_action):\n"
    '    input default "" value VariableInputValue("player") length 12\n'
    "screen file_slots():\n"
    '    input default "[save_name]" value VariableInputValue("save_name") length 24\n'
    "label start:\n"
    '    $ renpy.show_screen("name_input", message="Please enter your name", ok_action=Return())\n'
    '    mc "Morning."\n'
    '    s "Good morning, [player]! You overslept again."\n'
)


def test_a_name_typed_in_a_screen_input_is_the_lead(tmp_path: Path) -> None:
    result = run(tmp_path, DDLC_NAME, ["Max"], ["Sayori"])
    assert result.problem is None
    assert speakers(result) == {("Max", 1, "lead"), ("Sayori", 1, "character")}
    assert said(result) == ["Morning.", "Good morning, {{user}}! You overslept again."]


SCREEN_RETURN = (
    'define me = Character("我")\n'
    'define tomo = Character("友")\n'
    'default persistent.player_name = "翔平"\n'
    "screen input_name(prompt):\n"
    "    default input_name = persistent.player_name\n"
    '    input value ScreenVariableInputValue("input_name")\n'
    '    textbutton "OK" action Return(input_name)\n'
    "screen pick():\n"
    '    textbutton "A" action Return("a")\n'
    "label start:\n"
    '    call screen input_name("前辈~~！告诉我你叫什么名字嘛！")\n'
    "    $ player_name = persistent.player_name = _return\n"
    "    call screen pick\n"
    "    $ choice = _return\n"
    '    me "我是一年级的。"\n'
    '    tomo "[player_name]前辈，早上好！[choice]"\n'
)


def test_a_name_a_called_input_screen_returns_is_the_lead(tmp_path: Path) -> None:
    script = SCREEN_RETURN.replace("[choice]", "")
    result = run(tmp_path, script, ["我"], ["友"])
    assert result.problem is None
    assert said(result) == ["我是一年级的。", "{{user}}前辈，早上好！"]
    # The copy kept for the next game is the same name, not a second one typed.
    assert not result.notes


def test_what_a_screen_without_input_returns_is_no_name(tmp_path: Path) -> None:
    result = run(tmp_path, SCREEN_RETURN, ["我"], ["友"])
    assert result.stats.character_lines_dropped == {"unresolved_variable": 1}


# r06: HrmTrain's player character has no name box, only his side image.
NAMELESS = (
    'define m = Character(None, window_left_padding=200, image="mage", color="#402313")\n'
    'define her = Character("Hermione")\n'
    "label start:\n"
    '    m "Come in, girl."\n'
    '    her "Good morning, sir."\n'
    '    m "What brings you here?"\n'
    '    her "I have a favour to ask."\n'
)


def test_a_nameless_character_is_named_by_its_variable_as_an_alias(tmp_path: Path) -> None:
    result = run(tmp_path, NAMELESS, ["m", "Genie"], ["Hermione"])
    assert result.problem is None
    assert speakers(result) == {("m", 2, "lead"), ("Hermione", 2, "character")}


def test_a_nameless_character_no_alias_names_is_narration(tmp_path: Path) -> None:
    result = run(tmp_path, NAMELESS, ["Genie"], ["Hermione"])
    assert result.stats.roles.get("narration") == 2
