"""A Ren'Py game read in a translation: each translated say statement (game/tl/<lang>)
stands where the original one it translates is (the `# game/script.rpy:12` comment above
its `translate` block), among the lines the original's Python says, in the original's
scenes and menu branches. Read file by file, every translated line came after all of
those, and the lead's lines were paired with the wrong replies."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from atri.config import DataprepSettings
from dataprep.loaded_scripts import load_scripts
from dataprep.pipeline import iter_utterances, parse_options, prepare
from dataprep.records import Utterance
from tests.dataprep.conftest import FIXTURES

HARBOR = FIXTURES / "harbor" / "game"


def eileen(language: str) -> DataprepSettings:
    return DataprepSettings(
        lead_aliases=["Max"], character_aliases=["Eileen"], renpy_language=language, eval_ratio=0
    )


def read(scripts: list[Path], language: str) -> list[Utterance]:
    settings = eileen(language)
    loaded, _ = load_scripts(scripts, settings, None)
    options = parse_options(settings, loaded)
    return [u for batch in iter_utterances(loaded, options) for u in batch]


def test_prep_pairs_the_translated_lines_as_the_game_shows_them(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = prepare(
        eileen("chinese"),
        [HARBOR / "script.rpy", HARBOR / "tl"],
        out,
        system_prompt="You are Eileen.",
    )
    assert result.problem is None
    samples = json.loads((out / "eileen_sharegpt.json").read_text(encoding="utf-8"))
    pairs = [
        [(turn["from"], turn["value"]) for turn in sample["conversations"]] for sample in samples
    ]
    # Max's lantern line (line 9) is answered by her line 10, said from Python, not by
    # her translated line 12; "Aye aye" (12) follows his "Wait for me." (11).
    assert pairs[0] == [("human", "艾琳，灯笼点亮了。"), ("gpt", "那就走吧，船长！")]
    # Her Python line with no Chinese string (line 16) is no Chinese line: dropped as
    # untranslated, it ends the reply (her line after it has no line of his before it).
    assert pairs[1][-2:] == [
        ("human", "等等我。"),
        ("gpt", "遵命，船长。\n我会等的，'船长'。\n没有用 _() 包起来，也一样翻译。"),
    ]
    assert "Not translated yet." not in json.dumps(samples, ensure_ascii=False)
    stats = json.loads((out / "eileen_stats.json").read_text(encoding="utf-8"))
    assert stats["character_lines"] == {
        "in": 6,
        "kept": 4,
        "dropped": {"untranslated": 1, "no_lead_before": 1},
    }
    # The translated lines are counted as their translation file's.
    counted = {
        Path(f["path"]).relative_to(HARBOR).as_posix(): f["utterances"] for f in stats["files"]
    }
    assert counted["script.rpy"] == 6
    assert counted["tl/chinese/script.rpy"] == 3


def test_a_translated_line_carries_the_originals_place_and_its_own() -> None:
    said = read([HARBOR / "script.rpy", HARBOR / "tl" / "chinese"], "chinese")
    lantern = said[0]
    assert (lantern.speaker, lantern.text) == ("Max", "艾琳，灯笼点亮了。")
    assert (Path(lantern.source), lantern.line) == (HARBOR / "script.rpy", 9)
    assert lantern.read_from == (str(HARBOR / "tl" / "chinese" / "script.rpy"), 7)
    assert lantern.scene == "start"
    # A line said from Python is the original's own.
    assert said[1].read_from is None


def test_the_originals_menus_and_labels_hold_for_its_translated_lines(tmp_path: Path) -> None:
    game = tmp_path / "game"
    (game / "tl" / "chinese").mkdir(parents=True)
    (game / "script.rpy").write_text(
        'define e = Character("Eileen")\n'  # 1
        'define m = Character("Max")\n'  # 2
        "label start:\n"  # 3
        '    m "Tea or coffee?"\n'  # 4
        "    menu:\n"  # 5
        '        "Tea":\n'  # 6
        '            e "Tea, then."\n'  # 7
        '        "Coffee":\n'  # 8
        '            e "Coffee, then."\n'  # 9
        '    $ e(_("Either way."))\n'  # 10
        "label harbor:\n"  # 11
        '    m "The boats are in."\n'  # 12
        '    e "So they are."\n',  # 13
        encoding="utf-8",
    )
    blocks = {
        4: ('m "Tea or coffee?"', 'm "茶还是咖啡？"'),
        7: ('e "Tea, then."', 'e "那就茶吧。"'),
        9: ('e "Coffee, then."', 'e "那就咖啡吧。"'),
        12: ('m "The boats are in."', 'm "船都回来了。"'),
        13: ('e "So they are."', 'e "是啊。"'),
    }
    label = {4: "start", 7: "start", 9: "start", 12: "harbor", 13: "harbor"}
    # Written as Ren'Py writes them, not in the original's order.
    (game / "tl" / "chinese" / "script.rpy").write_text(
        "".join(
            f"# game/script.rpy:{line}\ntranslate chinese {label[line]}_{line:08x}:\n\n"
            f"    # {original}\n    {translated}\n\n"
            for line, (original, translated) in sorted(blocks.items(), reverse=True)
        )
        + 'translate chinese strings:\n\n    old "Either way."\n    new "都行。"\n',
        encoding="utf-8",
    )
    said = read([game / "script.rpy", game / "tl" / "chinese"], "chinese")
    assert [(u.line, u.text, u.scene) for u in said] == [
        (4, "茶还是咖啡？", "start"),
        (7, "那就茶吧。", "start"),
        (9, "那就咖啡吧。", "start"),
        (10, "都行。", "start"),
        (12, "船都回来了。", "harbor"),
        (13, "是啊。", "harbor"),
    ]
    tea, coffee, after = said[1], said[2], said[3]
    # Each choice follows the question, not the other choice; the line after the menu
    # follows neither.
    assert tea.branch != coffee.branch
    assert tea.forked_from == coffee.forked_from == said[0].branch
    assert after.branch not in (tea.branch, coffee.branch) and after.forked_from is None
    result = prepare(
        eileen("chinese"),
        [game / "script.rpy", game / "tl"],
        tmp_path / "out",
        system_prompt="You are Eileen.",
    )
    pairs = {(s.prompt, s.reply) for s in result.train}
    assert pairs == {
        ("茶还是咖啡？", "那就茶吧。"),
        ("茶还是咖啡？", "那就咖啡吧。"),
        ("船都回来了。", "是啊。"),
    }


def test_a_translation_whose_original_is_not_given_keeps_its_own_order(tmp_path: Path) -> None:
    # Only the tl folder (the characters defined in it): nothing to put its lines among.
    game = tmp_path / "game"
    shutil.copytree(HARBOR / "tl", game / "tl")
    (game / "tl" / "chinese" / "characters.rpy").write_text(
        'define e = Character("Eileen")\ndefine m = Character("Max")\n'
        'default title = _("Captain")\n',
        encoding="utf-8",
    )
    said = read([game / "tl" / "chinese"], "chinese")
    assert [(Path(u.source).name, u.line, u.text, u.read_from) for u in said] == [
        ("script.rpy", 7, "艾琳，灯笼点亮了。", None),
        ("script.rpy", 13, "遵命，船长。", None),
        ("script.rpy", 19, "来了。", None),
    ]


def test_a_translation_of_a_line_that_moved_comes_where_its_line_is(tmp_path: Path) -> None:
    # The script changed since the translation was made: line 5 is no say statement now.
    game = tmp_path / "game"
    (game / "tl" / "chinese").mkdir(parents=True)
    (game / "script.rpy").write_text(
        'define e = Character("Eileen")\n'
        'define m = Character("Max")\n'
        "label start:\n"
        '    m "Ready?"\n'
        "    pause 1.0\n"
        '    $ e(_("Ready."))\n',
        encoding="utf-8",
    )
    (game / "tl" / "chinese" / "script.rpy").write_text(
        '# game/script.rpy:4\ntranslate chinese start_0000aaaa:\n    m "准备好了吗？"\n\n'
        '# game/script.rpy:5\ntranslate chinese start_0000bbbb:\n    e "嗯。"\n\n'
        '# game/script.rpy:40\ntranslate chinese start_0000cccc:\n    e "走吧。"\n',
        encoding="utf-8",
    )
    said = read([game / "script.rpy", game / "tl" / "chinese"], "chinese")
    # Line 40 is past the script's end: a block the game never shows, left out.
    assert [(u.line, u.text) for u in said] == [
        (4, "准备好了吗？"),
        (5, "嗯。"),
        (6, "Ready."),
    ]
