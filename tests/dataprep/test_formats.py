"""Extraction from each script format: speaker, text, line number and scene."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from atri.config import DataprepSettings
from dataprep.formats import ParseOptions, compile_markers, detect_format, parse
from dataprep.formats import kirikiri as kirikiri_format
from dataprep.formats.renpy import characters as renpy_characters
from dataprep.formats.renpy import names as renpy_names
from dataprep.pipeline import run_pipeline
from dataprep.records import Utterance

MARKERS = ParseOptions(scene_marker=compile_markers(DataprepSettings().scene_markers))


def said(utterances: list[Utterance]) -> list[tuple[str | None, str]]:
    return [(u.speaker, u.text) for u in utterances]


def test_plain_chinese_every_line_form(fixtures: Path) -> None:
    text = (fixtures / "plain_zh.txt").read_text(encoding="utf-8")
    found = parse(text, "zh.txt", "plain", MARKERS)
    assert found[0] == Utterance(None, "海浪拍打着礁石，远处传来海鸥的叫声。", "zh.txt", 2, "1")
    assert said(found)[1:3] == [("夏生", "喂，你还好吗？"), ("机器人少女", "「……系统重启完成。」")]
    forms = {u.line: (u.speaker, u.text, u.scene) for u in found}
    assert forms[15] == ("夏生", "「肚子饿了吗？」", "2")  # 【名字】「台词」 after a ==== marker
    assert forms[17] == ("夏生", "「你明明就很想吃吧。」", "2")  # 名字「台词」
    assert forms[19] == ("夏生", "那我一个人吃了。", "2")  # 名字<TAB>台词
    assert 14 not in forms  # the marker line itself is no utterance


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("夏生：：你好", ("夏生", "你好")),
        ("夏生:你好", ("夏生", "你好")),
        ("亚托莉：『我是高性能的！』", ("亚托莉", "『我是高性能的！』")),
        ("亚托莉：“我是高性能的！”", ("亚托莉", "“我是高性能的！”")),
        ("Natsuki Kaito: Let's go.", ("Natsuki Kaito", "Let's go.")),
        ("【亚托莉】我来帮忙！", ("亚托莉", "我来帮忙！")),
        ("10:30 起床了。", (None, "10:30 起床了。")),
        ("她说：「走吧。」", ("她说", "「走吧。」")),
        ("海风很大，吹得窗户直响。", (None, "海风很大，吹得窗户直响。")),
    ],
)
def test_plain_single_lines(line: str, expected: tuple[str | None, str]) -> None:
    (only,) = parse(line, "x.txt", "plain", ParseOptions())
    assert (only.speaker, only.text) == expected


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("[亚托莉]早上好，夏生先生！", ("亚托莉", "早上好，夏生先生！")),
        ("[Atri] Good morning!", ("Atri", "Good morning!")),
        ("[Natsuki Kaito]: Let's go.", ("Natsuki Kaito", "Let's go.")),
        ("[亚托莉]「我来帮忙！」", ("亚托莉", "「我来帮忙！」")),
        ("[???] Who?", ("???", "Who?")),
    ],
)
def test_plain_name_in_square_brackets_is_a_speaker(
    line: str, expected: tuple[str | None, str]
) -> None:
    # `[名字]台词` dumps were read as narration (and the cleaning stage then deleted
    # "[Atri]" as a tag), so none of their lines had a speaker.
    (only,) = parse(line, "x.txt", "plain", ParseOptions())
    assert (only.speaker, only.text) == expected


@pytest.mark.parametrize(
    "line",
    [
        "[r]続きの文。",
        "[p]次のページ。",
        "[R]大文字のタグ。",
        # A KAG tag in capitals (or any case) with text after it was a speaker "WAIT".
        "[WAIT]海风吹过。",
        "[Wait] The wind blows.",
        "[QUAKE]地面在摇。",
        "[PlaySE]「早。」",
        "[ENDLINK]回家",
        '[ruby text="かんじ"]漢字を読む。',
        '[nm t="亚托莉"]你好。',
        "[wait time=100]海风吹过。",
        "[link target=*a]去海边[endlink]",
        "[player] walks in.",
        "[1] A footnote.",
        "She said [Atri] twice.",
        '@bg storage="harbor"',
    ],
)
def test_plain_tags_and_variables_in_square_brackets_are_no_speakers(line: str) -> None:
    assert all(u.speaker is None for u in parse(line, "x.txt", "plain", ParseOptions()))


@pytest.mark.parametrize(
    "heading",
    [
        *("[Chapter 3]", "[Flashback]", "[SE]", "[CG 12]", "[Choice 1]", "[END]"),
        *("[Scene change]", "[第三章]", "[回忆]", "[音效]", "[选项1]", "[選択肢]"),
    ],
)
def test_plain_heading_in_square_brackets_names_no_speaker(heading: str) -> None:
    # A dump's headings and cues were speakers: "[Flashback]" then "「I remember the
    # sea.」" was a line of a speaker "Flashback", a third party that ended the exchange,
    # and "[Chapter 3] The Girl from the Sea" one of "Chapter 3".
    dump = f'[Natsuki] Hi.\n{heading}\n"I remember the sea."\n{heading} The Girl\n[Atri] Hi!\n'
    found = parse(dump, "x.txt", "plain", ParseOptions())
    assert said(found) == [
        ("Natsuki", "Hi."),
        (None, '"I remember the sea."'),
        (None, f"{heading} The Girl"),
        ("Atri", "Hi!"),
    ]


@pytest.mark.parametrize(
    "name", ["Guard 1", "Endo", "Sena", "Dayna", "???", "ATRI", "旁白", "Ruby", "Link", "Waits"]
)
def test_plain_names_like_headings_are_still_speakers(name: str) -> None:
    (only,) = parse(f"[{name}]\n「走吧。」\n", "x.txt", "plain", ParseOptions())
    assert (only.speaker, only.text) == (name, "「走吧。」")


@pytest.mark.parametrize(
    "heading",
    [
        *(
            "【第三章】",
            "【 第3话 】",
            "【SE】",
            "【回想】",
            "【回忆】",
            "【选项1】",
            "【Chapter 3】",
        ),
        *("【Flashback】", "【序章】", "【BGM 海风】"),
    ],
)
def test_plain_heading_in_lenticular_brackets_names_no_speaker(heading: str) -> None:
    # 【】 headings were still speakers: "【回想】" alone named the speaker of the quote
    # below it, and "【第三章】海边的少女" was a line of a speaker "第三章".
    dump = f"【夏生】「早。」\n{heading}\n「我记得那片海。」\n{heading}海边的少女\n【亚托莉】「早！」\n"
    found = parse(dump, "x.txt", "plain", ParseOptions())
    assert said(found) == [
        ("夏生", "「早。」"),
        (None, "「我记得那片海。」"),
        (None, f"{heading}海边的少女"),
        ("亚托莉", "「早！」"),
    ]


@pytest.mark.parametrize("name", ["亚托莉", "夏生", "???", "凯瑟琳", "Atri", "Sena", "第二部长"])
def test_plain_names_in_lenticular_brackets_are_still_speakers(name: str) -> None:
    alone, inline = parse(
        f"【{name}】\n「走吧。」\n【{name}】「好。」\n", "x.txt", "plain", ParseOptions()
    )
    assert (alone.speaker, alone.text, inline.speaker, inline.text) == (
        name,
        "「走吧。」",
        name,
        "「好。」",
    )


def test_plain_name_in_two_spellings_in_square_brackets_is_hers(tmp_path: Path) -> None:
    # "[Atri/亚托莉] Good morning!" was narration: her line was lost, and no alias could
    # bring it back. It is hers now; "[Natsuki/Atri]" (both at once) is a third party.
    dump = tmp_path / "dump.txt"
    dump.write_text(
        "[Natsuki] Morning.\n[Atri/亚托莉] Good morning!\n[Natsuki/Atri] Together!\n"
        "[Natsuki] Again.\n[亚托莉/Atri]\n「Again!」\n",
        encoding="utf-8",
    )
    settings = DataprepSettings(lead_aliases=["Natsuki"], character_aliases=["Atri", "亚托莉"])
    samples = [[text for _, text in s.turns] for s in run_pipeline(settings, [dump]).train]
    assert samples == [["Morning.", "Good morning!"], ["Again.", "Again!"]]


def test_plain_square_bracket_dump_is_detected_as_plain(fixtures: Path) -> None:
    dump = "[夏生]早上好。\n[亚托莉]早上好，夏生先生！\n海风吹过。\n[Atri]\n「走吧！」\n" * 5
    assert detect_format(dump, "dump.txt") == "plain"
    found = parse(dump, "dump.txt", "plain", ParseOptions())
    assert said(found)[:4] == [
        ("夏生", "早上好。"),
        ("亚托莉", "早上好，夏生先生！"),
        (None, "海风吹过。"),
        ("Atri", "「走吧！」"),  # a `[名字]` line alone names the quote below, as `【名字】`
    ]
    # A KiriKiri scenario is still KiriKiri, named .ks or not, and its tags no speakers.
    ks = (fixtures / "script.ks").read_text(encoding="utf-8")
    assert detect_format(ks, "dump.txt") == "kirikiri"
    speakers = {u.speaker for u in parse(ks, "x", "plain", MARKERS)}
    assert not any("=" in name or "[" in name for name in speakers if name is not None)


def test_plain_header_on_its_own_line_names_the_quote_below() -> None:
    found = parse("【亚托莉】\n「早上好！」\n", "x.txt", "plain", ParseOptions())
    assert said(found) == [("亚托莉", "「早上好！」")]
    assert found[0].line == 2


def test_plain_sound_reference_is_no_speaker() -> None:
    # "【语音：atr_0012】" was a speaker: alone, it took the name of the 【亚托莉】 line above
    # for the quote below it; before a quote, it was a line of "语音：atr_0012".
    text = (
        "【亚托莉】\n【语音：atr_0012】\n「早。」\n【语音：atr_0013】「嗯。」\n[voice:atr_0014]\n"
    )
    found = parse(text, "x.txt", "plain", ParseOptions())
    # A reference before a line is no part of it (s66: nor of a speaker's line after it).
    assert said(found) == [("亚托莉", "「早。」"), (None, "「嗯。」")]


def test_stage_narration_has_no_sound_reference(tmp_path: Path) -> None:
    dump = tmp_path / "voice.txt"
    dump.write_text(
        "夏生：你在看什么？\n[语音：atr_0011]她指向海面。\n亚托莉：【语音：atr_0012】「在看海。」\n",
        encoding="utf-8",
    )
    settings = DataprepSettings(narration="stage", eval_ratio=0)
    assert [s.reply for s in run_pipeline(settings, [dump]).train] == ["（她指向海面。）在看海。"]


def test_plain_name_with_nothing_said_is_no_narration() -> None:
    # "亚托莉：" alone was narration, so the "stage" mode put "（亚托莉：）" into a reply.
    # Like a 【名字】 line alone, it names the speaker of a quoted line right below it.
    text = "夏生：你好。\n亚托莉：\n亚托莉：早上好！\n夏生:\n「嗯。」\n12:\n"
    found = parse(text, "x.txt", "plain", ParseOptions())
    assert [(u.line, u.speaker, u.text) for u in found] == [
        (1, "夏生", "你好。"),
        (3, "亚托莉", "早上好！"),
        (5, "夏生", "「嗯。」"),
        (6, None, "12:"),
    ]


def test_plain_unknown_speaker_is_a_speaker() -> None:
    # "？？？：" (a speaker not named yet) was narration, so the character's answer to
    # them became her answer to the lead's line before.
    text = "？？？：是谁？\n???: Who?\n？？「谁在那里？」\n"
    found = parse(text, "x.txt", "plain", ParseOptions())
    assert said(found) == [("？？？", "是谁？"), ("???", "Who?"), ("？？", "「谁在那里？」")]


def test_plain_line_starting_with_a_bracket_names_nobody() -> None:
    # "(Sound: thunder) It rains." was a line of a speaker "(Sound", and "（旁白）：…" one of
    # "（旁白）": a stage direction or an aside, never a name. A note inside a name stays.
    text = (
        "(Sound: thunder) It rains.\n（旁白）：风很大。\n(sighs):\n「嗯。」\n"
        "亚托莉（机器人）：你好。\nNatsuki (tired): Hi.\n"
    )
    found = parse(text, "x.txt", "plain", ParseOptions())
    assert said(found) == [
        (None, "(Sound: thunder) It rains."),
        (None, "（旁白）：风很大。"),
        (None, "(sighs):"),
        (None, "「嗯。」"),
        ("亚托莉（机器人）", "你好。"),
        ("Natsuki (tired)", "Hi."),
    ]


def test_plain_stage_direction_before_the_speaker_keeps_the_speaker() -> None:
    # "(sighs) Natsuki: Fine." and "（叹气）夏生：好吧。" were narration, so her answer to
    # them answered the line before. The direction stays on the text, as one after the
    # name does ("Natsuki: (sighs) Fine."); with no speaker after it, the line is narration.
    text = (
        "(sighs) Natsuki: Fine.\nNatsuki: (sighs) Fine.\n（叹气）夏生：好吧。\n"
        "（微笑）亚托莉「谢谢。」\n（小声）【亚托莉】「嗯。」\n(softly) [Atri] Hi.\n"
        '(Sound: thunder) It rains.\n（旁白）：风很大。\n(She smiles) "Thanks."\n'
        "(fade) anim:fade_out(bgm)\n"  # a command after a direction is still no line
    )
    found = parse(text, "x.txt", "plain", ParseOptions())
    assert said(found) == [
        ("Natsuki", "(sighs) Fine."),
        ("Natsuki", "(sighs) Fine."),
        ("夏生", "（叹气）好吧。"),
        ("亚托莉", "（微笑）「谢谢。」"),
        ("亚托莉", "（小声）「嗯。」"),
        ("Atri", "(softly) Hi."),
        (None, "(Sound: thunder) It rains."),
        (None, "（旁白）：风很大。"),
        (None, '(She smiles) "Thanks."'),
    ]


def test_plain_square_bracket_direction_before_the_speaker(fixtures: Path) -> None:
    # "[sighs] Natsuki: Fine." was read as a KAG tag line, narration, so Natsuki's answer
    # was lost. Plain lower-case words in square brackets before a speaker are a
    # direction, as in round brackets; a KAG tag's name (`[r]`, `[cm]`, `[ruby]`), an
    # attribute or an identifier (`[my_macro]`) keeps the line what it was.
    text = (fixtures / "plain_square_directions.txt").read_text(encoding="utf-8")
    found = parse(text, "d.txt", "plain", ParseOptions())
    assert [(u.speaker, u.text, u.line) for u in found] == [
        ("Atri", "Are you still angry?", 1),
        ("Natsuki", "[sighs] Fine.", 2),
        ("亚托莉", "[softly] 谢谢。", 3),
        ("Atri", "[to herself] Good.", 4),
        (None, "[sighs] It rains.", 5),
        (None, "[r] Natsuki: Fine.", 6),
        (None, "[cm]Natsuki: Fine.", 7),
        (None, "[wait time=200] Natsuki: Fine.", 8),
        (None, "[my_macro] Natsuki: Fine.", 11),
        (None, "[ruby] Natsuki: Fine.", 12),
        (None, "[emb exp=f.name] Natsuki: Fine.", 13),
    ]


def test_plain_direction_and_name_alone_names_the_quoted_line_below(fixtures: Path) -> None:
    # "Natsuki:" alone names the speaker of the quoted line below it; "(sighs) Natsuki:"
    # alone was narration, and "Fine." below it narration too. The direction goes on the
    # quoted line, as on a line that holds both ("(sighs) Natsuki: \"Fine.\"").
    text = (fixtures / "plain_direction_alone.txt").read_text(encoding="utf-8")
    found = parse(text, "d.txt", "plain", ParseOptions())
    assert [(u.speaker, u.text, u.line) for u in found] == [
        ("Atri", "Are you still angry?", 1),
        ("Natsuki", '(sighs) "Fine."', 3),
        ("夏生", "（叹气）「好吧。」", 5),
        ("Natsuki", '[softly] "Okay."', 7),
        ("亚托莉", "（小声）「嗯。」", 9),
        ("Natsuki", '"Plain."', 11),
        (None, "(Sound: thunder)", 12),
        (None, '"Boom."', 13),
        (None, "She left.", 15),  # a name alone before a line that is no quote says nothing
        (None, "[r] Natsuki:", 16),
        (None, '"Tag."', 17),
    ]


def test_plain_title_with_a_period_in_a_name() -> None:
    # "Mr. Smith: …" was narration (a period ended the name), so an English script's
    # character answering him answered the lead instead.
    text = "Mr. Smith: Good morning.\nDr. Ai Mizuno: Hello.\nIt was late. She slept.\n"
    found = parse(text, "x.txt", "plain", ParseOptions())
    assert said(found) == [
        ("Mr. Smith", "Good morning."),
        ("Dr. Ai Mizuno", "Hello."),
        (None, "It was late. She slept."),
    ]


def test_plain_line_numbers_survive_crlf_and_blank_lines() -> None:
    found = parse("\r\n夏生：一\r\n\r\n   \r\n亚托莉：二\r\n", "x.txt", "plain", ParseOptions())
    assert [(u.line, u.text) for u in found] == [(2, "一"), (5, "二")]


def test_plain_lines_indented_with_any_blank_are_kept() -> None:
    # Web and Word dumps indent with no-break or em spaces: such a line was lost whole.
    text = "\u00a0夏生：一\n\u2003亚托莉：二\n夏生\u00a0：三\n\u00a0\u00a0海风很大。\n\u00a0\n"
    found = parse(text, "x.txt", "plain", ParseOptions())
    assert [(u.line, u.speaker, u.text) for u in found] == [
        (1, "夏生", "一"),
        (2, "亚托莉", "二"),
        (3, "夏生", "三"),
        (4, None, "海风很大。"),
    ]


def test_kirikiri(fixtures: Path) -> None:
    text = (fixtures / "script.ks").read_text(encoding="utf-8")
    found = parse(text, "s.ks", "kirikiri", MARKERS)
    assert said(found) == [
        ("夏生", "「今天的风好大啊。」"),  # [r] joins, [p] ends
        # @nm; [ruby] dropped; an [l] inside the quote ends nothing (one line on screen)
        ("亚托莉", "「风速大约是每秒八米！高性能的我马上就算出来了！」"),
        (None, "海鸥在头顶盘旋。"),  # name reset after [p]
        ("夏生", "「那你能算出晚饭吃什么吗？」"),  # TyranoScript #name
        ("亚托莉", "「当然是螃蟹！[高性能]的判断！」"),  # #name:face, [[ literal
        (None, "她得意地挺起胸。"),  # bare # clears
        ("亚托莉", "「教室里一个人都没有呢。」"),  # 【名】 header
        ("夏生", "「暑假嘛。」"),
        ("亚托莉", "「那我来当老师吧！」"),
    ]
    assert [u.scene for u in found] == ["scene_harbor"] * 6 + ["scene_school"] * 3
    assert found[0].line == 4 and found[3].line == 10


def test_kirikiri_latin_line_break_becomes_a_space() -> None:
    found = parse('[nm t="Atri"]Good[r]\nmorning![p]', "e.ks", "kirikiri", ParseOptions())
    assert said(found) == [("Atri", "Good morning!")]


def test_kirikiri_choices_are_no_line() -> None:
    # [link]…[endlink] choices were glued to the line before them: 夏生 said "去海边回家".
    text = (
        "#夏生\n要去哪里？[p]\n[link target=*beach]去海边[endlink][r]\n"
        "[link target=*home]回家[endlink][s]\n*beach\n#亚托莉\n好耶！[p]\n"
    )
    found = parse(text, "c.ks", "kirikiri", ParseOptions())
    assert said(found) == [("夏生", "要去哪里？"), ("亚托莉", "好耶！")]


@pytest.mark.parametrize(
    "heading", ["【回想】", "【 第3话 】", "【SE】", "【Flashback】", "【选项1】"]
)
def test_kirikiri_heading_header_names_nobody(heading: str) -> None:
    # A heading in the 【】 header slot was a speaker: "【回想】「我记得……」" was a line of
    # a speaker "回想", a third party that ended the exchange.
    text = (
        f"*start\n【夏生】「早。」[p]\n{heading}「我记得那片海。」[p]\n"
        f"{heading}\n海风很大。[p]\n【亚托莉】「早！」[p]\n"
    )
    found = parse(text, "h.ks", "kirikiri", ParseOptions())
    assert said(found) == [
        ("夏生", "「早。」"),
        (None, "「我记得那片海。」"),
        (None, "海风很大。"),
        ("亚托莉", "「早！」"),
    ]


def test_voice_references_leave_kirikiri_and_renpy_lines(tmp_path: Path) -> None:
    # They were cleaned out of plain-text lines only, so "【voice:atr_0012】早上好！" was
    # her reply; in a .ks header slot the cue also took the line from her: narration.
    ks = tmp_path / "a.ks"
    ks.write_text(
        "*start\n#夏生\n早。[p]\n#亚托莉\n【voice:atr_0012】早上好！[p]\n"
        "#夏生\n门？[p]\n#亚托莉\n（SE：door_01）门开了。[p]\n",
        encoding="utf-8",
    )
    rpy = tmp_path / "a.rpy"
    rpy.write_text(
        'define n = Character("夏生")\ndefine a = Character("亚托莉")\nlabel start:\n'
        '    n "早。"\n    a "【voice:atr_0012】早上好！"\n'
        '    n "门？"\n    a "（SE：door_01）门开了。"\n',
        encoding="utf-8",
    )
    settings = DataprepSettings(eval_ratio=0, drop_near_duplicates=False)
    for script in (ks, rpy):
        result = run_pipeline(settings, [script])
        assert [(s.prompt, s.reply) for s in result.train] == [
            ("早。", "早上好！"),
            ("门？", "门开了。"),
        ], script.name


def test_kirikiri_chapter_heading_starts_a_scene() -> None:
    text = "*start\n【夏生】「早。」[p]\n【第三章】\n「走吧。」[p]\n【亚托莉】「好！」[p]\n"
    found = parse(text, "h.ks", "kirikiri", MARKERS)
    assert [(u.speaker, u.scene) for u in found] == [
        ("夏生", "start"),
        (None, "marker1"),
        ("亚托莉", "marker1"),
    ]
    # Without a scene marker for it, the heading still names nobody.
    found = parse(text, "h.ks", "kirikiri", ParseOptions())
    assert [u.speaker for u in found] == ["夏生", None, "亚托莉"]


def test_renpy_with_characters_from_another_file(fixtures: Path) -> None:
    characters = renpy_characters.collect_characters(
        (fixtures / "characters.rpy").read_text(encoding="utf-8")
    )
    assert characters == {"n": "夏生", "a": "亚托莉", "m": "水菜萌"}
    text = (fixtures / "script.rpy").read_text(encoding="utf-8")
    found = parse(text, "s.rpy", "renpy", ParseOptions(renpy_characters=characters))
    assert said(found) == [
        (None, "Sunlight poured into the room."),
        ("夏生", "Did you make breakfast?"),
        ("亚托莉", "I did! A high-performance breakfast!"),  # attributes and {w} dropped
        ("亚托莉", "It is only slightly burnt."),
        ("夏生", "Thanks, it looks... brave."),  # menu choices themselves are skipped
        ("水菜萌", "Natsuki, you should eat properly."),
        ("亚托莉", "Hmph."),
        ("夏生", "Fine, I'll eat it."),
        ("亚托莉", "Victory is mine!"),
    ]
    assert found[1].scene == "morning" and found[-1].scene == "refuse"


def test_renpy_translation_file_uses_the_translated_line(fixtures: Path) -> None:
    characters = {"n": "夏生", "a": "亚托莉"}
    text = (fixtures / "tl_chinese.rpy").read_text(encoding="utf-8")
    found = parse(text, "tl.rpy", "renpy", ParseOptions(renpy_characters=characters))
    assert said(found) == [
        ("夏生", "你做早饭了吗？"),
        ("亚托莉", "做了！是高性能的早饭哦！"),
        ("亚托莉", "只是稍微有点焦而已。"),
    ]
    assert {u.scene for u in found} == {"morning"}


def test_renpy_say_written_as_python_is_a_say_statement(fixtures: Path) -> None:
    # `$ renpy.say(e, "Hello.")` was skipped as code, so Eileen lost the line and Max's
    # question went unanswered. It is `e "Hello."`: the same character lookup, narration
    # for None, a literal name as written, escapes, tags and variables as a say line's.
    text = (fixtures / "python_say.rpy").read_text(encoding="utf-8")
    options = ParseOptions(renpy_variables=renpy_names.string_variables(text))
    found = parse(text, "s.rpy", "renpy", options)
    assert [(u.speaker, u.text, u.line, u.dropped) for u in found] == [
        ("Max", "Are you ready?", 6, None),
        ("Eileen", "Hello, I'm ready.", 7, None),
        (None, "The wind picked up.", 8, None),
        ("Guard", "Halt! Who goes there?", 9, None),
        ("Max", "It's only me, from Harborside. Honest.", 10, None),
        ("Eileen", "Welcome back.", 11, None),
        (None, "Night fell.", 12, None),
        # Other Python (a notify, a say inside an expression) stays code; a say of a
        # variable's text, which only the game knows, drops the line, and so does a
        # variable of no known value in the text.
        ("Eileen", "greeting", 16, "computed_text"),
        ("Eileen", "Where is [nowhere]?", 17, "unresolved_variable"),
        ("Eileen", "Inside a python block: read too.", 19, None),  # a story python block
        ("Eileen", "Goodbye.", 20, None),
    ]


def test_renpy_literal_name_extend_and_escapes() -> None:
    text = 'label a:\n    "亚托莉" "她说\\"你好\\""\n    extend "还有这个。"\n'
    found = parse(text, "x.rpy", "renpy", ParseOptions())
    assert said(found) == [("亚托莉", '她说"你好"还有这个。')]


def test_renpy_extend_continues_the_line_before(tmp_path: Path) -> None:
    # `extend` adds to the line on screen; it was a line of its own, so the reply came out
    # "Hello\n, Max." in two bubbles. Ren'Py joins the strings as written.
    script = tmp_path / "script.rpy"
    script.write_text(
        'define m = Character("Max")\ndefine e = Character("Eileen")\n'
        "label start:\n"
        '    m "Hi."\n'
        '    e "Hello"\n    show eileen happy\n    extend ", Max.{w} Ready?"\n'
        '    m "Sure."\n'
        '    e ""\n    extend "Then let\'s go!"\n'
        "label other:\n"
        '    m "And [town]?"\n    e "It is"\n    extend " [town]."\n',
        encoding="utf-8",
    )
    settings = DataprepSettings(lead_aliases=["Max"], character_aliases=["Eileen"], eval_ratio=0)
    result = run_pipeline(settings, [script])
    assert [(s.prompt, s.reply) for s in result.train] == [
        ("Hi.", "Hello, {{user}}. Ready?"),
        ("Sure.", "Then let's go!"),
    ]
    # A variable no script gives a value, in the extension, drops the whole line.
    assert result.stats.character_lines_dropped["unresolved_variable"] == 1


def test_renpy_paragraph_pause_keeps_the_words_apart(tmp_path: Path) -> None:
    # `{p}` goes on on the next line; as a tag deleted, "Wait.{p}Okay." was "Wait.Okay.",
    # and an extend after one ran into the line before it the same way.
    script = tmp_path / "script.rpy"
    script.write_text(
        'define m = Character("Max")\ndefine e = Character("Eileen")\n'
        "label start:\n"
        '    m "Hi."\n'
        '    e "Wait.{p}Okay."\n    extend "{p=0.5}Let\'s go."\n',
        encoding="utf-8",
    )
    settings = DataprepSettings(lead_aliases=["Max"], character_aliases=["Eileen"], eval_ratio=0)
    result = run_pipeline(settings, [script])
    assert [s.reply for s in result.train] == ["Wait. Okay. Let's go."]


def test_renpy_say_with_temporary_attributes() -> None:
    # `a @ sad "…"` shows a face for this line only; the line was lost.
    text = (
        'define a = Character("亚托莉")\nlabel a:\n    a @ sad "有点难过。"\n'
        '    a happy @ angry "哼！"\n    a @happy -sad "好了。"\n'
    )
    found = parse(text, "x.rpy", "renpy", ParseOptions())
    assert said(found) == [("亚托莉", "有点难过。"), ("亚托莉", "哼！"), ("亚托莉", "好了。")]


def test_renpy_character_none_is_a_narrator() -> None:
    # `define nvl_narrator = Character(None, kind=nvl)` is the narrator in NVL mode; its
    # variable was taken as a third speaker, which ended every exchange it interrupted.
    text = (
        'define a = Character("亚托莉")\ndefine nar = Character(None, kind=nvl)\n'
        'label a:\n    nar "海风很大。"\n    a "好冷。"\n'
    )
    found = parse(text, "x.rpy", "renpy", ParseOptions())
    assert said(found) == [(None, "海风很大。"), ("亚托莉", "好冷。")]


def test_renpy_single_quoted_lines() -> None:
    # Ren'Py strings may be single-quoted; such lines were lost.
    text = (
        "define a = Character('亚托莉')\nlabel a:\n    a 'I\\'m here.'\n"
        "    'Nobody answered.'\n    '夏生' '你好。'\n"
    )
    found = parse(text, "x.rpy", "renpy", ParseOptions())
    assert said(found) == [("亚托莉", "I'm here."), (None, "Nobody answered."), ("夏生", "你好。")]


def test_renpy_doubled_brace_is_a_literal_brace() -> None:
    # `{{` shows as "{" in Ren'Py; the tag remover took "{{x}" for a "{x}" tag after a "{".
    text = 'label a:\n    "亚托莉" "集合{{甲，乙}叫作{b}集合{/b}。"\n'
    found = parse(text, "x.rpy", "renpy", ParseOptions())
    assert said(found) == [("亚托莉", "集合{甲，乙}叫作集合。")]


def test_renpy_doubled_percent_is_one_percent_sign() -> None:
    # Ren'Py shows `%%` and `\%` as "%" (old-style formatting, on by default); the reply
    # kept "100%%" and "50\%" as written.
    text = (
        'define a = Character("Atri")\nlabel a:\n    a "I\'m 100%% high-performance!"\n'
        '    a "Battery at 50\\% now."\n'
    )
    found = parse(text, "x.rpy", "renpy", ParseOptions())
    assert said(found) == [("Atri", "I'm 100% high-performance!"), ("Atri", "Battery at 50% now.")]


def test_renpy_string_over_several_lines() -> None:
    # A string may run over lines (Ren'Py joins them with a space); such lines were lost.
    text = (
        'define a = Character("亚托莉")\nlabel a:\n    a "I can see\n        the sea\n'
        '        from here."\n    "夏生" "真的？"\n    show a at left # it\'s noon\n'
        '    a "Yes."\n'
    )
    found = parse(text, "x.rpy", "renpy", ParseOptions())
    assert [(u.line, u.speaker, u.text) for u in found] == [
        (3, "亚托莉", "I can see the sea from here."),
        (6, "夏生", "真的？"),
        (8, "亚托莉", "Yes."),  # a stray quote mark outside a line joins nothing
    ]


def test_renpy_character_names_given_as_keywords() -> None:
    # Only a first positional name was read: `name=_("…")` or a `name=` after another
    # keyword left the variable ("a") as the speaker.
    text = (
        'define a = Character(name=_("亚托莉"))\n'
        "define c = Character(kind=nvl, name='Cee', color=\"#fff\")\n"
        'define n = Character(None, kind=nvl, name="ignored")\n'
        'define e = Character(_("Eileen"), image="eileen")\n'
    )
    assert renpy_characters.collect_characters(text) == {
        "a": "亚托莉",
        "c": "Cee",
        "n": "",
        "e": "Eileen",
    }


def test_voice_list(fixtures: Path) -> None:
    text = (fixtures / "voice.list").read_text(encoding="utf-8")
    found = parse(text, "v.list", "voice_list", ParseOptions())
    assert said(found)[:2] == [
        ("夏生", "你在海里泡了多久了？"),
        ("亚托莉", "不知道呢，大概很久很久了吧。"),
    ]
    assert found[0].scene != found[4].scene  # ch01 / ch02 folders


def test_custom_regex(fixtures: Path) -> None:
    pattern = re.compile(r"^<\d+> \[(?P<speaker>[^\]]+)\] (?P<text>.+)$")
    text = (fixtures / "custom.txt").read_text(encoding="utf-8")
    found = parse(text, "c.txt", "regex", ParseOptions(custom_regex=pattern))
    assert said(found)[:3] == [
        ("夏生", "这里就是我的家。"),
        ("亚托莉", "好旧的房子呀！"),
        (None, "<0003> 风吹过走廊。"),
    ]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("plain_zh.txt", "plain"),
        ("plain_en.txt", "plain"),
        ("plain_ja.txt", "plain"),
        ("script.ks", "kirikiri"),
        ("script.rpy", "renpy"),
        ("voice.list", "voice_list"),
    ],
)
def test_detect_format(fixtures: Path, name: str, expected: str) -> None:
    text = (fixtures / name).read_text(encoding="utf-8")
    assert detect_format(text, name) == expected
    # Without the telling extension, the content decides.
    assert detect_format(text, "dump.txt") == expected


def test_plain_heading_in_brackets_starts_a_scene() -> None:
    # The default markers matched only at the very start of the line, so a chapter
    # heading in brackets left both chapters one scene: an exchange could span them and
    # the train/eval split could cut a chapter in two.
    dump = (
        "【第一章】\n夏生：早。\n[Chapter 3]\n亚托莉：早！\n【第三章】海边的少女\n"
        "夏生：嗯。\n[第三章 海边]\n亚托莉：走吧。\n［ 第4话 ］\n夏生：好。\n"
    )
    found = parse(dump, "x.txt", "plain", MARKERS)
    assert [(u.speaker, u.line, u.scene) for u in found] == [
        ("夏生", 2, "1"),
        ("亚托莉", 4, "2"),
        ("夏生", 6, "3"),
        ("亚托莉", 8, "4"),
        ("夏生", 10, "5"),
    ]


def test_user_scene_markers_still_match_as_documented() -> None:
    markers = compile_markers([r"SCENE \d+", r"\[scene\]", r"^◆"])
    assert markers is not None
    assert all(markers.match(line) for line in ["SCENE 2", "[SCENE 2]", "【 SCENE 2】", "[scene]"])
    assert markers.match("◆") and not markers.match("[◆")  # "^": the line's start only
    assert not markers.match("[Atri] SCENE 2") and not markers.match("x[SCENE 2]")
    dump = "[scene]\nA: 1\n【SCENE 3】\nB: 2\n◆\nA: 3\n[◆]\nB: 4\n"
    found = parse(dump, "x.txt", "plain", ParseOptions(scene_marker=markers))
    assert [(u.speaker, u.scene) for u in found] == [
        ("A", "1"),
        ("B", "2"),
        ("A", "3"),
        ("B", "3"),  # "[◆]" started no scene
    ]


@pytest.mark.parametrize("chunk", [1, 1 << 17])
def test_plain_marker_with_caret_matches_an_indented_line(
    chunk: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A marker starting with "^" never matched a plain line with leading blanks (the
    # other formats strip each line first), so an indented "◆" started no scene.
    from dataprep.formats import plain

    monkeypatch.setattr(plain, "CHUNK_CHARS", chunk)
    markers = compile_markers([r"^◆", r"(?i)^chapter \d+"])
    dump = "◆\nA: 1\n  ◆\nB: 2\n\u3000Chapter 2\nA: 3\n\t◆ x\nB: 4\nA: x ◆\n"
    found = parse(dump, "x.txt", "plain", ParseOptions(scene_marker=markers))
    assert [(u.speaker, u.line, u.scene) for u in found] == [
        ("A", 2, "1"),
        ("B", 4, "2"),
        ("A", 6, "3"),
        ("B", 8, "4"),
        ("A", 9, "4"),
    ]


def test_plain_marker_ending_in_dollar_matches_a_line_with_trailing_blanks() -> None:
    # "$" failed before a plain line's trailing blanks ("◆  "), which every other format
    # strips, so such a marker line started no scene. A "$" in a set or escaped is a "$".
    markers = compile_markers([r"^◆$", r"[=]{3,}$", r"[$]{2}", r"\$\$\$$"])
    dump = "◆  \nA: 1\n===\u3000\nB: 2\n◆ x\nA: 3\n$$ x\nB: 4\n$$$\t\nA: 5\n"
    found = parse(dump, "x.txt", "plain", ParseOptions(scene_marker=markers))
    assert [(u.speaker, u.text, u.scene) for u in found] == [
        ("A", "1", "1"),
        ("B", "2", "2"),
        (None, "◆ x", "2"),
        ("A", "3", "2"),
        ("B", "4", "3"),
        ("A", "5", "4"),
    ]


def test_scene_marker_flags_are_scoped() -> None:
    markers = compile_markers([r"(?i)chapter \d+", r"第.章"])
    assert markers is not None and markers.match("CHAPTER 2") and markers.match("第三章")


@pytest.mark.parametrize("chunk", [1, 7, 64])
def test_plain_slices_cut_anywhere_give_the_same_utterances(
    fixtures: Path, chunk: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dataprep.formats import plain

    text = (fixtures / "plain_zh.txt").read_text(encoding="utf-8") * 3
    whole = plain.parse(text, "s.txt", MARKERS)
    monkeypatch.setattr(plain, "CHUNK_CHARS", chunk)
    assert len(list(plain.iter_batches(text, "s.txt", MARKERS))) > 3
    assert plain.parse(text, "s.txt", MARKERS) == whole and len(whole) > 20


def test_renpy_monologue_paragraphs_are_lines(fixtures: Path) -> None:
    # Triple-quoted strings (`e """…"""`, `"""…"""` narration) were lost whole.
    text = (fixtures / "monologue.rpy").read_text(encoding="utf-8")
    found = parse(text, "m.rpy", "renpy", ParseOptions())
    assert [(u.line, u.speaker, u.text) for u in found] == [
        (7, None, "The harbour was quiet. Gulls circled the masts."),
        (10, None, "Max walked to the pier."),
        (12, "Max", "Morning, Eileen."),
        (14, "Eileen", "Good morning! The boats are back in."),  # attributes, `with` kept out
        (19, "Eileen", "Shall we watch them?"),  # several blank lines are one break
        (20, "Max", "Let's."),
        (21, "Eileen", "The festival is tonight."),
        # `$ poster = """…"""` and a python block's string hold no line, however indented.
        (29, "Max", "See you there."),
        (30, "Eileen", "See you!"),
    ]


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("single", ["One.", "Two,", "still two.", "Three."]),
        ("none", ["One.\nTwo,\nstill two.\n\nThree."]),
    ],
)
def test_renpy_monologue_mode_statement(mode: str, expected: list[str]) -> None:
    # `rpy monologue single` cuts at every line end, `none` keeps one line with its breaks.
    text = (
        f'rpy monologue {mode}\ndefine e = Character("Eileen")\nlabel a:\n'
        '    e """\n    One.\n    Two,\n    still two.\n\n    Three.\n    """\n'
    )
    found = parse(text, "m.rpy", "renpy", ParseOptions())
    assert [(u.speaker, u.text) for u in found] == [("Eileen", t) for t in expected]


def test_tyrano_character_ids_are_credited_to_their_display_names(fixtures: Path) -> None:
    # `#akane` lines were credited to "akane", not to あかね, the name the player sees.
    first = (fixtures / "tyrano" / "first.ks").read_text(encoding="utf-8")
    names = kirikiri_format.display_names(first)
    assert names == {"akane": "あかね", "yamato": "やまと"}  # no jname: no display name
    scene = (fixtures / "tyrano" / "scene1.ks").read_text(encoding="utf-8")
    found = parse(scene, "scene1.ks", "kirikiri", ParseOptions(kirikiri_names=names))
    assert said(found) == [
        ("やまと", "おはよう、あかね。"),
        ("あかね", "おはよう！今日もいい天気だね。"),  # #akane:happy
        ("やまと", "どこに行こうか。"),
        ("あかね", "海に行きたいな！"),  # [chara_ptext name="akane"]
        ("mob", "（通りすがりの人）"),
    ]
    assert kirikiri_format.with_display_names(["Akane", "茜"], names) == ["Akane", "茜", "あかね"]


def test_renpy_menu_choices_never_share_an_exchange(tmp_path: Path) -> None:
    # A player takes one choice of a menu; the second choice's sample had the first
    # choice's lines as its history ("Come with me." / "Yay!" before "Bye."), and the
    # lines after the menu followed the last choice's. Each choice does follow the lines
    # before the menu: a choice's first reply had lost them ("Come with me." alone).
    script = tmp_path / "script.rpy"
    script.write_text(
        'define n = Character("Natsuki")\ndefine a = Character("Atri")\n'
        "label start:\n"
        '    n "Hey."\n    a "Hi!"\n'
        "    menu:\n"
        '        "What should I say?"\n'
        '        "Take her home":\n            n "Come with me."\n            a "Yay!"\n'
        '        "Leave" if not stayed:\n            n "Bye."\n            a "Meanie..."\n'
        '    n "Anyway."\n    a "Anyway!"\n',
        encoding="utf-8",
    )
    settings = DataprepSettings(lead_aliases=["Natsuki"], character_aliases=["Atri"])
    result = run_pipeline(settings, [script])
    assert [[text for _, text in s.turns] for s in result.train] == [
        ["Hey.", "Hi!"],
        ["Hey.", "Hi!", "Come with me.", "Yay!"],
        ["Hey.", "Hi!", "Bye.", "Meanie..."],
        ["Anyway.", "Anyway!"],
    ]
    # Still one scene: the split keeps a label whole; each reply is counted once.
    assert {s.scene_key for s in result.train} == {f"{script}#start"}
    assert result.stats.character_lines_kept == 4


def test_renpy_nested_menus_and_a_speaker_going_on_into_a_choice(tmp_path: Path) -> None:
    script = tmp_path / "script.rpy"
    script.write_text(
        'define n = Character("Natsuki")\ndefine a = Character("Atri")\n'
        'define m = Character("Minamo")\n'
        "label start:\n"
        '    n "Hey."\n    a "Hi!"\n    n "Where to?"\n'
        "    menu:\n"
        '        "The sea":\n'
        '            n "The sea."\n            a "Crabs!"\n'
        "            menu:\n"
        '                "Catch one":\n                    a "Got it!"\n'
        '                "Let them be":\n                    m "Lunch is ready."\n'
        '                    a "Coming!"\n'
        '        "Home":\n            a "Home it is."\n',
        encoding="utf-8",
    )
    settings = DataprepSettings(lead_aliases=["Natsuki"], character_aliases=["Atri"])
    samples = [[text for _, text in s.turns] for s in run_pipeline(settings, [script]).train]
    assert samples == [
        ["Hey.", "Hi!"],
        ["Hey.", "Hi!", "Where to?\nThe sea.", "Crabs!"],  # the lead's turn goes on
        # "Got it!" answers the player's pick, not "The sea.": joined to "Crabs!" it gave
        # "Crabs!" as a reply twice. It stays history of that choice.
        # "Coming!" answers Minamo, not the lead: no sample. "Home" follows "Where to?".
        ["Hey.", "Hi!", "Where to?", "Home it is."],
    ]


def test_renpy_her_line_going_on_into_a_choice_is_no_second_copy_of_her_reply(
    tmp_path: Path,
) -> None:
    # A menu's caption said by her (a say line before the choices) and a choice that
    # starts with her line: each choice's sample had "Where should we go?\nYay!" as its
    # reply, her caption trained once more for every choice, and as her answer to the
    # lead's "What now?" when it answers the player's pick. Her going on is history now.
    script = tmp_path / "script.rpy"
    script.write_text(
        'define n = Character("Natsuki")\ndefine a = Character("Atri")\n'
        "label start:\n"
        '    n "What now?"\n'
        "    menu:\n"
        '        a "Where should we go?"\n'
        '        "The sea" if has_boat:\n'
        '            a "Yay!"\n            n "Calm down."\n            a "Sorry, sorry."\n'
        '        "Home":\n            a "Boo."\n            n "Sorry."\n            a "Fine."\n'
        '        "Town":\n            jump town\n',
        encoding="utf-8",
    )
    settings = DataprepSettings(lead_aliases=["Natsuki"], character_aliases=["Atri"])
    result = run_pipeline(settings, [script])
    samples = [[text for _, text in s.turns] for s in result.train]
    assert samples == [
        ["What now?", "Where should we go?"],
        ["What now?", "Where should we go?\nYay!", "Calm down.", "Sorry, sorry."],
        ["What now?", "Where should we go?\nBoo.", "Sorry.", "Fine."],
    ]
    replies = [line for s in result.train for line in s.reply_lines]
    assert len(replies) == len(set(replies))
    assert result.stats.character_lines_dropped["no_lead_before"] == 2  # "Yay!", "Boo."


def test_renpy_characters_and_variables_named_in_chinese(tmp_path: Path) -> None:
    # Ren'Py takes any Unicode word as a name (`define 艾 = Character("艾琳")`, used as
    # `艾 "…"`); only ASCII ones were read, so every line of such a game was lost, and a
    # `default 地名 = "港城"` or `$ 名字 = renpy.input(…)` left `[地名]` with no value.
    script = tmp_path / "script.rpy"
    script.write_text(
        'define 艾 = Character("艾琳")\ndefine 我 = Character("[名字]")\n'
        'default 地名 = "港城"\n'
        "label start:\n"
        '    $ 名字 = renpy.input("名字？")\n'
        '    我 "这是哪里？"\n'
        '    艾 开心 "欢迎来到[地名]，[名字]。"\n'
        '    我 "然后呢？"\n'
        '    艾 """走吧。"""\n'
        '    我 "好……\n        走吧。"\n',
        encoding="utf-8",
    )
    settings = DataprepSettings(lead_aliases=["夏生"], character_aliases=["艾琳"], eval_ratio=0)
    result = run_pipeline(settings, [script])
    assert [(s.prompt, s.reply) for s in result.train] == [
        ("这是哪里？", "欢迎来到港城，{{user}}。"),
        ("然后呢？", "走吧。"),
    ]
    assert [(s.name, s.lines) for s in result.stats.speakers] == [("夏生", 3), ("艾琳", 2)]


@pytest.mark.parametrize(
    "line",
    [
        "【" + " \t" * 4000,  # a bracket and blanks: each split of the blanks was tried
        "【chapter" + " " * 8000 + "x",
        "【voice:atr_01" + "\u3000" * 8000 + "x",
        "【回忆" + " " * 8000 + "x",
    ],
)
def test_a_long_line_of_blanks_after_a_bracket_parses_at_once(line: str) -> None:
    # 8,000 characters took 1-5 s (quadratic); a 50 MB script may hold such a line.
    text = f"亚托莉：早上好。\n{line}\n亚托莉：再见。\n"
    started = time.perf_counter()
    lines = parse(text, "a.txt", "plain", ParseOptions())
    assert time.perf_counter() - started < 0.5
    assert [u.text for u in lines if u.speaker == "亚托莉"] == ["早上好。", "再见。"]


def test_many_blank_lines_in_a_renpy_script_parse_at_once() -> None:
    # Looking for `define`, every line start read all the blank lines below it.
    text = 'define e = Character("Eileen")\n' + "\n" * 50_000 + 'e "Hello."\n'
    started = time.perf_counter()
    lines = parse(text, "a.rpy", "renpy", ParseOptions())
    assert time.perf_counter() - started < 1
    assert [(u.speaker, u.text) for u in lines] == [("Eileen", "Hello.")]
