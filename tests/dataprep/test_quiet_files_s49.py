"""Files of a game that hold no dialogue (a TyranoScript title.ks or config.ks, a Ren'Py
file of narration alone) are summed up in one line when another file of their format has
dialogue, as Ren'Py's options.rpy already was; a .ks file whose lines wait for macros no
file given defines keeps its own sentence, which says what to give."""

from __future__ import annotations

from pathlib import Path

from atri.config import DataprepSettings
from dataprep.pipeline import PrepResult, run_pipeline

SCENE_KS = """\
*start
#悠真
今日、一緒に出かけない？[p]
#莉子
うん、行こう！[p]
"""

TITLE_KS = """\
*start
[cm]
[bg storage="title.jpg" time=100]
[glink text="はじめから" target="*gamestart" x=600 y=400]
[s]
*gamestart
[jump storage="scene1.ks"]
"""

CONFIG_KS = """\
*start
[cm]
[button graphic="config/back.png" target="*backtitle" x=1000 y=20]
[iscript]
$(".text_bgm_vol").html(tf.current_bgm_vol);
[endscript]
[return]
"""

UNDEFINED_MACROS_KS = """\
*start
@sio voice=shi_0101
「おはよう」[p]
@yuma voice=yu_0001
「おはよう」[p]
"""

SCRIPT_RPY = """\
define e = Character("Eileen")
define m = Character("Max")

label start:
    m "Hi."
    e "Hello."
    return
"""

NARRATION_RPY = """\
label bonus_quiz:
    "Welcome to the quiz practice mode."
    "Correct!"
    return
"""


def run(folder: Path, files: dict[str, str], lead: str, character: str) -> PrepResult:
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    settings = DataprepSettings(lead_aliases=[lead], character_aliases=[character], eval_ratio=0)
    return run_pipeline(settings, [folder / name for name in files])


def test_tyranoscript_system_files_are_one_quiet_line(tmp_path: Path) -> None:
    files = {"scene1.ks": SCENE_KS, "title.ks": TITLE_KS, "config.ks": CONFIG_KS}
    result = run(tmp_path, files, "悠真", "莉子")
    assert result.errors == []
    assert result.without_dialogue == "2 .ks files hold no dialogue (title.ks, config.ks)."
    assert [s.turns[-1][1] for s in result.train] == ["うん、行こう！"]


def test_a_ks_file_lacking_macro_definitions_keeps_its_sentence(tmp_path: Path) -> None:
    files = {"scene1.ks": SCENE_KS, "title.ks": TITLE_KS, "scene2.ks": UNDEFINED_MACROS_KS}
    result = run(tmp_path, files, "悠真", "莉子")
    assert result.without_dialogue == "1 .ks file holds no dialogue (title.ks)."
    (error,) = result.errors
    assert "scene2.ks: no dialogue found" in error and "[sio] before 1 line" in error


def test_system_files_alone_keep_their_sentences(tmp_path: Path) -> None:
    result = run(tmp_path, {"title.ks": TITLE_KS, "config.ks": CONFIG_KS}, "悠真", "莉子")
    assert result.without_dialogue is None
    assert len(result.errors) == 2


def test_a_renpy_file_of_narration_alone_is_in_the_quiet_line(tmp_path: Path) -> None:
    files = {"script.rpy": SCRIPT_RPY, "bonus_quiz.rpy": NARRATION_RPY}
    result = run(tmp_path, files, "Max", "Eileen")
    assert result.errors == []
    assert result.without_dialogue == "1 .rpy file holds no dialogue (bonus_quiz.rpy)."


def test_both_formats_are_summed_up_each_in_its_words(tmp_path: Path) -> None:
    files = {
        "script.rpy": SCRIPT_RPY,
        "bonus_quiz.rpy": NARRATION_RPY,
        "scene1.ks": SCENE_KS.replace("悠真", "Max").replace("莉子", "Eileen"),
        "title.ks": TITLE_KS,
    }
    result = run(tmp_path, files, "Max", "Eileen")
    assert result.without_dialogue == (
        "1 .rpy file holds no dialogue (bonus_quiz.rpy). 1 .ks file holds no dialogue (title.ks)."
    )


# A TyranoScript game's message file (catoriinu/tyrano_jinro): its speaker is set by a
# subroutine it calls, its comments hold colons, its script block object keys.
COMMENTED_KS = """\
; 事前準備：tf.targetId = キャラクターID
*changeIdToCallName
  [iscript]
    tf.targetName = (function(characterId) {
      const o = {
        [CHARACTER_ID_METAN]:    'わたくし',
      }
      return o[characterId];
    }(tf.targetId));
  [endscript]
[return]
; シーン：初日、役職を告知されたときの反応
; 備考：PCのみ想定
*noticeRole_villager
[call storage="./message/utility.ks" target="prepareMessage"]
わたくしは村人なのね。[p]
[return]
"""


def test_no_format_is_suggested_for_what_only_comments_and_script_make_look_said(
    tmp_path: Path,
) -> None:
    result = run(tmp_path, {"metan.ks": COMMENTED_KS}, "ずんだもん", "四国めたん")
    (error,) = result.errors
    assert "metan.ks: no dialogue found as kirikiri" in error
    assert "--format" not in error
