"""Session 52: the bilingual dump layouts Chinese fan translators' tools write, each read
as ○N○ / ●N● pairs are. Before, SiglusTools' hex numbers (`☆0000000F☆`) skipped most of
a file's pairs and its name field came out as the speaker `秀治★`; Cross Channel's
`.CCS` (`>0○0001○`), `◇N◇`/`◆N◆`, DLTxT's `★nme00001★` and Bgi_asdis' `☆000001T☆` were
not read as dumps; DLTxT's `★N★ 原文` / `☆N☆ 译文` gave the Japanese as the
translation; an entry over two lines lost its second, and a mark alone on its line
(Aquarium_tools) made a plain file with both languages in every reply."""

from __future__ import annotations

import re
from pathlib import Path

from dataprep.formats import ParseOptions, detect_format, parse
from dataprep.formats.translation_dump import order_note
from dataprep.report import problem
from dataprep.sources import collect_scripts, read_script
from dataprep.stats import FileReport, SpeakerCount, Stats

KANA = re.compile(r"[\u3041-\u3096\u30a1-\u30fa]")


def read(text: str, side: str = "translation") -> list[tuple[str | None, str]]:
    assert detect_format(text, "dump.txt") == "translation_dump"
    said = parse(text, "dump.txt", "translation_dump", ParseOptions(dump_side=side))
    return [(u.speaker, u.text) for u in said if u.dropped is None]


# natsumerinchan/MyGalTranslationPatches' SiglusTools layout: hex numbers, a name field.
SIGLUS = (
    "☆0000000E☆☆どうやら玄関はまだ先らしい。\n★0000000E★★好像离玄关还有段距离。\n\n"
    "☆0000000F☆秀治☆「こ、これが俺の、実家？」\n★0000000F★秀治★「这、这就是我的老家？」\n\n"
    "☆00000010☆香奈☆「そうだよ☆」\n★00000010★香奈★「是啊☆」\n"
)


def test_hex_numbers_and_the_siglus_name_field() -> None:
    assert read(SIGLUS) == [
        (None, "好像离玄关还有段距离。"),
        ("秀治", "「这、这就是我的老家？」"),
        ("香奈", "「是啊☆」"),
    ]
    assert read(SIGLUS, "original")[1] == ("秀治", "「こ、これが俺の、実家？」")


# MewX/cross-channel_chinese-localization_project Scripts/*.CCS (UTF-16 in the project).
CCS = (
    "//原文例 >0○0001○[太一]「金曜日、か」\n//提纯例 >1●0001●[太一]「金曜日、か」\n\n"
    ">0○0001○今日から新学期。\n>1●0001●从今天起就是新学期了。\n\n"
    ">0○0002○[太一]「はー」\n>1●0002●[太一]“唉——”\n\n"
    ">0○0003○[見里]「……それは……」\n>1●0003●[见里]「……那个是……」\n"
    ">2□0003□[见里]「……那个是？」\n"
)


def test_cross_channel_ccs_stages() -> None:
    # `>2□N□`, the proofread line (校对), is the translation where it is there.
    assert read(CCS) == [
        (None, "从今天起就是新学期了。"),
        ("太一", "“唉——”"),
        ("见里", "「……那个是？」"),
    ]
    assert read(CCS, "original")[2] == ("見里", "「……それは……」")


# DLTxT Translate Assistant's convention: ★ the original, written first; ☆ the translation.
STAR_FIRST = (
    "★00000002★香奈「そうだよ、お兄ちゃん」\n☆00000002☆香奈「是啊，哥哥」\n\n"
    "★00000003★秀治「でかすぎるだろ……」\n☆00000003☆秀治「也太大了吧……」\n"
)


def test_the_mark_written_first_is_the_original() -> None:
    assert read(STAR_FIRST) == [("香奈", "「是啊，哥哥」"), ("秀治", "「也太大了吧……」")]
    assert not any(KANA.search(text) for _, text in read(STAR_FIRST))
    assert read(STAR_FIRST, "original")[0] == ("香奈", "「そうだよ、お兄ちゃん」")
    note = order_note([("a.txt", STAR_FIRST), ("b.txt", SIGLUS)], ParseOptions())
    assert note is not None and "a.txt" in note and "b.txt" not in note
    assert order_note([("b.txt", SIGLUS)], ParseOptions()) is None


