"""A game's own name tag (learnt from the aliases) on a line after a message's text begins
the next message, as a 【名】 header does, when the game's wait is a macro no file given
defines (`@Hitret`, `[k]`, made in TJS): the whole scene was one line, and no sample."""

from __future__ import annotations

from pathlib import Path

from atri.config import DataprepSettings
from dataprep.pipeline import PrepResult, run_pipeline
from dataprep.records import Role

# The shape of a commercial KAG3 game's Chinese patch (slqy123/mamiya-chs): `@Talk` and
# `@Hitret` are TJS, the Japanese original is an argument, the translation the text.
TALK_HITRET = """\
@Talk name=心の声
@Sub mess="一日の終わり。"
结束了忙碌的一天。
@Hitret id=1
@Talk name=良太
@Sub mess="「ふう……」"
「呼……」
@Hitret id=2
@Talk name=珠音 voice=TMN000001
@Sub mess="「お兄ちゃん、おかえり」"
「哥哥，欢迎回来」
@Hitret id=3
@Talk name=良太
「我回来了」
@Hitret id=4
@Talk name=珠音 voice=TMN000002
「饭做好了哦」
@Hitret id=5
"""

SAME_LINE_K = """\
[cn name="良太"]「我回来了」[k]
[cn name="珠音"]「欢迎回来！」[k]
[cn name="良太"]「今天吃什么？」[k]
[cn name="珠音"]「咖喱哦，[cn name="良太"]最喜欢的。」[k]
"""


def run(tmp_path: Path, text: str) -> PrepResult:
    script = tmp_path / "scene.ks"
    script.write_text(text, encoding="utf-8")
    settings = DataprepSettings(lead_aliases=["良太"], character_aliases=["珠音"], eval_ratio=0)
    return run_pipeline(settings, [script])


def exchanges(result: PrepResult) -> list[list[tuple[str, str]]]:
    return [[(r.value, t) for r, t in s.turns] for s in result.train]


def test_a_name_tag_on_its_own_line_begins_the_next_message(tmp_path: Path) -> None:
    result = run(tmp_path, TALK_HITRET)
    assert result.problem is None
    assert exchanges(result)[-1] == [
        ("lead", "呼……"),
        ("character", "哥哥，欢迎回来"),
        ("lead", "我回来了"),
        ("character", "饭做好了哦"),
    ]
    spoken = {s.name: s.lines for s in result.stats.speakers}
    assert spoken == {"良太": 2, "珠音": 2, "心の声": 1}


def test_a_name_tag_opening_each_line_begins_a_message_and_inside_text_names_no_one(
    tmp_path: Path,
) -> None:
    result = run(tmp_path, SAME_LINE_K)
    replies = [t for s in result.train for r, t in s.turns if r is Role.CHARACTER]
    assert replies[-1] == "咖喱哦，最喜欢的。"
    assert exchanges(result)[-1][-2] == ("lead", "今天吃什么？")


# catoriinu/tyrano_jinro's messageMacros.ks: the body copies the call's arguments in
# script and names the speaker by the copy, which no file sets.
SCRIPT_NAMED_MACRO = """\
[macro name="m_changeCharacterFrameName"]
  [iscript]
    tf.ccfn = clone(mp);
    tf.ccfn.speaker = setSpeakersName(tf.ccfn.characterId, tf.ccfn.name);
  [endscript]
  [chara_mod name="&tf.ccfn.characterId" face="&tf.ccfn.face"]
  # &tf.ccfn.speaker
[endmacro]
"""

CALLS = """\
*start
[m_changeCharacterFrameName name="良太" face="否定" side="left"]
うわあああ！？ない！ないのだ！[p]
[m_changeCharacterFrameName name="珠音" face="通常"]
どうしたのよ、朝から騒々しいわね。[p]
"""


def test_a_macro_naming_its_speaker_by_a_script_copy_of_its_arguments(tmp_path: Path) -> None:
    (tmp_path / "macros.ks").write_text(SCRIPT_NAMED_MACRO, encoding="utf-8")
    (tmp_path / "e01.ks").write_text(CALLS, encoding="utf-8")
    settings = DataprepSettings(lead_aliases=["良太"], character_aliases=["珠音"], eval_ratio=0)
    result = run_pipeline(settings, [tmp_path / "macros.ks", tmp_path / "e01.ks"])
    assert {s.name for s in result.stats.speakers} == {"良太", "珠音"}
    assert exchanges(result) == [
        [
            ("lead", "うわあああ！？ない！ないのだ！"),
            ("character", "どうしたのよ、朝から騒々しいわね。"),
        ]
    ]
