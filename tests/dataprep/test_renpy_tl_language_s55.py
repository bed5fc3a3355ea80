"""Session 55: a Ren'Py translation file's `language` in the stats was "": its lines are
put in their originals' files, so the file's own batch held none of them to tell the
language from. It is now the language of its translated lines read."""

from __future__ import annotations

import json
from pathlib import Path

from atri.config import DataprepSettings
from dataprep.pipeline import prepare


def _renpy_game(game: Path, copied: int = 0) -> None:
    """An English Ren'Py script and its Chinese translation in tl/chinese, whose last
    `copied` blocks hold the English line copied, as Ren'Py's template fills them."""
    lines = [
        ("e", "Good morning, Max. Did you sleep well last night?", "早上好，马克斯。你睡得好吗？"),
        ("m", "Not really, the storm kept me awake for hours.", "不太好，暴风雨让我睡不着。"),
        ("e", "Then let us have some tea before we go out.", "那我们出门之前先喝点茶吧。"),
        ("m", "That is a good idea. I will boil the water.", "好主意。那我现在就去烧水。"),
        ("e", "And I will find the cups in the cupboard.", "那我去橱柜里找杯子。"),
        ("m", "The kettle is singing already. That was quick.", "水壶已经响了。真快啊。"),
        ("e", "Here are the cups, and the milk is in the fridge.", "杯子在这儿，牛奶在冰箱里。"),
        ("m", "Thank you. Now we can talk about the boat.", "谢谢。现在我们可以谈谈船的事了。"),
    ]
    (game / "tl" / "chinese").mkdir(parents=True)
    script = ['define e = Character("Eileen")', 'define m = Character("Max")', "", "label start:"]
    tl = []
    for i, (who, en, zh) in enumerate(lines):
        script.append(f'    {who} "{en}"')
        tl += [
            f"# game/script.rpy:{len(script)}",
            f"translate chinese start_{i:08x}:",
            "",
            f'    # {who} "{en}"',
            f'    {who} "{en if i >= len(lines) - copied else zh}"',
            "",
        ]
    (game / "script.rpy").write_text("\n".join(script) + "\n", encoding="utf-8")
    (game / "tl" / "chinese" / "script.rpy").write_text("\n".join(tl) + "\n", encoding="utf-8")


def _languages(tmp_path: Path, copied: int = 0) -> dict[str, str]:
    """Each file's language in the stats.json of a real run over the game."""
    game = tmp_path / "game"
    _renpy_game(game, copied)
    out = tmp_path / "out"
    settings = DataprepSettings(
        lead_aliases=["Max"], character_aliases=["Eileen"], renpy_language="chinese", eval_ratio=0
    )
    result = prepare(settings, [game], out, system_prompt="You are Eileen.")
    assert result.problem is None, result.problem
    assert not any("languages" in note for note in result.notes)
    stats = json.loads((out / "eileen_stats.json").read_text(encoding="utf-8"))
    return {Path(f["path"]).relative_to(game).as_posix(): f["language"] for f in stats["files"]}


def test_a_renpy_translation_files_language_is_its_lines(tmp_path: Path) -> None:
    # The original's lines are all translated: they count as the translation file's.
    assert _languages(tmp_path) == {"script.rpy": "", "tl/chinese/script.rpy": "Chinese"}


def test_lines_the_template_copied_are_not_its_language(tmp_path: Path) -> None:
    # Four blocks still hold the English (left out as untranslated): the lines read
    # are Chinese.
    assert _languages(tmp_path, copied=4) == {
        "script.rpy": "",
        "tl/chinese/script.rpy": "Chinese",
    }