DIAMONDS = "◇00000000◇香奈「そうだよ」\n◆00000000◆香奈「是啊」\n\n◇00000001◇秀治「ああ」\n◆00000001◆秀治「嗯」\n"
DLTXT_RECORDS = (
    "★nme00000★香奈\n☆nme00000☆香奈\n\n★txt00001★「そうだよ」\n☆txt00001☆「是啊」\n\n"
    "★txt00002★香奈は笑った。\n☆txt00002☆香奈笑了。\n\n"
    "★nme00003★秀治\n☆nme00003☆秀治\n\n★txt00004★ああ、驚いたよ。\n☆txt00004☆嗯，吓到了。\n"
)
BGI = (
    "☆000000N☆香奈\n★000000N★香奈\n\n☆000001T☆「そうだよ」\n★000001T★「是啊」\n\n"
    "☆000002T☆香奈は笑った。\n★000002T★香奈笑了。\n\n"
    "☆000003N☆秀治\n★000003N★秀治\n\n☆000004T☆ああ、驚いたよ。\n★000004T★嗯，吓到了。\n"
)


def test_diamond_marks_and_tagged_numbers() -> None:
    assert read(DIAMONDS) == [("香奈", "「是啊」"), ("秀治", "「嗯」")]
    # A name record names the text record below it, quoted or not.
    expected = [("香奈", "「是啊」"), (None, "香奈笑了。"), ("秀治", "嗯，吓到了。")]
    assert read(DLTXT_RECORDS) == expected
    assert read(BGI) == expected
    assert read(BGI, "original")[2] == ("秀治", "ああ、驚いたよ。")


MULTILINE = (
    "○00000000○香奈「そうだよ、お兄ちゃん。\nずっと待ってたんだから」\n"
    "●00000000●香奈「是啊，哥哥。\n我可是一直在等你呢」\n\n"
    "○00000001○秀治「でかすぎるだろ……」\n●00000001●秀治「也太大了吧……」\n"
)
# koukdw/Aquarium_tools binu8_dump.py: "○%08d○\n%s\n●%08d●\n%s\n\n".
OWN_LINE = (
    "○00000000○\n香奈「そうだよ、お兄ちゃん」\n●00000000●\n香奈「是啊，哥哥」\n\n"
    "○00000001○\n秀治「でかすぎるだろ……」\n●00000001●\n秀治「也太大了吧……」\n\n"
    "○00000002○\n香奈は嬉しそうに笑った。\n●00000002●\n香奈开心地笑了。\n\n"
)


def test_lines_going_on_below_a_mark_are_its_sides() -> None:
    assert read(MULTILINE) == [
        ("香奈", "「是啊，哥哥。我可是一直在等你呢」"),
        ("秀治", "「也太大了吧……」"),
    ]
    assert read(MULTILINE, "original")[0] == (
        "香奈",
        "「そうだよ、お兄ちゃん。ずっと待ってたんだから」",
    )
    assert read(OWN_LINE) == [
        ("香奈", "「是啊，哥哥」"),
        ("秀治", "「也太大了吧……」"),
        (None, "香奈开心地笑了。"),
    ]
    said = parse(OWN_LINE, "d.txt", "translation_dump", ParseOptions())
    assert [u.line for u in said] == [4, 9, 14]  # where the text is


def test_a_header_and_a_separate_comment_stay_no_ones() -> None:
    text = "// a03.ks\n○0001○夏生「行くぞ」\n●0001●夏生「走吧」\n\n// note\n○0002○「はい」\n●0002●「好」\n"
    assert [t for _, t in read(text)] == ["「走吧」", "「好」"]


def test_speakers_holding_marks_and_numbers_are_named_a_dump_layout() -> None:
    stats = Stats(character="香奈")
    stats.files = [FileReport("d.txt")]
    stats.speakers = [
        SpeakerCount(";[0x00000100]香奈", 9, "other"),
        SpeakerCount("[0x00000100]香奈", 9, "other"),
        SpeakerCount("秀治", 2, "lead"),
    ]
    said = problem(stats, [], stats.files)
    assert said is not None and "bilingual translation dump in a layout not read" in said
    stats.speakers = [SpeakerCount("香奈2", 9, "other"), SpeakerCount("秀治", 2, "lead")]
    said = problem(stats, [], stats.files)
    assert said is not None and "bilingual" not in said


def test_dump_detection_keeps_plain_files_plain(tmp_path: Path) -> None:
    assert detect_format("亚托莉：早上好\n夏生：◆◆◆\n◆就是点\n", "a.txt") == "plain"
    assert detect_format("☆tips☆ 按Z键\n亚托莉：早上好\n夏生：嗯\n", "a.txt") == "plain"


def test_a_folder_of_ccs_files_is_read(tmp_path: Path) -> None:
    # Cross Channel's Scripts/20150412/*.CCS, UTF-16: a folder of them gave no file.
    (tmp_path / "CCA0003.CCS").write_text(CCS, encoding="utf-16")
    (tmp_path / "notes.doc").write_text("x", encoding="utf-8")
    found = collect_scripts([tmp_path])
    assert [p.name for p in found] == ["CCA0003.CCS"]
    decoded = read_script(found[0])
    assert detect_format(decoded.text, "CCA0003.CCS") == "translation_dump"
