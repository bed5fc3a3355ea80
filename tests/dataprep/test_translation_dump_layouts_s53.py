"""Session 53: the dump layouts the reader still missed. The `[0x…]原文` / `;[0x…]译文`
layout (the address in brackets, the translation on a `;`-commented line) was read as
plain text, its addresses glued to the speakers; `{"原文": "译文"}` JSON dictionaries
(MTool's ManualTransFile.json, SExtractor's json dictionaries) were "no message list"
whether or not their lines name a speaker; and hex numbers of letters alone
(`☆FFFFFFFF☆`) were no numbers, their pairs glued to the line above."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from atri.config import DataprepSettings
from dataprep.errors import DataprepError, NoScript
from dataprep.formats import ParseOptions, detect_format, parse
from dataprep.formats.translation_dump import order_note
from dataprep.pipeline import run_pipeline


def read(text: str, side: str = "translation") -> list[tuple[str | None, str]]:
    assert detect_format(text, "dump.txt") == "translation_dump"
    said = parse(text, "dump.txt", "translation_dump", ParseOptions(dump_side=side))
    return [(u.speaker, u.text) for u in said if u.dropped is None]


# The shape of a Nene (Sanoba Witch) .ks.txt export: a name record, then its line; the
# original bare, the translation on the `;` line below it with the same address.
BRACKETED = (
    "[0x00000000]柊史\n;[0x00000000]柊史\n"
    "[0x00000001]「おはよう」\n;[0x00000001]「早上好」\n"
    "[0x00000002]寧々\n;[0x00000002]宁宁\n"
    "[0x00000003]「おはようございます、保科君」\n;[0x00000003]「早上好，保科君」\n"
    "[0x00000004]朝の教室は静かだった。\n;[0x00000004]早上的教室很安静。\n"
)


def test_bracketed_addresses_are_pairs_the_name_records_naming_the_line_below() -> None:
    assert read(BRACKETED) == [
        ("柊史", "「早上好」"),
        ("宁宁", "「早上好，保科君」"),
        (None, "早上的教室很安静。"),
    ]
    assert read(BRACKETED, "original") == [
        ("柊史", "「おはよう」"),
        ("寧々", "「おはようございます、保科君」"),
        (None, "朝の教室は静かだった。"),
    ]
    said = parse(BRACKETED, "d.txt", "translation_dump", ParseOptions())
    assert [u.line for u in said] == [4, 8, 10]  # the `;` lines, where an editor finds them


# The other order (translateassistant's `[0x00000000] text` / `;[0x00000000] text`, a
# space after the address): the commented line written first, the original, with the
# speakers inside the text, and a line not translated yet (its `;` line alone).
COMMENTED_FIRST = (
    ";[0x0001A2F0] 寧々「おはよう」\n[0x0001A2F0] 宁宁「早上好」\n\n"
    ";[0x0001A310] 柊史「うん、行こうか」\n\n"
    ";[0x0001A330] 【寧々】「はい！」\n[0x0001A330] 【宁宁】「好！」\n"
)


def test_the_commented_line_written_first_is_the_original() -> None:
    assert read(COMMENTED_FIRST) == [("宁宁", "「早上好」"), ("宁宁", "「好！」")]
    assert read(COMMENTED_FIRST, "original") == [
        ("寧々", "「おはよう」"),
        ("柊史", "「うん、行こうか」"),
        ("寧々", "「はい！」"),
    ]
    said = parse(COMMENTED_FIRST, "d.txt", "translation_dump", ParseOptions())
    assert [(u.speaker, u.dropped) for u in said][1] == ("柊史", "untranslated")
    note = order_note([("a.txt", COMMENTED_FIRST), ("b.txt", BRACKETED)], ParseOptions())
    assert note is not None and "a.txt" in note and "b.txt" not in note and ";[0x" in note


def test_bracketed_lines_among_script_lines_stay_plain() -> None:
    # A KAG comment or a tag is no address: a script with a few stays what it is.
    text = "; [0x00000010] の修正\n[wait time=200]\n亚托莉：早上好\n夏生：嗯\n夏生：走吧\n"
    assert detect_format(text, "a.txt") == "plain"


# SiglusTools numbers past 0xFFFFFFF0, letters alone: each was taken for the line below
# the pair above it.
ALL_LETTERS = (
    "☆FFFFFFFD☆☆どうやら玄関はまだ先らしい。\n★FFFFFFFD★★好像离玄关还有段距离。\n"
    "☆FFFFFFFE☆秀治☆「こ、これが俺の、実家？」\n★FFFFFFFE★秀治★「这、这就是我的老家？」\n"
    "☆FFFFFFFF☆香奈☆「そうだよ☆」\n★FFFFFFFF★香奈★「是啊☆」\n"
)


def test_hex_numbers_of_letters_alone_are_numbers() -> None:
    assert read(ALL_LETTERS) == [
        (None, "好像离玄关还有段距离。"),
        ("秀治", "「这、这就是我的老家？」"),
        ("香奈", "「是啊☆」"),
    ]
    assert read(ALL_LETTERS, "original")[2] == ("香奈", "「そうだよ☆」")


def test_letters_alone_count_at_the_width_of_the_files_numbers() -> None:
    # Six wide here: `○00ABCD○`'s neighbours make `○ABCDEF○` a number, and an
    # eight-letter word of hex letters in a six-wide file stays a line going on.
    text = (
        "○00ABCD○夏生「行くぞ」\n●00ABCD●夏生「走吧」\n"
        "○ABCDEF○アトリ「はい」\n●ABCDEF●亚托莉「好」\n"
        "○00ABD0○夜が明けた。\n●00ABD0●天亮了。\n☆DEADBEEF☆\n"
    )
    assert read(text) == [("夏生", "「走吧」"), ("亚托莉", "「好」"), (None, "天亮了。☆DEADBEEF☆")]


def test_decorative_separators_stay_separators() -> None:
    text = (
        "☆00000001☆夏生「行くぞ」\n★00000001★夏生「走吧」\n\n◆◆◆\n\n"
        "☆00000002☆アトリ「はい」\n★00000002★亚托莉「好」\n\n☆☆☆\n\n"
        "☆00000003☆アトリ「でも」\n★00000003★亚托莉「可是」\n\n☆FIN☆\n"
    )
    said = parse(text, "d.txt", "translation_dump", ParseOptions())
    assert [u.text for u in said] == ["「走吧」", "「好」", "「可是」"]
    assert detect_format("亚托莉：早上好\n☆FACE☆\n◆◆◆\n夏生：嗯\n", "a.txt") == "plain"


def read_json(value: object, side: str = "translation") -> list[tuple[str | None, str, str | None]]:
    text = json.dumps(value, ensure_ascii=False, indent=2)
    options = ParseOptions(dump_side=side)
    return [(u.speaker, u.text, u.dropped) for u in parse(text, "trans.json", "json", options)]


# A SExtractor json dictionary of a script whose lines hold their speaker (`【名】「…」`,
# `名「…」`): one object, original → translation, in the game's order; "" not translated.
NAMED_LINES = {
    "【香奈】「そうだよ、お兄ちゃん」": "【香奈】「是啊，哥哥」",
    "【秀治】「でかすぎるだろ……」": "【秀治】「也太大了吧……」",
    "どうやら玄関はまだ先らしい。": "好像离玄关还有段距离。",
    "【香奈】「行こう！」": "",
    "秀治「うん」": "秀治「嗯」",
}


def test_a_dictionary_whose_lines_name_their_speakers_is_read_in_order() -> None:
    assert read_json(NAMED_LINES) == [
        ("香奈", "「是啊，哥哥」", None),
        ("秀治", "「也太大了吧……」", None),
        (None, "好像离玄关还有段距离。", None),
        ("香奈", "「行こう！」", "untranslated"),
        ("秀治", "「嗯」", None),
    ]
    assert [text for _, text, _ in read_json(NAMED_LINES, "original")][3] == "「行こう！」"
    text = json.dumps(NAMED_LINES, ensure_ascii=False, indent=2)
    said = parse(text, "trans.json", "json", ParseOptions())
    assert [u.line for u in said] == [2, 3, 4, 5, 6]  # each key's line


# The shape of an MTool ManualTransFile.json: each text once, a name as a key of its own
# the first time only, line breaks kept (`\n\r\n`).
MTOOL = {
    "「あっ王女様だ！　すげえ、今日もお綺麗だな」": "「啊，是公主殿下！」",
    "活気と笑顔にあふれる城下町。": "充满活力与笑容的城下町。",
    "果物屋の店主": "水果店老板",
    "「ややっ殿下、本日もご機嫌麗しゅう。そうそう、\n\r\n　よろしければこれを」": "「哎呀殿下，请收下这个」",
    "「まあ、とても上物だわ。いただけるの？」": "「哎呀，真是好东西。可以收下吗？」",
    "「本当に素晴らしい出来ですね」": "「真是了不起的收成呢」",
}


def test_a_dictionary_that_cannot_say_who_speaks_says_so_and_what_to_give(
    tmp_path: Path,
) -> None:
    with pytest.raises(DataprepError) as raised:
        read_json(MTOOL)
    said = str(raised.value)
    assert not isinstance(raised.value, NoScript)  # said aloud, not summed up as no script
    assert "cannot say who speaks" in said and '"name"' in said and "○N○ / ●N●" in said
    # In a folder beside a dump, the dump is read and the dictionary named with why.
    (tmp_path / "ManualTransFile.json").write_text(
        json.dumps(MTOOL, ensure_ascii=False), encoding="utf-8"
    )
    (tmp_path / "a.txt").write_text(
        "○0001○アトリ「おはよう」\n●0001●亚托莉「早上好」\n\n○0002○夏生「うん」\n●0002●夏生「嗯」\n",
        encoding="utf-8",
    )
    result = run_pipeline(DataprepSettings(eval_ratio=0, user_placeholder=False), [tmp_path])
    errors = {Path(f.path).name: f.error for f in result.stats.files}
    assert errors["a.txt"] is None
    assert "cannot say who speaks" in (errors["ManualTransFile.json"] or "")


@pytest.mark.parametrize(
    "value",
    [
        {"アトリ": "亚托莉", "夏生": "夏生"},  # a name dictionary: no lines
        {"model": "qwen", "lr": "2e-4"},  # a config
        {"「はい」": 1},  # not text
        {},
    ],
)
def test_other_objects_stay_no_script(value: object) -> None:
    with pytest.raises(NoScript, match="is JSON but not a list of messages"):
        read_json(value)


# SExtractor's json lists (helper_write.writeFormatListCopyKey), translated: one object a
# line the game shows, its name a key of its own before the line's, or an object of its own.
NAME_IN_OBJECT = [
    {"香奈": "香奈", "「そうだよ、お兄ちゃん」": "「是啊，哥哥」"},
    {"どうやら玄関はまだ先らしい。": "好像离玄关还有段距离。"},
    {"秀治": "秀治", "「でかすぎるだろ……」": ""},
    {"秀治": "秀治", "「行こう」": "「走吧」"},
]
NAME_APART = [
    {"香奈": "香奈"},
    {"「そうだよ、お兄ちゃん」": "「是啊，哥哥」"},
    {"どうやら玄関はまだ先らしい。": "好像离玄关还有段距离。"},
    {"秀治": "秀治"},
    {"「行こう」": "「走吧」"},
]


def test_sextractor_lists_of_dictionaries_are_read_with_their_names() -> None:
    # Read before as VNTextPatch's speaker-keyed objects: "香奈" said "香奈", and a
    # speaker "「そうだよ、お兄ちゃん」" said "「是啊，哥哥」".
    assert read_json(NAME_IN_OBJECT) == [
        ("香奈", "「是啊，哥哥」", None),
        (None, "好像离玄关还有段距离。", None),
        ("秀治", "「でかすぎるだろ……」", "untranslated"),
        ("秀治", "「走吧」", None),
    ]
    assert read_json(NAME_APART) == [
        ("香奈", "「是啊，哥哥」", None),
        (None, "好像离玄关还有段距离。", None),
        ("秀治", "「走吧」", None),
    ]
    assert read_json(NAME_APART, "original")[2] == ("秀治", "「行こう」", None)
