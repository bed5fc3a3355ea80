"""Session 53: WebGAL's `setVar:heroine=亚托莉;` fills `{heroine}` in the speakers and
lines after it, as the engine's interpolation does (a stage variable before a `-global`
one; a word naming a variable is its value; numbers, booleans and expressions are no
string). Before, `{heroine}:台词;` was a speaker named "{heroine}", matching no alias.
Scenes run in the order the game plays them: start.txt first, then where its
`changeScene:` leads. A variable still unknown is named once in the run's notes."""

from __future__ import annotations

from pathlib import Path

from atri.config import DataprepSettings
from dataprep.formats import ParseOptions, parse
from dataprep.pipeline import run_pipeline

START = """\
; 序章
changeBg:bg_room.webp -next;
setVar:heroine=亚托莉;
setVar:lead=夏生 -global;
bgm:s_main.mp3 -volume=60;
changeScene:chapter1.txt;
"""

CHAPTER1 = """\
changeFigure:atri_normal.png -left -next;
{lead}:早上好。 -v_lead_001.ogg;
{heroine}:早上好，{lead}先生！ -vocal=atri_001.ogg -left;
{ghost}:你们好。;
:窗外很安静。;
"""


def lines(text: str) -> list[tuple[str | None, str]]:
    return [(u.speaker, u.text) for u in parse(text, "a.txt", "webgal", ParseOptions())]


def test_set_strings_fill_speakers_and_lines_in_file_order() -> None:
    text = (
        "{heroine}:还没有名字。;\n"
        "setVar:heroine=亚托莉;\n"
        "setVar:place = 海边;\n"
        "{heroine}:我们去{place}吧！;\n"
        "setVar:heroine=萝卜子;\n"
        "{heroine}:……;\n"
        "say:走吧。 -speaker={heroine};\n"
        "亚托莉:\\{heroine\\}是我。;\n"
    )
    assert lines(text) == [
        ("{heroine}", "还没有名字。"),  # before the setVar: as written, as WebGAL shows it
        ("亚托莉", "我们去海边吧！"),
        ("萝卜子", "……"),
        ("萝卜子", "走吧。"),
        ("亚托莉", "{heroine}是我。"),  # escaped braces are shown
    ]


def test_values_that_are_no_string_stay_unfilled() -> None:
    text = (
        "setVar:a=1;\nsetVar:b=true;\nsetVar:c=a+1;\nsetVar:d=random();\n"
        "{a}:x;\n{b}:x;\n{c}:x;\n{d}:x;\n"
        "setVar:who=亚托莉 -when=met==true;\n{who}:x;\n"
    )
    assert [speaker for speaker, _ in lines(text)] == ["{a}", "{b}", "{c}", "{d}", "{who}"]


def test_a_word_naming_a_variable_is_its_value_and_stage_comes_before_global() -> None:
    text = (
        "setVar:full=亚托莉;\n"
        "setVar:heroine=full;\n"
        "setVar:name=全局 -global;\n"
        "{heroine}:一;\n"
        "{name}:二;\n"
        "setVar:name=本局;\n"
        "setVar:name=又一个全局 -global;\n"
        "{name}:三;\n"
    )
    assert lines(text) == [("亚托莉", "一"), ("全局", "二"), ("本局", "三")]


def test_a_set_name_is_tidied_as_any_speaker() -> None:
    assert lines("setVar:heroine=森　罗;\n{heroine}:早。;\n") == [("森罗", "早。")]


def test_start_txt_sets_the_names_of_the_scenes_it_leads_to(tmp_path: Path) -> None:
    (tmp_path / "start.txt").write_text(START, "utf-8")
    (tmp_path / "chapter1.txt").write_text(CHAPTER1, "utf-8")  # read before start.txt
    result = run_pipeline(_settings(), [tmp_path])
    assert [(s.prompt, s.reply) for s in result.train] == [("早上好。", "早上好，夏生先生！")]
    assert {s.name for s in result.stats.speakers} >= {"亚托莉", "夏生", "{ghost}"}
    noted = [n for n in result.notes if "{ghost}" in n]
    assert len(noted) == 1 and "setVar" in noted[0] and "{heroine}" not in noted[0]


def test_scenes_a_choice_leads_to_come_after_it(tmp_path: Path) -> None:
    (tmp_path / "start.txt").write_text(
        "setVar:heroine=亚托莉;\nchoose:去海边:part1/sea.txt|回家:home.txt;\n", "utf-8"
    )
    home = "changeBg:home.webp -next;\nchangeFigure:atri.png -next;\n{heroine}:回家吧。;\n"
    (tmp_path / "home.txt").write_text(home, "utf-8")
    (tmp_path / "part1").mkdir()
    sea = "changeBg:sea.webp -next;\nchangeFigure:atri.png -next;\n夏生:去海边吧。;\n{heroine}:好耶！;\n"
    (tmp_path / "part1" / "sea.txt").write_text(sea, "utf-8")
    result = run_pipeline(_settings(), [tmp_path])  # home and part1/sea read first
    assert [(s.prompt, s.reply) for s in result.train] == [("去海边吧。", "好耶！")]
    assert not [n for n in result.notes if "WebGAL variables" in n]


def test_without_the_scene_that_sets_them_the_names_are_noted_once(tmp_path: Path) -> None:
    path = tmp_path / "chapter1.txt"
    path.write_text(CHAPTER1 + "{heroine}:再见。;\n", "utf-8")
    result = run_pipeline(_settings(), [path])
    assert result.train == []
    noted = [n for n in result.notes if "WebGAL variables" in n]
    assert len(noted) == 1
    assert "{heroine} in 2 lines" in noted[0] and "{lead} in 2 lines" in noted[0]
    assert "{ghost} in 1 line" in noted[0]


def _settings() -> DataprepSettings:
    return DataprepSettings(
        lead_aliases=["夏生"], character_aliases=["亚托莉"], eval_ratio=0, user_placeholder=False
    )
